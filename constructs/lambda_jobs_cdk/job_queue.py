"""``JobQueue`` and ``PriorityLane``: the per-queue settings of a job backend, checked at synth.

A *queue* is what a task names (``@task(queue_name=...)``). A *lane* is one physical target (an
SQS queue on Goat, a Lambda function on Lamb) that serves a band of job priorities of that queue;
a queue with one lane (-100..100) is the common case. Everything a user can get wrong here raises
:class:`JobBackendConfigError` at synth, with the prop's name and the allowed range in the message
(the limits and the range check are in :mod:`lambda_jobs_cdk.validation`). A queue accepts every
prop of either backend; the backend refuses those of the other one (``GOAT_ONLY_PROPS``,
``LAMB_ONLY_PROPS``) and checks what depends on it (an event-source mapping's concurrency floor).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from aws_cdk import Duration
from lambda_jobs.contract import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    SQS_MAX_DELAY_SECONDS,
    is_queue_name,
    lane_gap,
)

from lambda_jobs_cdk.validation import (
    MAX_ASYNC_RETRY_ATTEMPTS,
    MAX_BATCH_SIZE,
    MAX_BATCH_SIZE_WITH_WINDOW,
    MAX_BATCHING_WINDOW_SECONDS,
    MAX_CONCURRENCY,
    MAX_EVENT_AGE_SECONDS,
    MAX_MAX_POLLERS,
    MAX_MEMORY_MB,
    MAX_MIN_POLLERS,
    MIN_CONCURRENCY,
    MIN_EVENT_AGE_SECONDS,
    MIN_MEMORY_MB,
    MIN_POLLERS,
    JobBackendConfigError,
    check_function_timeout,
    check_range,
    is_token,
)

__all__ = [
    "GOAT_ONLY_PROPS",
    "LAMB_ONLY_PROPS",
    "JobBackendConfigError",
    "JobQueue",
    "PriorityLane",
]

GOAT_ONLY_PROPS = (
    "fifo",
    "delay",
    "batch_size",
    "max_batching_window",
    "min_pollers",
    "max_pollers",
    "event_count_metrics",
)
"""``JobQueue`` props only ``GoatJobBackend`` uses (SQS and event-source mapping settings)."""
LAMB_ONLY_PROPS = ("retry_attempts", "max_event_age")
"""``JobQueue`` props only ``LambJobBackend`` uses (asynchronous-invoke settings)."""


class PriorityLane:
    """One band of priorities of a queue, served by its own SQS queue (Goat) or function (Lamb).

    :param min_priority: lowest priority this lane serves (inclusive), -100..100.
    :param max_priority: highest priority this lane serves (inclusive), -100..100.
    :param max_concurrency: how many of this lane's jobs may run at once. Goat: the event-source
        mapping's ``MaximumConcurrency`` (2..1000). Lamb: the function's reserved concurrency
        (1..1000). Default: the queue's ``max_concurrency``; when that is also unset, Goat leaves
        the mapping unbounded and Lamb reserves nothing (the account's unreserved pool).
    :param min_pollers: Goat only: this lane's mapping in provisioned mode with at least this
        many event pollers (2..200). Default: the queue's ``min_pollers``.
    :param max_pollers: Goat only: provisioned mode with at most this many event pollers
        (2..2000). Default: the queue's ``max_pollers``.

    Give a higher band more concurrency than a lower one: that is how priority works on Lambda
    (larger priorities get more workers, none wait behind the others' backlog).
    """

    __slots__ = ("max_concurrency", "max_pollers", "max_priority", "min_pollers", "min_priority")

    def __init__(
        self,
        *,
        min_priority: int,
        max_priority: int,
        max_concurrency: int | float | None = None,  # float: a CfnParameter token
        min_pollers: int | None = None,
        max_pollers: int | None = None,
    ) -> None:
        for prop, value in (("min_priority", min_priority), ("max_priority", max_priority)):
            check_range(
                f"PriorityLane {prop}",
                value,
                MIN_PRIORITY,
                MAX_PRIORITY,
                required=True,
                tokens=False,
            )
        if min_priority > max_priority:
            raise JobBackendConfigError(
                f"PriorityLane min_priority ({min_priority}) must not exceed max_priority "
                f"({max_priority})"
            )
        check_range(
            "PriorityLane max_concurrency", max_concurrency, MIN_CONCURRENCY, MAX_CONCURRENCY
        )
        self.min_priority = min_priority
        self.max_priority = max_priority
        self.max_concurrency = max_concurrency
        self.min_pollers, self.max_pollers = check_pollers("PriorityLane", min_pollers, max_pollers)

    def __repr__(self) -> str:
        return (
            f"PriorityLane(min_priority={self.min_priority}, max_priority={self.max_priority}, "
            f"max_concurrency={self.max_concurrency})"
        )


class JobQueue:
    """A logical job queue of a backend (``GoatJobBackend`` or ``LambJobBackend``).

    All props are keyword-only except ``name``; every default is below.

    :param name: the queue name tasks use (``@task(queue_name=...)``): 1-64 of ``[A-Za-z0-9_-]``.
        Default ``"default"``.
    :param lanes: priority bands, each with its own target and concurrency. They must cover
        -100..100 with no gap or overlap. Default: one lane -100..100 with the queue's
        ``max_concurrency``.
    :param max_concurrency: concurrency of every lane that does not set its own. Goat: the
        event-source mapping's ``MaximumConcurrency`` (2..1000). Lamb: reserved concurrency
        (1..1000). Default: unset (Goat: no cap; Lamb: unreserved).
    :param timeout: the Lambda function timeout for this queue's jobs, at most 900 s. Default: the
        backend's ``timeout``. Goat: a queue with its own ``timeout`` or ``memory_size`` gets its
        own function (from the same image); the others share the backend's function.
    :param memory_size: MiB of memory of this queue's function, 128..10240. Default: the backend's
        ``memory_size``.
    :param fifo: Goat only: FIFO lanes (jobs of one message group run in order, one at a time).
        Default ``False``.
    :param delay: Goat only: the SQS queue's ``DelaySeconds``, 0..900 s. Default: none (0).
    :param batch_size: Goat only: records per invocation, 1..10 (up to 10,000 with a
        ``max_batching_window``; FIFO at most 10). Default 10.
    :param max_batching_window: Goat only: how long the mapping gathers records, 0..300 s; not
        allowed on FIFO queues. Default: none.
    :param retry_attempts: Lamb only: Lambda's own async retries after a crash (the handler runs
        task retries itself), 0..2. Default 2.
    :param max_event_age: Lamb only: how long Lambda keeps an async event it could not run,
        60 s..6 h. Default 6 h.
    :param min_pollers: Goat only: run the lanes' event-source mappings in provisioned mode with
        at least this many event pollers, 2..200 (``ProvisionedPollerConfig.MinimumPollers``): an
        always-on cost (docs/reference/costs.md). A lane may set its own. AWS makes provisioned
        mode and ``MaximumConcurrency`` exclusive, so a lane with pollers cannot have
        ``max_concurrency``.
        Default: none (standard mode; with only ``max_pollers`` set, AWS's default 2).
    :param max_pollers: Goat only: provisioned mode with at most this many pollers, 2..2000
        (``MaximumPollers``). Default: none (with only ``min_pollers`` set, AWS's default 200).
    :param event_count_metrics: Goat only: the mappings publish Lambda's event-source-mapping
        ``EventCount`` metrics (``MetricsConfig``). Default ``False``.
    """

    def __init__(
        self,
        name: str = "default",
        *,
        lanes: Sequence[PriorityLane] | None = None,
        max_concurrency: int | float | None = None,  # float: a CfnParameter token
        timeout: Duration | None = None,
        memory_size: int | float | None = None,
        fifo: bool = False,
        delay: Duration | None = None,
        batch_size: int | None = None,
        max_batching_window: Duration | None = None,
        retry_attempts: int | None = None,
        max_event_age: Duration | None = None,
        min_pollers: int | None = None,
        max_pollers: int | None = None,
        event_count_metrics: bool = False,
    ) -> None:
        if not is_queue_name(name):
            raise JobBackendConfigError(
                "JobQueue name must be 1-64 characters of letters, digits, '-' and '_', "
                f"got {name!r}"
            )
        self.name = name
        where = f"JobQueue {name!r}"
        check_range(f"{where} max_concurrency", max_concurrency, MIN_CONCURRENCY, MAX_CONCURRENCY)
        self.max_concurrency = max_concurrency
        self.lanes: tuple[PriorityLane, ...] = _check_lanes(where, lanes)
        if timeout is not None:
            check_function_timeout(f"{where} timeout", timeout)
        self.timeout = timeout
        check_range(f"{where} memory_size", memory_size, MIN_MEMORY_MB, MAX_MEMORY_MB)
        self.memory_size = memory_size
        if not isinstance(fifo, bool):
            raise JobBackendConfigError(f"{where} fifo must be True or False, got {fifo!r}")
        self.fifo = fifo
        check_range(f"{where} delay", delay, 0, SQS_MAX_DELAY_SECONDS, seconds=True)
        self.delay = delay
        window = check_range(
            f"{where} max_batching_window",
            max_batching_window,
            0,
            MAX_BATCHING_WINDOW_SECONDS,
            seconds=True,
        )
        if window is not None and fifo:
            raise JobBackendConfigError(
                f"{where} max_batching_window is not allowed on a FIFO queue (AWS accepts no "
                "batching window for FIFO event sources); remove it or set fifo=False"
            )
        self.max_batching_window = max_batching_window
        if fifo:
            upper, why = MAX_BATCH_SIZE, " (FIFO queues accept at most 10)"
        elif window:
            upper, why = MAX_BATCH_SIZE_WITH_WINDOW, " (with a batching window)"
        else:
            upper, why = MAX_BATCH_SIZE, " (up to 10000 with a max_batching_window)"
        check_range(f"{where} batch_size", batch_size, 1, upper, why=why)
        self.batch_size = batch_size
        check_range(f"{where} retry_attempts", retry_attempts, 0, MAX_ASYNC_RETRY_ATTEMPTS)
        self.retry_attempts = retry_attempts
        check_range(
            f"{where} max_event_age",
            max_event_age,
            MIN_EVENT_AGE_SECONDS,
            MAX_EVENT_AGE_SECONDS,
            seconds=True,
            why=" (60 s..6 h)",
        )
        self.max_event_age = max_event_age
        self.min_pollers, self.max_pollers = check_pollers(where, min_pollers, max_pollers)
        if not isinstance(event_count_metrics, bool):
            raise JobBackendConfigError(
                f"{where} event_count_metrics must be True or False, got {event_count_metrics!r}"
            )
        self.event_count_metrics = event_count_metrics

    def __repr__(self) -> str:
        return f"JobQueue({self.name!r}, fifo={self.fifo}, lanes={list(self.lanes)!r})"

    def lane_concurrency(self, lane: PriorityLane) -> int | float | None:
        """The concurrency a lane runs with: its own, else the queue's, else None (no cap)."""
        return lane.max_concurrency if lane.max_concurrency is not None else self.max_concurrency

    def lane_pollers(self, lane: PriorityLane) -> tuple[int | None, int | None]:
        """(minimum, maximum) pollers of a lane: its own, else the queue's; (None, None) when the
        lane's mapping runs in standard mode."""
        if lane.min_pollers is not None or lane.max_pollers is not None:
            return lane.min_pollers, lane.max_pollers
        return self.min_pollers, self.max_pollers

    def props_set(self, names: Sequence[str]) -> Iterator[str]:
        """Those of the props ``names`` this queue sets (``fifo=False`` counts as unset)."""
        for name in names:
            value = getattr(self, name)
            if value is not None and value is not False:
                yield name


def check_pollers(
    where: str, min_pollers: int | None, max_pollers: int | None
) -> tuple[int | None, int | None]:
    """Provisioned-mode bounds of an SQS mapping: each in range, the minimum not above the maximum.

    Ranges from the Lambda API page "ProvisionedPollerConfig" (SQS: at least 2) and
    CloudFormation's ``MaximumPollers`` limit of 2000.
    """
    why = " (provisioned mode of an SQS event-source mapping)"
    check_range(f"{where} min_pollers", min_pollers, MIN_POLLERS, MAX_MIN_POLLERS, why=why)
    check_range(f"{where} max_pollers", max_pollers, MIN_POLLERS, MAX_MAX_POLLERS, why=why)
    if (
        min_pollers is not None
        and max_pollers is not None
        and not is_token(min_pollers)
        and not is_token(max_pollers)
        and min_pollers > max_pollers
    ):
        raise JobBackendConfigError(
            f"{where} min_pollers ({min_pollers}) must not exceed max_pollers ({max_pollers})"
        )
    return min_pollers, max_pollers


def check_queue_names(queues: Sequence[JobQueue]) -> None:
    """Refuse an empty list and duplicate names (a task could not say which queue it means)."""
    if not queues:
        raise JobBackendConfigError(
            "queues must hold at least one JobQueue (leave it unset for one 'default' queue)"
        )
    seen: set[str] = set()
    for queue in queues:
        if not isinstance(queue, JobQueue):
            raise JobBackendConfigError(f"queues must hold JobQueue objects, got {queue!r}")
        if queue.name in seen:
            raise JobBackendConfigError(
                f"queues has two queues named {queue.name!r}; queue names must be unique"
            )
        seen.add(queue.name)


def _check_lanes(where: str, lanes: Sequence[PriorityLane] | None) -> tuple[PriorityLane, ...]:
    if lanes is None:
        return (PriorityLane(min_priority=MIN_PRIORITY, max_priority=MAX_PRIORITY),)
    if not lanes or not all(isinstance(lane, PriorityLane) for lane in lanes):
        raise JobBackendConfigError(f"{where} lanes must be a non-empty list of PriorityLane")
    ordered = sorted(lanes, key=lambda lane: lane.min_priority)
    gap = lane_gap([(lane.min_priority, lane.max_priority) for lane in ordered])
    if gap is not None:
        expected, found = gap
        if found is None:
            raise JobBackendConfigError(
                f"{where} lanes must cover priorities {MIN_PRIORITY}..{MAX_PRIORITY}: they stop at "
                f"{expected - 1}"
            )
        raise JobBackendConfigError(
            f"{where} lanes must cover priorities {MIN_PRIORITY}..{MAX_PRIORITY} with no gap "
            f"or overlap: a lane starting at {expected} is expected, got {found[0]}..{found[1]}"
        )
    return tuple(ordered)
