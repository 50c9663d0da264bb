"""A dead-letter entry fits SQS's 1 MiB (body plus attributes) whatever the body's size.

The client keeps Goat envelopes 16 KiB under 1 MiB, which covers the largest attributes the
handler writes; a larger body (sent by something else) gets its traceback, then its error
message, shortened. Pure size arithmetic: moto does not count attributes, so it could not tell.
"""

from __future__ import annotations

from lambda_jobs.contract import DEFAULT_MAX_PAYLOAD, SQS_MAX_MESSAGE_BYTES
from lambda_jobs.worker import deadletter

PREFIX = deadletter.ATTRIBUTE_PREFIX


def _largest_attributes() -> dict[str, dict[str, str]]:
    try:
        raise RuntimeError("é" * 10_000)
    except RuntimeError as exc:
        error = exc
    return deadletter.attributes(
        reason="exhausted",
        error_type="some.deeply.nested.module.path.for_the_tasks.CustomApplicationError",
        error_message="é" * 10_000,
        error=error,
        attempts=51,
        source="arn:aws:sqs:eu-central-1:123456789012:" + "q" * 80,
        task="app." + "t" * 200,
        job_id="0b9a5c5e-7f6f-4f3b-9a77-2f0f4c1e9d10",
    )


def test_a_job_at_the_client_limit_fits_the_dlq_with_all_its_error_attributes() -> None:
    body = "x" * DEFAULT_MAX_PAYLOAD
    attributes = _largest_attributes()
    assert deadletter.message_size(body, attributes) <= SQS_MAX_MESSAGE_BYTES
    assert deadletter.fit(body, attributes) == attributes  # nothing cut


def test_a_body_near_1_mib_keeps_reason_and_job_id_and_loses_traceback_first() -> None:
    attributes = _largest_attributes()
    body = "x" * (SQS_MAX_MESSAGE_BYTES - 6000)
    fitted = deadletter.fit(body, attributes)
    assert deadletter.message_size(body, fitted) <= SQS_MAX_MESSAGE_BYTES
    assert fitted[PREFIX + "reason"] == attributes[PREFIX + "reason"]
    assert fitted[PREFIX + "job_id"] == attributes[PREFIX + "job_id"]
    assert fitted[PREFIX + "error_message"] == attributes[PREFIX + "error_message"]
    kept = fitted.get(PREFIX + "error_traceback", {}).get("StringValue", "")
    assert len(kept.encode()) < len(attributes[PREFIX + "error_traceback"]["StringValue"].encode())


def test_a_body_at_1_mib_less_the_short_attributes_drops_both_long_texts() -> None:
    attributes = _largest_attributes()
    short = {k: v for k, v in attributes.items() if not k.endswith(("_traceback", "_message"))}
    body = "x" * (SQS_MAX_MESSAGE_BYTES - deadletter.message_size("", short))
    fitted = deadletter.fit(body, attributes)
    assert fitted == short
    assert deadletter.message_size(body, fitted) == SQS_MAX_MESSAGE_BYTES
