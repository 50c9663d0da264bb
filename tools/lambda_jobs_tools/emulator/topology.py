"""What one stack runs locally, read from its template and resolved to local values.

These are plain records: :mod:`~lambda_jobs_tools.emulator.provision` builds them, the pollers, the
execution environments and the Invoke API only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_jobs_tools.emulator.iam.policies import StackIam

#: Lambda's default function timeout and memory when the template leaves them out.
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
#: Lambda's async defaults (EventInvokeConfig absent or silent).
DEFAULT_MAX_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_SECONDS = 6 * 60 * 60


@dataclass(frozen=True, slots=True)
class QueueSpec:
    logical_id: str
    name: str
    url: str
    arn: str
    fifo: bool
    content_based_deduplication: bool


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str]
    """The template's ``Environment.Variables``, resolved to local values."""
    reserved_concurrency: int | None
    code_dir: Path
    """The staged image build context this function's code runs from."""
    command: list[str]
    """The image CMD: the handler (``lambda_jobs.handler.handle`` for lambda-jobs images)."""
    stack: str
    recursive_loop: str = "Terminate"
    """The template's ``RecursiveLoop`` (``Allow`` or ``Terminate``; Lambda's default when absent:
    ``Terminate``), applied by :mod:`lambda_jobs_tools.emulator.recursion`."""


@dataclass(frozen=True, slots=True)
class EventSourceMappingSpec:
    logical_id: str
    function: FunctionSpec
    queue: QueueSpec
    batch_size: int
    batching_window_seconds: float
    maximum_concurrency: int | None
    report_batch_item_failures: bool
    enabled: bool


@dataclass(frozen=True, slots=True)
class AsyncInvokeSpec:
    """A function's asynchronous invocation settings (its ``AWS::Lambda::EventInvokeConfig``)."""

    max_retry_attempts: int = DEFAULT_MAX_RETRY_ATTEMPTS
    max_event_age_seconds: int = DEFAULT_MAX_EVENT_AGE_SECONDS
    on_failure_arn: str | None = None
    on_success_arn: str | None = None


@dataclass(slots=True)
class StackSpec:
    """Everything one stack runs locally."""

    name: str
    region: str
    queues: dict[str, QueueSpec] = field(default_factory=dict)
    """By logical id."""
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    """By logical id."""
    event_source_mappings: list[EventSourceMappingSpec] = field(default_factory=list)
    async_invoke: dict[str, AsyncInvokeSpec] = field(default_factory=dict)
    """By function name."""
    schedule_groups: list[str] = field(default_factory=list)
    client_configs: list[dict[str, Any]] = field(default_factory=list)
    """The client configuration documents the stack publishes, resolved (without endpoints)."""
    config_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    """SSM parameter name -> the client configuration document it holds."""
    iam: StackIam | None = None
    """The stack's roles and policies (:mod:`~lambda_jobs_tools.emulator.iam.policies`)."""
