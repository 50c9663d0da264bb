"""The wire form of one job: a versioned JSON object.

Every message body (SQS), async-invoke payload (Lamb) and schedule input carries one envelope::

    {"lambda_jobs": 1, "id": "…", "task": "app.tasks.send_mail", "args": [...], "kwargs": {...},
     "queue": "default", "priority": 0, "enqueued_at": "2026-11-27T20:00:00.000+00:00",
     "run_after": null, "attempt": 1, "overrides": {}}

``lambda_jobs`` is the format version. A reader refuses any other version with
:class:`~lambda_jobs.errors.EnvelopeError` (the handler dead-letters such a message, it never
crashes on it). ``attempt`` is the attempt this message starts at: 1 when enqueued; the Lamb
handler sends ``attempt + 1`` when it retries; on Goat the SQS receive count adds to it.
``overrides`` holds per-job task options (``retries``, ``timeout``, ``retry_backoff``,
``retry_backoff_max``, ``retry_jitter``) that win over the task's own; unknown override keys
are an error. ``schedule`` is present only on a job a recurring schedule started
(:mod:`lambda_jobs.scheduling.recurring`): ``{"name", "scheduled_time", "arn"}``, the firing it is.
``workflow`` is present only on a step of a workflow (:mod:`lambda_jobs.workflows`):
``{"v": 1, "id": "<workflow id>", "stage": 0, "member": 0}``; ``v`` is the workflow format's own
version. Envelopes without it (every envelope written before workflows existed) run as before.

JSON only: no pickle, so a message can never execute code on decode.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lambda_jobs import jsoncodec
from lambda_jobs.errors import EnvelopeError

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

VERSION = 1
VERSION_KEY = "lambda_jobs"

#: Per-job options an envelope may override, with the JSON types allowed for each.
OVERRIDE_TYPES: dict[str, tuple[type, ...]] = {
    "retries": (int,),
    "timeout": (int, float),
    "retry_backoff": (int, float),
    "retry_backoff_max": (int, float),
    "retry_jitter": (bool,),
    # A per-job ``using(limits=...)``: [[kind, name, n, per, key], ...] (lambda_jobs.limits.Held)
    "limits": (list,),
}


class Envelope:
    """One job as it travels; immutable by contract, compared by value.

    A plain slotted class, not a dataclass: this module is on the handler's cold-start path and
    ``dataclasses`` costs ~9 ms to import.
    """

    __slots__ = (
        "args",
        "attempt",
        "enqueued_at",
        "id",
        "kwargs",
        "overrides",
        "priority",
        "queue",
        "run_after",
        "schedule",
        "task",
        "workflow",
    )

    def __init__(
        self,
        *,
        id: str,
        task: str,
        enqueued_at: datetime,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        queue: str = "default",
        priority: int = 0,
        run_after: datetime | None = None,
        attempt: int = 1,
        overrides: dict[str, Any] | None = None,
        schedule: dict[str, str] | None = None,
        workflow: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.task = task
        self.args = args if args is not None else []
        self.kwargs = kwargs if kwargs is not None else {}
        self.queue = queue
        self.priority = priority
        self.enqueued_at = enqueued_at
        self.run_after = run_after
        self.attempt = attempt
        self.overrides = overrides if overrides is not None else {}
        self.schedule = schedule
        self.workflow = workflow

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Envelope):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Envelope {self.task} id={self.id} attempt={self.attempt}>"

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict, version key first (``schedule`` only when there is one)."""
        data: dict[str, Any] = {
            VERSION_KEY: VERSION,
            "id": self.id,
            "task": self.task,
            "args": self.args,
            "kwargs": self.kwargs,
            "queue": self.queue,
            "priority": self.priority,
            "enqueued_at": _format_time(self.enqueued_at),
            "run_after": _format_time(self.run_after) if self.run_after else None,
            "attempt": self.attempt,
            "overrides": self.overrides,
        }
        if self.schedule is not None:
            data["schedule"] = self.schedule
        if self.workflow is not None:
            data["workflow"] = self.workflow
        return data

    def to_json(self) -> str:
        """The wire form (:func:`lambda_jobs.jsoncodec.wire_json`: compact, UTF-8 unescaped);
        raises TypeError/ValueError if an argument is not JSON."""
        return jsoncodec.wire_json(self.to_dict())

    def with_attempt(self, attempt: int) -> Envelope:
        """A copy that starts at ``attempt``."""
        copy = Envelope.__new__(Envelope)
        for name in self.__slots__:
            setattr(copy, name, getattr(self, name))
        copy.attempt = attempt
        return copy


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise EnvelopeError(f"envelope field {name!r} must be an ISO 8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise EnvelopeError(f"envelope field {name!r} is not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise EnvelopeError(f"envelope field {name!r} has no time zone: {value!r}")
    return parsed


def parse_json(text: str | bytes) -> Any:
    """A message body's JSON value; :class:`EnvelopeError` when it is not JSON."""
    try:
        return jsoncodec.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"message body is not JSON: {exc}") from exc
    except RecursionError:
        # The C scanner stops at the interpreter's C recursion limit (about 1,500 levels on
        # 3.12); the client refuses arguments nested deeper than 100: only a foreign message.
        raise EnvelopeError(
            "message body nests arrays or objects deeper than this runtime decodes "
            "(the lambda-jobs client refuses arguments nested deeper than 100 levels)"
        ) from None
    except MemoryError:
        raise EnvelopeError(
            "message body is too large to decode in this function's memory"
        ) from None


