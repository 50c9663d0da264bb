"""``JobBackend``: what both backends share — DLQ, scheduler, role, functions, client config.

``GoatJobBackend`` and ``LambJobBackend`` subclass it. The base class creates, in this order:

- the dead-letter queue (SSE-SQS, TLS-only policy, 14-day retention, 1 MiB messages so that any
  job body fits) that the handler writes failed jobs to;
- an EventBridge Scheduler schedule group and the role its schedules assume (trusting
  ``scheduler.amazonaws.com`` for this account and group only); subclasses grant that role
  exactly the send/invoke on their lanes;
- one execution role for all functions of the backend, with only the statements each backend adds
  (every resource named; the schedule ARN pattern is the one unavoidable wildcard);

and offers ``_new_function`` (one image, one environment contract) and ``_publish`` (the client
configuration as a token, the SSM parameter and the stack output, all holding the same JSON).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from aws_cdk import Aws, CfnOutput, Duration, Names, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm

from constructs import Construct
from lambda_jobs_cdk.job_code import JobCode
from lambda_jobs_cdk.job_queue import (
    JobBackendConfigError,
    JobQueue,
    PriorityLane,
    check_function_timeout,
    check_memory_size,
    check_queue_names,
)

CONFIG_VERSION = 1
DEAD_LETTER_RETENTION = Duration.days(14)
MAX_SQS_MESSAGE_BYTES = 1024 * 1024
DEFAULT_MAX_DELAY_SECONDS = 365 * 24 * 60 * 60
"""Longest ``run_after`` the client accepts with a scheduler: one year (the runtime's default)."""
STANDARD_TIER_MAX_LANES = 10
"""Lanes whose client configuration surely fits a Standard SSM parameter (4 KB)."""
DEFAULT_TIMEOUT = Duration.minutes(5)
DEFAULT_MEMORY_MB = 512
RESERVED_ENVIRONMENT = (
    "LAMBDA_JOBS_TASKS",
    "LAMBDA_JOBS_DLQ_URL",
    "LAMBDA_JOBS_SCHEDULER_GROUP",
    "LAMBDA_JOBS_SCHEDULER_ROLE_ARN",
    "LAMBDA_JOBS_BACKEND",
)
"""Environment variables the construct sets on every function (the handler's contract)."""
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class JobBackend(Construct):
    """Base of ``GoatJobBackend`` and ``LambJobBackend``; not used directly.

    Attributes callers may rely on: ``code``, ``queues`` (the ``JobQueue`` objects),
    ``dead_letter_queue``, ``schedule_group_name``, ``scheduler_role``, ``role`` (the functions'
    execution role), ``functions``, ``parameter`` (the SSM parameter) and ``client_config``.
    """

    backend: ClassVar[str]
    default_max_payload_bytes: ClassVar[int]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        code: JobCode,
        queues: Sequence[JobQueue] | None,
        timeout: Duration | None,
        memory_size: int | None,
        environment: Mapping[str, str] | None,
        log_retention: logs.RetentionDays | None,
        parameter_name: str | None,
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(code, JobCode):
            raise JobBackendConfigError(
                "code must be a JobCode, e.g. JobCode.from_directory('app', tasks=['app.tasks'])"
            )
        self.code = code
        self.queues: tuple[JobQueue, ...] = (
            (JobQueue("default"),) if queues is None else tuple(queues)
        )
        check_queue_names(self.queues)
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        check_function_timeout("timeout", self.timeout)
        self.memory_size = memory_size if memory_size is not None else DEFAULT_MEMORY_MB
        check_memory_size("memory_size", self.memory_size)
        self.environment = _check_environment(environment)
        self.log_retention = (
            log_retention if log_retention is not None else logs.RetentionDays.ONE_MONTH
        )
        self.functions: list[lambda_.DockerImageFunction] = []

        unique = Names.unique_resource_name(self, max_length=64, separator="-")
        self.dead_letter_queue = new_queue(
            self, "DeadLetterQueue", retention_period=DEAD_LETTER_RETENTION
        )
        Validations.of(self.dead_letter_queue).acknowledge(
            _ack(
                "AwsSolutions-SQS3",
                "This queue is the backend's dead-letter queue: the handler (and, on Lamb, the "
                "async-invoke on-failure destination) writes failed jobs to it with their error. "
                "A dead-letter queue for it would only hide those jobs one level further away.",
            )
        )
        self.schedule_group_name = unique
        group = scheduler.CfnScheduleGroup(self, "ScheduleGroup", name=unique)
        self.schedule_group_arn = group.attr_arn
        self.schedules_arn = Stack.of(self).format_arn(
            service="scheduler", resource="schedule", resource_name=f"{unique}/*"
        )
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            description="Assumed by lambda-jobs one-time schedules to deliver delayed jobs",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": group.attr_arn},
                },
            ),
        )
        self.role = iam.Role(
            self,
            "FunctionRole",
            description="Execution role of the lambda-jobs functions of this backend",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        self.dead_letter_queue.grant_send_messages(self.role)
        self.parameter_name = (
            parameter_name if parameter_name is not None else f"/lambda-jobs/{unique}/client-config"
        )
        self.parameter: ssm.StringParameter | None = None
        self.client_config = ""

    def _new_function(
        self,
        id: str,
        *,
        description: str,
        timeout: Duration,
        memory_size: int,
        reserved_concurrency: int | None = None,
    ) -> lambda_.DockerImageFunction:
        """A function of this backend: the shared image, role and environment contract."""
        log_group = logs.LogGroup(self, f"{id}Logs", retention=self.log_retention)
        log_group.grant_write(self.role)
        environment = {
            **self.environment,
            "LAMBDA_JOBS_TASKS": self.code.tasks_value,
            "LAMBDA_JOBS_DLQ_URL": self.dead_letter_queue.queue_url,
            "LAMBDA_JOBS_SCHEDULER_GROUP": self.schedule_group_name,
            "LAMBDA_JOBS_SCHEDULER_ROLE_ARN": self.scheduler_role.role_arn,
            "LAMBDA_JOBS_BACKEND": self.backend,
        }
        function = lambda_.DockerImageFunction(
            self,
            id,
            code=self.code.image_code(),
            architecture=self.code.architecture,
            description=description,
            timeout=timeout,
            memory_size=memory_size,
            role=self.role,
            environment=environment,
            log_group=log_group,
            reserved_concurrent_executions=reserved_concurrency,
        )
        self.functions.append(function)
        return function

    def _publish(self, queues: Mapping[str, Mapping[str, Any]]) -> None:
        """Publish the client configuration: the token, the SSM parameter and the stack output.

        ``queues`` maps each queue name to ``{"fifo": bool, "lanes": [...]}`` (README schema).
        """
        document = {
            "version": CONFIG_VERSION,
            "backend": self.backend,
            "region": Stack.of(self).region,
            "queues": dict(queues),
            "dead_letter_queue": {
                "url": self.dead_letter_queue.queue_url,
                "arn": self.dead_letter_queue.queue_arn,
            },
            "scheduler": {
                "group": self.schedule_group_name,
                "role_arn": self.scheduler_role.role_arn,
            },
            "max_payload_bytes": self.default_max_payload_bytes,
            "max_delay_seconds": DEFAULT_MAX_DELAY_SECONDS,
        }
        self.client_config = Stack.of(self).to_json_string(document)
        self.parameter = ssm.StringParameter(
            self,
            "ClientConfigParameter",
            parameter_name=self.parameter_name,
            string_value=self.client_config,
            description=f"lambda-jobs client configuration ({self.backend} backend)",
            tier=parameter_tier(sum(len(q["lanes"]) for q in queues.values())),
        )
        CfnOutput(
            self,
            "ClientConfig",
            value=self.client_config,
            description="LAMBDA_JOBS_CONFIG for apps that enqueue jobs to this backend",
        )
        CfnOutput(
            self,
            "ClientConfigParameterName",
            value=self.parameter_name,
            description="LAMBDA_JOBS_CONFIG=ssm:<this name> reads the same document from SSM",
        )

    def _enqueue_statements(self) -> list[iam.PolicyStatement]:
        """What a sender needs besides the lanes: schedules, passing their role, the parameter."""
        return [
            iam.PolicyStatement(
                actions=["scheduler:CreateSchedule"], resources=[self.schedules_arn]
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.scheduler_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[
                    Stack.of(self).format_arn(
                        service="ssm",
                        resource="parameter",
                        resource_name=self.parameter_name.lstrip("/"),
                    )
                ],
            ),
        ]

    def _grant(
        self, grantee: iam.IGrantable, statements: Sequence[iam.PolicyStatement]
    ) -> iam.Grant:
        principal = grantee.grant_principal
        if isinstance(principal, Construct):
            self._acknowledge_schedule_wildcard(principal)
        grant: iam.Grant | None = None
        for statement in statements:
            one = iam.Grant.add_to_principal(
                grantee=grantee,
                actions=statement.actions,
                resource_arns=statement.resources,
                conditions=statement.conditions or None,
            )
            grant = one if grant is None else grant.combine(one)
        assert grant is not None
        return grant

    def _acknowledge_schedule_wildcard(self, scope: Construct) -> None:
        """``schedule/<group>/*`` is the narrowest ARN that can name a job's schedule."""
        pattern = (
            f"Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:"
            f"schedule/{self.schedule_group_name}/*"
        )
        Validations.of(scope).acknowledge(
            _ack(
                f"AwsSolutions-IAM5[{pattern}]",
                "One-time schedules are named after each job at run time, so only the "
                "schedule group's ARN pattern can name them; the group holds nothing else.",
            )
        )


def parameter_tier(lanes: int) -> ssm.ParameterTier:
    """Standard (4 KB) up to ``STANDARD_TIER_MAX_LANES`` lanes, else Advanced (8 KB).

    The document's length is only known after deploy (it holds ARNs and URLs); a lane takes up to
    about 330 characters of it, the rest about 600, so more lanes would not fit 4 KB.
    """
    return (
        ssm.ParameterTier.STANDARD
        if lanes <= STANDARD_TIER_MAX_LANES
        else ssm.ParameterTier.ADVANCED
    )


def new_queue(scope: Construct, id: str, *, fifo: bool = False, **props: Any) -> sqs.Queue:
    """An SQS queue with the settings every lambda-jobs queue shares.

    SSE with SQS-managed keys (no KMS cost or key grants), a TLS-only policy, 14-day retention
    (jobs never expire silently) and 1 MiB messages unless ``props`` say otherwise.
    """
    settings: dict[str, Any] = {
        "encryption": sqs.QueueEncryption.SQS_MANAGED,
        "enforce_ssl": True,
        "retention_period": Duration.days(14),
        "max_message_size_bytes": MAX_SQS_MESSAGE_BYTES,
    }
    settings.update(props)
    if fifo:
        settings["fifo"] = True
    return sqs.Queue(scope, id, **settings)


def lane_entry(lane: PriorityLane, *, target: str, arn: str) -> dict[str, Any]:
    """One lane of the client configuration (README "Client configuration")."""
    return {
        "min_priority": lane.min_priority,
        "max_priority": lane.max_priority,
        "target": target,
        "arn": arn,
    }


def _ack(rule_id: str, reason: str) -> Any:
    from aws_cdk import Acknowledgment

    return Acknowledgment(id=rule_id, reason=reason)


def _check_environment(environment: Mapping[str, str] | None) -> dict[str, str]:
    if environment is None:
        return {}
    checked: dict[str, str] = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise JobBackendConfigError(
                f"environment: {key!r} is not a valid variable name (letters, digits, '_', "
                "starting with a letter)"
            )
        if key in RESERVED_ENVIRONMENT:
            raise JobBackendConfigError(
                f"environment: {key} is set by the construct (reserved: "
                f"{', '.join(RESERVED_ENVIRONMENT)})"
            )
        if not isinstance(value, str):
            raise JobBackendConfigError(f"environment: {key} must be a string, got {value!r}")
        checked[key] = value
    return checked
