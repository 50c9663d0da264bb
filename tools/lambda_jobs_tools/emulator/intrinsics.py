"""CloudFormation intrinsic functions, resolved against one stack's local values.

The emulator reads the synthesized template as the source of truth, so every property it uses
(queue attributes, function environment, the client configuration output) goes through
:func:`resolve`. Supported: ``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub`` (both forms),
``Fn::Select``, ``Fn::Split``, ``Fn::If`` / ``Fn::Equals`` / ``Fn::Not`` / ``Fn::And`` /
``Fn::Or`` (conditions), ``Fn::Base64`` and the pseudo parameters. A reference to anything the
lookup does not know raises :class:`UnresolvableError` naming it: a wrong local value is worse
than a clear stop.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any

#: ``Ref`` of ``AWS::NoValue``: the property is removed from its enclosing object or list.
NO_VALUE: Any = object()

_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


class UnresolvableError(ValueError):
    """A template value refers to something the emulator cannot give a local value."""


RefLookup = Callable[[str], Any]
"""``Ref`` target (logical id, parameter, pseudo parameter) -> value; KeyError if unknown."""
AttLookup = Callable[[str, str], Any]
"""(logical id, attribute name) -> value; raises KeyError if unknown."""


class Resolver:
    """Resolves template values with the given lookups and the template's ``Conditions``."""

    def __init__(
        self,
        ref: RefLookup,
        get_att: AttLookup,
        conditions: Mapping[str, Any] | None = None,
    ) -> None:
        self._ref = ref
        self._get_att = get_att
        self._conditions = dict(conditions or {})
        self._condition_values: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        """The value of the template condition ``name``."""
        if name not in self._condition_values:
            if name not in self._conditions:
                raise UnresolvableError(f"condition {name!r} is not defined in the template")
            self._condition_values[name] = bool(self.resolve(self._conditions[name]))
        return self._condition_values[name]

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by its local result."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg) = next(iter(value.items()))
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _lookup_ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        try:
            return self._ref(name)
        except KeyError:
            raise UnresolvableError(f"Ref to {name!r}: no such resource or parameter") from None

    def _lookup_att(self, logical_id: str, attribute: str) -> Any:
        try:
            return self._get_att(logical_id, attribute)
        except KeyError:
            raise UnresolvableError(
                f"Fn::GetAtt {logical_id}.{attribute}: the emulator has no local value for it"
            ) from None

    def _intrinsic(self, key: str, arg: Any) -> Any:
        match key:
            case "Ref":
                return self._lookup_ref(str(arg))
            case "Condition":
                return self.condition(str(arg))
            case "Fn::GetAtt":
                if isinstance(arg, str):
                    logical_id, _, attribute = arg.partition(".")
                else:
                    logical_id, attribute = self.resolve(arg[0]), self.resolve(arg[1])
                return self._lookup_att(logical_id, attribute)
            case "Fn::Join":
                separator, items = arg
                return str(separator).join(_text(item) for item in self.resolve(items))
            case "Fn::Select":
                index, items = self.resolve(arg)
                return items[int(index)]
            case "Fn::Split":
                separator, text = self.resolve(arg)
                return str(text).split(str(separator))
            case "Fn::Sub":
                return self._sub(arg)
            case "Fn::Base64":
                return base64.b64encode(_text(self.resolve(arg)).encode()).decode()
            case "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            case "Fn::Equals":
                left, right = self.resolve(arg)
                return left == right
            case "Fn::Not":
                return not self.resolve(arg)[0]
            case "Fn::And":
                return all(self.resolve(arg))
            case "Fn::Or":
                return any(self.resolve(arg))
        raise UnresolvableError(f"intrinsic function {key} is not supported by the emulator")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1])
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return _text(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return _text(self._lookup_att(logical_id, attribute))
            return _text(self._lookup_ref(name))

        return _SUB_VARIABLE.sub(replace, str(text)).replace("${!", "${")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        raise UnresolvableError(f"a list or object cannot be joined into text: {value!r}")
    return str(value)
