"""Flow control: named, global limits a task runs under (docs/guide/limits.md).

``Concurrency(name, n)``: at most ``n`` jobs under ``name`` run at once, across every function
instance of the backend. ``Rate(name, n, per=...)``: at most ``n`` jobs under ``name`` start in any
window of ``per``. With ``key=`` (a function of the job's arguments) each key value gets its own
slots or budget. A limit is named and shared: every task naming ``Concurrency("crm", 5)`` shares
the same 5 slots, so one name with two different numbers is refused when the second task
registers (:func:`declare`).

This module is the app's half (declaring, checking, resolving a job's limits); the job store holds
the slots and budgets (:mod:`lambda_jobs.jobstore.limits`) and the worker waits
(:mod:`lambda_jobs.worker.limiting`). It is imported only by tasks that declare limits.
"""

from __future__ import annotations

from datetime import timedelta

from lambda_jobs.errors import InvalidJobError, InvalidTaskError

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    from lambda_jobs.tasks import Task

#: The largest ``n`` of a limit: a rate's budget keeps its last ``n`` start times in one DynamoDB
#: item (400 KB at most, "Constraints in Amazon DynamoDB"); a concurrency's slots are a map in one.
MAX_N = 1000
#: ``per`` of a :class:`Rate`: 1 s .. 1 day.
MIN_PER_SECONDS = 1.0
MAX_PER_SECONDS = 86_400.0
MAX_NAME = 64
MAX_KEY = 256
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:")

CONCURRENCY = "concurrency"
RATE = "rate"


def _check_name(name: object, kind: str) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not set(name) <= _NAME_CHARS:
        raise InvalidTaskError(
            f"{kind} name must be 1-{MAX_NAME} characters of letters, digits and _ . - :, "
            f"got {name!r}"
        )
    return name


def _check_n(n: object, kind: str, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise InvalidTaskError(f"{kind}({name!r}) n must be a whole number 1..{MAX_N}, got {n!r}")
    return n


def _check_key(key: object, kind: str, name: str) -> Callable[..., Any] | None:
    if key is not None and not callable(key):
        raise InvalidTaskError(
            f"{kind}({name!r}) key must be a function of the job's arguments, got {key!r}"
        )
    return key


class Concurrency:
    """At most ``n`` jobs under ``name`` (per key value, with ``key``) run at once, anywhere."""

    __slots__ = ("key", "n", "name")
    kind = CONCURRENCY

    def __init__(self, name: str, n: int, *, key: Callable[..., Any] | None = None) -> None:
        self.name = _check_name(name, "Concurrency")
        self.n = _check_n(n, "Concurrency", name)
        self.key = _check_key(key, "Concurrency", name)

    @property
    def numbers(self) -> tuple[float, ...]:
        return (self.n,)

    def __repr__(self) -> str:
        return f"Concurrency({self.name!r}, {self.n})"


class Rate:
    """At most ``n`` jobs under ``name`` (per key value) start in any window of ``per``.

    ``per`` is a timedelta or seconds, 1 s .. 1 day (default 1 s).
    """

    __slots__ = ("key", "n", "name", "per")
    kind = RATE

    def __init__(
        self,
        name: str,
        n: int,
        *,
        per: timedelta | float = 1.0,
        key: Callable[..., Any] | None = None,
    ) -> None:
        self.name = _check_name(name, "Rate")
        self.n = _check_n(n, "Rate", name)
        seconds = per.total_seconds() if isinstance(per, timedelta) else per
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not MIN_PER_SECONDS <= seconds <= MAX_PER_SECONDS
        ):
            raise InvalidTaskError(
                f"Rate({name!r}) per must be a timedelta or seconds from {MIN_PER_SECONDS:g} s "
                f"to {MAX_PER_SECONDS:g} s (1 day), got {per!r}"
            )
        self.per = float(seconds)
        self.key = _check_key(key, "Rate", name)

    @property
    def numbers(self) -> tuple[float, ...]:
        return (self.n, self.per)

    def __repr__(self) -> str:
        return f"Rate({self.name!r}, {self.n}, per={self.per:g}s)"


type Limit = Concurrency | Rate

#: name -> (the first declaration, the task that made it).
_DECLARED: dict[str, tuple[Limit, str]] = {}


def check_limits(limits: object, where: str) -> tuple[Limit, ...]:
    """``limits`` as a tuple of :class:`Concurrency` / :class:`Rate`; one name at most once."""
    if isinstance(limits, Concurrency | Rate) or not isinstance(limits, list | tuple):
        raise InvalidTaskError(
            f"{where}: limits must be a list of Concurrency(...) and Rate(...), got {limits!r}"
        )
    seen: set[str] = set()
    for limit in limits:
        if not isinstance(limit, Concurrency | Rate):
            raise InvalidTaskError(
                f"{where}: limits must hold Concurrency(...) and Rate(...) only, got {limit!r}"
            )
        if limit.name in seen:
            raise InvalidTaskError(f"{where}: limit {limit.name!r} appears twice in limits")
        seen.add(limit.name)
    return tuple(list(limits))  # a new tuple: job.prepare tells a per-job override by identity


