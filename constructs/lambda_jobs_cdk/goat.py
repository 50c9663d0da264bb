"""``GoatJobBackend``: jobs sent to SQS, fed to one Lambda function by event-source mappings.

One SQS queue per lane; each lane's mapping has ``ReportBatchItemFailures`` on and the lane's
``MaximumConcurrency``. Queues share one function unless they set their own ``timeout`` or
``memory_size`` (then they get their own function from the same image).

Visibility timeout of a lane queue = 6 x its function's timeout + its batching window (AWS's
advice for event sources; the deploy fails if it is shorter than the function timeout).

Redrive ``maxReceiveCount`` is 100: the handler counts attempts itself (by
``ApproximateReceiveCount``; at most 51 with ``retries=50``) and dead-letters exhausted jobs with
their error, so the redrive policy is only the safety net for a function that crashes before it
can do so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from lambda_jobs.contract import MAX_VISIBILITY_SECONDS

from lambda_jobs_cdk.job_backend import JobBackend, lane_entry, lane_suffix, new_queue
from lambda_jobs_cdk.job_queue import JobQueue
from lambda_jobs_cdk.validation import JobBackendConfigError, check_range, is_token

MAX_RECEIVE_COUNT = 100
"""Crash safety net only: the handler dead-letters after at most 51 attempts (retries <= 50)."""
VISIBILITY_FACTOR = 6
DEFAULT_BATCH_SIZE = 10
MIN_ESM_CONCURRENCY = 2
MAX_ESM_CONCURRENCY = 1000


class GoatJobBackend(JobBackend):
    """A job backend on SQS: one queue per lane, event-source mappings, one function by default.

    Takes the props of :class:`~lambda_jobs_cdk.job_backend.JobBackend` (``code``, ``queues``,
    ``timeout``, ``memory_size``, ``environment``, ``log_retention``, ``parameter_name``,
    ``monitoring``). A queue's Lamb-only props (``retry_attempts``, ``max_event_age``) are
    refused, and its ``max_concurrency`` must be 2..1000 (the mapping's ``MaximumConcurrency``)
    and cannot be combined with provisioned pollers (``min_pollers``/``max_pollers``) on one lane:
    AWS makes the two scaling modes exclusive ("Configuring scaling behavior for SQS event source
    mappings").

    Attributes: those of the base, plus ``lane_queues`` (queue name -> the SQS queue of each
    lane, lowest band first), ``fifo_dead_letter_queue`` (the redrive target of FIFO lanes, or
    None) and ``function_for`` (queue name -> function).
    """

    backend = "goat"
    refused_queue_props: ClassVar[Mapping[str, str]] = {
        "retry_attempts": (
            "a LambJobBackend setting (Lambda async retries); on GoatJobBackend use "
            "@task(retries=...)"
        ),
        "max_event_age": "a LambJobBackend setting (Lambda async event age)",
    }

    def _check_queue(self, queue: JobQueue) -> None:
        super()._check_queue(queue)
        for lane in queue.lanes:
            check_range(
                f"JobQueue {queue.name!r} max_concurrency",
                queue.lane_concurrency(lane),
                MIN_ESM_CONCURRENCY,
                MAX_ESM_CONCURRENCY,
                why=" on GoatJobBackend (the event-source mapping's MaximumConcurrency)",
                about=f" for priorities {lane.min_priority}..{lane.max_priority}",
            )
            pollers = queue.lane_pollers(lane)
            if pollers != (None, None) and queue.lane_concurrency(lane) is not None:
                raise JobBackendConfigError(
                    f"JobQueue {queue.name!r} (priorities {lane.min_priority}.."
                    f"{lane.max_priority}) sets both max_concurrency and min_pollers/max_pollers: "
                    "AWS makes MaximumConcurrency and provisioned mode (ProvisionedPollerConfig) "
                    "of an SQS event-source mapping exclusive; keep one of them"
                )

    def _provision(self) -> dict[str, Any]:
        self.fifo_dead_letter_queue: sqs.Queue | None = None
        if any(queue.fifo for queue in self.queues):
            self.fifo_dead_letter_queue = new_queue(
                self, "FifoDeadLetterQueue", fifo=True, retention_period=Duration.days(14)
            )
            self.keep(
                self.fifo_dead_letter_queue,
                "FIFO dead-letter queue",
                "every dead-lettered FIFO job in it",
                create_only={"FifoQueue": True},
            )
        self.lane_queues: dict[str, list[sqs.Queue]] = {}
        self.function_for: dict[str, lambda_.DockerImageFunction] = {}
        shared: lambda_.DockerImageFunction | None = None
        config_queues: dict[str, Any] = {}
        for queue in self.queues:
            if queue.timeout is not None or queue.memory_size is not None:
                function = self._new_function(
                    f"Function-{queue.name}",
                    description=f"lambda-jobs Goat worker for queue {queue.name}",
                    timeout=queue.timeout or self.timeout,
                    memory_size=queue.memory_size or self.memory_size,
                )
            else:
                if shared is None:
                    shared = self._new_function(
                        "Function",
                        description="lambda-jobs Goat worker",
                        timeout=self.timeout,
                        memory_size=self.memory_size,
                    )
                function = shared
            self.function_for[queue.name] = function
            lanes = self._lanes(queue, function)
            self.lane_queues[queue.name] = lanes
            config_queues[queue.name] = {
                "fifo": queue.fifo,
                "lanes": [
                    lane_entry(lane, target=sqs_queue.queue_url, arn=sqs_queue.queue_arn)
                    for lane, sqs_queue in zip(queue.lanes, lanes, strict=True)
                ],
            }
        # The handler hands records back near its deadline and re-sends jobs (retries) to a lane.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"],
                resources=self._lane_arns(),
            )
        )
        return config_queues

    def _lane_arns(self) -> list[str]:
        return [q.queue_arn for lanes in self.lane_queues.values() for q in lanes]

    def schedule_target(self, queue_name: str, priority: int) -> tuple[str, bool]:
        """The lane queue's ARN, and whether it is FIFO."""
        lane = self.lane_queues[queue_name][self._lane_index(queue_name, priority)]
        return lane.queue_arn, lane.fifo

    def _lane_statement(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(actions=["sqs:SendMessage"], resources=self._lane_arns())

    def _dead_letter_queues(self) -> list[sqs.IQueue]:
        if self.fifo_dead_letter_queue is None:
            return [self.dead_letter_queue]
        return [self.dead_letter_queue, self.fifo_dead_letter_queue]

    def _monitored_lane_queues(self) -> list[tuple[str, sqs.IQueue]]:
        return [(name, q) for name, lanes in self.lane_queues.items() for q in lanes]

    def _lanes(self, queue: JobQueue, function: lambda_.DockerImageFunction) -> list[sqs.Queue]:
        for prop, value in (
            ("timeout", queue.timeout or self.timeout),
            ("max_batching_window", queue.max_batching_window),
        ):
            if is_token(value):
                raise JobBackendConfigError(
                    f"JobQueue {queue.name!r} {prop} must be known at synth on GoatJobBackend "
                    "(not a token such as a CfnParameter's value): the lane queues' visibility "
                    "timeout is computed from it (6 x timeout + max_batching_window)"
                )
        timeout = function.timeout.to_seconds() if function.timeout else self.timeout.to_seconds()
        window = queue.max_batching_window.to_seconds() if queue.max_batching_window else 0
        visibility = VISIBILITY_FACTOR * timeout + window
        if visibility > MAX_VISIBILITY_SECONDS:
            raise JobBackendConfigError(
                f"JobQueue {queue.name!r}: the visibility timeout (6 x timeout + "
                f"max_batching_window = {visibility:g} s) must be at most "
                f"{MAX_VISIBILITY_SECONDS} s"
            )
        dlq = self.fifo_dead_letter_queue if queue.fifo else self.dead_letter_queue
        assert dlq is not None
        lanes = []
        for index, lane in enumerate(queue.lanes):
            suffix = lane_suffix(queue, index)
            props: dict[str, Any] = {
                "visibility_timeout": Duration.seconds(visibility),
                "dead_letter_queue": sqs.DeadLetterQueue(
                    queue=dlq, max_receive_count=MAX_RECEIVE_COUNT
                ),
            }
            if queue.delay is not None:
                props["delivery_delay"] = queue.delay
            if queue.fifo:
                # EventBridge Scheduler's SQS target requires content-based deduplication on a
                # FIFO queue, and delayed FIFO jobs go through the scheduler. The client still
                # sends MessageDeduplicationId = job id (which takes precedence), and every
                # envelope contains its unique job id, so content deduplication never merges two
                # different jobs: it is equivalent to deduplicating by job id.
                props["content_based_deduplication"] = True
            sqs_queue = new_queue(self, f"Queue-{queue.name}{suffix}", fifo=queue.fifo, **props)
            self.keep(
                sqs_queue,
                f"queue {queue.name!r} lane {lane.min_priority}..{lane.max_priority}",
                "every job waiting in it",
                create_only={"FifoQueue": queue.fifo},
            )
            minimum, maximum = queue.lane_pollers(lane)
            function.add_event_source(
                event_sources.SqsEventSource(
                    sqs_queue,
                    batch_size=queue.batch_size or DEFAULT_BATCH_SIZE,
                    max_batching_window=queue.max_batching_window,
                    report_batch_item_failures=True,
                    max_concurrency=queue.lane_concurrency(lane),
                    provisioned_poller_config=(
                        None
                        if (minimum, maximum) == (None, None)
                        else lambda_.ProvisionedPollerConfig(
                            minimum_pollers=minimum, maximum_pollers=maximum
                        )
                    ),
                    metrics_config=(
                        lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT])
                        if queue.event_count_metrics
                        else None
                    ),
                )
            )
            lanes.append(sqs_queue)
        return lanes
