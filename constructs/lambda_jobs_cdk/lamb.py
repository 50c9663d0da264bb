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

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs

from constructs import Construct
from lambda_jobs_cdk.alarms import BackendMonitoring, JobMonitoring, check_monitoring
from lambda_jobs_cdk.backend import JobBackend, lane_entry
from lambda_jobs_cdk.job_code import JobCode
from lambda_jobs_cdk.job_queue import JobBackendConfigError, JobQueue

LAMB_MAX_PAYLOAD_BYTES = 1024 * 1024
"""Lambda's limit on an asynchronous invocation payload (the runtime's Lamb default)."""
DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE = Duration.hours(6)


class LambJobBackend(JobBackend):
    """A job backend on asynchronous Lambda invocations: one function per queue lane.

    :param scope: the parent construct.
    :param id: the construct id.
    :param code: the job image, ``JobCode.from_directory(path, tasks=[...])``. Required.
    :param queues: the logical queues. Default: one ``JobQueue("default")``. ``fifo``, ``delay``,
        ``batch_size`` and ``max_batching_window`` are Goat settings and are refused here.
    :param timeout: function timeout of queues that do not set their own, 1..900 s. Default 5 min.
    :param memory_size: function memory (MiB) of queues that do not set their own, 128..10240.
        Default 512.
    :param environment: extra environment variables for every function (not the reserved
        ``LAMBDA_JOBS_*`` ones the construct sets). Default: none.
    :param log_retention: retention of each function's log group. Default one month.
    :param parameter_name: name of the SSM parameter holding the client configuration. Default
        ``/lambda-jobs/<unique construct name>/client-config``.
    :param monitoring: alarms (DLQ not empty, function errors and throttles), an optional SNS topic
        and a dashboard; see ``JobMonitoring`` and ``lambda_jobs_cdk.alarms`` for each one's
        monthly cost. Default: all on, no topic.

    Attributes: those of the base (``dead_letter_queue``, ``scheduler_role``, ``role``,
    ``functions``, ``parameter``, ``client_config``, ...), ``monitoring`` (its ``alarms`` and
    ``dashboard``), plus ``lane_functions`` (queue name ->
    the function of each lane, lowest band first).
    """

    backend = "lamb"
    default_max_payload_bytes = LAMB_MAX_PAYLOAD_BYTES

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
            _check_lamb_queue(queue)
        on_failure = destinations.SqsDestination(self.dead_letter_queue)
        self.lane_functions: dict[str, list[lambda_.DockerImageFunction]] = {}
        config_queues: dict[str, Any] = {}
        for queue in self.queues:
            functions = []
            for index, lane in enumerate(queue.lanes):
                suffix = "" if len(queue.lanes) == 1 else f"-Lane{index + 1}"
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
                functions.append(function)
            self.lane_functions[queue.name] = functions
            config_queues[queue.name] = {
                "fifo": False,
                "lanes": [
                    lane_entry(lane, target=fn.function_arn, arn=fn.function_arn)
                    for lane, fn in zip(queue.lanes, functions, strict=True)
                ],
            }
        function_arns = [fn.function_arn for fns in self.lane_functions.values() for fn in fns]
        self.scheduler_role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=function_arns)
        )
        # Task retries with backoff: the handler creates a one-time schedule that re-invokes.
        for statement in self._enqueue_statements()[:2]:
            self.role.add_to_policy(statement)
        self._acknowledge_schedule_wildcard(self.role)
        self._publish(config_queues)
        self.monitoring = BackendMonitoring(
            self,
            "Monitoring",
            props=monitoring,
            backend=self.backend,
            queue_names=[queue.name for queue in self.queues],
            dead_letter_queues=[self.dead_letter_queue],
            lane_queues=[],
            functions=self.functions,
        )

    def grant_enqueue(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` enqueue jobs: exactly what the client needs, nothing else.

        ``lambda:InvokeFunction`` on every lane function, ``scheduler:CreateSchedule`` in this
        backend's schedule group (delayed jobs), ``iam:PassRole`` of the scheduler role to
        ``scheduler.amazonaws.com`` only, and ``ssm:GetParameter`` on the client-configuration
        parameter.
        """
        function_arns = [fn.function_arn for fns in self.lane_functions.values() for fn in fns]
        return self._grant(
            grantee,
            [
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=function_arns),
                *self._enqueue_statements(),
            ],
        )


def _check_lamb_queue(queue: JobQueue) -> None:
    where = f"JobQueue {queue.name!r}"
    goat_only = {
        "fifo": queue.fifo,
        "delay": queue.delay is not None,
        "batch_size": queue.batch_size is not None,
        "max_batching_window": queue.max_batching_window is not None,
    }
    for prop, is_set in goat_only.items():
        if is_set:
            raise JobBackendConfigError(
                f"{where} {prop} is a GoatJobBackend (SQS) setting; LambJobBackend has no "
                f"{prop} (use GoatJobBackend, or run_after=... per job for delays)"
            )
