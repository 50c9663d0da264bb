"""The ``OPTIONS`` of a ``TASKS`` entry that uses :class:`~lambda_jobs.django.LambdaJobsBackend`.

::

    "OPTIONS": {
        # the client configuration; absent: LAMBDA_JOBS_CONFIG
        "config": {...} | "<JSON text>" | "ssm:<parameter name>" | "inline",
        "retries": 0,             # defaults for tasks that do not set their own
        "retry_backoff": 5,
        "retry_backoff_max": 3600,
        "retry_jitter": True,
        "timeout": None,
    }

Parsing never raises: a backend is built when a task module is imported, so a mistake here must not
break the import. The problems are kept as text and reported by the system checks
(``lambda_jobs.E003``/``E004``) and by ``enqueue``. What callers may rely on: ``defaults`` is always
a valid :class:`JobDefaults` (the lambda-jobs defaults where an option was invalid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lambda_jobs.errors import InvalidTaskError
from lambda_jobs.options import (
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_RETRY_BACKOFF_MAX,
    RetryPolicy,
    check_timeout,
    to_seconds,
)

CONFIG_KEY = "config"
JOB_OPTION_KEYS = ("retries", "retry_backoff", "retry_backoff_max", "retry_jitter", "timeout")
KNOWN_KEYS = (CONFIG_KEY, *JOB_OPTION_KEYS)


@dataclass(frozen=True, slots=True)
class JobDefaults:
    """Retry policy and timeout of one task after its own options and the backend defaults."""

    retry: RetryPolicy
    timeout: float | None

    def overrides(self) -> dict[str, Any]:
        """The envelope ``overrides`` carrying these options, so the worker runs exactly them."""
        values: dict[str, Any] = {
            "retries": self.retry.retries,
            "retry_backoff": self.retry.retry_backoff,
            "retry_backoff_max": self.retry.retry_backoff_max,
            "retry_jitter": self.retry.retry_jitter,
        }
        if self.timeout is not None:
            values["timeout"] = self.timeout
        return values


def job_defaults(values: dict[str, Any]) -> JobDefaults:
    """Validate ``retries``/``retry_backoff``/... (seconds or timedelta) from ``values``.

    Missing or None keys take the lambda-jobs defaults; a bad value raises
    :class:`~lambda_jobs.errors.InvalidTaskError` naming the option.
    """

    def seconds(name: str, default: float) -> float:
        value = values.get(name)
        return default if value is None else to_seconds(value, name)

    retries = values.get("retries")
    jitter = values.get("retry_jitter")
    timeout: float | int | timedelta | None = values.get("timeout")
    return JobDefaults(
        retry=RetryPolicy(
            retries=0 if retries is None else retries,
            retry_backoff=seconds("retry_backoff", DEFAULT_RETRY_BACKOFF),
            retry_backoff_max=seconds("retry_backoff_max", DEFAULT_RETRY_BACKOFF_MAX),
            retry_jitter=True if jitter is None else jitter,
        ),
        timeout=check_timeout(timeout),
    )


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """``OPTIONS`` parsed: where the client config comes from, job defaults, and any problems."""

    config: dict[str, Any] | str | None
    """The ``config`` option as given (None: use ``LAMBDA_JOBS_CONFIG``)."""
    raw_defaults: dict[str, Any]
    """The job option keys exactly as given, to merge under a task's own options."""
    defaults: JobDefaults
    unknown_keys: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())
    """Messages for invalid values (system check ``lambda_jobs.E004``)."""


def parse_options(options: Any) -> BackendOptions:
    """Parse a ``TASKS[alias]["OPTIONS"]`` value; see the module docstring."""
    if not isinstance(options, dict):
        return BackendOptions(
            config=None,
            raw_defaults={},
            defaults=job_defaults({}),
            problems=(f"OPTIONS must be a dict, got {type(options).__name__}",),
        )
    unknown = tuple(sorted(str(key) for key in options if key not in KNOWN_KEYS))
    problems: list[str] = []
    config = options.get(CONFIG_KEY)
    if config is not None and not isinstance(config, dict | str):
        problems.append(
            "OPTIONS['config'] must be the client configuration as a dict, its JSON text, "
            f"'ssm:<parameter name>' or 'inline'; got {type(config).__name__}"
        )
        config = None
    raw = {key: options[key] for key in JOB_OPTION_KEYS if key in options}
    # Each option alone first, so that every bad value is reported, not only the first one.
    for key, value in raw.items():
        try:
            job_defaults({key: value})
        except InvalidTaskError as exc:
            problems.append(f"OPTIONS: {exc}")
    try:
        defaults = job_defaults(raw)
    except InvalidTaskError as exc:
        if len(problems) == 0:  # a combination (e.g. backoff over its cap) that no key alone is
            problems.append(f"OPTIONS: {exc}")
        raw = {}
        defaults = job_defaults({})
    return BackendOptions(
        config=config,
        raw_defaults=raw,
        defaults=defaults,
        unknown_keys=unknown,
        problems=tuple(problems),
    )
