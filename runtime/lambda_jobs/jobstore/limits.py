"""The job store's half of flow control: concurrency slots and rate budgets as conditional writes.

One item per limit and key value, in the job store's table (``pk = "limit#" + name`` or
``"limit#" + name + "#" + key``; job ids are UUIDs and unique keys start with ``unique#``, so
the three never meet)::

    concurrency  holders  M   {holder: lease_until (epoch seconds)}; at most n live entries
    rate         starts   L   the epoch seconds of the last (at most n) starts, oldest first
    both         waiting  M   {job id: [first wait, times passed over, until]}: the waiters
                 v        N   version, + 1 on every write
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

**Fairness: a place kept by the first wait, a bound on being passed over.** A job refused is
entered in ``waiting`` under its job id with the time of its first refusal (kept on every later
try, so it keeps its place however often it comes back). Each grant to a job that is *behind* a
waiter (a later first wait, or a job that never waited) counts one pass over that waiter. A waiter
passed over ``n`` times (the limit's own ``n``: one round of slots, or one window of starts) is
*due*, and told to come back at once (:attr:`Decision.due`: the worker's shortest wait). One slot
(or start) is kept for the oldest due waiter: a job behind it is granted only from the room
beyond that one. So due waiters are served one after another in the order of their first
refusal, each by the next room that frees while it is the oldest; a later job never takes that
room. Keeping one slot, not one per due waiter, is the price chosen: while the oldest due waiter
is away (its wait is at least 1 s, plus the time its copy takes to be received again behind the
other waiting messages) that one slot stays idle, and the other ``n - 1`` keep serving whoever
comes. A waiter that does not come back within its wait plus :data:`RETURN_GRACE_SECONDS` loses
its place (a killed waiter must not keep room forever); at most :data:`MAX_WAITERS` are kept per
item (beyond that a job waits unregistered, as without fairness, until a place frees). A refusal
writes only to enter a waiter, or when its entry would lapse before it is back.

Each call costs one read and one write (more under contention; a refusal writes only to enter a
waiter or to extend its time, about every 25 s); a store error is raised to the caller.
"""

from __future__ import annotations

import random
import time
from typing import NamedTuple

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
#: A waiter keeps its place for its wait plus this long: the time a hand-back copy (Goat: the
#: delay, the mapping's poll, a backlog ahead of it) or a schedule (Lamb) takes to bring it back.
RETURN_GRACE_SECONDS = 30.0
#: The longest wait a concurrency refusal is given (:data:`lambda_jobs.worker.limiting.SLOT_WAIT`
#: and its spread), counted into a waiter's time.
SLOT_WAIT_MAX_SECONDS = 4.0
#: Waiters kept per limit item (each about 60 bytes): the item stays near 1 KB, so each write
#: costs about one write unit and stays quick, however many jobs wait.
MAX_WAITERS = 20


class Decision(NamedTuple):
    """What :func:`acquire` decided.

    ``wait`` is None when granted, else the seconds after which trying again may succeed (a hint:
    a concurrency slot may come back sooner). ``at`` is the store's time of the decision (epoch
    seconds): a rate's grant is recorded at this time, the time its window is measured on.
    ``waited`` is the seconds since this job's first refusal (0.0 if it was never refused), and
    ``due`` says the job has been passed over ``n`` times and room is kept for it: it should come
    back as soon as it can.
    """

    wait: float | None
    at: float
    waited: float = 0.0
    due: bool = False


def limit_pk(held: Held) -> str:
    return PREFIX + held.name + ("" if held.key is None else "#" + held.key)


