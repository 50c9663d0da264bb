"""``LAMBDA_JOBS_CONFIG``: where jobs go, read once and checked against schema version 1.

The variable holds one of:

- the JSON document a backend construct publishes (its ``client_config``, SSM parameter and stack
  output all hold the same text);
- ``ssm:<parameter name>``: the name of that SSM parameter, fetched once per process;
- ``inline``: run jobs in this process at enqueue (tests and scripts).

Unset or empty is a :class:`~lambda_jobs.errors.ConfigurationError` at enqueue, never a silent
fallback. The schema (every key is documented in docs/reference/wire-formats.md, "Client
configuration")::

    {
      "version": 1,
      "backend": "goat" | "lamb",
      "region": "eu-west-1",
      "queues": {
        "default": {
          "fifo": false,
          "lanes": [{"min_priority": -100, "max_priority": 100,
                     "target": "<SQS queue URL | Lambda function ARN>",
                     "arn": "<SQS queue ARN | Lambda function ARN>"}]
        }
      },
      "dead_letter_queue": {"url": "<SQS URL>", "arn": "<SQS ARN>"},
      "fifo_dead_letter_queue": {"url": "<SQS URL>", "arn": "<SQS ARN>"},
      "scheduler": {"group": "<schedule group name>", "role_arn": "<IAM role ARN>"} | null,
      "max_payload_bytes": 1032192,
      "max_delay_seconds": 31536000,
      "endpoints": {"sqs": "http://127.0.0.1:4566", "lambda": "...", "scheduler": "..."},
      "job_store": {"table": "<DynamoDB table name>", "ttl_seconds": 604800}
    }

Lanes of a queue must cover -100..100 without gaps or overlaps. ``endpoints`` is for the local
emulator only; when it is present, clients sign with placeholder credentials if none are set.
``job_store`` is optional (still schema version 1): absent or null means the backend has no job
store (:mod:`lambda_jobs.jobstore.schema`), and then no DynamoDB call is ever made.
``fifo_dead_letter_queue`` is optional too (still version 1): a Goat backend with FIFO queues names
the FIFO queue their redrive policy moves crashed messages to, so the operations commands reach it.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from lambda_jobs.backends import DEPLOYED
from lambda_jobs.contract import (
    CONFIG_VERSION,
    DEFAULT_MAX_DELAY_SECONDS,
    DEFAULT_MAX_PAYLOAD,
    MAX_PRIORITY,
    MIN_PRIORITY,
    SQS_MAX_DELAY_SECONDS,
    is_queue_name,
    lane_gap,
)
from lambda_jobs.errors import ConfigurationError

ENV_VAR = "LAMBDA_JOBS_CONFIG"

Backend = Literal["goat", "lamb", "inline"]

SERVICES = ("sqs", "lambda", "scheduler", "ssm", "dynamodb")


@dataclass(frozen=True, slots=True, kw_only=True)
class Lane:
    """One physical target serving the priorities ``min_priority..max_priority`` of a queue."""

    min_priority: int
    max_priority: int
    target: str
    """Goat: the SQS queue URL. Lamb: the Lambda function ARN."""
    arn: str
    """Goat: the SQS queue ARN (schedules target it). Lamb: the function ARN."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueConfig:
    name: str
    lanes: tuple[Lane, ...]
    fifo: bool = False

    def lane_for(self, priority: int) -> Lane:
        """The lane whose band holds ``priority`` (lanes are checked to cover -100..100)."""
        for lane in self.lanes:
            if lane.min_priority <= priority <= lane.max_priority:
                return lane
        raise ConfigurationError(f"queue {self.name!r} has no lane for priority {priority}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetterQueue:
    url: str
    arn: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerConfig:
    group: str
    role_arn: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStoreConfig:
    """The backend's job store: a DynamoDB table and how long its items live (seconds)."""

    table: str
    ttl_seconds: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """A parsed, validated client configuration. ``inline`` has no queues and accepts any name."""

    backend: Backend
    region: str | None = None
    queues: dict[str, QueueConfig] = field(default_factory=dict)
    dead_letter_queue: DeadLetterQueue | None = None
    fifo_dead_letter_queue: DeadLetterQueue | None = None
    """Goat with FIFO queues: their redrive policy's (crash safety net) DLQ; else None."""
    scheduler: SchedulerConfig | None = None
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD
    max_delay_seconds: int = SQS_MAX_DELAY_SECONDS
    endpoints: dict[str, str] = field(default_factory=dict)
    job_store: JobStoreConfig | None = None

    @property
    def is_inline(self) -> bool:
        return self.backend == "inline"

    def queue(self, name: str) -> QueueConfig:
        """The queue named ``name``; an unknown name lists the known ones."""
        try:
            return self.queues[name]
        except KeyError:
            known = ", ".join(sorted(self.queues)) or "(none)"
            raise ConfigurationError(
                f"unknown queue {name!r}; this {self.backend} backend has: {known}"
            ) from None


INLINE = ClientConfig(backend="inline", max_delay_seconds=DEFAULT_MAX_DELAY_SECONDS)


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ConfigurationError(f"{ENV_VAR}: {where} is missing {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ConfigurationError(f"{ENV_VAR}: {where}.{key} must be {expected}, got {value!r}")
    return value


def _parse_lanes(name: str, raw: Any) -> tuple[Lane, ...]:
    where = f"queues.{name}.lanes"
    if not isinstance(raw, list) or not raw:
        raise ConfigurationError(f"{ENV_VAR}: {where} must be a non-empty list")
    lanes = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise ConfigurationError(f"{ENV_VAR}: {at} must be an object")
        lanes.append(
            Lane(
                min_priority=_require(item, "min_priority", int, at),
                max_priority=_require(item, "max_priority", int, at),
                target=_require(item, "target", str, at),
                arn=_require(item, "arn", str, at),
            )
        )
    lanes.sort(key=lambda lane: lane.min_priority)
    gap = lane_gap([(lane.min_priority, lane.max_priority) for lane in lanes])
    if gap is not None:
        expected, found = gap
        if found is None:
            raise ConfigurationError(
                f"{ENV_VAR}: {where} stops at priority {expected - 1}; lanes must reach "
                f"{MAX_PRIORITY}"
            )
        raise ConfigurationError(
            f"{ENV_VAR}: {where} must cover priorities {MIN_PRIORITY}..{MAX_PRIORITY} in "
            f"contiguous, non-overlapping bands; a band starting at {expected} is expected, "
            f"got {found[0]}..{found[1]}"
        )
    return tuple(lanes)


def parse(data: Any) -> ClientConfig:
    """Validate a decoded configuration document; errors name the offending key."""
    if not isinstance(data, dict):
        raise ConfigurationError(f"{ENV_VAR} must be a JSON object, got {type(data).__name__}")
    version = data.get("version")
    if version != CONFIG_VERSION:
        raise ConfigurationError(
            f"{ENV_VAR}: version {version!r} is not supported (this runtime reads version "
            f"{CONFIG_VERSION}); upgrade lambda-jobs"
        )
    backend = _require(data, "backend", str, "the document")
    kind = DEPLOYED.get(backend)
    if kind is None:
        names = " or ".join(repr(name) for name in DEPLOYED)
        raise ConfigurationError(f"{ENV_VAR}: backend must be {names}, got {backend!r}")
    raw_queues = _require(data, "queues", dict, "the document")
    if not raw_queues:
        raise ConfigurationError(f"{ENV_VAR}: queues must name at least one queue")
    queues: dict[str, QueueConfig] = {}
    for name, raw in raw_queues.items():
        if not is_queue_name(name):
            raise ConfigurationError(f"{ENV_VAR}: queue name {name!r} is not valid")
        if not isinstance(raw, dict):
            raise ConfigurationError(f"{ENV_VAR}: queues.{name} must be an object")
        fifo = raw.get("fifo", False)
        if not isinstance(fifo, bool):
            raise ConfigurationError(f"{ENV_VAR}: queues.{name}.fifo must be true or false")
        queues[name] = QueueConfig(name=name, fifo=fifo, lanes=_parse_lanes(name, raw.get("lanes")))
    dlq_raw = _require(data, "dead_letter_queue", dict, "the document")
    dlq = DeadLetterQueue(
        url=_require(dlq_raw, "url", str, "dead_letter_queue"),
        arn=_require(dlq_raw, "arn", str, "dead_letter_queue"),
    )
    fifo_dlq = None
    fifo_dlq_raw = data.get("fifo_dead_letter_queue")
    if fifo_dlq_raw is not None:
        if not isinstance(fifo_dlq_raw, dict):
            raise ConfigurationError(f"{ENV_VAR}: fifo_dead_letter_queue must be an object or null")
        fifo_dlq = DeadLetterQueue(
            url=_require(fifo_dlq_raw, "url", str, "fifo_dead_letter_queue"),
            arn=_require(fifo_dlq_raw, "arn", str, "fifo_dead_letter_queue"),
        )
    scheduler = None
    sched_raw = data.get("scheduler")
    if sched_raw is not None:
        if not isinstance(sched_raw, dict):
            raise ConfigurationError(f"{ENV_VAR}: scheduler must be an object or null")
        scheduler = SchedulerConfig(
            group=_require(sched_raw, "group", str, "scheduler"),
            role_arn=_require(sched_raw, "role_arn", str, "scheduler"),
        )
    max_payload = data.get("max_payload_bytes", DEFAULT_MAX_PAYLOAD)
    if isinstance(max_payload, bool) or not isinstance(max_payload, int) or max_payload < 1024:
        raise ConfigurationError(f"{ENV_VAR}: max_payload_bytes must be an integer >= 1024")
    if scheduler is None:
        default_delay = kind.max_delay_without_scheduler
    else:
        default_delay = DEFAULT_MAX_DELAY_SECONDS
    max_delay = data.get("max_delay_seconds", default_delay)
    if isinstance(max_delay, bool) or not isinstance(max_delay, int) or max_delay < 0:
        raise ConfigurationError(f"{ENV_VAR}: max_delay_seconds must be an integer >= 0")
    endpoints = data.get("endpoints", {})
    if not isinstance(endpoints, dict) or not all(
        k in SERVICES and isinstance(v, str) for k, v in endpoints.items()
    ):
        raise ConfigurationError(
            f"{ENV_VAR}: endpoints must map some of {', '.join(SERVICES)} to URLs"
        )
    region = data.get("region")
    if region is not None and not isinstance(region, str):
        raise ConfigurationError(f"{ENV_VAR}: region must be a string")
    return ClientConfig(
        job_store=_parse_job_store(data.get("job_store")),
        backend=backend,
        region=region,
        queues=queues,
        dead_letter_queue=dlq,
        fifo_dead_letter_queue=fifo_dlq,
        scheduler=scheduler,
        max_payload_bytes=max_payload,
        max_delay_seconds=max_delay,
        endpoints=dict(endpoints),
    )


def _parse_job_store(raw: Any) -> JobStoreConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{ENV_VAR}: job_store must be an object or null")
    table = _require(raw, "table", str, "job_store")
    ttl = _require(raw, "ttl_seconds", int, "job_store")
    if not table or ttl < 1:
        raise ConfigurationError(
            f"{ENV_VAR}: job_store needs a non-empty table and ttl_seconds >= 1, got "
            f"{table!r} and {ttl!r}"
        )
    return JobStoreConfig(table=table, ttl_seconds=ttl)


def parse_text(text: str) -> ClientConfig:
    """Parse the JSON text of a configuration document."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{ENV_VAR} is not valid JSON: {exc}") from exc
    return parse(data)


_cache: dict[str, ClientConfig] = {}
_cache_lock = threading.Lock()


def _fetch_ssm(name: str) -> str:
    from lambda_jobs import aws

    try:
        response = aws.client("ssm", None).get_parameter(Name=name)
    except Exception as exc:
        raise ConfigurationError(
            f"{ENV_VAR}=ssm:{name}: could not read the SSM parameter: {exc}"
        ) from exc
    return str(response["Parameter"]["Value"])


def resolve(value: str) -> ClientConfig:
    """Parse one value of ``LAMBDA_JOBS_CONFIG`` (JSON, ``ssm:<name>`` or ``inline``)."""
    value = value.strip()
    if value == "inline":
        return INLINE
    if value.startswith("ssm:"):
        name = value.removeprefix("ssm:").strip()
        if not name:
            raise ConfigurationError(f"{ENV_VAR}=ssm: needs a parameter name after 'ssm:'")
        return parse_text(_fetch_ssm(name))
    if not value.startswith("{"):
        raise ConfigurationError(
            f"{ENV_VAR} must be a JSON document, 'ssm:<parameter name>' or 'inline'; "
            f"got {value[:40]!r}"
        )
    return parse_text(value)


def load() -> ClientConfig:
    """The configuration named by ``LAMBDA_JOBS_CONFIG`` now, parsed once per distinct value.

    Thread-safe. Changing the variable (tests do) takes effect at the next call.
    """
    value = os.environ.get(ENV_VAR, "")
    if not value.strip():
        raise ConfigurationError(
            f"{ENV_VAR} is not set: export the JSON document your backend publishes (stack output "
            "or SSM parameter), 'ssm:<parameter name>', or 'inline' to run jobs in-process"
        )
    cached = _cache.get(value)
    if cached is not None:
        return cached
    with _cache_lock:
        cached = _cache.get(value)
        if cached is None:
            cached = resolve(value)
            _cache[value] = cached
        return cached
