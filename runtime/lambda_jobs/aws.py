"""boto3 clients, created once per (service, region, endpoint) and shared by all threads.

Creating a boto3 client costs milliseconds (it loads service models), so the enqueue path and the
handler reuse these. boto3 clients are thread-safe; sessions are not, so clients are built under a
lock from one private session. boto3 is imported on first use only: importing ``lambda_jobs`` or
running a job that succeeds never loads it.

Endpoints come from the client configuration's ``endpoints`` (the local emulator), else from boto3's
own ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` variables.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig

_clients: dict[tuple[str, str | None, str | None, bool], Any] = {}
_lock = threading.Lock()
_session: Any = None

#: Parallel requests one client may hold open (bulk enqueue sends batches concurrently).
MAX_POOL_CONNECTIONS = 32


def client(service: str, config: ClientConfig | None, *, validated: bool = True) -> Any:
    """The shared client for ``service``, targeting the region and endpoint of ``config``.

    ``validated=False``: botocore does not check the parameters against the service model before
    each request (``Config(parameter_validation=False)``, "Configuration" in botocore's docs). For
    the requests lambda-jobs builds itself from fixed expressions (the job store's worker half),
    whose every value has the model's type by construction: the check costs about a fifth of
    botocore's work per request, and the service still refuses a bad request
    (``ValidationException``).
    """
    region = config.region if config is not None else None
    endpoint = config.endpoints.get(service) if config is not None else None
    key = (service, region, endpoint, validated)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _make(service, region, endpoint, validated)
            _clients[key] = found
        return found


def _make(service: str, region: str | None, endpoint: str | None, validated: bool = True) -> Any:
    global _session
    import boto3
    from botocore.config import Config

    if _session is None:
        _session = boto3.session.Session()
    kwargs: dict[str, Any] = {
        "config": Config(
            retries={"mode": "standard", "max_attempts": 5},
            max_pool_connections=MAX_POOL_CONNECTIONS,
            connect_timeout=5,
            read_timeout=30,
            parameter_validation=validated,
        )
    }
    region = region or _session.region_name or os.environ.get("AWS_REGION") or None
    if region:
        kwargs["region_name"] = region
    if endpoint:
        kwargs["endpoint_url"] = endpoint
        if _session.get_credentials() is None:
            # The local emulator accepts any signature; real AWS never sees these.
            kwargs["aws_access_key_id"] = "local"
            kwargs["aws_secret_access_key"] = "local"
    return _session.client(service, **kwargs)


def reset() -> None:
    """Forget every client (tests that restart servers, forked processes)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None


def aws_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean "AWS (or the network) refused", as opposed to a bug here."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)
