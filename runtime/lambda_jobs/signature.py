"""Job arguments must fit the task function's signature: checked at enqueue, not in the DLQ.

A call that the function cannot accept (a missing argument, one too many, an unknown keyword)
would fail with ``TypeError`` on every attempt, use up its retries and land in the dead-letter
queue. :func:`check_signature` binds the arguments to the signature first (as Python would at the
call, without calling) and raises :class:`~lambda_jobs.errors.InvalidJobError` naming the task, the
problem and what the signature takes. A task with ``takes_context=True`` is bound without its first
parameter (the worker passes the context). A task declared with ``check_arguments=False`` is not
checked (for functions whose signature cannot be inspected, or that accept more than it says).

The signature is read once per function (``inspect.signature`` costs tens of microseconds; a bind
costs a few): the cost per job is measured in ``benchmarks/bench_enqueue.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from lambda_jobs.errors import InvalidJobError

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

#: ``(function, takes_context)`` -> the signature the job's arguments are bound to.
_SIGNATURES: dict[tuple[Callable[..., Any], bool], inspect.Signature] = {}


def check_signature(
    task_name: str,
    func: Callable[..., Any],
    takes_context: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """Raise :class:`InvalidJobError` unless ``func(*args, **kwargs)`` binds (see the module)."""
    signature = _signature(task_name, func, takes_context)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise InvalidJobError(
            f"{task_name}: the arguments do not fit the task's signature: "
            f"{_problem(signature, args, exc)}; it takes {_takes(signature)}. Nothing was sent"
        ) from None


def _signature(task_name: str, func: Callable[..., Any], takes_context: bool) -> inspect.Signature:
    key = (func, takes_context)
    try:
        return _SIGNATURES[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable object: read it each time
        return _read_signature(task_name, func, takes_context)
    found = _SIGNATURES[key] = _read_signature(task_name, func, takes_context)
    return found


def _read_signature(
    task_name: str, func: Callable[..., Any], takes_context: bool
) -> inspect.Signature:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise InvalidJobError(
            f"{task_name}: the signature of its function cannot be inspected ({exc}), so its "
            "arguments cannot be checked at enqueue; declare the task with "
            "check_arguments=False to send them unchecked"
        ) from None
    if takes_context:
        parameters = list(signature.parameters.values())[1:]
        signature = signature.replace(parameters=parameters)
    return signature


def _problem(signature: inspect.Signature, args: tuple[Any, ...], exc: TypeError) -> str:
    """Python's reason, made specific where it is vague ("too many positional arguments")."""
    text = str(exc)
    if text == "too many positional arguments":
        params = signature.parameters.values()
        names = [p.name for p in params if p.kind in _POSITIONAL]
        return f"{len(args)} positional arguments given, at most {len(names)} accepted"
    return text


def _takes(signature: inspect.Signature) -> str:
    """The parameters as a caller sees them, without annotations: ``(a, b=..., *, c)``."""
    parts = []
    star_done = False
    params = list(signature.parameters.values())
    for index, param in enumerate(params):
        previous = params[index - 1].kind if index else None
        if previous is inspect.Parameter.POSITIONAL_ONLY and param.kind is not previous:
            parts.append("/")
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            parts.append(f"*{param.name}")
            star_done = True
            continue
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            parts.append(f"**{param.name}")
            continue
        if param.kind is inspect.Parameter.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        default = "" if param.default is inspect.Parameter.empty else "=..."
        parts.append(f"{param.name}{default}")
    if params and params[-1].kind is inspect.Parameter.POSITIONAL_ONLY:
        parts.append("/")
    if not parts:
        return "no arguments ()"
    return f"({', '.join(parts)})"
