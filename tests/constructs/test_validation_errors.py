"""Every input a user can get wrong at synth: the error names the prop and the allowed range.

Errors are raised while the constructs are built (``cdk synth`` stops with them), before any
template exists, so these tests build constructs and never synthesize.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from lambda_jobs_cdk import (
    GoatJobBackend,
    JobBackendConfigError,
    JobCode,
    JobQueue,
    LambJobBackend,
    PriorityLane,
)

from stacks.demo_code import demo_code

S = Duration.seconds


def lanes(*bands: tuple[int, int]) -> list[PriorityLane]:
    return [PriorityLane(min_priority=low, max_priority=high) for low, high in bands]


PRIORITY_LANE_ERRORS: list[tuple[dict[str, Any], str]] = [
    (
        {"min_priority": -101, "max_priority": 0},
        r"PriorityLane min_priority must be in -100\.\.100",
    ),
    ({"min_priority": 0, "max_priority": 101}, r"PriorityLane max_priority must be in -100\.\.100"),
    ({"min_priority": 0, "max_priority": "5"}, r"max_priority must be an integer in -100\.\.100"),
    ({"min_priority": 10, "max_priority": 0}, r"min_priority \(10\) must not exceed max_priority"),
    (
        {"min_priority": 0, "max_priority": 1, "max_concurrency": 0},
        r"PriorityLane max_concurrency must be in 1\.\.1000, got 0",
    ),
]


@pytest.mark.parametrize(("props", "message"), PRIORITY_LANE_ERRORS)
def test_priority_lane_rejects_out_of_range_props(props: dict[str, Any], message: str) -> None:
    with pytest.raises(JobBackendConfigError, match=message):
        PriorityLane(**props)


JOB_QUEUE_ERRORS: list[tuple[Callable[[], JobQueue], str]] = [
    (lambda: JobQueue("bad name"), r"JobQueue name must be 1-64 characters .*'bad name'"),
    (lambda: JobQueue(""), r"JobQueue name must be 1-64 characters"),
    (lambda: JobQueue("q" * 65), r"JobQueue name must be 1-64 characters"),
    (
        lambda: JobQueue("q", lanes=lanes((-100, 0), (2, 100))),
        r"JobQueue 'q' lanes must cover priorities -100\.\.100 with no gap or overlap: a lane "
        r"starting at 1 is expected, got 2\.\.100",
    ),
    (
        lambda: JobQueue("q", lanes=lanes((-100, 10), (5, 100))),
        r"lanes must cover priorities -100\.\.100 with no gap or overlap",
    ),
    (
        lambda: JobQueue("q", lanes=lanes((-100, 50))),
        r"JobQueue 'q' lanes must cover priorities -100\.\.100: they stop at 50",
    ),
    (lambda: JobQueue("q", lanes=[]), r"JobQueue 'q' lanes must be a non-empty list"),
    (lambda: JobQueue("q", max_concurrency=1001), r"'q' max_concurrency must be in 1\.\.1000"),
    (lambda: JobQueue("q", timeout=S(901)), r"'q' timeout must be 1\.\.900 seconds \(Lambda"),
    (lambda: JobQueue("q", timeout=S(0)), r"'q' timeout must be 1\.\.900 seconds"),
    (lambda: JobQueue("q", memory_size=64), r"'q' memory_size must be in 128\.\.10240"),
    (lambda: JobQueue("q", delay=S(901)), r"'q' delay must be 0\.\.900 seconds, got 901"),
    (lambda: JobQueue("q", delay=5), r"'q' delay must be a Duration"),  # type: ignore[arg-type]
    (lambda: JobQueue("q", fifo="yes"), r"'q' fifo must be True or False"),  # type: ignore[arg-type]
    (
        lambda: JobQueue("q", batch_size=11),
        r"'q' batch_size must be in 1\.\.10 \(up to 10000 with a max_batching_window\), got 11",
    ),
    (lambda: JobQueue("q", batch_size=0), r"'q' batch_size must be in 1\.\.10"),
    (
        lambda: JobQueue("q", batch_size=10_001, max_batching_window=S(1)),
        r"'q' batch_size must be in 1\.\.10000 \(with a batching window\)",
    ),
    (
        lambda: JobQueue("q", fifo=True, batch_size=20),
        r"'q' batch_size must be in 1\.\.10 \(FIFO queues accept at most 10\)",
    ),
    (
        lambda: JobQueue("q", fifo=True, max_batching_window=S(1)),
        r"'q' max_batching_window is not allowed on a FIFO queue",
    ),
    (
        lambda: JobQueue("q", max_batching_window=S(301)),
        r"'q' max_batching_window must be 0\.\.300 seconds",
    ),
    (lambda: JobQueue("q", retry_attempts=3), r"'q' retry_attempts must be in 0\.\.2, got 3"),
    (
        lambda: JobQueue("q", max_event_age=S(30)),
        r"'q' max_event_age must be 60\.\.21600 seconds \(60 s\.\.6 h\), got 30",
    ),
    (
        lambda: JobQueue("q", max_event_age=Duration.hours(7)),
        r"'q' max_event_age must be 60\.\.21600 seconds",
    ),
]


@pytest.mark.parametrize(("build", "message"), JOB_QUEUE_ERRORS)
def test_job_queue_rejects_out_of_range_props(build: Callable[[], JobQueue], message: str) -> None:
    with pytest.raises(JobBackendConfigError, match=message):
        build()


@pytest.fixture(scope="module")
def code() -> JobCode:
    return demo_code()


@pytest.fixture(scope="module")
def app() -> App:
    return App()


_stack_ids = itertools.count()


def new_stack(app: App) -> Stack:
    return Stack(app, f"Validation{next(_stack_ids)}")


BOTH = [GoatJobBackend, LambJobBackend]
BACKEND_ERRORS: list[tuple[dict[str, Any], str]] = [
    (
        {"queues": [JobQueue("a"), JobQueue("a")]},
        r"queues has two queues named 'a'; queue names must be unique",
    ),
    ({"queues": []}, r"queues must hold at least one JobQueue"),
    ({"queues": ["default"]}, r"queues must hold JobQueue objects"),
    ({"timeout": S(901)}, r"^timeout must be 1\.\.900 seconds \(Lambda's limit\), got 901"),
    ({"timeout": S(0)}, r"^timeout must be 1\.\.900 seconds"),
    ({"memory_size": 100}, r"^memory_size must be in 128\.\.10240, got 100"),
    (
        {"environment": {"LAMBDA_JOBS_TASKS": "x"}},
        r"environment: LAMBDA_JOBS_TASKS is set by the construct",
    ),
    ({"environment": {"1X": "x"}}, r"environment: '1X' is not a valid variable name"),
    ({"environment": {"X": 1}}, r"environment: X must be a string"),
]


@pytest.mark.parametrize("backend", BOTH)
@pytest.mark.parametrize(("props", "message"), BACKEND_ERRORS)
def test_backend_rejects_out_of_range_props(
    app: App, code: JobCode, backend: type, props: dict[str, Any], message: str
) -> None:
    with pytest.raises(JobBackendConfigError, match=message):
        backend(new_stack(app), "Jobs", code=code, **props)


@pytest.mark.parametrize("backend", BOTH)
def test_backend_requires_a_job_code(app: App, backend: type) -> None:
    with pytest.raises(JobBackendConfigError, match=r"code must be a JobCode"):
        backend(new_stack(app), "Jobs", code="app/")


GOAT_ERRORS: list[tuple[JobQueue, str]] = [
    (
        JobQueue("q", max_concurrency=1),
        r"JobQueue 'q' max_concurrency must be in 2\.\.1000 on GoatJobBackend \(the "
        r"event-source mapping's MaximumConcurrency\), got 1",
    ),
    (
        JobQueue(
            "q",
            lanes=[
                PriorityLane(min_priority=-100, max_priority=0, max_concurrency=1),
                PriorityLane(min_priority=1, max_priority=100),
            ],
        ),
        r"max_concurrency must be in 2\.\.1000 on GoatJobBackend .*priorities -100\.\.0",
    ),
    (JobQueue("q", retry_attempts=1), r"'q' retry_attempts is a LambJobBackend setting"),
    (JobQueue("q", max_event_age=S(60)), r"'q' max_event_age is a LambJobBackend setting"),
]


@pytest.mark.parametrize(("queue", "message"), GOAT_ERRORS)
def test_goat_rejects_lamb_only_props_and_esm_concurrency_below_2(
    app: App, code: JobCode, queue: JobQueue, message: str
) -> None:
    with pytest.raises(JobBackendConfigError, match=message):
        GoatJobBackend(new_stack(app), "Jobs", code=code, queues=[queue])


LAMB_ERRORS: list[tuple[JobQueue, str]] = [
    (JobQueue("q", fifo=True), r"'q' fifo is a GoatJobBackend \(SQS\) setting"),
    (JobQueue("q", delay=S(10)), r"'q' delay is a GoatJobBackend \(SQS\) setting"),
    (JobQueue("q", batch_size=5), r"'q' batch_size is a GoatJobBackend \(SQS\) setting"),
    (
        JobQueue("q", max_batching_window=S(5)),
        r"'q' max_batching_window is a GoatJobBackend \(SQS\) setting",
    ),
]


@pytest.mark.parametrize(("queue", "message"), LAMB_ERRORS)
def test_lamb_rejects_goat_only_props(
    app: App, code: JobCode, queue: JobQueue, message: str
) -> None:
    with pytest.raises(JobBackendConfigError, match=message):
        LambJobBackend(new_stack(app), "Jobs", code=code, queues=[queue])


def test_lamb_accepts_reserved_concurrency_of_1(app: App, code: JobCode) -> None:
    backend = LambJobBackend(
        new_stack(app), "Jobs", code=code, queues=[JobQueue("q", max_concurrency=1)]
    )
    assert [len(fns) for fns in backend.lane_functions.values()] == [1]


def test_each_backend_refuses_exactly_the_other_backends_queue_props() -> None:
    from lambda_jobs_cdk.job_queue import GOAT_ONLY_PROPS, LAMB_ONLY_PROPS

    assert tuple(GoatJobBackend.refused_queue_props) == LAMB_ONLY_PROPS
    assert tuple(LambJobBackend.refused_queue_props) == GOAT_ONLY_PROPS


def test_both_backends_take_the_props_of_the_base_and_no_others() -> None:
    import inspect

    from lambda_jobs_cdk import JobBackend

    assert list(inspect.signature(JobBackend.__init__).parameters) == [
        "self",
        "scope",
        "id",
        "code",
        "queues",
        "timeout",
        "memory_size",
        "environment",
        "log_retention",
        "parameter_name",
        "monitoring",
        "schedules",
        "recursive_loop",
        "job_store",
        "removal_policy",
    ]
    for backend in BOTH:
        assert backend.__init__ is JobBackend.__init__, backend.__name__


def test_config_error_is_one_class_wherever_it_is_imported_from() -> None:
    from lambda_jobs_cdk import job_queue, validation

    assert job_queue.JobBackendConfigError is validation.JobBackendConfigError
    assert JobBackendConfigError is validation.JobBackendConfigError
    assert issubclass(JobBackendConfigError, ValueError)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (0, {}, r"^p must be in 1\.\.5, got 0$"),
        (True, {}, r"^p must be an integer in 1\.\.5, got True$"),
        (None, {"required": True}, r"^p must be an integer in 1\.\.5, got None$"),
        (
            9,
            {"why": " (a limit)", "about": " for x"},
            r"^p must be in 1\.\.5 \(a limit\), got 9 for x$",
        ),
        (S(6), {"seconds": True}, r"^p must be 1\.\.5 seconds, got 6$"),
        (6, {"seconds": True}, r"^p must be a Duration, got 6$"),
    ],
)
def test_the_range_check_names_the_prop_the_range_and_the_value(
    value: Any, kwargs: dict[str, Any], message: str
) -> None:
    from lambda_jobs_cdk.validation import check_range

    with pytest.raises(JobBackendConfigError, match=message):
        check_range("p", value, 1, 5, **kwargs)


def test_the_range_check_passes_unset_optional_props_and_returns_whole_numbers() -> None:
    from lambda_jobs_cdk.validation import check_range

    assert check_range("p", None, 1, 5) is None
    assert check_range("p", 5, 1, 5) == 5
    assert check_range("p", Duration.minutes(1), 0, 60, seconds=True) == 60
