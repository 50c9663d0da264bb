"""Arguments that do not fit the task's signature are refused at enqueue, and nothing is sent.

Without this check such a job fails with ``TypeError`` on every attempt and reaches the
dead-letter queue after its retries (issue 26). The "nothing was sent" tests look into moto.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs import InvalidJobError, task
from lambda_jobs.context import JobContext

from tests.runtime.enqueue_backends import GoatBackend, goat

__all__ = ["goat"]  # the fixture, imported for the tests below


@task
def two(a: int, b: int) -> int:
    return a + b


@task
def keyword_only(a: int, *, b: int, c: int = 3) -> int:
    return a + b + c


@task
def positional_only(a: int, /, b: int = 2) -> int:
    return a + b


@task
def open_ended(first: str, *rest: Any, **options: Any) -> list[Any]:
    return [first, list(rest), options]


@task(takes_context=True)
def with_context(context: JobContext, n: int) -> int:
    return n


#: ``math.hypot`` has no signature ``inspect`` can read: such a task needs the opt-out.
uninspectable = task(name="tests.runtime.enqueue.test_signature.hypot")(math.hypot)
unchecked = task(
    name="tests.runtime.enqueue.test_signature.hypot_unchecked", check_arguments=False
)(math.hypot)


@task(check_arguments=False)
def takes_two_unchecked(a: int, b: int) -> int:
    return a + b


def refused(send: Callable[[], Any]) -> str:
    with pytest.raises(InvalidJobError) as caught:
        send()
    return str(caught.value)


def queued_bodies(goat: GoatBackend, url: str) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in goat.visible_now(url)]


def test_a_missing_argument_is_refused_naming_the_parameter_and_nothing_is_sent(
    goat: GoatBackend,
) -> None:
    message = refused(lambda: two.enqueue(1))  # type: ignore[call-arg]

    assert message.startswith(f"{two.name}: the arguments do not fit the task's signature")
    assert "missing a required argument: 'b'" in message
    assert "it takes (a, b)" in message
    assert queued_bodies(goat, goat.low_url) == []


def test_an_unexpected_keyword_is_refused_also_through_using(goat: GoatBackend) -> None:
    message = refused(lambda: two.using(priority=60).enqueue(1, 2, c=3))  # type: ignore[call-arg]

    assert "got an unexpected keyword argument 'c'" in message
    assert "it takes (a, b)" in message
    assert queued_bodies(goat, goat.high_url) == []


def test_too_many_positional_arguments_say_how_many_are_accepted(goat: GoatBackend) -> None:
    message = refused(lambda: two.enqueue(1, 2, 3))  # type: ignore[call-arg]

    assert "3 positional arguments given, at most 2 accepted; it takes (a, b)" in message
    assert queued_bodies(goat, goat.low_url) == []


@pytest.mark.usefixtures("goat")
def test_keyword_only_parameters_must_be_passed_by_keyword() -> None:
    missing = refused(lambda: keyword_only.enqueue(1))  # type: ignore[call-arg]
    positional = refused(lambda: keyword_only.enqueue(1, 2))  # type: ignore[call-arg]

    assert "missing a required keyword-only argument: 'b'" in missing
    assert "it takes (a, *, b, c=...)" in missing
    assert "2 positional arguments given, at most 1 accepted" in positional


@pytest.mark.usefixtures("goat")
def test_positional_only_parameters_cannot_be_passed_by_keyword() -> None:
    message = refused(lambda: positional_only.enqueue(a=1))  # type: ignore[call-arg]

    assert "'a' parameter is positional only" in message
    assert "it takes (a, /, b=...)" in message


def test_star_args_and_star_kwargs_accept_any_extra_arguments(goat: GoatBackend) -> None:
    open_ended.enqueue("x", 1, 2, colour="red")
    missing = refused(lambda: open_ended.enqueue(colour="red"))  # type: ignore[call-arg]

    (body,) = queued_bodies(goat, goat.low_url)
    assert body["args"] == ["x", 1, 2] and body["kwargs"] == {"colour": "red"}
    assert "missing a required argument: 'first'" in missing
    assert "it takes (first, *rest, **options)" in missing


def test_takes_context_binds_without_the_context(goat: GoatBackend) -> None:
    with_context.enqueue(5)
    passed_context = refused(lambda: with_context.enqueue(5, context={}))  # type: ignore[call-arg]

    (body,) = queued_bodies(goat, goat.low_url)
    assert body["args"] == [5]
    assert "got an unexpected keyword argument 'context'" in passed_context
    assert "it takes (n)" in passed_context


def test_one_bad_job_in_a_bulk_is_refused_at_prepare_and_nothing_is_sent(
    goat: GoatBackend,
) -> None:
    message = refused(
        lambda: lambda_jobs.enqueue_many(
            two.prepare(i, i) if i < 14 else two.prepare(i)  # type: ignore[call-arg]
            for i in range(15)
        )
    )

    assert "missing a required argument: 'b'" in message
    assert goat.counts(goat.low_url)["ApproximateNumberOfMessages"] == 0


def test_the_opt_out_sends_arguments_unchecked(goat: GoatBackend) -> None:
    takes_two_unchecked.enqueue(1, 2, 3)  # type: ignore[call-arg]
    unchecked.enqueue(3.0, 4.0)

    bodies = queued_bodies(goat, goat.low_url)
    assert sorted(b["args"] for b in bodies) == [[1, 2, 3], [3.0, 4.0]]


@pytest.mark.usefixtures("goat")
def test_a_function_without_an_inspectable_signature_needs_the_opt_out() -> None:
    message = refused(lambda: uninspectable.enqueue(3.0, 4.0))

    assert message.startswith(f"{uninspectable.name}: the signature of its function cannot be")
    assert "declare the task with check_arguments=False" in message


def test_inline_refuses_too_instead_of_returning_a_failed_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", "inline")

    message = refused(lambda: two.enqueue(1))  # type: ignore[call-arg]

    assert "missing a required argument: 'b'" in message
    assert two.enqueue(1, 2).return_value == 3
