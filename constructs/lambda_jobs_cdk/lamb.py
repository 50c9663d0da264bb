"""``LambJobBackend``: jobs are asynchronous Lambda invocations; Lambda's own queue holds them.

One function per lane, all from one image. A lane's concurrency is the function's reserved
concurrency (how priority works here: a higher band gets more reserved workers). Each function's
async-invoke configuration keeps Lambda's own retries for crashes only (``MaximumRetryAttempts``,
default 2: task retries with backoff are run by the handler, re-invoking through EventBridge
Scheduler) and sends what still fails to the dead-letter queue (on-failure destination).

A function never references its own ARN (that would be a CloudFormation circular dependency):
the handler reads it from the Lambda context when it schedules a retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import jsii
from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from lambda_jobs_cdk.job_backend import JobBackend, lane_entry, lane_suffix
from lambda_jobs_cdk.job_queue import GOAT_ONLY_PROPS, JobQueue
from lambda_jobs_cdk.validation import JobBackendConfigError

DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE = Duration.hours(6)


class LambJobBackend(JobBackend):
    """A job backend on asynchronous Lambda invocations: one function per queue lane.

    Takes the props of :class:`~lambda_jobs_cdk.job_backend.JobBackend` (``code``, ``queues``,
    ``timeout``, ``memory_size``, ``environment``, ``log_retention``, ``parameter_name``,
    ``monitoring``). A queue's Goat-only props (``fifo``, ``delay``, ``batch_size``,
    ``max_batching_window``) are refused; its ``max_concurrency`` is each lane function's
    reserved concurrency (1..1000).

    Attributes: those of the base, plus ``lane_functions`` (queue name -> the function of each
    lane, lowest band first).
    """

    backend = "lamb"
    refused_queue_props: ClassVar[Mapping[str, str]] = {
        prop: (
            f"a GoatJobBackend (SQS) setting; LambJobBackend has no {prop} (use GoatJobBackend, "
            "or run_after=... per job for delays)"
        )
        for prop in GOAT_ONLY_PROPS
    }

    def _check_queue(self, queue: JobQueue) -> None:
        super()._check_queue(queue)
        for lane in queue.lanes:
            if lane.min_pollers is not None or lane.max_pollers is not None:
                raise JobBackendConfigError(
                    f"JobQueue {queue.name!r} PriorityLane {lane.min_priority}.."
                    f"{lane.max_priority} min_pollers/max_pollers are a GoatJobBackend (SQS "
                    "event-source mapping) setting; LambJobBackend has no pollers"
                )

    def _provision(self) -> dict[str, Any]:
        on_failure = _DeadLetterDestination(self.dead_letter_queue)
        self.lane_functions: dict[str, list[lambda_.DockerImageFunction]] = {}
        config_queues: dict[str, Any] = {}
        for queue in self.queues:
            functions = []
            for index, lane in enumerate(queue.lanes):
                suffix = lane_suffix(queue, index)
                function = self._new_function(
                    f"Function-{queue.name}{suffix}",
                    description=(
                        f"lambda-jobs Lamb worker for queue {queue.name}, priorities "
                        f"{lane.min_priority}..{lane.max_priority}"
                    ),
                    timeout=queue.timeout or self.timeout,
                    memory_size=queue.memory_size or self.memory_size,
                    reserved_concurrency=queue.lane_concurrency(lane),
                )
                function.configure_async_invoke(
                    retry_attempts=(
                        queue.retry_attempts
                        if queue.retry_attempts is not None
                        else DEFAULT_RETRY_ATTEMPTS
                    ),
                    max_event_age=queue.max_event_age or DEFAULT_MAX_EVENT_AGE,
                    on_failure=on_failure,
                )
                # Lambda's asynchronous queue of a function is the function's: replacing or
                # deleting it loses the events waiting in it. A retained function would outlive
                # its role and log group, so only the lock protects it (no removal policy).
                self.keep(
                    function,
                    f"function of queue {queue.name!r} lane {lane.min_priority}.."
                    f"{lane.max_priority}",
                    "every job waiting in its asynchronous-invoke queue",
                    policy=False,
                )
                functions.append(function)
            self.lane_functions[queue.name] = functions
            config_queues[queue.name] = {
                "fifo": False,
                "lanes": [
                    lane_entry(lane, target=fn.function_arn, arn=fn.function_arn)
                    for lane, fn in zip(queue.lanes, functions, strict=True)
                ],
            }
        # Task retries with backoff: the handler creates a one-time schedule that re-invokes.
        for statement in self._enqueue_statements()[:2]:
            self.role.add_to_policy(statement)
        self._acknowledge_schedule_wildcard(self.role)
        return config_queues

    def schedule_target(self, queue_name: str, priority: int) -> tuple[str, bool]:
        """The lane function's ARN (Scheduler invokes it asynchronously); never FIFO."""
        function = self.lane_functions[queue_name][self._lane_index(queue_name, priority)]
        return function.function_arn, False

    def _lane_statement(self) -> iam.PolicyStatement:
        function_arns = [fn.function_arn for fns in self.lane_functions.values() for fn in fns]
        return iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=function_arns)


@jsii.implements(lambda_.IDestination)
class _DeadLetterDestination:
    """The on-failure destination: the dead-letter queue, which the function role may already
    send to (:class:`~lambda_jobs_cdk.job_backend.JobBackend` grants ``sqs:SendMessage`` on it).

    CDK's ``SqsDestination`` would add ``GetQueueAttributes`` and ``GetQueueUrl`` as well, which
    Lambda does not use to deliver a record ("Capturing records of Lambda asynchronous
    invocations": the execution role needs ``sqs:SendMessage`` on the queue).
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(
        self,
        scope: Any,
        fn: lambda_.IFunction,
        *,
        type: lambda_.DestinationType | None = None,
    ) -> lambda_.DestinationConfig:
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)