def acquire(
    store: WorkerStore,
    held: Held,
    holder: str,
    lease_seconds: float,
    job_id: str | None = None,
) -> Decision:
    """Take a slot (concurrency) or a start (rate) of ``held`` for ``holder``.

    ``job_id`` names the job across its deliveries: with it, a refused job keeps its place among
    the waiters (module docstring); without it there is no fairness. Raises AWS errors.
    """
    client = store.client
    key = {"pk": s(limit_pk(held))}
    now = time.time()
    mine: list[float] | None = None
    for _ in range(MAX_TRIES):
        item = client.get_item(TableName=store.table, Key=key, ConsistentRead=True).get("Item", {})
        version = int(item["v"]["N"]) if "v" in item else None
        now = time.time()
        waiting = _waiting(item, now)
        mine = waiting.get(job_id) if job_id is not None else None
        ahead = [
            (name, entry)
            for name, entry in waiting.items()
            if name != job_id and (mine is None or (entry[0], name) < (mine[0], job_id))
        ]
        # One slot (or start) is kept for the oldest due waiter, if it is ahead of this job.
        kept = 1 if any(entry[1] >= held.n for _, entry in ahead) else 0
        if held.kind == "concurrency":
            wait, values, expression = _concurrency(item, held, holder, now, lease_seconds, kept)
        else:
            wait, values, expression = _rate(item, held, now, kept)
        waited = now - mine[0] if mine is not None else 0.0
        if wait is not None:
            due = mine is not None and mine[1] >= held.n
            decision = Decision(wait, now, waited, due)
            if job_id is None or not _enter(waiting, job_id, mine, now, wait):
                return decision
            values, expression = {}, "SET waiting = :w"
        else:
            decision = Decision(None, now, waited)
            waiting.pop(job_id or "", None)
            for name, entry in ahead:  # each waiter ahead of this job is passed over once more
                waiting[name] = [entry[0], min(entry[1] + 1, held.n), entry[2]]
            expression += ", waiting = :w"
        values[":w"] = {
            "M": {
                name: {"L": [n(round(first, 3)), n(passed), n(round(until, 1))]}
                for name, (first, passed, until) in waiting.items()
            }
        }
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
        return decision
    # Contended: every write lost to another worker's. A due waiter still comes back at once.
    return Decision(1.0, now, 0.0, mine is not None and mine[1] >= held.n)


def _waiting(item: dict[str, Any], now: float) -> dict[str, list[float]]:
    """The live waiters of ``item``: job id -> [first wait, times passed over, until]."""
    found = {}
    for name, value in item.get("waiting", {}).get("M", {}).items():
        first, passed, until = (float(part["N"]) for part in value["L"])
        if until > now:
            found[name] = [first, passed, until]
    return found


def _enter(
    waiting: dict[str, list[float]],
    job_id: str,
    mine: list[float] | None,
    now: float,
    wait: float,
) -> bool:
    """Enter (or keep) a refused job among the waiters; True if the item needs a write."""
    until = now + max(wait, SLOT_WAIT_MAX_SECONDS) + RETURN_GRACE_SECONDS
    if mine is None:
        if len(waiting) >= MAX_WAITERS:
            return False
        waiting[job_id] = [now, 0.0, until]
        return True
    if mine[2] >= now + max(wait, SLOT_WAIT_MAX_SECONDS) + 5.0:  # lasts till it is back: no write
        return False
    waiting[job_id] = [mine[0], mine[1], until]
    return True


def _concurrency(  # noqa: PLR0917 - acquire's state, passed on
    item: dict[str, Any],
    held: Held,
    holder: str,
    now: float,
    lease_seconds: float,
    kept: int,
) -> tuple[float | None, dict[str, Any], str]:
    holders = {
        name: float(value["N"])
        for name, value in item.get("holders", {}).get("M", {}).items()
        if float(value["N"]) > now
    }
    if holder not in holders and len(holders) + kept >= held.n:
        if len(holders) >= held.n:
            return max(min(holders.values()) - now, 0.0), {}, ""
        return 1.0, {}, ""  # room, but kept for waiters ahead
    holders[holder] = now + lease_seconds
    values = {":h": {"M": {name: n(round(until, 3)) for name, until in holders.items()}}}
    return None, values, "SET holders = :h"


def _rate(
    item: dict[str, Any], held: Held, now: float, kept: int
) -> tuple[float | None, dict[str, Any], str]:
    window = held.per + RATE_MARGIN_SECONDS
    starts = [float(v["N"]) for v in item.get("starts", {}).get("L", [])]
    recent = sorted(t for t in starts if t > now - window)[-held.n :]
    if len(recent) + kept >= held.n:
        if len(recent) >= held.n:
            return max(recent[0] + window - now, 0.0), {}, ""
        # Room, but kept for waiters ahead: more comes when the oldest start leaves the window.
        return max(recent[0] + window - now, 1.0) if recent else 1.0, {}, ""
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
