"""What a prop may hold: the limits, one range check, and the error every wrong prop raises.

Every check here runs while a construct is built, so a wrong prop stops ``cdk synth`` before any
template exists, with a :class:`JobBackendConfigError` that names the prop and what it accepts.
The props themselves are declared (with their defaults) where they are taken: ``JobBackend``
for the props both backends share, ``JobQueue`` and ``PriorityLane`` for a queue's, and
``JobMonitoring`` for monitoring.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import Duration, Token
from aws_cdk import aws_lambda as lambda_

MIN_CONCURRENCY = 1
MAX_CONCURRENCY = 1000
MAX_FUNCTION_TIMEOUT_SECONDS = 900
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10_240
MAX_BATCHING_WINDOW_SECONDS = 300
MAX_BATCH_SIZE = 10
MAX_BATCH_SIZE_WITH_WINDOW = 10_000
MAX_ASYNC_RETRY_ATTEMPTS = 2
MIN_EVENT_AGE_SECONDS = 60
MAX_EVENT_AGE_SECONDS = 6 * 3600
MIN_POLLERS = 2
"""Provisioned mode's floor for SQS mappings, both bounds ("ProvisionedPollerConfig")."""
MAX_MIN_POLLERS = 200
MAX_MAX_POLLERS = 2000
"""``MaximumPollers`` limit of "Lambda parameters for Amazon SQS event source mappings" and of
CloudFormation's schema (the API page "ProvisionedPollerConfig" now allows SQS up to 10,000)."""
RESERVED_ENVIRONMENT = (
    "LAMBDA_JOBS_TASKS",
    "LAMBDA_JOBS_DLQ_URL",
    "LAMBDA_JOBS_SCHEDULER_GROUP",
    "LAMBDA_JOBS_SCHEDULER_ROLE_ARN",
    "LAMBDA_JOBS_BACKEND",
    "LAMBDA_JOBS_METRICS_BACKEND",
    "LAMBDA_JOBS_JOB_TABLE",
    "LAMBDA_JOBS_JOB_TTL_SECONDS",
)
"""Environment variables the construct sets on the functions (the handler's contract; the
``LAMBDA_JOBS_JOB_*`` ones with ``job_store`` only, reserved either way)."""
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class JobBackendConfigError(ValueError):
    """A construct prop is out of range; the message names the prop and what it accepts."""


def check_range(
    prop: str,
    value: object,
    low: int,
    high: int,
    *,
    seconds: bool = False,
    required: bool = False,
    why: str = "",
    about: str = "",
    tokens: bool = True,
) -> int | None:
    """``value`` as a whole number in ``low..high``, else raise naming ``prop`` and the range.

    With ``seconds`` the value must be a ``Duration`` and the range is in seconds; otherwise an
    integer (not a bool). ``None`` passes (an unset optional prop) unless ``required``. ``why``
    follows the range in the message (where the limit comes from), ``about`` follows the value
    (which part of a prop it was). An unresolved token (a ``CfnParameter``'s value, a
    ``Duration`` of one) passes unchecked and gives None, as aws-cdk-lib's own range checks do;
    with ``tokens=False`` (a value the construct must know at synth) it raises.
    """
    if value is None and not required:
        return None
    if is_token(value):
        if tokens:
            return None
        raise JobBackendConfigError(
            f"{prop} must be known at synth (a number, not a token such as a CfnParameter's "
            "value): the construct plans its resources from it"
        )
    if seconds:
        if not isinstance(value, Duration):
            raise JobBackendConfigError(f"{prop} must be a Duration, got {value!r}")
        number = value.to_seconds()
        if not low <= number <= high:
            raise JobBackendConfigError(
                f"{prop} must be {low}..{high} seconds{why}, got {number:g}{about}"
            )
        return int(number)
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobBackendConfigError(f"{prop} must be an integer in {low}..{high}, got {value!r}")
    if not low <= value <= high:
        raise JobBackendConfigError(f"{prop} must be in {low}..{high}{why}, got {value}{about}")
    return value


def is_token(value: object) -> bool:
    """Whether ``value`` is only known at deploy time (a token number, string or ``Duration``)."""
    if isinstance(value, Duration):
        return bool(value.is_unresolved())
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    return bool(Token.is_unresolved(value))


def check_function_timeout(prop: str, timeout: object) -> int | None:
    """Whole seconds of a function timeout in 1..900 (Lambda's limit), else raise; None for a
    token (checked by Lambda at deploy)."""
    return check_range(
        prop,
        timeout,
        1,
        MAX_FUNCTION_TIMEOUT_SECONDS,
        seconds=True,
        required=True,
        why=" (Lambda's limit)",
    )


def check_memory_size(prop: str, memory_size: object) -> int | None:
    """``memory_size`` if it is 128..10240 MiB, else raise naming ``prop``; None for a token."""
    return check_range(prop, memory_size, MIN_MEMORY_MB, MAX_MEMORY_MB, required=True)


def check_environment(environment: Mapping[str, str] | None) -> dict[str, str]:
    """The extra function environment: valid names, string values, none of the reserved ones."""
    if environment is None:
        return {}
    checked: dict[str, str] = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise JobBackendConfigError(
                f"environment: {key!r} is not a valid variable name (letters, digits, '_', "
                "starting with a letter)"
            )
        if key in RESERVED_ENVIRONMENT:
            raise JobBackendConfigError(
                f"environment: {key} is set by the construct (reserved: "
                f"{', '.join(RESERVED_ENVIRONMENT)})"
            )
        if not isinstance(value, str):
            raise JobBackendConfigError(f"environment: {key} must be a string, got {value!r}")
        checked[key] = value
    return checked


def check_recursive_loop(
    value: lambda_.RecursiveLoop | None, default: lambda_.RecursiveLoop
) -> lambda_.RecursiveLoop:
    """``value`` (or ``default`` when None) if it is an ``aws_lambda.RecursiveLoop``, else raise."""
    if value is None:
        return default
    if not isinstance(value, lambda_.RecursiveLoop):
        raise JobBackendConfigError(
            "recursive_loop must be aws_lambda.RecursiveLoop.ALLOW or RecursiveLoop.TERMINATE, "
            f"got {value!r}"
        )
    return value
