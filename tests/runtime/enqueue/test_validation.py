"""The enqueue side rejects what cannot work before sending, and each error names the problem.

Most tests need no AWS at all (validation fails before any client exists); the ones that say
"nothing was sent" look into moto.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import lambda_jobs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lambda_jobs import ConfigurationError, InvalidJobError, contract, task
from lambda_jobs.enqueue.arguments import check_arguments
from lambda_jobs.enqueue.client import RUN_AFTER_TOLERANCE_SECONDS

from tests.runtime.enqueue_backends import (
    GoatBackend,
    config_document,
    function_arn,
    goat,
    lane,
    use_config,
)

__all__ = ["goat"]  # the fixture, imported for the tests below

URL = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
ARN = "arn:aws:sqs:us-east-1:123456789012:jobs"


@task
def job(*args: Any, **kwargs: Any) -> None:
    return None


@task(queue_name="orders")
def fifo_job(n: int) -> None:
    return None


@task(queue_name="nowhere")
def lost_job() -> None:
    return None


def goat_document(*, scheduler: bool = True, **extra: Any) -> dict[str, Any]:
    return config_document(
        "goat",
        {
            "default": {"lanes": [lane(-100, 100, URL, ARN)]},
            "orders": {"fifo": True, "lanes": [lane(-100, 100, URL + ".fifo", ARN + ".fifo")]},
        },
        scheduler=scheduler,
        **extra,
    )


def lamb_document(*, scheduler: bool = True) -> dict[str, Any]:
    fn = function_arn("jobs")
    return config_document(
        "lamb", {"default": {"lanes": [lane(-100, 100, fn, fn)]}}, scheduler=scheduler
    )


@pytest.fixture
def goat_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Goat configuration whose queues need not exist: these jobs never get that far."""
    use_config(monkeypatch, goat_document())


def rejected(send: Callable[[], Any]) -> str:
    with pytest.raises(InvalidJobError) as caught:
        send()
    return str(caught.value)


# Arguments that are not JSON -------------------------------------------------------------------


@pytest.mark.usefixtures("goat_config")
def test_non_json_positional_argument_is_named_with_its_type() -> None:
    message = rejected(lambda: job.enqueue(1, datetime.now(UTC)))
    assert "positional argument 1 is not JSON" in message
    assert "a datetime.datetime value" in message
    assert job.name in message


@pytest.mark.usefixtures("goat_config")
def test_non_json_keyword_argument_is_named_with_its_path() -> None:
    message = rejected(lambda: job.enqueue(options={"tags": ["a", {1, 2}]}))
    assert "keyword argument 'options' is not JSON" in message
    assert "a set value at ['tags'][1]" in message


@pytest.mark.usefixtures("goat_config")
@pytest.mark.parametrize(
    ("value", "named"),
    [
        (Decimal("1.5"), "a decimal.Decimal value"),
        (b"raw", "a bytes value"),
        (math.nan, "the float nan has no JSON form"),
        (math.inf, "the float inf has no JSON form"),
        ({1: "one"}, "the dict key 1 is a int, not a str"),
        (object(), "a object value"),
    ],
)
def test_non_json_values_are_named(value: Any, named: str) -> None:
    message = rejected(lambda: job.enqueue(value))
    assert "positional argument 0 is not JSON" in message
    assert named in message


@pytest.mark.usefixtures("goat_config")
def test_circular_argument_is_refused_not_crashed_on() -> None:
    loop: list[Any] = []
    loop.append(loop)
    message = rejected(lambda: job.enqueue(data=loop))
    assert "keyword argument 'data'" in message
    assert "circular" in message


@pytest.mark.usefixtures("goat_config")
def test_json_values_of_every_kind_pass_validation_and_tuples_become_lists() -> None:
    from lambda_jobs import config
    from lambda_jobs.enqueue import client

    value = {"a": [1, 2.5, True, None, "s", (3, 4)], "b": {"c": -1}}
    prepared = job.prepare(value, flag=False)
    outgoing = client._outgoing(prepared, config.load(), datetime.now(UTC))
    assert outgoing.envelope.args == [value]
    assert '"a":[1,2.5,true,null,"s",[3,4]]' in outgoing.body


