"""The pure rules behind delayed jobs: an item's ttl, and the DLQ ARN a Lamb retry names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lambda_jobs.jobstore import schema
from lambda_jobs.scheduling import one_time

TTL = 7 * 24 * 3600


@pytest.mark.parametrize("micro", [0, 1, 639, 999_999])
def test_item_ttl_is_never_before_run_after_plus_ttl_and_the_same_from_the_stored_time(
    micro: int,
) -> None:
    now = datetime(2026, 12, 7, 14, 0, tzinfo=UTC).timestamp()
    run_after = datetime(2027, 1, 6, 14, 21, 20, micro, tzinfo=UTC)
    stored = datetime.fromisoformat(schema.iso(run_after))  # the item keeps milliseconds
    ttl = schema.item_ttl(now, run_after, TTL)
    assert ttl >= run_after.timestamp() + TTL
    assert schema.item_ttl(now, stored, TTL) == ttl  # enqueue and cancel agree


def test_item_ttl_counts_from_now_without_a_future_run_after() -> None:
    now = 1_800_000_000.25
    assert schema.item_ttl(now, None, TTL) == now + TTL
    past = datetime.fromtimestamp(now, UTC) - timedelta(seconds=5)
    assert schema.item_ttl(now, past, TTL) == now + TTL


@pytest.mark.parametrize(
    ("url", "function_arn", "expected"),
    [
        (
            "https://sqs.eu-west-1.amazonaws.com/111122223333/Jobs-DLQ",
            "arn:aws:lambda:eu-west-1:111122223333:function:jobs-default",
            "arn:aws:sqs:eu-west-1:111122223333:Jobs-DLQ",
        ),
        (
            "https://sqs.cn-north-1.amazonaws.com.cn/111122223333/dlq",
            "arn:aws-cn:lambda:cn-north-1:111122223333:function:f",
            "arn:aws-cn:sqs:cn-north-1:111122223333:dlq",
        ),
        (  # the emulator's moto
            "http://127.0.0.1:4566/123456789012/LambDemo-JobsDeadLetterQueue",
            "arn:aws:lambda:us-east-1:123456789012:function:LambDemo-Fn",
            "arn:aws:sqs:us-east-1:123456789012:LambDemo-JobsDeadLetterQueue",
        ),
    ],
)
def test_the_dead_letter_queue_arn_comes_from_its_url_and_the_function_arn(
    url: str, function_arn: str, expected: str
) -> None:
    assert one_time.queue_arn_of_url(url, like_arn=function_arn) == expected


def test_a_url_without_account_and_name_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot name the queue at"):
        one_time.queue_arn_of_url("https://sqs.example/", like_arn="arn:aws:lambda:r:1:function:f")
