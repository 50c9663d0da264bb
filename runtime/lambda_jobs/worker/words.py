"""The closed sets of words one job's lifecycle uses, each a ``Literal`` type that mypy checks.

- :data:`ClaimAction`: what the job store's claim decided (:mod:`lambda_jobs.jobstore.claims`
  says when each is given);
- :data:`Outcome`: the ``outcome`` field of the job's log line (:mod:`lambda_jobs.worker.joblog`);
- :data:`Reason`: the ``lambda_jobs.reason`` attribute of a dead-letter entry
  (:mod:`lambda_jobs.worker.deadletter`).

Plain strings at run time, so a log line, a metric dimension and an SQS attribute carry them as
they are, and the handler's cold start imports nothing for them (``typing`` only for mypy).
"""

from __future__ import annotations

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Final, Literal

    ClaimAction = Literal["run", "finished", "busy", "cancelled", "waiting", "unavailable"]
    Outcome = Literal[
        "succeeded",
        "retrying",
        "dead_lettered",
        "handed_back",
        "dead_letter_failed",
        "skipped_duplicate",
        "cancelled",
        "deferred",
        "limited",
    ]
    Reason = Literal["exhausted", "undecodable", "unknown_task", "not_allowed"]

# Claim actions.
RUN: Final = "run"
FINISHED: Final = "finished"
BUSY: Final = "busy"
#: Also an outcome: a cancelled job is logged ``cancelled``.
CANCELLED: Final = "cancelled"
WAITING: Final = "waiting"
UNAVAILABLE: Final = "unavailable"

# Outcomes (and ``CANCELLED`` above).
SUCCEEDED: Final = "succeeded"
RETRYING: Final = "retrying"
DEAD_LETTERED: Final = "dead_lettered"
HANDED_BACK: Final = "handed_back"
DEAD_LETTER_FAILED: Final = "dead_letter_failed"
SKIPPED_DUPLICATE: Final = "skipped_duplicate"
DEFERRED: Final = "deferred"
#: A limit refused the start; the job comes back later (:mod:`lambda_jobs.worker.limiting`).
LIMITED: Final = "limited"
OUTCOMES: tuple[Outcome, ...] = (
    SUCCEEDED,
    RETRYING,
    DEAD_LETTERED,
    HANDED_BACK,
    DEAD_LETTER_FAILED,
    SKIPPED_DUPLICATE,
    CANCELLED,
    DEFERRED,
    LIMITED,
)

# Dead-letter reasons.
EXHAUSTED: Final = "exhausted"
UNDECODABLE: Final = "undecodable"
UNKNOWN_TASK: Final = "unknown_task"
NOT_ALLOWED: Final = "not_allowed"
REASONS: tuple[Reason, ...] = (EXHAUSTED, UNDECODABLE, UNKNOWN_TASK, NOT_ALLOWED)