# Payload size ----------------------------------------------------------------------------------


def test_payload_over_the_limit_says_the_size_and_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_config(monkeypatch, goat_document(max_payload_bytes=2048))
    message = rejected(lambda: job.enqueue("x" * 3000))
    assert "over the goat backend's limit of 2,048 bytes (max_payload_bytes)" in message
    size = int(message.split(" is ")[1].split(" bytes")[0].replace(",", ""))
    assert 3000 < size < 3500


@pytest.mark.usefixtures("goat_config")
def test_default_goat_payload_limit_is_1_mib_less_the_dead_letter_reserve() -> None:
    from lambda_jobs import config
    from lambda_jobs.enqueue import client

    # SQS takes 1 MiB messages; 16 KiB stay free for the DLQ entry's error attributes.
    assert contract.DEFAULT_MAX_PAYLOAD == 1024 * 1024 - 16 * 1024
    client._outgoing(job.prepare("x" * (1000 * 1024)), config.load(), datetime.now(UTC))
    message = rejected(lambda: job.enqueue("x" * (1010 * 1024)))
    assert "limit of 1,032,192 bytes" in message


def test_scheduled_job_over_the_scheduler_input_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_config(monkeypatch, goat_document(max_payload_bytes=1024 * 1024))
    big = "x" * (300 * 1024)
    from lambda_jobs import config
    from lambda_jobs.enqueue import client

    # Without a delay the same job fits this backend's 1 MiB max_payload_bytes.
    client._outgoing(job.prepare(big), config.load(), datetime.now(UTC))
    message = rejected(lambda: job.using(run_after=timedelta(hours=1)).enqueue(big))
    assert "over EventBridge Scheduler's limit of 262,144 bytes" in message
    assert "3,600 s away" in message


# run_after -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("goat_config")
def test_run_after_in_the_past_says_by_how_much() -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    message = rejected(lambda: job.using(run_after=past).enqueue())
    assert "s in the past" in message
    seconds = float(message.split(" is ")[1].split(" s in the past")[0])
    assert 60 <= seconds < 65


@pytest.mark.usefixtures("goat_config")
def test_negative_timedelta_run_after_is_in_the_past() -> None:
    message = rejected(lambda: job.using(run_after=timedelta(seconds=-30)).enqueue())
    assert "30.0 s in the past" in message


def test_run_after_within_the_clock_tolerance_runs_now(goat: GoatBackend) -> None:
    slightly_past = datetime.now(UTC) - timedelta(seconds=RUN_AFTER_TOLERANCE_SECONDS / 2)
    sent = job.using(run_after=slightly_past).enqueue()

    (message,) = goat.receive(goat.low_url, 1)
    assert sent.id in message["Body"]


def test_run_after_over_max_delay_says_the_delay_and_the_maximum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_config(monkeypatch, goat_document(max_delay_seconds=86400))
    message = rejected(lambda: job.using(run_after=timedelta(days=2)).enqueue())
    assert "run_after is 172,800 s (2 days, 0:00:00) away" in message
    assert "maximum delay of 86,400 s (max_delay_seconds)" in message


@pytest.mark.usefixtures("goat_config")
def test_default_max_delay_with_a_scheduler_is_one_year() -> None:
    message = rejected(lambda: job.using(run_after=timedelta(days=366)).enqueue())
    assert "maximum delay of 31,536,000 s" in message


def test_lamb_without_scheduler_cannot_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    use_config(monkeypatch, lamb_document(scheduler=False))
    message = rejected(lambda: job.using(run_after=timedelta(seconds=10)).enqueue())
    assert "a Lamb backend delays every job through EventBridge Scheduler" in message
    assert '"scheduler": null' in message


def test_fifo_lane_without_scheduler_cannot_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    use_config(monkeypatch, goat_document(scheduler=False))
    message = rejected(lambda: fifo_job.using(run_after=timedelta(seconds=10)).enqueue(1))
    assert "queue 'orders' is FIFO" in message
    assert '"scheduler": null' in message