def from_json(text: str | bytes) -> Envelope:
    """Decode a message body; any defect raises :class:`EnvelopeError` naming it."""
    return from_dict(parse_json(text))


#: Every key an envelope may have.
_KNOWN_KEYS = frozenset({VERSION_KEY, *Envelope.__slots__})


def from_dict(data: Any) -> Envelope:
    """Validate a decoded envelope object; any defect raises :class:`EnvelopeError` naming it."""
    if not isinstance(data, dict):
        raise EnvelopeError(f"envelope must be a JSON object, got {type(data).__name__}")
    get = data.get
    version = get(VERSION_KEY)
    if type(version) is not int or version != VERSION:  # true and 1.0 are not version 1
        raise EnvelopeError(
            f"unsupported envelope version {version!r} (this runtime reads version {VERSION}); "
            "upgrade lambda-jobs in the function image"
        )
    if not _KNOWN_KEYS.issuperset(data):
        unknown = sorted(set(data) - _KNOWN_KEYS)
        raise EnvelopeError(f"envelope has unknown fields: {', '.join(unknown)}")
    job_id = get("id")
    if not isinstance(job_id, str) or not job_id:
        raise EnvelopeError(f"envelope field 'id' must be a non-empty string, got {job_id!r}")
    task = get("task")
    if not isinstance(task, str) or not task:
        raise EnvelopeError(f"envelope field 'task' must be a non-empty string, got {task!r}")
    args = get("args", [])
    if not isinstance(args, list):
        raise EnvelopeError("envelope field 'args' must be a JSON array")
    kwargs = get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise EnvelopeError("envelope field 'kwargs' must be a JSON object")
    queue = get("queue", "default")
    if not isinstance(queue, str):
        raise EnvelopeError(f"envelope field 'queue' must be a string, got {queue!r}")
    priority = get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise EnvelopeError(f"envelope field 'priority' must be an integer, got {priority!r}")
    attempt = get("attempt", 1)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise EnvelopeError(f"envelope field 'attempt' must be an integer >= 1, got {attempt!r}")
    overrides = get("overrides", {})
    if not isinstance(overrides, dict):
        raise EnvelopeError("envelope field 'overrides' must be a JSON object")
    if overrides:
        _check_overrides(overrides)
    schedule = get("schedule")
    if schedule is not None:
        _check_schedule(schedule)
    workflow = get("workflow")
    if workflow is not None:
        _check_workflow(workflow)
    run_after = get("run_after")
    return Envelope(
        id=job_id,
        task=task,
        args=args,
        kwargs=kwargs,
        queue=queue,
        priority=priority,
        enqueued_at=parse_time(get("enqueued_at"), "enqueued_at"),
        run_after=None if run_after is None else parse_time(run_after, "run_after"),
        attempt=attempt,
        overrides=overrides,
        schedule=schedule,
        workflow=workflow,
    )


def _check_overrides(overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        allowed = OVERRIDE_TYPES.get(key)
        if allowed is None:
            raise EnvelopeError(f"envelope override {key!r} is not a task option")
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise EnvelopeError(f"envelope override {key!r} has the wrong type: {value!r}")


#: The workflow field's format version this runtime reads (see the module docstring).
WORKFLOW_VERSION = 1


def _check_workflow(workflow: Any) -> None:
    if not isinstance(workflow, dict) or workflow.get("v") != WORKFLOW_VERSION:
        raise EnvelopeError(
            "envelope field 'workflow' must be an object with \"v\": "
            f"{WORKFLOW_VERSION} (this runtime reads workflow format {WORKFLOW_VERSION})"
        )
    ok = isinstance(workflow.get("id"), str) and workflow["id"]
    for key in ("stage", "member"):
        value = workflow.get(key)
        ok = ok and type(value) is int and value >= 0
    if not ok:
        raise EnvelopeError(
            "envelope field 'workflow' needs a string 'id' and integers 'stage' and 'member' >= 0"
        )


def _check_schedule(schedule: Any) -> None:
    if not isinstance(schedule, dict) or not all(
        isinstance(schedule.get(key), str) and schedule.get(key)
        for key in ("name", "scheduled_time")
    ):
        raise EnvelopeError(
            "envelope field 'schedule' must be an object with string 'name' and 'scheduled_time'"
        )
    parse_time(schedule["scheduled_time"], "schedule.scheduled_time")
