"""DynamoDB item writes one at a time, in the ``moto_server`` process the emulator starts.

On AWS each ``PutItem`` / ``UpdateItem`` / ``DeleteItem`` is atomic with its
``ConditionExpression``: the condition is evaluated on the item's current state and the write
applied, or refused, as one step ("Condition expressions" and "Working with items and
attributes", DynamoDB Developer Guide). Concurrent conditional writes on one item therefore
succeed one at a time, and optimistic concurrency (read, then write on condition that the version
is unchanged) is safe.

moto 5.2.5's server answers requests in threads and checks the condition, then writes, without
a lock: two writers that read the same version can both pass (measured: 8 threads incrementing
one version on condition, 119 successful writes for 118 increments). The job store's claims and
limits (:mod:`lambda_jobs.jobstore.limits`) rely on that atomicity, so :func:`install` serialises
moto's item reads and writes behind one lock. It costs nothing a test could measure: moto holds
the GIL for most of a request anyway.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

#: The backend methods serialised: every single- and multi-item read and write.
METHODS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "batch_get_item",
    "transact_write_items",
    "transact_get_items",
)
_LOCK = threading.RLock()


def install() -> None:
    """Wrap moto's DynamoDB backend methods (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in METHODS:
        original = getattr(DynamoDBBackend, name, None)
        if original is None or getattr(original, "lambda_jobs_atomic", False):
            continue
        setattr(DynamoDBBackend, name, _serialised(original))


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    locked.lambda_jobs_atomic = True  # type: ignore[attr-defined]
    return locked
