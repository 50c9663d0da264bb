"""A workflow's items in the job store (docs/guide/workflows.md, "In the job store").

Items (partition key ``pk``; all carry ``ttl``)::

    workflow#<id>                  the workflow: status (running | succeeded | failed | cancelled),
                                   plan (JSON: per stage, group or not, member count,
                                   chunk count, tolerance, a group of groups' shape),
                                   config (the LAMBDA_JOBS_CONFIG value it was enqueued
                                   with: the worker starts later stages with it),
                                   created_at, finished_at, result (JSON), failed_step, error;
                                   a branch's (a chain inside a group, run as a child workflow
                                   with a derived id) also parent (JSON: the id, stage and
                                   member its end joins as)
    workflow#<id>#plan#<stage>#<k> chunk k of a stage's steps (JSON, at most PLAN_CHUNK_BYTES),
                                   read by the worker that starts the stage
    workflow#<id>#<stage>#<member> one finished member: its result (JSON), written once
    workflow#<id>#<stage>#s<shard> the members of one shard of a group that finished: ``done``,
                                   a string set of member numbers
    workflow#<id>#<stage>          the shards of the stage that are complete: ``shards``, a set

**The join, spread.** A member records itself in its *shard* item (members ``k*100 ..
k*100+99``) with one conditional ``UpdateItem`` (``ADD done :m`` if ``done`` does not contain
``m``): a duplicate delivery changes nothing, two members at the same moment are serialized by
DynamoDB, and exactly one first-time writer sees the shard full. That writer records the shard in
the stage item the same way; the one that sees every shard there completes the stage. So a group
of 10,000 members writes each shard item 100 times and the stage item 100 times: no item
takes more than :data:`SHARD_SIZE` writes, far below the about 1,000 writes a second one item
takes ("Best practices for designing and using partition keys effectively", DynamoDB Developer
Guide, docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html).
A delivery whose write is refused (its member is already in) reads the item's old image and
carries on from there, so a crash between two writes is finished by the next delivery.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

from lambda_jobs.jobstore import schema
from lambda_jobs.jobstore.schema import n, s

PREFIX = "workflow#"
SHARD_SIZE = 100
#: A stage's steps are stored in chunk items of at most this many bytes of JSON (400 KB per item,
#: "Constraints in Amazon DynamoDB"): the workflow item itself stays small, so the read every
#: finished step makes of it costs one read unit, and a group of 10,000 steps fits.
PLAN_CHUNK_BYTES = 300 * 1024
BATCH_GET_MAX = 100  # keys per BatchGetItem request (DynamoDB's limit)

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"


def workflow_pk(workflow_id: str) -> str:
    return f"{PREFIX}{workflow_id}"


def member_pk(workflow_id: str, stage: int, member: int) -> str:
    return f"{PREFIX}{workflow_id}#{stage}#{member}"


def shard_pk(workflow_id: str, stage: int, shard: int) -> str:
    return f"{PREFIX}{workflow_id}#{stage}#s{shard}"


def stage_pk(workflow_id: str, stage: int) -> str:
    return f"{PREFIX}{workflow_id}#{stage}"


def shard_count(members: int) -> int:
    return max(1, math.ceil(members / SHARD_SIZE))


def chunks_of(steps: list[Any]) -> list[str]:
    """``steps`` as JSON arrays of at most :data:`PLAN_CHUNK_BYTES` each; a single step over
    that raises ``ValueError`` naming its size and the limit."""
    from lambda_jobs.jsoncodec import wire_json, wire_size

    chunks: list[list[str]] = [[]]
    size = 2
    for step in steps:
        text = wire_json(step)
        step_size = wire_size(text) + 1
        if step_size > PLAN_CHUNK_BYTES:
            what = (
                "a chain inside a group (with all its steps)"
                if "branch" in step
                else f"a workflow step of task {step['task']}"
            )
            raise ValueError(
                f"{what} is {step_size:,} bytes as JSON, over the "
                f"{PLAN_CHUNK_BYTES:,} bytes a step may take in the job store; pass references "
                "(e.g. S3 keys) instead of large arguments"
            )
        if size + step_size > PLAN_CHUNK_BYTES:
            chunks.append([])
            size = 2
        chunks[-1].append(text)
        size += step_size
    return ["[" + ",".join(chunk) + "]" for chunk in chunks]


def plan_pk(workflow_id: str, stage: int, chunk: int) -> str:
    return f"{PREFIX}{workflow_id}#plan#{stage}#{chunk}"


def create(  # noqa: PLR0917 - the item's fields
    client: Any,
    table: str,
    workflow_id: str,
    plan: list[Any],
    config: str,
    ttl_seconds: int,
    *,
    on_failure: dict[str, Any] | None = None,
    parent: dict[str, Any] | None = None,
) -> None:
    """Write the stages' chunk items, then the workflow item (``attribute_not_exists``: a second
    create of the same id raises ``ConditionalCheckFailedException``). ``parent``: a branch's
    ``{"id", "stage", "member"}`` in the workflow around it. Raises ``ValueError`` for a step too
    large to store."""
    now = schema.now_epoch()
    summary = []
    stage_chunks = [chunks_of(stage["steps"]) for stage in plan]
    for stage, chunks in enumerate(stage_chunks):
        for k, text in enumerate(chunks):
            client.put_item(
                TableName=table,
                Item={
                    "pk": s(plan_pk(workflow_id, stage, k)),
                    "steps": s(text),
                    "ttl": n(now + ttl_seconds),
                },
            )
        spec = plan[stage]
        summary.append(
            {
                "group": spec["group"],
                "members": len(spec["steps"]),
                "chunks": len(chunks),
                "tolerate": spec.get("tolerate", 0),
                **({"shape": spec["shape"]} if "shape" in spec else {}),
            }
        )
    extra = {} if on_failure is None else {"on_failure": s(json.dumps(on_failure))}
    if parent is not None:
        extra["parent"] = s(json.dumps(parent, separators=(",", ":")))
    client.put_item(
        TableName=table,
        Item={
            **extra,
            "pk": s(workflow_pk(workflow_id)),
            "status": s(RUNNING),
            "plan": s(json.dumps(summary, separators=(",", ":"))),
            "config": s(config),
            "created_at": s(schema.iso()),
            "ttl": n(now + ttl_seconds),
        },
        ConditionExpression="attribute_not_exists(pk)",
    )


def mark_started(client: Any, table: str, workflow_id: str, stage: int) -> None:
    """Note on the workflow item that every job of ``stage`` was sent (``started``, which only
    grows). A member of an earlier stage delivered again then stops at the item it reads anyway,
    instead of reading its stage's results (one read per member: 10,000 for a chord of 10,000)
    and sending the next stage again. Written after the sends, so a crash before it leaves the
    marker behind and the next delivery sends again, as without it."""
    with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
        client.update_item(
            TableName=table,
            Key={"pk": s(workflow_pk(workflow_id))},
            UpdateExpression="SET #started = :stage",
            ConditionExpression="attribute_exists(pk) AND "
            "(attribute_not_exists(#started) OR #started < :stage)",
            ExpressionAttributeNames={"#started": "started"},
            ExpressionAttributeValues={":stage": n(stage)},
        )


def load(client: Any, table: str, workflow_id: str) -> dict[str, Any] | None:
    """The workflow item, decoded (``plan`` parsed: per stage ``group``, ``members`` and
    ``chunks``), or None."""
    item = client.get_item(
        TableName=table, Key={"pk": s(workflow_pk(workflow_id))}, ConsistentRead=True
    ).get("Item")
    if item is None:
        return None
    decoded = schema.decode_item(item)
    decoded["plan"] = json.loads(decoded["plan"])
    return decoded


def stage_steps(client: Any, table: str, workflow_id: str, stage: int, chunks: int) -> list[Any]:
    """The steps of ``stage``, in member order, from its chunk items."""
    steps: list[Any] = []
    for k in range(chunks):
        item = client.get_item(
            TableName=table, Key={"pk": s(plan_pk(workflow_id, stage, k))}, ConsistentRead=True
        )["Item"]
        steps.extend(json.loads(item["steps"]["S"]))
    return steps


def record_member(  # noqa: PLR0917 - the member's position and what it returned
    client: Any,
    table: str,
    workflow_id: str,
    stage: int,
    member: int,
    members: int,
    result_json: str,
    ttl_seconds: int,
) -> bool:
    """Record that ``member`` of ``stage`` succeeded with ``result_json``; True when the stage is
    now complete (for the first-time writer that completed it, and for any later duplicate)."""
    ttl = n(schema.now_epoch() + ttl_seconds)
    # A duplicate's put is refused: the first result stands.
    with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName=table,
            Item={
                "pk": s(member_pk(workflow_id, stage, member)),
                "result": s(result_json),
                "ttl": ttl,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    shard = member // SHARD_SIZE
    in_shard = min(SHARD_SIZE, members - shard * SHARD_SIZE)
    if (
        _add_once(client, table, shard_pk(workflow_id, stage, shard), "done", member, ttl)
        < in_shard
    ):
        return False
    shards = shard_count(members)
    if shards == 1:
        return True
    return _add_once(client, table, stage_pk(workflow_id, stage), "shards", shard, ttl) >= shards


def _add_once(  # noqa: PLR0917 - one conditional set update
    client: Any, table: str, pk: str, attribute: str, number: int, ttl: Any
) -> int:
    """Add ``number`` to the string set ``attribute`` of item ``pk`` unless it is there; returns
    the set's size after (or as found, when it was already there)."""
    try:
        response = client.update_item(
            TableName=table,
            Key={"pk": s(pk)},
            UpdateExpression="ADD #set :one SET #ttl = :ttl",
            ConditionExpression="attribute_not_exists(#set) OR NOT contains(#set, :number)",
            ExpressionAttributeNames={"#set": attribute, "#ttl": "ttl"},
            ExpressionAttributeValues={
                ":one": {"SS": [str(number)]},
                ":number": s(str(number)),
                ":ttl": ttl,
            },
            ReturnValues="ALL_NEW",
        )
        item = response["Attributes"]
    except client.exceptions.ConditionalCheckFailedException:
        item = client.get_item(TableName=table, Key={"pk": s(pk)}, ConsistentRead=True)["Item"]
    return len(item.get(attribute, {}).get("SS", []))


