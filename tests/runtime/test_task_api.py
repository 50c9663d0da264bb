"""The task API: @task option checks (each names the option), using(), prepare(), plain calls and
takes_context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lambda_jobs import (
    ConfigurationError,
    InvalidJobError,
    InvalidTaskError,
    JobContext,
    Task,
    registry,
    task,
)
from lambda_jobs.job import PreparedJob
from lambda_jobs.options import RetryPolicy


@task
def bare(a: int, b: int = 1) -> int:
    return a + b


@task(
    queue_name="emails",
    priority=20,
    retries=3,
    retry_backoff=timedelta(seconds=2),
    retry_backoff_max=60,
    retry_jitter=False,
    timeout=timedelta(seconds=30),
    message_group_id="group-1",
    name="app.send_mail",
)
def configured(to: str) -> str:
    return f"sent to {to}"


@task(takes_context=True)
def with_context(context: JobContext, x: int) -> tuple[str, int, int, int]:
    return (context.task_name, context.attempt, context.max_attempts, x)


def declare(**options: Any) -> Task[..., Any]:
    """Apply @task(**options) to a module-level-named function (name= avoids '<locals>')."""

    def fn(context: Any = None) -> None:
        return None

    options.setdefault("name", f"tests.runtime.test_task_api.declared_{len(registry.names())}")
    decorator: Any = task  # options are deliberately of any type here
    result: Task[..., Any] = decorator(**options)(fn)
    return result


def test_task_bare_decorator_registers_with_defaults() -> None:
    assert bare.name == "tests.runtime.test_task_api.bare"
    assert registry.get(bare.name) is bare
    assert (bare.queue_name, bare.priority, bare.retries, bare.timeout) == ("default", 0, 0, None)
    assert bare.retry == RetryPolicy()
    assert not bare.takes_context and bare.run_after is None and bare.message_group_id is None


def test_task_options_are_kept_in_seconds() -> None:
    assert configured.name == "app.send_mail"
    assert (configured.queue_name, configured.priority) == ("emails", 20)
    assert configured.retry == RetryPolicy(
        retries=3, retry_backoff=2.0, retry_backoff_max=60.0, retry_jitter=False
    )
    assert configured.retry.max_attempts == 4
    assert configured.timeout == 30.0
    assert configured.message_group_id == "group-1"


def test_task_is_still_a_plain_function_in_process() -> None:
    assert bare(2) == 3
    assert bare(2, b=5) == 7
    assert configured("ada") == "sent to ada"


def test_task_takes_context_in_process_call_gets_a_context() -> None:
    assert with_context(5) == (with_context.name, 1, 1, 5)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"queue_name": "has space"}, "queue_name must be 1-64 characters"),
        ({"queue_name": "q" * 65}, "queue_name must be 1-64 characters"),
        ({"queue_name": 5}, "queue_name must be 1-64 characters"),
        ({"priority": 101}, "priority must be in -100..100 (larger runs first), got 101"),
        ({"priority": -101}, "priority must be in -100..100"),
        ({"priority": 1.5}, "priority must be an integer in -100..100"),
        ({"priority": True}, "priority must be an integer in -100..100"),
        ({"retries": -1}, "retries must be in 0..50 (attempts after the first), got -1"),
        ({"retries": 51}, "retries must be in 0..50"),
        ({"retries": "3"}, "retries must be an integer in 0..50"),
        ({"retry_backoff": 0}, "retry_backoff must be more than 0 and at most 43200 s (12 h)"),
        ({"retry_backoff": "5s"}, "retry_backoff must be seconds (int or float) or a timedelta"),
        (
            {"retry_backoff": 10, "retry_backoff_max": 5},
            "retry_backoff_max must be between retry_backoff (10.0 s) and 43200 s",
        ),
        ({"retry_backoff_max": timedelta(hours=13)}, "retry_backoff_max must be between"),
        ({"retry_jitter": "yes"}, "retry_jitter must be True or False, got 'yes'"),
        ({"timeout": 0}, "timeout must be more than 0 and at most 900 s (Lambda's limit), got 0"),
        ({"timeout": timedelta(minutes=16)}, "got 960"),
        ({"timeout": True}, "timeout must be seconds (int or float) or a timedelta"),
        ({"message_group_id": ""}, "message_group_id must be a string of 1-128 characters"),
        ({"message_group_id": "g" * 129}, "message_group_id must be a string of 1-128"),
    ],
)
def test_task_option_out_of_range_is_named(options: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidTaskError) as caught:
        declare(**options)
    assert expected in str(caught.value)


def test_task_takes_context_needs_a_first_parameter_named_context() -> None:
    def no_context(x: int) -> None:
        return None

    with pytest.raises(InvalidTaskError, match="its first parameter must be named 'context'"):
        task(takes_context=True, name="tests.runtime.test_task_api.nc")(no_context)  # type: ignore[arg-type]


def test_task_defined_inside_a_function_needs_a_name() -> None:
    def local() -> None:
        return None

    with pytest.raises(InvalidTaskError, match="defined inside a function; a task must be"):
        task(local)


def test_task_decorating_a_non_function_is_refused() -> None:
    with pytest.raises(InvalidTaskError, match="@task decorates a function, got 42"):
        task()(42)  # type: ignore[arg-type]


def test_task_two_functions_under_one_name_are_refused() -> None:
    def other(a: int, b: int = 1) -> int:
        return a * b

    with pytest.raises(InvalidTaskError, match="two different functions are registered as task"):
        task(name=bare.name)(other)


def test_task_using_returns_a_configured_copy_and_leaves_the_task_alone() -> None:
    when = datetime.now(UTC) + timedelta(hours=1)
    copy = bare.using(queue_name="bulk", priority=-50, run_after=when)

    assert (copy.queue_name, copy.priority, copy.run_after) == ("bulk", -50, when)
    assert copy.name == bare.name and copy.func is bare.func and copy.retry == bare.retry
    assert (bare.queue_name, bare.priority, bare.run_after) == ("default", 0, None)
    assert registry.get(bare.name) is bare
    assert copy.using(priority=1).queue_name == "bulk"  # copies compose
    assert bare.using(run_after=timedelta(seconds=5)).run_after == timedelta(seconds=5)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"priority": 200}, "priority must be in -100..100 (larger runs first), got 200"),
        ({"queue_name": "a/b"}, "queue_name must be 1-64 characters"),
        ({"run_after": datetime(2030, 1, 1)}, "run_after must be timezone-aware"),
        ({"run_after": 60}, "run_after must be an aware datetime or a timedelta, got 60"),
    ],
)
def test_task_using_bad_option_is_an_invalid_job_error(
    options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InvalidJobError) as caught:
        bare.using(**options)
    assert expected in str(caught.value)


def test_task_prepare_fixes_the_job_id_and_sends_nothing() -> None:
    first = bare.prepare(1, b=2)
    second = bare.prepare(1, b=2)

    assert isinstance(first, PreparedJob)
    assert first.task is bare and first.args == (1,) and first.kwargs == {"b": 2}
    assert first.id != second.id and len(first.id) == 36
    assert first.overrides == {}


def test_task_prepare_of_a_configured_copy_keeps_its_options() -> None:
    prepared = configured.using(priority=90).prepare("bob")
    assert prepared.task.priority == 90 and prepared.task.queue_name == "emails"


def test_task_refuses_generator_and_async_generator_functions() -> None:
    def numbers() -> Any:
        yield 1

    async def stream() -> Any:
        yield 1

    class Holder:
        def items(self) -> Any:
            yield 1

    import functools

    for function, kind in (
        (numbers, "a generator"),
        (stream, "an async generator"),
        (functools.partial(numbers), "a generator"),
        (Holder().items, "a generator"),
    ):
        with pytest.raises(InvalidTaskError) as refused:
            task(name="tests.runtime.test_task_api.generator")(function)
        text = str(refused.value)
        assert f"it is {kind} function (it uses yield)" in text, text
        assert "its body would never run" in text
        assert "Write a plain function or an async def function that returns its result" in text
    assert "tests.runtime.test_task_api.generator" not in registry.names()


def test_task_accepts_an_async_def_function() -> None:
    async def later(x: int) -> int:
        return x * 3

    declared = task(name="tests.runtime.test_task_api.later")(later)
    assert declared.func is later


def test_refreshing_a_job_without_a_job_store_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``Job.refresh`` reads through the job store's client half, which ``lambda_jobs.job`` does
    not import (tests/runtime/test_layers.py); an inline receipt has no store to read."""
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", "inline")
    job = bare.enqueue(1)
    assert job.return_value == 2
    with pytest.raises(ConfigurationError, match=r"job_store=JobStore\(\.\.\.\)"):
        job.refresh()
