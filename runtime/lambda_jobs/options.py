"""Job options: the rules every side checks them by, and the retry policy with its backoff.

One module holds the ranges (priority, queue names, retries, backoff, timeout, ``run_after``) so
that the ``@task`` decorator, the enqueue client, the client configuration and the worker (which
re-checks an envelope's overrides) all refuse the same values with the same message. Errors are
:class:`~lambda_jobs.errors.InvalidTaskError` naming the option and its allowed range.

Retry waits are exponential backoff with "equal jitter": the wait before attempt ``n + 1`` (after
``n`` failed attempts) is ``base * 2 ** (n - 1)`` capped at ``maximum``; with jitter the wait is
drawn uniformly from the upper half of that value, so retries of many jobs that failed together
spread out, yet no retry comes back sooner than half the nominal wait (plain "full jitter" can
retry at once, which hammers a struggling dependency).

This module is on the handler's cold-start path: it imports nothing heavy (``random`` loads where
a jitter is drawn).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lambda_jobs.contract import MAX_PRIORITY, MIN_PRIORITY, is_queue_name
from lambda_jobs.errors import InvalidTaskError

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    import random

#: Longest wait a retry may be given: SQS ``ChangeMessageVisibility`` accepts at most 12 hours.
MAX_BACKOFF_SECONDS = 12 * 60 * 60


def retry_delay(
    failed_attempts: int,
    *,
    base: float,
    maximum: float,
    jitter: bool,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the next attempt, after ``failed_attempts`` (>= 1) failures."""
    if failed_attempts < 1:
        raise ValueError(f"failed_attempts must be >= 1, got {failed_attempts}")
    exponent = min(failed_attempts - 1, 64)  # 2**64 seconds is past any cap; avoid huge ints
    nominal = min(base * (2**exponent), maximum, MAX_BACKOFF_SECONDS)
    if not jitter or nominal <= 0:
        return float(nominal)
    import random  # here, not at module level: the handler's cold start imports this module

    draw = (rng or random).uniform(0.0, nominal / 2)
    return float(nominal / 2 + draw)


MAX_RETRIES = 50
"""Upper bound of ``retries``; the Goat redrive policy (maxReceiveCount 100) stays a crash net."""
MAX_TIMEOUT_SECONDS = 900.0
"""Lambda's own limit on a function's run time."""
#: SQS's rule for ``MessageGroupId`` ("Amazon SQS message quotas"): 1-128 of ASCII letters,
#: digits and the punctuation ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``, i.e. printable ASCII but space.
MESSAGE_GROUP_ID_CHARACTERS = frozenset(chr(code) for code in range(0x21, 0x7F))
DEFAULT_RETRY_BACKOFF = 5.0
DEFAULT_RETRY_BACKOFF_MAX = 3600.0

Seconds = float | int | timedelta


def to_seconds(value: Seconds, name: str) -> float:
    """``value`` (seconds or a timedelta) as float seconds; anything else names ``name``."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTaskError(
            f"{name} must be seconds (int or float) or a timedelta, got {value!r}"
        )
    return float(value)


def check_priority(priority: object, name: str = "priority") -> int:
    """Return ``priority`` if it is an int in -100..100, else raise naming ``name``."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidTaskError(f"{name} must be an integer in {MIN_PRIORITY}..{MAX_PRIORITY}")
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise InvalidTaskError(
            f"{name} must be in {MIN_PRIORITY}..{MAX_PRIORITY} (larger runs first), got {priority}"
        )
    return priority


def check_queue_name(queue_name: object) -> str:
    """Return ``queue_name`` if it is 1-64 of ``[A-Za-z0-9_-]``, else raise."""
    if not is_queue_name(queue_name):
        raise InvalidTaskError(
            "queue_name must be 1-64 characters of letters, digits, '-' and '_', "
            f"got {queue_name!r}"
        )
    return queue_name


def check_tenant(tenant: object) -> str:
    """``tenant`` if SQS accepts it as a ``MessageGroupId``, else raise naming what is allowed."""
    if not (
        isinstance(tenant, str)
        and 1 <= len(tenant) <= 128
        and MESSAGE_GROUP_ID_CHARACTERS.issuperset(tenant)
    ):
        shown = (
            repr(tenant)
            if not isinstance(tenant, str) or len(tenant) <= 40
            else (f"{tenant[:40]!r}... ({len(tenant)} characters)")
        )
        raise InvalidTaskError(
            "tenant must be 1-128 characters of ASCII letters, digits and punctuation "
            "(!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~), SQS's rule for a MessageGroupId; "
            f"got {shown}"
        )
    return tenant


