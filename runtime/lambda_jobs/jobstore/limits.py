"""The job store's half of flow control: concurrency slots and rate budgets as conditional writes.

One item per limit and key value, in the job store's table (``pk = "limit#" + name`` or
``"limit#" + name + "#" + key``; job ids are UUIDs and unique keys start with ``unique#``, so
the three never meet)::

    concurrency  holders  M   {holder: lease_until (epoch seconds)}; at most n live entries
    rate         starts   L   the epoch seconds of the last (at most n) starts, oldest first
    both         v        N   version, + 1 on every write
                 ttl      N   when DynamoDB may delete an idle item

Every change is read (``GetItem``, strongly consistent) then a conditional ``UpdateItem`` on
``v`` (optimistic concurrency: "Condition expressions", DynamoDB Developer Guide,
docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html).
Two workers that read the same version cannot both write: the second's condition fails and it
reads again. So the caps hold across every function instance.

**Concurrency: leased slots.** A holder is one attempt (``job id/request id``) with a lease of
the attempt's time limit plus :data:`~lambda_jobs.jobstore.schema.LEASE_GRACE_SECONDS`; a holder
whose lease ran out no longer counts, so a slot held by a killed attempt comes back when its lease
ends, never later. The attempt gives its slot back when it ends (:func:`release`).

**Rate: sliding-window log.** The item keeps the last ``n`` start times; a start is granted when
fewer than ``n`` of them lie within ``per`` (+ :data:`RATE_MARGIN_SECONDS`) before now. Unlike a
token bucket (which lets ``2n`` through in a window that spans a full bucket and its refill) or
fixed windows (``2n`` across a boundary), this bounds *every* window of length ``per`` to ``n``
grants, and still allows a burst of ``n`` at once. Its price is an item that grows with ``n``
(8-20 bytes a start; ``n`` is at most 1000) and a read before each write.

Each call costs one read and one write (more under contention); a store error is raised to the
caller.
"""

from __future__ import annotations

import random
import time

from lambda_jobs.jobstore.schema import n, s

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

    from lambda_jobs.jobstore.claims import WorkerStore
    from lambda_jobs.limits import Held

PREFIX = "limit#"
#: Added to a rate's window: covers the time from a grant to the task's first line and the clock
#: differences between function instances (NTP keeps them within milliseconds).
RATE_MARGIN_SECONDS = 0.2
#: Reads and conditional writes one acquire tries before it calls the limit contended.
MAX_TRIES = 6
#: How long an idle limit item is kept after its last use.
IDLE_TTL_SECONDS = 3600


def limit_pk(held: Held) -> str:
    return PREFIX + held.name + ("" if held.key is None else "#" + held.key)


def acquire(store: WorkerStore, held: Held, holder: str, lease_seconds: float) -> float | None:
    """Take a slot (concurrency) or a start (rate) of ``held`` for ``holder``.

    None when granted; else the seconds after which trying again may succeed (a hint: a
    concurrency slot may come back sooner, when a holder ends). Raises AWS errors.
    """
    client = store.client
    key = {"pk": s(limit_pk(held))}
    for _ in range(MAX_TRIES):
        item = client.get_item(TableName=store.table, Key=key, ConsistentRead=True).get("Item", {})
        version = int(item["v"]["N"]) if "v" in item else None
        now = time.time()
        if held.kind == "concurrency":
            wait, values, expression = _concurrency(item, held, holder, now, lease_seconds)
        else:
            wait, values, expression = _rate(item, held, now)
        if wait is not None:
            return wait
        values[":v1"] = n((version or 0) + 1)
        values[":ttl"] = n(int(now + max(lease_seconds, held.per) + IDLE_TTL_SECONDS))
        if version is None:
            condition = "attribute_not_exists(v)"
        else:
            condition = "v = :v"
            values[":v"] = n(version)
        try:
            client.update_item(
                TableName=store.table,
                Key=key,
                UpdateExpression=expression + ", v = :v1, #ttl = :ttl",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues=values,
            )
        except client.exceptions.ConditionalCheckFailedException:
            time.sleep(random.uniform(0.005, 0.03))  # another worker wrote first: read again
            continue
        return None
    return 1.0


def _concurrency(
    item: dict[str, Any], held: Held, holder: str, now: float, lease_seconds: float
) -> tuple[float | None, dict[str, Any], str]:
    holders = {
        name: float(value["N"])
        for name, value in item.get("holders", {}).get("M", {}).items()
        if float(value["N"]) > now
    }
    if holder not in holders and len(holders) >= held.n:
        return max(min(holders.values()) - now, 0.0), {}, ""
    holders[holder] = now + lease_seconds
    values = {":h": {"M": {name: n(round(until, 3)) for name, until in holders.items()}}}
    return None, values, "SET holders = :h"


def _rate(item: dict[str, Any], held: Held, now: float) -> tuple[float | None, dict[str, Any], str]:
    window = held.per + RATE_MARGIN_SECONDS
    starts = [float(v["N"]) for v in item.get("starts", {}).get("L", [])]
    recent = sorted(t for t in starts if t > now - window)[-held.n :]
    if len(recent) >= held.n:
        return max(recent[0] + window - now, 0.0), {}, ""
    recent.append(now)
    return None, {":st": {"L": [n(round(t, 3)) for t in recent]}}, "SET starts = :st"


def release(store: WorkerStore, held: Held, holder: str) -> None:
    """Give ``holder``'s concurrency slot of ``held`` back (nothing if it no longer holds one).

    Bumps the version, so a worker that read the item before this cannot write the slot back.
    Raises AWS errors.
    """
    client = store.client
    try:
        client.update_item(
            TableName=store.table,
            Key={"pk": s(limit_pk(held))},
            UpdateExpression="REMOVE holders.#h SET v = v + :one",
            ConditionExpression="attribute_exists(holders.#h)",
            ExpressionAttributeNames={"#h": holder},
            ExpressionAttributeValues={":one": n(1)},
        )
    except client.exceptions.ConditionalCheckFailedException:
        return
