"""The ``@task`` decorator and the :class:`Task` it returns.

A task is a plain function plus its job options. Decorating registers it by name
(``module.qualname``); the decorated object stays callable in-process, and ``enqueue`` sends a job
for it to the configured backend. Option ranges are checked when the decorator runs, so a bad
declaration fails at import, not at 3 a.m. in the dead-letter queue.

A task is a plain function or an ``async def`` one (the worker and inline mode await it to
completion, :mod:`lambda_jobs.worker.coroutine`). Generator and async generator functions are
refused: calling one only creates the generator, so a job would "succeed" without its body running.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lambda_jobs import registry
from lambda_jobs.errors import InvalidJobError, InvalidTaskError
from lambda_jobs.options import (
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_RETRY_BACKOFF_MAX,
    RetryPolicy,
    Seconds,
    check_priority,
    check_queue_name,
    check_run_after,
    check_tenant,
    check_timeout,
    check_unique,
    to_seconds,
)

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if not TYPE_CHECKING:
    # At run time Task is a plain class: a generic one (``class Task[**P, R]``) imports
    # ``typing``, the largest single import of the handler's cold start. ``Task[...]`` still
    # works (it is ``Task``); ``overload`` only matters to type checkers.
    P = R = None

    class _Generic:
        __slots__ = ()

        def __class_getitem__(cls, item: object) -> type:
            return cls

    def overload(func: object) -> object:
        return func

else:
    from collections.abc import Callable, Sequence
    from typing import Any, Concatenate, Literal, ParamSpec, TypeVar, overload

    from lambda_jobs.context import JobContext
    from lambda_jobs.job import Job, PreparedJob
    from lambda_jobs.limits import Limit

    P = ParamSpec("P")
    R = TypeVar("R")

    class _Generic[**P, R]:
        __slots__ = ()


class Task(_Generic[P, R]):
    """A registered job function with its options. Build one with :func:`task`.

    Attributes (read-only by contract): ``func``, ``name``, ``queue_name``, ``priority``, ``retry``
    (a :class:`RetryPolicy`), ``timeout`` (seconds one attempt may run; None: until the Lambda
    function's deadline less ``LAMBDA_JOBS_DEADLINE_MARGIN_MS``), ``takes_context``,
    ``check_arguments`` (False: enqueue does not bind the arguments to the function's signature),
    ``run_after``, ``message_group_id`` (FIFO lanes only; None means the task name) and
    ``tenant`` (the SQS fair-queue tenant of the job on standard Goat lanes; None: no tenant),
    ``limits`` (the :class:`~lambda_jobs.limits.Concurrency` and :class:`~lambda_jobs.limits.Rate`
    limits its jobs run under; docs/guide/limits.md).
    """

    __slots__ = (
        "check_arguments",
        "func",
        "limits",
        "message_group_id",
        "name",
        "priority",
        "queue_name",
        "retry",
        "run_after",
        "takes_context",
        "tenant",
        "timeout",
        "unique_for",
        "unique_key",
        "unique_until",
    )

    def __init__(
        self,
        *,
        func: Callable[..., R],
        name: str,
        queue_name: str = "default",
        priority: int = 0,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        takes_context: bool = False,
        run_after: datetime | timedelta | None = None,
        message_group_id: str | None = None,
        tenant: str | None = None,
        unique_key: str | None = None,
        unique_for: float | None = None,
        unique_until: str = "executed",
        check_arguments: bool = True,
        limits: tuple[Limit, ...] = (),
    ) -> None:
        self.func = func
        self.limits = limits
        self.check_arguments = check_arguments
        self.name = name
        self.queue_name = queue_name
        self.priority = priority
        self.retry = retry if retry is not None else RetryPolicy()
        self.timeout = timeout
        self.takes_context = takes_context
        self.run_after = run_after
        self.message_group_id = message_group_id
        self.tenant = tenant
        self.unique_key = unique_key
        self.unique_for = unique_for
        self.unique_until = unique_until

    def __repr__(self) -> str:
        return f"<Task {self.name} queue={self.queue_name!r} priority={self.priority}>"

    def _replace(self, **changes: Any) -> Task[P, R]:
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return Task(**values)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function here and now, as a plain call (no retries, no timeout)."""
        if self.takes_context:
            from lambda_jobs.context import JobContext

            context = JobContext(
                job_id="in-process",
                task_name=self.name,
                queue_name=self.queue_name,
                priority=self.priority,
                attempt=1,
                max_attempts=self.retry.max_attempts,
                enqueued_at=datetime.now(UTC),
            )
            return self.func(context, *args, **kwargs)
        return self.func(*args, **kwargs)

    @property
    def retries(self) -> int:
        return self.retry.retries

    def using(
        self,
        *,
        queue_name: str | None = None,
        priority: int | None = None,
        run_after: datetime | timedelta | None = None,
        tenant: str | None = None,
        unique_key: str | None = None,
        unique_for: Seconds | None = None,
        unique_until: Literal["executed", "expired"] = "executed",
        limits: Sequence[Limit] | None = None,
    ) -> Task[P, R]:
        """A copy with other job options; the registered task is unchanged.

        ``run_after`` is an aware datetime or a timedelta from the moment of enqueue. These are
        options of jobs, not of the task declaration, so a bad value raises
        :class:`~lambda_jobs.errors.InvalidJobError` naming it.

        ``tenant`` (1-128 ASCII letters, digits and punctuation) names who the job is for: on a
        standard Goat lane it is the message's ``MessageGroupId``, so SQS fair queues serve quiet
        tenants ahead of a noisy one; FIFO lanes keep ``message_group_id`` as their group, and Lamb
        has no tenants (docs/guide/tasks.md, "Tenants").

        ``unique_key`` (needs the job store): while a job with this key is pending or running,
        ``enqueue`` returns that job (``Job.existing`` is True) instead of sending another.
        ``unique_for`` (required with it: seconds or timedelta, 1 s..30 days) bounds how long the
        key is held; ``unique_until="executed"`` (default) frees it when the job finishes,
        ``"expired"`` holds it for all of ``unique_for`` (at most one run per period).

        ``limits`` replaces the task's limits for this job (``[]``: none); a name declared by a
        task must keep that task's numbers (docs/guide/limits.md).
        """
        changes: dict[str, Any] = {}
        try:
            if queue_name is not None:
                changes["queue_name"] = check_queue_name(queue_name)
            if priority is not None:
                changes["priority"] = check_priority(priority)
            if run_after is not None:
                changes["run_after"] = check_run_after(run_after)
            if tenant is not None:
                changes["tenant"] = check_tenant(tenant)
            if unique_key is not None or unique_for is not None:
                key, seconds, until = check_unique(unique_key, unique_for, unique_until)
                changes.update(unique_key=key, unique_for=seconds, unique_until=until)
            if limits is not None:
                from lambda_jobs.limits import check_known, check_limits

                changes["limits"] = check_limits(limits, self.name)
                check_known(changes["limits"], self.name)
        except InvalidTaskError as exc:
            raise InvalidJobError(str(exc)) from None
        return self._replace(**changes)

    def prepare(self, *args: P.args, **kwargs: P.kwargs) -> PreparedJob:
        """A job ready to send, for :func:`lambda_jobs.enqueue_many`; nothing is sent yet.

        Arguments that do not fit the function's signature raise
        :class:`~lambda_jobs.errors.InvalidJobError` here (unless ``check_arguments=False``).
        """
        from lambda_jobs.job import prepare

        return prepare(self, args, kwargs)

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        """Send one job to the backend in ``LAMBDA_JOBS_CONFIG``; returns it with its ``id``."""
        from lambda_jobs import config as config_module
        from lambda_jobs.backends import enqueue

        prepared = self.prepare(*args, **kwargs)
        return enqueue([prepared], config_module.load(), single=True)[0]


@overload
def task[**P, R](func: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    queue_name: str = "default",
    priority: int = 0,
    retries: int = 0,
    retry_backoff: Seconds = DEFAULT_RETRY_BACKOFF,
    retry_backoff_max: Seconds = DEFAULT_RETRY_BACKOFF_MAX,
    retry_jitter: bool = True,
    timeout: Seconds | None = None,
    takes_context: Literal[True],
    message_group_id: str | None = None,
    check_arguments: bool = True,
    limits: Sequence[Limit] = (),
) -> Callable[[Callable[Concatenate[JobContext, P], R]], Task[P, R]]: ...


@overload
def task(
    *,
    name: str | None = None,
    queue_name: str = "default",
    priority: int = 0,
    retries: int = 0,
    retry_backoff: Seconds = DEFAULT_RETRY_BACKOFF,
    retry_backoff_max: Seconds = DEFAULT_RETRY_BACKOFF_MAX,
    retry_jitter: bool = True,
    timeout: Seconds | None = None,
    takes_context: Literal[False] = False,
    message_group_id: str | None = None,
    check_arguments: bool = True,
    limits: Sequence[Limit] = (),
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    queue_name: str = "default",
    priority: int = 0,
    retries: int = 0,
    retry_backoff: Seconds = DEFAULT_RETRY_BACKOFF,
    retry_backoff_max: Seconds = DEFAULT_RETRY_BACKOFF_MAX,
    retry_jitter: bool = True,
    timeout: Seconds | None = None,
    takes_context: bool = False,
    message_group_id: str | None = None,
    check_arguments: bool = True,
    limits: Sequence[Limit] = (),
) -> Any:
    """Declare a job function: bare ``@task`` or ``@task(option=...)``.

    Options (all keyword-only, defaults in brackets):

    - ``queue_name`` ["default"]: the logical queue; must exist in the backend's config at enqueue.
    - ``priority`` [0]: -100..100, larger first; picks the queue's lane whose band holds it.
    - ``retries`` [0]: attempts after the first, 0..50.
    - ``retry_backoff`` [5 s]: wait before the first retry, doubled each retry.
    - ``retry_backoff_max`` [1 h]: cap of that wait, at most 12 h.
    - ``retry_jitter`` [True]: draw each wait from the upper half of its nominal value.
    - ``timeout`` [None]: seconds (or timedelta) one attempt may run, at most 900; None: the
      function's own deadline.
    - ``takes_context`` [False]: pass a :class:`~lambda_jobs.context.JobContext` as first argument.
    - ``message_group_id`` [task name]: FIFO lanes only; jobs of one group run one at a time, in
      order.
    - ``check_arguments`` [True]: at enqueue, bind the arguments to the function's signature and
      refuse a call it cannot accept (``InvalidJobError``); False sends them unchecked, for a
      function whose signature cannot be inspected or understates what it accepts.
    - ``limits`` [()]: :class:`~lambda_jobs.limits.Concurrency` and
      :class:`~lambda_jobs.limits.Rate` limits, global across the backend (needs the job store;
      docs/guide/limits.md). One limit name with other numbers in another task is refused.
    - ``name`` [module.qualname]: the name messages carry; change it only to keep old messages
      runnable after a rename.
    """

    def decorate(fn: Callable[..., Any]) -> Task[..., Any]:
        if not callable(fn):
            raise InvalidTaskError(f"@task decorates a function, got {fn!r}")
        _refuse_generator(fn)
        if takes_context:
            params = getattr(getattr(fn, "__code__", None), "co_varnames", ())
            if not params or params[0] != "context":
                raise InvalidTaskError(
                    f"{fn.__qualname__} uses takes_context=True, so its first parameter must be "
                    "named 'context'"
                )
        task_name = name or f"{fn.__module__}.{fn.__qualname__}"
        if "<locals>" in task_name and name is None:
            raise InvalidTaskError(
                f"{fn.__qualname__} is defined inside a function; a task must be importable by "
                "name, so define it at module level (or pass name=...)"
            )
        group = message_group_id
        if group is not None and not (isinstance(group, str) and 1 <= len(group) <= 128):
            raise InvalidTaskError("message_group_id must be a string of 1-128 characters")
        checked_limits: tuple[Limit, ...] = ()
        if limits:
            from lambda_jobs.limits import check_limits, declare

            checked_limits = check_limits(limits, task_name)
            declare(checked_limits, task_name)
        new: Task[..., Any] = Task(
            func=fn,
            name=task_name,
            queue_name=check_queue_name(queue_name),
            priority=check_priority(priority),
            retry=RetryPolicy(
                retries=retries,
                retry_backoff=to_seconds(retry_backoff, "retry_backoff"),
                retry_backoff_max=to_seconds(retry_backoff_max, "retry_backoff_max"),
                retry_jitter=retry_jitter,
            ),
            timeout=check_timeout(timeout),
            takes_context=takes_context,
            message_group_id=group,
            check_arguments=bool(check_arguments),
            limits=checked_limits,
        )
        registry.register(new)
        return new

    if func is not None:
        return decorate(func)
    return decorate


#: ``co_flags`` bits of generator and async generator functions (``inspect.CO_GENERATOR``,
#: ``inspect.CO_ASYNC_GENERATOR``), read without importing :mod:`inspect` (cold start).
_CO_GENERATOR = 0x20
_CO_ASYNC_GENERATOR = 0x200


def _refuse_generator(fn: Callable[..., Any]) -> None:
    """Raise :class:`InvalidTaskError` if ``fn`` (or the function of a partial or bound method it
    is) is a generator or async generator function: its body would never run as a job."""
    inner: Any = fn
    for _ in range(32):  # partials of partials, bound methods
        unwrapped = getattr(inner, "__func__", None)
        if unwrapped is None and type(inner).__name__ == "partial":
            unwrapped = getattr(inner, "func", None)
        if unwrapped is None:
            break
        inner = unwrapped
    flags = getattr(getattr(inner, "__code__", None), "co_flags", 0)
    if not isinstance(flags, int) or not flags & (_CO_GENERATOR | _CO_ASYNC_GENERATOR):
        return
    kind = "an async generator" if flags & _CO_ASYNC_GENERATOR else "a generator"
    name = getattr(fn, "__qualname__", None) or repr(fn)
    raise InvalidTaskError(
        f"@task cannot run {name}: it is {kind} function (it uses yield), so calling it only "
        "creates a generator and its body would never run. Write a plain function or an "
        "async def function that returns its result (for example collect the items in a list)"
    )