def test_goat_without_scheduler_cannot_delay_past_900_s(monkeypatch: pytest.MonkeyPatch) -> None:
    use_config(monkeypatch, goat_document(scheduler=False, max_delay_seconds=3600))
    message = rejected(lambda: job.using(run_after=timedelta(seconds=901)).enqueue())
    assert "SQS delays a message at most 900 s" in message


def test_goat_without_scheduler_defaults_to_900_s_max_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_config(monkeypatch, goat_document(scheduler=False))
    message = rejected(lambda: job.using(run_after=timedelta(seconds=901)).enqueue())
    assert "SQS delays a message at most 900 s" in message


@pytest.mark.usefixtures("goat_config")
def test_naive_run_after_is_refused_by_using() -> None:
    message = rejected(lambda: job.using(run_after=datetime.now()))
    assert "timezone-aware" in message


@pytest.mark.usefixtures("goat_config")
def test_run_after_of_the_wrong_type_is_refused_by_using() -> None:
    message = rejected(lambda: job.using(run_after="tomorrow"))  # type: ignore[arg-type]
    assert "run_after must be an aware datetime or a timedelta, got 'tomorrow'" in message


# Queues and priorities -------------------------------------------------------------------------


@pytest.mark.usefixtures("goat_config")
def test_unknown_queue_lists_the_known_ones() -> None:
    message = rejected(lost_job.enqueue)
    assert "unknown queue 'nowhere'; this goat backend has: default, orders" in message


@pytest.mark.usefixtures("goat_config")
def test_unknown_queue_from_using_lists_the_known_ones() -> None:
    message = rejected(lambda: job.using(queue_name="emails").enqueue())
    assert "unknown queue 'emails'" in message and "default, orders" in message


@pytest.mark.usefixtures("goat_config")
def test_malformed_queue_name_in_using_is_refused() -> None:
    message = rejected(lambda: job.using(queue_name="no spaces"))
    assert "queue_name must be 1-64 characters" in message


@pytest.mark.usefixtures("goat_config")
@pytest.mark.parametrize("priority", [101, -101, 1000])
def test_priority_out_of_range_in_using_is_refused(priority: int) -> None:
    message = rejected(lambda: job.using(priority=priority))
    assert f"priority must be in -100..100 (larger runs first), got {priority}" in message


@pytest.mark.usefixtures("goat_config")
def test_priority_out_of_range_on_a_hand_built_task_is_refused_at_enqueue() -> None:
    hand_built = job._replace(priority=500)
    message = rejected(hand_built.enqueue)
    assert "got 500" in message and job.name in message


# Bulk ------------------------------------------------------------------------------------------


def test_one_invalid_job_in_a_bulk_sends_nothing(goat: GoatBackend) -> None:
    good = [job.prepare(i) for i in range(15)]
    bad = job.prepare(datetime.now(UTC))

    message = rejected(lambda: lambda_jobs.enqueue_many([*good, bad]))

    assert "positional argument 0 is not JSON" in message
    assert goat.counts(goat.low_url)["ApproximateNumberOfMessages"] == 0
    assert goat.visible_now(goat.low_url) == []


def test_a_bulk_error_names_every_refused_job_by_position_and_id(goat: GoatBackend) -> None:
    """Issue 32: the error named neither the job nor its position, and only the first bad one."""
    jobs = [job.prepare(0), lost_job.prepare(), job.prepare(2), job.prepare(datetime.now(UTC))]

    with pytest.raises(InvalidJobError) as caught:
        lambda_jobs.enqueue_many(jobs)

    refused = caught.value.refused
    assert [(r.position, r.job_id, r.task) for r in refused] == [
        (1, jobs[1].id, lost_job.name),
        (3, jobs[3].id, job.name),
    ]
    assert "unknown queue 'nowhere'" in refused[0].message
    assert "positional argument 0 is not JSON" in refused[1].message
    message = str(caught.value)
    assert message.startswith("2 of 4 jobs refused, nothing was sent")
    assert f"job 1 (id {jobs[1].id}, task {lost_job.name}): {refused[0].message}" in message
    assert f"job 3 (id {jobs[3].id}, task {job.name}): {refused[1].message}" in message
    assert goat.visible_now(goat.low_url) == []