class RetryPolicy:
    """How often and how patiently a failed job is tried again (validated, immutable by contract).

    A plain slotted class rather than a dataclass: ``dataclasses`` costs ~9 ms to import, and this
    module is on the handler's cold-start path.
    """

    __slots__ = ("retries", "retry_backoff", "retry_backoff_max", "retry_jitter")

    def __init__(
        self,
        *,
        retries: int = 0,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        retry_backoff_max: float = DEFAULT_RETRY_BACKOFF_MAX,
        retry_jitter: bool = True,
    ) -> None:
        self.retries = retries
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        self.retry_jitter = retry_jitter
        if isinstance(self.retries, bool) or not isinstance(self.retries, int):
            raise InvalidTaskError(f"retries must be an integer in 0..{MAX_RETRIES}")
        if not 0 <= self.retries <= MAX_RETRIES:
            raise InvalidTaskError(
                f"retries must be in 0..{MAX_RETRIES} (attempts after the first), "
                f"got {self.retries}"
            )
        if not 0 < self.retry_backoff <= MAX_BACKOFF_SECONDS:
            raise InvalidTaskError(
                f"retry_backoff must be more than 0 and at most {MAX_BACKOFF_SECONDS} s (12 h), "
                f"got {self.retry_backoff}"
            )
        if not self.retry_backoff <= self.retry_backoff_max <= MAX_BACKOFF_SECONDS:
            raise InvalidTaskError(
                f"retry_backoff_max must be between retry_backoff ({self.retry_backoff} s) and "
                f"{MAX_BACKOFF_SECONDS} s (12 h, the longest SQS visibility timeout), "
                f"got {self.retry_backoff_max}"
            )
        if not isinstance(self.retry_jitter, bool):
            raise InvalidTaskError(f"retry_jitter must be True or False, got {self.retry_jitter!r}")

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def delay_after(self, failed_attempts: int) -> int:
        """Whole seconds (rounded up) to wait before the next attempt, after ``failed_attempts``."""
        import math  # here: the failure path, not the handler's cold start

        return math.ceil(
            retry_delay(
                failed_attempts,
                base=self.retry_backoff,
                maximum=self.retry_backoff_max,
                jitter=self.retry_jitter,
            )
        )

    def longest_delay_after(self, failed_attempts: int) -> int:
        """The most :meth:`delay_after` can return: its value without jitter, rounded up."""
        import math

        return math.ceil(
            retry_delay(
                failed_attempts,
                base=self.retry_backoff,
                maximum=self.retry_backoff_max,
                jitter=False,
            )
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RetryPolicy):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"RetryPolicy({fields})"


def check_timeout(timeout: Seconds | None) -> float | None:
    """``timeout`` in seconds if it is in (0, 900], else raise; None means the function's limit."""
    if timeout is None:
        return None
    seconds = to_seconds(timeout, "timeout")
    if not 0 < seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidTaskError(
            f"timeout must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g} s "
            f"(Lambda's limit), got {seconds:g}"
        )
    return seconds


def check_run_after(run_after: object) -> datetime | timedelta:
    """An aware datetime or a timedelta, else raise (a naive datetime is ambiguous)."""
    if isinstance(run_after, timedelta):
        return run_after
    if isinstance(run_after, datetime):
        if run_after.tzinfo is None or run_after.utcoffset() is None:
            raise InvalidTaskError(
                "run_after must be timezone-aware (e.g. datetime.now(UTC) + timedelta(...)); "
                "a naive datetime is ambiguous"
            )
        return run_after
    raise InvalidTaskError(f"run_after must be an aware datetime or a timedelta, got {run_after!r}")


#: Longest ``unique_key`` (characters): a DynamoDB partition key holds at most 2,048 bytes.
MAX_UNIQUE_KEY_LENGTH = 512
#: Longest ``unique_for``: 30 days.
MAX_UNIQUE_FOR_SECONDS = 30 * 24 * 3600
UNIQUE_UNTIL = ("executed", "expired")


def check_unique(key: object, unique_for: Seconds | None, until: object) -> tuple[str, float, str]:
    """``(key, seconds, until)`` of a unique job, else raise naming the option and what is allowed.

    Every key has an expiry (``unique_for``), so a crashed job never holds one forever.
    """
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_UNIQUE_KEY_LENGTH:
        raise InvalidTaskError(
            f"unique_key must be a string of 1-{MAX_UNIQUE_KEY_LENGTH} characters, got {key!r}"
        )
    if unique_for is None:
        raise InvalidTaskError(
            "unique_key needs unique_for: the longest the key may be held (seconds or a "
            f"timedelta, 1 s to {MAX_UNIQUE_FOR_SECONDS // 86400} days), so that a crashed job "
            "never keeps it"
        )
    seconds = to_seconds(unique_for, "unique_for")
    if not 1 <= seconds <= MAX_UNIQUE_FOR_SECONDS:
        raise InvalidTaskError(
            f"unique_for must be 1 s to {MAX_UNIQUE_FOR_SECONDS:,} s (30 days), got {seconds:g}"
        )
    if until not in UNIQUE_UNTIL:
        raise InvalidTaskError(
            f"unique_until must be 'executed' (release the key when the job finishes) or "
            f"'expired' (hold it for all of unique_for), got {until!r}"
        )
    return key, seconds, str(until)