def declare(limits: Iterable[Limit], task_name: str) -> None:
    """Register ``limits`` as ``task_name``'s; one name with other numbers (or kind) is refused,
    naming both declarations."""
    for limit in limits:
        first = _DECLARED.get(limit.name)
        if first is None:
            _DECLARED[limit.name] = (limit, task_name)
            continue
        known, owner = first
        if known.kind != limit.kind or known.numbers != limit.numbers:
            raise InvalidTaskError(
                f"limit {limit.name!r} is {known!r} in task {owner} and {limit!r} in task "
                f"{task_name}; one name is one shared limit: use the same numbers, or another name"
            )


def check_known(limits: Sequence[Limit], task_name: str) -> None:
    """:func:`declare`'s rule for a per-job ``using(limits=...)``, as :class:`InvalidJobError`."""
    for limit in limits:
        first = _DECLARED.get(limit.name)
        if first is not None:
            known, owner = first
            if known.kind != limit.kind or known.numbers != limit.numbers:
                raise InvalidJobError(
                    f"{task_name}: limit {limit.name!r} is {known!r} in task {owner}, this job "
                    f"gives {limit!r}; one name is one shared limit"
                )


class Held:
    """One limit as it applies to one job: kind, name, numbers and the key value (or None)."""

    __slots__ = ("key", "kind", "n", "name", "per")

    def __init__(self, kind: str, name: str, n: int, per: float, key: str | None) -> None:
        self.kind, self.name, self.n, self.per, self.key = kind, name, n, per, key

    def to_wire(self) -> list[Any]:
        return [self.kind, self.name, self.n, self.per, self.key]

    @classmethod
    def from_wire(cls, data: Any) -> Held:
        """One entry of the envelope's ``overrides["limits"]``; ValueError if it is not one."""
        if not (isinstance(data, list) and len(data) == 5):
            raise ValueError(f"a limit override is [kind, name, n, per, key], got {data!r}")
        kind, name, n, per, key = data
        try:
            limit: Limit = Concurrency(name, n) if kind == CONCURRENCY else Rate(name, n, per=per)
        except InvalidTaskError as exc:
            raise ValueError(str(exc)) from None
        if kind not in (CONCURRENCY, RATE) or not (key is None or isinstance(key, str)):
            raise ValueError(f"a limit override is [kind, name, n, per, key], got {data!r}")
        return cls(kind, limit.name, limit.n, float(per), key)


def key_arguments(
    task: Task[..., Any], args: Sequence[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The job's arguments by parameter name, defaults filled in (what a ``key`` is called with:
    ``key=lambda account_id, **_: account_id`` reads ``account_id`` however it was passed).

    A ``*args`` parameter is passed under its name; ``**kwargs`` ones are spread. Arguments that do
    not fit the signature (or a function without one) are passed as given, by keyword only."""
    import inspect  # only for tasks whose limits have keys

    try:
        signature = inspect.signature(task.func)
        leading = (None,) if task.takes_context else ()
        bound = signature.bind(*leading, *args, **kwargs)
    except (TypeError, ValueError):
        return dict(kwargs)
    bound.apply_defaults()
    named: dict[str, Any] = {}
    for index, (name, value) in enumerate(bound.arguments.items()):
        if task.takes_context and index == 0:
            continue
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        else:
            named[name] = value
    return named


def key_value(limit: Limit, arguments: dict[str, Any], task_name: str) -> str | None:
    """The key value of ``limit`` for a job's arguments (:func:`key_arguments`): None without
    ``key``; a string or int the key function returns, as text (at most 256 characters); else
    :class:`InvalidJobError`."""
    if limit.key is None:
        return None
    try:
        value = limit.key(**arguments)
    except Exception as exc:
        raise InvalidJobError(
            f"{task_name}: the key of limit {limit.name!r} raised {type(exc).__name__}: {exc} "
            "(a key is called with the job's arguments by name, e.g. "
            "key=lambda account_id, **_: account_id)"
        ) from None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidJobError(
            f"{task_name}: the key of limit {limit.name!r} must return a string or an int, "
            f"got {type(value).__name__}"
        )
    text = str(value)
    if not 1 <= len(text) <= MAX_KEY:
        raise InvalidJobError(
            f"{task_name}: the key of limit {limit.name!r} must be 1-{MAX_KEY} characters, "
            f"got {len(text)}"
        )
    return text


def resolve(
    task: Task[..., Any], limits: Sequence[Limit], args: Sequence[Any], kwargs: dict[str, Any]
) -> list[Held]:
    """The limits one job of ``task`` runs under, keys applied to its arguments."""
    arguments = key_arguments(task, args, kwargs) if any(lim.key for lim in limits) else {}
    return [
        Held(
            limit.kind,
            limit.name,
            limit.n,
            limit.per if isinstance(limit, Rate) else 0.0,
            key_value(limit, arguments, task.name),
        )
        for limit in limits
    ]