@pytest.mark.usefixtures("goat_config")
def test_a_single_enqueue_keeps_its_message_and_lists_the_job() -> None:
    prepared = lost_job.prepare()
    with pytest.raises(InvalidJobError) as caught:
        lambda_jobs.enqueue_many([prepared])  # one job: a bulk of one still says which
    assert caught.value.refused[0].job_id == prepared.id
    with pytest.raises(InvalidJobError) as caught:
        lost_job.enqueue()
    assert str(caught.value).startswith(f"{lost_job.name}: unknown queue 'nowhere'")
    [(position, task_name)] = [(r.position, r.task) for r in caught.value.refused]
    assert (position, task_name) == (0, lost_job.name)


@pytest.mark.usefixtures("goat_config")
def test_the_same_job_twice_in_one_bulk_is_refused() -> None:
    prepared = job.prepare(1)
    message = rejected(lambda: lambda_jobs.enqueue_many([prepared, prepared]))
    assert f"job id {prepared.id} appears twice" in message


def test_empty_bulk_sends_nothing_and_needs_no_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_JOBS_CONFIG", raising=False)
    assert lambda_jobs.enqueue_many([]) == []


# Configuration ---------------------------------------------------------------------------------


def test_enqueue_without_config_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_JOBS_CONFIG", raising=False)
    with pytest.raises(ConfigurationError, match="LAMBDA_JOBS_CONFIG is not set"):
        job.enqueue(1)


def test_inline_validates_arguments_like_a_real_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", "inline")
    message = rejected(lambda: job.enqueue({"when": datetime.now(UTC)}))
    assert "a datetime.datetime value at ['when']" in message


def test_inline_validates_run_after_like_a_real_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", "inline")
    message = rejected(lambda: job.using(run_after=timedelta(minutes=-5)).enqueue())
    assert "s in the past" in message


def test_inline_runs_a_valid_job_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", "inline")
    done = job.enqueue(1, key="v")
    assert done.status == "succeeded"


# Argument checking, as properties ----------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=15,
)
not_json = st.sampled_from([b"x", {1}, Decimal(1), datetime(2026, 1, 1, tzinfo=UTC), math.nan])


@given(value=json_values)
def test_any_json_argument_passes_and_survives_the_round_trip(value: Any) -> None:
    check_arguments("t", (value,), {"k": value})
    assert json.loads(json.dumps(value)) == value


@given(value=json_values, bad=not_json, index=st.integers(min_value=0, max_value=3))
def test_a_non_json_value_anywhere_is_found_and_its_argument_named(
    value: Any, bad: Any, index: int
) -> None:
    hidden = [value] * index + [{"deep": [bad]}]
    with pytest.raises(InvalidJobError) as caught:
        check_arguments("t", (1, hidden), {})
    assert "positional argument 1 is not JSON" in str(caught.value)
    assert f"at [{index}]['deep'][0]" in str(caught.value)


# Tenant ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tenant", ["acme", "a" * 128, "org:42/eu-west_1", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"]
)
def test_tenant_accepts_what_sqs_accepts_as_a_message_group_id(tenant: str) -> None:
    assert job.using(tenant=tenant).tenant == tenant


@pytest.mark.parametrize(
    ("tenant", "shown"),
    [
        ("", "got ''"),
        ("a" * 129, "got 'aaaa"),
        ("café", "got 'café'"),
        ("two words", "got 'two words'"),
        (7, "got 7"),
    ],
)
def test_tenant_outside_sqs_rules_is_refused_naming_what_is_allowed(
    tenant: object, shown: str
) -> None:
    with pytest.raises(InvalidJobError) as caught:
        job.using(tenant=tenant)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("tenant must be 1-128 characters of ASCII letters, digits and")
    assert "SQS's rule for a MessageGroupId" in message and shown in message