def results(client: Any, table: str, workflow_id: str, stage: int, members: int) -> list[Any]:
    """The recorded results of every member of ``stage``, in member order (BatchGetItem)."""
    keys = [member_pk(workflow_id, stage, m) for m in range(members)]
    found: dict[str, Any] = {}
    for start in range(0, len(keys), BATCH_GET_MAX):
        request: dict[str, Any] = {
            table: {
                "Keys": [{"pk": s(k)} for k in keys[start : start + BATCH_GET_MAX]],
                "ConsistentRead": True,
            }
        }
        while request:
            response = client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                found[item["pk"]["S"]] = json.loads(item["result"]["S"])
            request = response.get("UnprocessedKeys") or {}
    missing = [k for k in keys if k not in found]
    if missing:
        raise RuntimeError(f"workflow {workflow_id}: {len(missing)} member results missing")
    return [found[k] for k in keys]


def finish(
    client: Any,
    table: str,
    workflow_id: str,
    status: str,
    *,
    result_json: str | None = None,
    failed_step: str | None = None,
    error: str | None = None,
) -> bool:
    """Move a running workflow to ``status``; False if it had already ended."""
    sets = ["#status = :status", "#finished_at = :now"]
    values: dict[str, Any] = {":status": s(status), ":now": s(schema.iso()), ":running": s(RUNNING)}
    for name, value in (("result", result_json), ("failed_step", failed_step), ("error", error)):
        if value is not None:
            sets.append(f"#{name} = :{name}")
            values[f":{name}"] = s(value[: schema.ERROR_MESSAGE_MAX] if name == "error" else value)
    names = {f"#{x}": x for x in ("status", "finished_at", "result", "failed_step", "error")}
    used = {k: v for k, v in names.items() if k in " ".join(sets)}
    try:
        client.update_item(
            TableName=table,
            Key={"pk": s(workflow_pk(workflow_id))},
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="#status = :running",
            ExpressionAttributeNames=used,
            ExpressionAttributeValues=values,
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True
