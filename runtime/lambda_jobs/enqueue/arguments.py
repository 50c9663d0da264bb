"""Job arguments must be plain JSON: find the first value that is not, and say where it sits.

A job's arguments travel as JSON (no pickle, ever), so the enqueue side refuses anything JSON would
lose or cannot encode before a single byte is sent. Accepted: ``None``, ``bool``, ``int``, finite
``float``, ``str``, ``list``/``tuple`` (a tuple arrives as a list) and ``dict`` with ``str`` keys
(``json`` would silently turn ``{1: "a"}`` into ``{"1": "a"}``, so other keys are refused).
Subclasses of these (``IntEnum``, ``OrderedDict``, ...) encode as their base type.
"""

from __future__ import annotations

import math
from typing import Any

from lambda_jobs.errors import InvalidJobError

#: Deeper nesting is refused (and this is how a circular structure is caught).
MAX_DEPTH = 100


def check_arguments(task_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Raise :class:`InvalidJobError` naming the first argument that is not plain JSON.

    The message says which argument (positional index or keyword name), the offending type and,
    for a nested value, its path inside the argument, e.g. ``['when'][0]``.
    """
    for index, value in enumerate(args):
        _check_argument(task_name, f"positional argument {index}", value)
    for key, value in kwargs.items():
        _check_argument(task_name, f"keyword argument {key!r}", value)


def _check_argument(task_name: str, which: str, value: Any) -> None:
    problem = _find_problem(value, "", 0)
    if problem is None:
        return
    path, what = problem
    where = f" at {path}" if path else ""
    raise InvalidJobError(
        f"{task_name}: {which} is not JSON: {what}{where}. Job arguments travel as JSON; pass "
        "str, int, float, bool, None, lists and dicts with str keys (e.g. an id, an ISO date "
        "string) instead"
    )


def _find_problem(value: Any, path: str, depth: int) -> tuple[str, str] | None:
    """``(path, description)`` of the first non-JSON value inside ``value``, or None."""
    if value is None or isinstance(value, bool | int | str):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, f"the float {value!r} has no JSON form")
    if depth >= MAX_DEPTH:
        return (path, f"it nests deeper than {MAX_DEPTH} levels (is it circular?)")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find_problem(item, f"{path}[{index}]", depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return (path, f"the dict key {key!r} is a {_type_name(key)}, not a str")
            found = _find_problem(item, f"{path}[{key!r}]", depth + 1)
            if found is not None:
                return found
        return None
    return (path, f"a {_type_name(value)} value")


def _type_name(value: Any) -> str:
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"
