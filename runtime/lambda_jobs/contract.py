"""The contract between the two distributions: what ``lambda-jobs-cdk`` provisions and the runtime
relies on, defined once here and imported by both.

- AWS limits that both sides build to (each with the AWS page that states it);
- defaults the constructs publish in the client configuration and the runtime falls back to;
- the rules of names and priorities that a construct prop and the client configuration share;
- the environment variables the constructs set on the function and the job store's index name.

Constants and two small rules (queue names, lane coverage), no imports: the handler's cold start
loads it with :mod:`lambda_jobs.options`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TypeGuard

#: The version of the client-configuration document (``LAMBDA_JOBS_CONFIG``).
CONFIG_VERSION = 1

#: SQS's message size limit ("Amazon SQS message quotas"): 1 MiB, body and attributes together.
SQS_MAX_MESSAGE_BYTES = 1024 * 1024
#: Kept free under it for a dead-letter entry's ``lambda_jobs.*`` attributes (which count towards
#: the message size) and a hand-back copy's longer ``attempt``.
DEAD_LETTER_RESERVE_BYTES = 16 * 1024
#: The largest envelope by default, on both backends: 1 MiB less that reserve (1,032,192 bytes).
#: Lambda takes asynchronous payloads up to 1 MB (Lambda API "Invoke"), but a Lamb job is
#: dead-lettered to an SQS queue too, body and attributes within SQS's 1 MiB.
DEFAULT_MAX_PAYLOAD = SQS_MAX_MESSAGE_BYTES - DEAD_LETTER_RESERVE_BYTES
#: SQS's own per-message delay limit ("DelaySeconds", SQS API "SendMessage"); longer delays go
#: through EventBridge Scheduler.
SQS_MAX_DELAY_SECONDS = 900
#: Longest delay accepted when a scheduler is configured: one year.
DEFAULT_MAX_DELAY_SECONDS = 365 * 24 * 60 * 60
#: SQS's longest visibility timeout, 12 hours (SQS API "ChangeMessageVisibility").
MAX_VISIBILITY_SECONDS = 43_200

#: The priorities a job may have; a queue's lanes cover them with no gap or overlap.
MIN_PRIORITY = -100
MAX_PRIORITY = 100


def lane_gap(bands: list[tuple[int, int]]) -> tuple[int, tuple[int, int] | None] | None:
    """Where a queue's lanes, as ``(min, max)`` priority bands sorted by ``min``, fail to cover
    :data:`MIN_PRIORITY`..:data:`MAX_PRIORITY` once each: ``(the expected start, the band found
    there)``, ``(expected start, None)`` when they stop short, or None when they cover it."""
    expected = MIN_PRIORITY
    for low, high in bands:
        if low != expected or high < low:
            return expected, (low, high)
        expected = high + 1
    if expected != MAX_PRIORITY + 1:
        return expected, None
    return None


#: What a queue name is made of (1 to :data:`MAX_QUEUE_NAME_LENGTH` of them): checked without
#: ``re``, which the handler's cold start does not otherwise need.
QUEUE_NAME_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
)
MAX_QUEUE_NAME_LENGTH = 64


def is_queue_name(name: object) -> TypeGuard[str]:
    """True for 1-64 characters of letters, digits, ``-`` and ``_`` (ASCII)."""
    return (
        isinstance(name, str)
        and 1 <= len(name) <= MAX_QUEUE_NAME_LENGTH
        and QUEUE_NAME_CHARACTERS.issuperset(name)
    )


#: The function's job table (set by the construct when the store is on; unset: store off).
JOB_TABLE_ENV = "LAMBDA_JOBS_JOB_TABLE"
#: How long job items live after their last change, in seconds (set by the construct).
JOB_TTL_ENV = "LAMBDA_JOBS_JOB_TTL_SECONDS"
#: Name of the job table's sparse index of failed jobs.
FAILURES_INDEX = "failures"


def lane_document(min_priority: int, max_priority: int, target: str, arn: str) -> dict[str, Any]:
    """One lane of a queue in the client configuration: its priority band and where jobs go."""
    return {
        "min_priority": min_priority,
        "max_priority": max_priority,
        "target": target,
        "arn": arn,
    }


def client_config_document(
    *,
    backend: str,
    region: str,
    queues: Mapping[str, Any],
    dead_letter_queue: tuple[str, str],
    scheduler: tuple[str, str],
    fifo_dead_letter_queue: tuple[str, str] | None = None,
    job_store: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """The client configuration the constructs publish and :func:`lambda_jobs.config.parse` reads.

    ``queues`` maps each queue name to ``{"fifo": bool, "lanes": [lane_document(...), ...]}``;
    the queues are ``(url, arn)``, ``scheduler`` is ``(group, role ARN)`` and ``job_store``
    ``(table, ttl seconds)``. The key order is the published document's.
    """
    document: dict[str, Any] = {
        "version": CONFIG_VERSION,
        "backend": backend,
        "region": region,
        "queues": dict(queues),
        "dead_letter_queue": {"url": dead_letter_queue[0], "arn": dead_letter_queue[1]},
        "scheduler": {"group": scheduler[0], "role_arn": scheduler[1]},
        "max_payload_bytes": DEFAULT_MAX_PAYLOAD,
        "max_delay_seconds": DEFAULT_MAX_DELAY_SECONDS,
    }
    if fifo_dead_letter_queue is not None:
        url, arn = fifo_dead_letter_queue
        document["fifo_dead_letter_queue"] = {"url": url, "arn": arn}
    if job_store is not None:
        document["job_store"] = {"table": job_store[0], "ttl_seconds": job_store[1]}
    return document
