"""System checks of a ``LambdaJobsBackend`` (run by ``manage.py check`` and on server start).

Django's ``django.tasks.checks`` calls ``backend.check()`` for every configured backend. What each
id means (every message names the ``TASKS`` alias):

- ``lambda_jobs.E001``: no client configuration (neither ``OPTIONS['config']`` nor
  ``LAMBDA_JOBS_CONFIG``).
- ``lambda_jobs.E002``: the client configuration is not valid (the parser's message).
- ``lambda_jobs.E003``: ``OPTIONS`` has keys this backend does not know.
- ``lambda_jobs.E004``: an ``OPTIONS`` value is invalid (``config`` type, job option range).
- ``lambda_jobs.E005``: ``QUEUES`` names queues the backend's configuration does not have.
- ``lambda_jobs.E006``: a ``QUEUES`` entry is not a valid queue name.
- ``lambda_jobs.W001``: both ``OPTIONS['config']`` and ``LAMBDA_JOBS_CONFIG`` are set (the
  variable is ignored).

A configuration held in SSM (``ssm:<name>``) is not fetched here (checks run without AWS access in
CI): only its form is checked, and ``QUEUES`` is checked at the first enqueue instead.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from django.core.checks import CheckMessage, Error, Warning
from django.tasks.exceptions import InvalidTaskBackend

from lambda_jobs.config import ENV_VAR
from lambda_jobs.django.options import KNOWN_KEYS
from lambda_jobs.errors import InvalidTaskError
from lambda_jobs.options import check_queue_name

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig
    from lambda_jobs.django.backend import LambdaJobsBackend


def backend_checks(backend: LambdaJobsBackend) -> list[CheckMessage]:
    """Every problem of ``backend``'s settings, as Django check messages."""
    where = f"TASKS[{backend.alias!r}]"
    messages: list[CheckMessage] = []
    options = backend.parsed_options
    if options.unknown_keys:
        messages.append(
            Error(
                f"{where}['OPTIONS'] has unknown keys: {', '.join(options.unknown_keys)}.",
                hint=f"Known keys: {', '.join(KNOWN_KEYS)}.",
                id="lambda_jobs.E003",
            )
        )
    messages.extend(
        Error(f"{where}: {problem}", id="lambda_jobs.E004") for problem in options.problems
    )
    for queue in sorted(backend.queues):
        try:
            check_queue_name(queue)
        except InvalidTaskError as exc:
            messages.append(
                Error(f"{where}['QUEUES'] entry {queue!r}: {exc}", id="lambda_jobs.E006")
            )
    env_value = os.environ.get(ENV_VAR, "").strip()
    if options.config is not None and env_value:
        messages.append(
            Warning(
                f"{where}['OPTIONS']['config'] is set, so {ENV_VAR} is ignored by this backend.",
                hint="Remove one of them so that there is one source of truth.",
                id="lambda_jobs.W001",
            )
        )
    if options.config is None and not env_value:
        messages.append(
            Error(
                f"{where} has no lambda-jobs client configuration.",
                hint=(
                    f"Set OPTIONS['config'] or the {ENV_VAR} environment variable to the JSON "
                    "document your backend stack publishes, 'ssm:<parameter name>', or 'inline'."
                ),
                id="lambda_jobs.E001",
            )
        )
        return messages
    if backend.config_is_remote():
        ssm_name = _remote_name(backend)
        if not ssm_name:
            messages.append(
                Error(
                    f"{where}: {backend.describe_config_source()} says 'ssm:' without a "
                    "parameter name.",
                    hint="Write 'ssm:<parameter name>', e.g. 'ssm:/myapp/jobs-config'.",
                    id="lambda_jobs.E002",
                )
            )
        return messages
    try:
        config = backend.client_config()
    except InvalidTaskBackend as exc:
        messages.append(Error(str(exc), id="lambda_jobs.E002"))
        return messages
    messages.extend(_queue_checks(backend, config, where))
    return messages


def _remote_name(backend: LambdaJobsBackend) -> str:
    raw = backend.parsed_options.config
    value = raw if isinstance(raw, str) else os.environ.get(ENV_VAR, "")
    return value.strip().removeprefix("ssm:").strip()


def _queue_checks(
    backend: LambdaJobsBackend, config: ClientConfig, where: str
) -> list[CheckMessage]:
    if config.is_inline or not backend.queues:
        return []
    unknown = sorted(backend.queues - set(config.queues))
    if not unknown:
        return []
    return [
        Error(
            f"{where}['QUEUES'] names queues the lambda-jobs backend does not have: "
            f"{', '.join(unknown)}.",
            hint=(
                f"Its configuration ({backend.describe_config_source()}) has: "
                f"{', '.join(sorted(config.queues))}. Add the queue to the backend's stack or "
                "remove it from QUEUES."
            ),
            id="lambda_jobs.E005",
        )
    ]
