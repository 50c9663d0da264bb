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

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from lambda_jobs_cdk.alarms import BackendMonitoring, JobMonitoring, check_monitoring
from lambda_jobs_cdk.backend import JobBackend, lane_entry, new_queue
from lambda_jobs_cdk.job_code import JobCode
from lambda_jobs_cdk.job_queue import JobBackendConfigError, JobQueue

GOAT_MAX_PAYLOAD_BYTES = 256 * 1024
"""Largest envelope the client sends (the runtime's Goat default); lane queues accept it."""
MAX_RECEIVE_COUNT = 100
"""Crash safety net only: the handler dead-letters after at most 51 attempts (retries <= 50)."""
VISIBILITY_FACTOR = 6
MAX_VISIBILITY_SECONDS = 43_200
DEFAULT_BATCH_SIZE = 10
MIN_ESM_CONCURRENCY = 2
MAX_ESM_CONCURRENCY = 1000


class GoatJobBackend(JobBackend):
    """A job backend on SQS: one queue per lane, event-source mappings, one function by default.

    :param scope: the parent construct.
    :param id: the construct id.
    :param code: the job image, ``JobCode.from_directory(path, tasks=[...])``. Required.
    :param queues: the logical queues. Default: one ``JobQueue("default")``.
    :param timeout: function timeout of queues that do not set their own, 1..900 s. Default 5 min.
    :param memory_size: function memory (MiB) of queues that do not set their own, 128..10240.
        Default 512.
    :param environment: extra environment variables for every function (not the reserved
        ``LAMBDA_JOBS_*`` ones the construct sets). Default: none.
    :param log_retention: retention of each function's log group. Default one month.
    :param parameter_name: name of the SSM parameter holding the client configuration. Default
        ``/lambda-jobs/<unique construct name>/client-config``.
    :param monitoring: alarms (DLQ not empty, oldest message age per lane, function errors and
        throttles), an optional SNS topic and a dashboard; see ``JobMonitoring`` and
        ``lambda_jobs_cdk.alarms`` for each one's monthly cost. Default: all on, no topic.

    Attributes: those of the base (``dead_letter_queue``, ``scheduler_role``, ``role``,
    ``functions``, ``parameter``, ``client_config``, ...), ``monitoring`` (its ``alarms`` and
    ``dashboard``), plus ``lane_queues`` (queue name ->
    the SQS queue of each lane, lowest band first), ``fifo_dead_letter_queue`` (the redrive
    target of FIFO lanes, or None) and ``function_for`` (queue name -> function).
    """

    backend = "goat"
    default_max_payload_bytes = GOAT_MAX_PAYLOAD_BYTES

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        code: JobCode,
        queues: Sequence[JobQueue] | None = None,
        timeout: Duration | None = None,
        memory_size: int | None = None,
        environment: Mapping[str, str] | None = None,
        log_retention: logs.RetentionDays | None = None,
        parameter_name: str | None = None,
        monitoring: JobMonitoring | None = None,
    ) -> None:
        monitoring = check_monitoring(monitoring)
        super().__init__(
            scope,
            id,
            code=code,
            queues=queues,
            timeout=timeout,
            memory_size=memory_size,
            environment=environment,
            log_retention=log_retention,
            parameter_name=parameter_name,
        )
        for queue in self.queues:
            _check_goat_queue(queue)
        self.fifo_dead_letter_queue: sqs.Queue | None = None
        if any(queue.fifo for queue in self.queues):
            self.fifo_dead_letter_queue = new_queue(
                self, "FifoDeadLetterQueue", fifo=True, retention_period=Duration.days(14)
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
        lane_arns = [q.queue_arn for lanes in self.lane_queues.values() for q in lanes]
        self.scheduler_role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=lane_arns)
        )
        # The handler hands records back near its deadline and re-sends jobs (retries) to a lane.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"],
                resources=lane_arns,
            )
        )
        self._publish(config_queues)
        dead_letter_queues = [self.dead_letter_queue]
        if self.fifo_dead_letter_queue is not None:
            dead_letter_queues.append(self.fifo_dead_letter_queue)
        self.monitoring = BackendMonitoring(
            self,
            "Monitoring",
            props=monitoring,
            backend=self.backend,
            queue_names=[queue.name for queue in self.queues],
            dead_letter_queues=dead_letter_queues,
            lane_queues=[(name, q) for name, lanes in self.lane_queues.items() for q in lanes],
            functions=self.functions,
        )

    def _lanes(self, queue: JobQueue, function: lambda_.DockerImageFunction) -> list[sqs.Queue]:
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
            suffix = "" if len(queue.lanes) == 1 else f"-Lane{index + 1}"
            props: dict[str, Any] = {
                "visibility_timeout": Duration.seconds(visibility),
                "dead_letter_queue": sqs.DeadLetterQueue(
                    queue=dlq, max_receive_count=MAX_RECEIVE_COUNT
                ),
                "max_message_size_bytes": GOAT_MAX_PAYLOAD_BYTES,
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
            function.add_event_source(
                event_sources.SqsEventSource(
                    sqs_queue,
                    batch_size=queue.batch_size or DEFAULT_BATCH_SIZE,
                    max_batching_window=queue.max_batching_window,
                    report_batch_item_failures=True,
                    max_concurrency=queue.lane_concurrency(lane),
                )
            )
            lanes.append(sqs_queue)
        return lanes

    def grant_enqueue(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` enqueue jobs: exactly what the client needs, nothing else.

        ``sqs:SendMessage`` on every lane queue (also covers ``SendMessageBatch``),
        ``scheduler:CreateSchedule`` in this backend's schedule group (long or FIFO delays),
        ``iam:PassRole`` of the scheduler role to ``scheduler.amazonaws.com`` only, and
        ``ssm:GetParameter`` on the client-configuration parameter.
        """
        lane_arns = [q.queue_arn for lanes in self.lane_queues.values() for q in lanes]
        return self._grant(
            grantee,
            [
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=lane_arns),
                *self._enqueue_statements(),
            ],
        )


def _check_goat_queue(queue: JobQueue) -> None:
    where = f"JobQueue {queue.name!r}"
    if queue.retry_attempts is not None:
        raise JobBackendConfigError(
            f"{where} retry_attempts is a LambJobBackend setting (Lambda async retries); on "
            "GoatJobBackend use @task(retries=...)"
        )
    if queue.max_event_age is not None:
        raise JobBackendConfigError(
            f"{where} max_event_age is a LambJobBackend setting (Lambda async event age)"
        )
    for lane in queue.lanes:
        concurrency = queue.lane_concurrency(lane)
        if concurrency is not None and not (
            MIN_ESM_CONCURRENCY <= concurrency <= MAX_ESM_CONCURRENCY
        ):
            raise JobBackendConfigError(
                f"{where} max_concurrency must be in {MIN_ESM_CONCURRENCY}..{MAX_ESM_CONCURRENCY} "
                f"on GoatJobBackend (the event-source mapping's MaximumConcurrency), got "
                f"{concurrency} for priorities {lane.min_priority}..{lane.max_priority}"
            )
