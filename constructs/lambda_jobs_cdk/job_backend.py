"""``JobBackend``: the props both backends take, and what they share — DLQ, scheduler, roles,
functions, client config, ``grant_enqueue`` and monitoring.

``GoatJobBackend`` and ``LambJobBackend`` subclass it and define no constructor of their own:
every prop is declared, defaulted, checked and documented once, in ``JobBackend.__init__``. The
constructor creates, in this order:

- the dead-letter queue (SSE-SQS, TLS-only policy, 14-day retention, 1 MiB messages so that any
  job body fits) that the handler writes failed jobs to;
- an EventBridge Scheduler schedule group and the role its schedules assume (trusting
  ``scheduler.amazonaws.com`` for this account and group only), allowed exactly the subclass's
  lane statement (``_lane_statement``: send to the lane queues, or invoke the lane functions);
- one execution role for all functions of the backend, with only the statements each backend adds
  (every resource named; the schedule ARN pattern is the one unavoidable wildcard);
- the subclass's lanes and functions (``_provision``, using ``_new_function``: one image, one
  environment contract, one ``RecursiveLoop`` setting);
- the recurring schedules (``schedules``, :mod:`lambda_jobs_cdk.recurring`): one
  ``AWS::Scheduler::Schedule`` each in the same group, targeting the lane of its queue and
  priority (``schedule_target``), dead-lettering to the DLQ;
- the client configuration (``_publish``: the token, the SSM parameter and the stack output, all
  holding the same JSON) and the alarms and dashboard (``lambda_jobs_cdk.alarms``).

``grant_enqueue`` is the lane statement plus what every sender needs (``_enqueue_statements``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, cast

from aws_cdk import (
    Annotations,
    Aws,
    CfnOutput,
    CfnResource,
    Duration,
    Names,
    RemovalPolicy,
    Stack,
    Token,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from lambda_jobs.contract import (
    SQS_MAX_MESSAGE_BYTES,
    client_config_document,
    lane_document,
)

from constructs import Construct, Node
from lambda_jobs_cdk.alarms import BackendMonitoring, JobMonitoring, check_monitoring
from lambda_jobs_cdk.job_code import JobCode
from lambda_jobs_cdk.job_queue import JobQueue, PriorityLane, check_queue_names
from lambda_jobs_cdk.job_store import (
    CLIENT_ACTIONS,
    FUNCTION_ACTIONS,
    JobStore,
    JobTable,
    check_job_store,
)
from lambda_jobs_cdk.recurring import JobSchedule, check_schedules, provision_schedules
from lambda_jobs_cdk.upgrades import Stateful, register
from lambda_jobs_cdk.validation import (
    JobBackendConfigError,
    check_environment,
    check_function_timeout,
    check_memory_size,
    check_recursive_loop,
    is_token,
)

DEAD_LETTER_RETENTION = Duration.days(14)
DEFAULT_RECURSIVE_LOOP = lambda_.RecursiveLoop.ALLOW
"""Lambda's own default is ``Terminate``; a job system's tasks enqueue tasks
(docs/guide/backends.md, "Recursive loop detection")."""
DEFAULT_TIMEOUT = Duration.minutes(5)
DEFAULT_MEMORY_MB = 512
DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
DEFAULT_REMOVAL_POLICY = RemovalPolicy.RETAIN
"""What CloudFormation does with a queue, dead-letter queue or schedule group that leaves the
stack or is replaced: keep it with its jobs (aws-cdk-lib's own default is ``DESTROY`` for
``sqs.Queue`` and ``RETAIN`` for ``dynamodb.Table``; a job queue holds data like a table does)."""


class JobBackend(Construct):
    """Base of ``GoatJobBackend`` and ``LambJobBackend``; not used directly.

    Both backends take exactly these props (all keyword-only; every default is here):

    :param scope: the parent construct.
    :param id: the construct id.
    :param code: the job image, ``JobCode.from_directory(path, tasks=[...])``. Required.
    :param queues: the logical queues (``JobQueue``), at least one, names unique. Default: one
        ``JobQueue("default")``. A queue prop of the other backend is refused naming it.
    :param timeout: function timeout of queues that do not set their own, 1..900 s. Default 5 min.
    :param memory_size: function memory (MiB) of queues that do not set their own, 128..10240.
        Default 512.
    :param environment: extra environment variables for every function (not the reserved
        ``LAMBDA_JOBS_*`` ones the construct sets). Default: none.
    :param log_retention: retention of each function's log group. Default one month.
    :param parameter_name: name of the SSM parameter holding the client configuration. Default
        ``/lambda-jobs/<unique construct name>/client-config``. A token (a ``CfnParameter``'s
        value) must resolve to a full path starting with ``/``.
    :param schedules: recurring jobs (``JobSchedule``: cron or rate), each one EventBridge
        Scheduler schedule; names unique, task modules among ``code``'s, queues of this backend.
        Default: none.
    :param monitoring: alarms (DLQ not empty, oldest message age per lane on Goat, function errors
        and throttles), an optional SNS topic and a dashboard; see ``JobMonitoring`` and
        ``lambda_jobs_cdk.alarms`` for each one's monthly cost. Default: all on, no topic.
    :param recursive_loop: every function's Lambda recursive loop detection setting
        (``aws_lambda.RecursiveLoop``). ``ALLOW`` lets a task enqueue its own follow-up on the same
        backend any number of times; ``TERMINATE`` (Lambda's own default) makes Lambda stop a
        chain of jobs after about 16 hops through SQS or Lambda. Default ``ALLOW``. lambda-jobs'
        own hand-backs and retries never count as hops (docs/guide/backends.md).
    :param job_store: a DynamoDB table recording each job's status and result (run-once
        execution, unique jobs, cancellation, Django ``get_result``); see ``JobStore`` and
        ``lambda_jobs_cdk.job_store``. Default None: no table, and the runtime makes no DynamoDB
        call.
    :param removal_policy: CloudFormation's ``DeletionPolicy`` and ``UpdateReplacePolicy`` of
        every lane queue, dead-letter queue and the schedule group (the job table has
        ``JobStore.removal_policy``). Default ``RETAIN``: a queue that leaves the stack, or is
        replaced, is kept with its jobs; ``DESTROY`` suits throwaway stacks
        (docs/reference/constructs.md, "Upgrading a backend").

    Attributes callers may rely on: ``code``, ``queues`` (the ``JobQueue`` objects), ``timeout``,
    ``memory_size``, ``dead_letter_queue``, ``schedule_group_name``, ``scheduler_role``, ``role``
    (the functions' execution role), ``functions``, ``parameter`` (the SSM parameter),
    ``parameter_name``, ``client_config``, ``monitoring`` (its ``alarms`` and ``dashboard``),
    ``schedules`` (the ``JobSchedule`` objects), ``schedule_resources`` (their ``CfnSchedule``),
    ``recursive_loop`` and ``job_table`` (the ``JobTable``, or None; its ``table`` is the DynamoDB
    table).
    """

    backend: ClassVar[str]
    refused_queue_props: ClassVar[Mapping[str, str]]
    """``JobQueue`` props of the other backend -> why they are refused here (the message's end)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        code: JobCode,
        queues: Sequence[JobQueue] | None = None,
        timeout: Duration | None = None,
        memory_size: int | float | None = None,  # float: a CfnParameter token
        environment: Mapping[str, str] | None = None,
        log_retention: logs.RetentionDays | None = None,
        parameter_name: str | None = None,
        monitoring: JobMonitoring | None = None,
        schedules: Sequence[JobSchedule] | None = None,
        recursive_loop: lambda_.RecursiveLoop | None = None,
        job_store: JobStore | None = None,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        monitoring = check_monitoring(monitoring)
        job_store = check_job_store(job_store)
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
        if schedules is not None and (
            isinstance(schedules, str) or not isinstance(schedules, Sequence)
        ):
            raise JobBackendConfigError("schedules must be a list of JobSchedule")
        self.schedules: tuple[JobSchedule, ...] = tuple(schedules or ())
        check_schedules(self, self.schedules)
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        check_function_timeout("timeout", self.timeout)
        self.memory_size = memory_size if memory_size is not None else DEFAULT_MEMORY_MB
        check_memory_size("memory_size", self.memory_size)
        self.environment = check_environment(environment)
        self.log_retention = log_retention if log_retention is not None else DEFAULT_LOG_RETENTION
        self.recursive_loop = check_recursive_loop(recursive_loop, DEFAULT_RECURSIVE_LOOP)
        self.functions: list[lambda_.DockerImageFunction] = []
        if removal_policy is not None and not isinstance(removal_policy, RemovalPolicy):
            raise JobBackendConfigError(
                f"removal_policy must be an aws_cdk.RemovalPolicy, got {removal_policy!r}"
            )
        self.removal_policy = (
            removal_policy if removal_policy is not None else DEFAULT_REMOVAL_POLICY
        )

        warning = cdk_nag_warning(_installed("cdk-nag"))
        if warning is not None:
            Annotations.of(self).add_warning_v2("lambda-jobs:cdk-nag-2", warning)
        unique = Names.unique_resource_name(self, max_length=64, separator="-")
        self.dead_letter_queue = new_queue(
            self, "DeadLetterQueue", retention_period=DEAD_LETTER_RETENTION
        )
        self.keep(self.dead_letter_queue, "dead-letter queue", "every dead-lettered job in it")
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
        self.keep(
            group,
            "schedule group",
            "every schedule in it (pending delayed jobs, retries waiting for their backoff)",
            create_only={"Name": unique},
        )
        self.schedule_group = group
        self.schedule_group_arn = group.attr_arn
        self.schedules_arn = Stack.of(self).format_arn(
            service="scheduler", resource="schedule", resource_name=f"{unique}/*"
        )
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            description="Assumed by lambda-jobs schedules to deliver delayed and recurring jobs",
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
        # SendMessage alone: the function has the DLQ's URL (LAMBDA_JOBS_DLQ_URL), so the
        # GetQueueUrl and GetQueueAttributes that grant_send_messages adds are never used.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]
            )
        )
        self.job_table: JobTable | None = None
        if job_store is not None:
            self.job_table = JobTable(self, "JobStore", props=job_store)
            self.job_table.grant(self.role, FUNCTION_ACTIONS)
            table = self.job_table.table.node.default_child
            assert isinstance(table, CfnResource)
            register(
                Stack.of(self),
                Stateful(table, f"job table of {self.node.path}", "every job's status and result"),
            )
        self.parameter_name = (
            parameter_name if parameter_name is not None else f"/lambda-jobs/{unique}/client-config"
        )
        self.parameter: ssm.StringParameter | None = None
        self.client_config = ""

        for queue in self.queues:
            self._check_queue(queue)
        config_queues = self._provision()
        self.scheduler_role.add_to_policy(self._lane_statement())
        # Every schedule, one-time ones included, dead-letters to the (standard) DLQ: Scheduler
        # sends with the schedule's role ("Configuring a schedule's dead-letter queue").
        self.scheduler_role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]
            )
        )
        self.schedule_resources = provision_schedules(self, self.schedules)
        if self.job_table is not None:
            # Workflows (docs/guide/workflows.md): the function that completes a stage enqueues
            # the next one (with the members' results, read by BatchGetItem): what
            # grant_enqueue gives. The lanes go in a policy of their own: Lamb's lanes are this
            # role's functions, which depend on the role's default policy (a cycle there).
            iam.Policy(
                self, "WorkflowLanes", roles=[self.role], statements=[self._lane_statement()]
            )
            self._grant(
                self.role,
                [
                    *self._enqueue_statements(),
                    iam.PolicyStatement(
                        actions=["scheduler:DeleteSchedule"], resources=[self.schedules_arn]
                    ),
                ],
            )
            self.job_table.grant(self.role, CLIENT_ACTIONS)
        self._publish(config_queues)
        self.monitoring = BackendMonitoring(
            self,
            "Monitoring",
            props=monitoring,
            backend=self.schedule_group_name,
            queue_names=[queue.name for queue in self.queues],
            dead_letter_queues=self._dead_letter_queues(),
            lane_queues=self._monitored_lane_queues(),
            functions=self.functions,
        )

    def keep(
        self,
        resource: Any,
        what: str,
        lost: str,
        *,
        create_only: Mapping[str, Any] | None = None,
        policy: bool = True,
    ) -> None:
        """Give ``resource`` (an L2 or its ``CfnResource``) this backend's removal policy and
        enter it in the stack's lock of stateful resources (:mod:`lambda_jobs_cdk.upgrades`)."""
        cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
        assert isinstance(cfn, CfnResource)
        if policy:
            cfn.apply_removal_policy(self.removal_policy)
        register(
            Stack.of(self),
            Stateful(cfn, f"{what} of {self.node.path}", lost, dict(create_only or {})),
        )

    # What a backend defines: its lanes, the statement that reaches them, and its own checks.

    def _provision(self) -> dict[str, Any]:
        """Create the lanes and their functions; return the client configuration's ``queues``.

        ``queues`` maps each queue name to ``{"fifo": bool, "lanes": [lane_entry(...), ...]}``.
        """
        raise NotImplementedError

    def _lane_statement(self) -> iam.PolicyStatement:
        """What reaches every lane: granted to the scheduler role and by ``grant_enqueue``."""
        raise NotImplementedError

    def schedule_target(self, queue_name: str, priority: int) -> tuple[str, bool]:
        """``(target ARN, is a FIFO queue)`` of the lane of ``queue_name`` serving ``priority``."""
        raise NotImplementedError

    def _lane_index(self, queue_name: str, priority: int) -> int:
        """Index in ``JobQueue.lanes`` of the lane of ``queue_name`` that serves ``priority``."""
        queue = next(q for q in self.queues if q.name == queue_name)
        return next(
            index
            for index, lane in enumerate(queue.lanes)
            if lane.min_priority <= priority <= lane.max_priority
        )

    def _check_queue(self, queue: JobQueue) -> None:
        """Refuse ``queue`` if it sets a prop of the other backend; subclasses check more."""
        for prop in queue.props_set(tuple(self.refused_queue_props)):
            raise JobBackendConfigError(
                f"JobQueue {queue.name!r} {prop} is {self.refused_queue_props[prop]}"
            )

    def _dead_letter_queues(self) -> list[sqs.IQueue]:
        """The dead-letter queues the alarms and dashboard watch."""
        return [self.dead_letter_queue]

    def _monitored_lane_queues(self) -> list[tuple[str, sqs.IQueue]]:
        """(queue name, SQS queue) of every lane that holds messages (Goat's), for the alarms."""
        return []

    def grant_enqueue(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` enqueue jobs: exactly what the client needs, nothing else.

        The lane statement (Goat: ``sqs:SendMessage`` on every lane queue, which also covers
        ``SendMessageBatch``; Lamb: ``lambda:InvokeFunction`` on every lane function),
        ``scheduler:CreateSchedule`` in this backend's schedule group (delayed jobs; with a job
        store also ``scheduler:DeleteSchedule``: cancelling a delayed job deletes its schedule),
        ``iam:PassRole`` of the scheduler role to ``scheduler.amazonaws.com`` only, and
        ``ssm:GetParameter`` on the client-configuration parameter; with a job store also
        ``dynamodb:PutItem``, ``GetItem``, ``UpdateItem`` and ``DeleteItem`` on its table.
        """
        statements = [self._lane_statement(), *self._enqueue_statements()]
        if self.job_table is not None:
            statements.append(
                iam.PolicyStatement(
                    actions=["scheduler:DeleteSchedule"], resources=[self.schedules_arn]
                )
            )
        grant = self._grant(grantee, statements)
        if self.job_table is not None:
            grant = grant.combine(self.job_table.grant(grantee, CLIENT_ACTIONS))
        return _granted("grant_enqueue", grantee, grant)

    def grant_read_jobs(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` (an operator's role) read jobs and list failures per task
        (``lambda-jobs jobs show`` / ``jobs failures``): ``dynamodb:GetItem`` and ``Query`` on the
        job table and its ``failures`` index. Needs a job store."""
        if self.job_table is None:
            raise JobBackendConfigError("grant_read_jobs needs job_store=JobStore(...)")
        return _granted("grant_read_jobs", grantee, self.job_table.grant_query_failures(grantee))

    def grant_operate(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` (an operator's role) run every operations command, nothing more.

        ``dlq list|show|redrive|purge``: ``sqs:ReceiveMessage``, ``ChangeMessageVisibility``,
        ``DeleteMessage``, ``GetQueueAttributes`` and ``PurgeQueue`` on the dead-letter queues;
        redrive re-enqueues, so what ``grant_enqueue`` gives; ``status``:
        ``sqs:GetQueueAttributes`` on the lane queues, ``cloudwatch:GetMetricStatistics`` and
        ``scheduler:ListSchedules``; ``schedules``: ``scheduler:GetSchedule`` in the schedule
        group; ``jobs``: ``grant_read_jobs`` when there is a job store. ``ListSchedules`` and
        ``GetMetricStatistics`` have no resource-level form (Resource ``*``, acknowledged).
        """
        dead_letters = [queue.queue_arn for queue in self._dead_letter_queues()]
        lanes = [queue.queue_arn for _name, queue in self._monitored_lane_queues()]
        statements = [
            iam.PolicyStatement(
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:PurgeQueue",
                ],
                resources=dead_letters,
            ),
            iam.PolicyStatement(actions=["scheduler:GetSchedule"], resources=[self.schedules_arn]),
            iam.PolicyStatement(
                actions=["scheduler:ListSchedules", "cloudwatch:GetMetricStatistics"],
                resources=["*"],
            ),
        ]
        if lanes:
            statements.append(
                iam.PolicyStatement(actions=["sqs:GetQueueAttributes"], resources=lanes)
            )
        grant = self.grant_enqueue(grantee).combine(self._grant(grantee, statements))
        principal = grantee.grant_principal
        if isinstance(principal, Construct):
            Validations.of(principal).acknowledge(
                _ack(
                    "AwsSolutions-IAM5[Resource::*]",
                    "scheduler:ListSchedules and cloudwatch:GetMetricStatistics have no "
                    "resource-level permissions (Service Authorization Reference): only '*' "
                    "can name them.",
                )
            )
        if self.job_table is not None:
            grant = grant.combine(self.grant_read_jobs(grantee))
        return grant

    def _new_function(
        self,
        id: str,
        *,
        description: str,
        timeout: Duration,
        memory_size: int | float,
        reserved_concurrency: int | float | None = None,
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
            # The metrics' backend dimension: this backend's own name (two backends of one
            # account and region would otherwise mix their metrics, alarms and dashboards).
            "LAMBDA_JOBS_METRICS_BACKEND": self.schedule_group_name,
        }
        if self.job_table is not None:
            environment["LAMBDA_JOBS_JOB_TABLE"] = self.job_table.table.table_name
            environment["LAMBDA_JOBS_JOB_TTL_SECONDS"] = str(self.job_table.ttl_seconds)
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
            recursive_loop=self.recursive_loop,
        )
        self.functions.append(function)
        return function

    def _publish(self, queues: Mapping[str, Mapping[str, Any]]) -> None:
        """Publish the client configuration: the token, the SSM parameter and the stack output.

        ``queues`` maps each queue name to ``{"fifo": bool, "lanes": [...]}``
        (docs/reference/wire-formats.md).
        """
        fifo_dlq = None
        for extra in self._dead_letter_queues()[1:]:  # Goat's FIFO crash-net DLQ (optional key)
            fifo_dlq = (extra.queue_url, extra.queue_arn)
        table = self.job_table
        document = client_config_document(
            backend=self.backend,
            region=Stack.of(self).region,
            queues=queues,
            dead_letter_queue=(self.dead_letter_queue.queue_url, self.dead_letter_queue.queue_arn),
            scheduler=(self.schedule_group_name, self.scheduler_role.role_arn),
            fifo_dead_letter_queue=fifo_dlq,
            job_store=None if table is None else (table.table.table_name, table.ttl_seconds),
        )
        self.client_config = Stack.of(self).to_json_string(document)
        self.parameter = ssm.StringParameter(
            self,
            "ClientConfigParameter",
            parameter_name=self.parameter_name,
            # aws-cdk-lib needs to be told a token name's form; ours is a full path.
            simple_name=False if is_token(self.parameter_name) else None,
            string_value=self.client_config,
            description=f"lambda-jobs client configuration ({self.backend} backend)",
            tier=parameter_tier(document),
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
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self._parameter_arn()]),
        ]

    def _parameter_arn(self) -> str:
        """The client-configuration parameter's ARN; a token name is a full path ("/a/b")."""
        if is_token(self.parameter_name):
            name = self.parameter_name
            return f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{name}"
        return Stack.of(self).format_arn(
            service="ssm", resource="parameter", resource_name=self.parameter_name.lstrip("/")
        )

    def _grant(
        self, grantee: iam.IGrantable, statements: Sequence[iam.PolicyStatement]
    ) -> iam.Grant:
        principal = grantee.grant_principal
        scope = _construct(principal)
        if scope is not None:
            self._acknowledge_schedule_wildcard(scope)
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
        """``schedule/<group>/*`` is the narrowest ARN that can name a job's schedule.

        cdk-nag names the finding after the resource as the template of ``scope``'s stack spells
        it: pseudo parameters as ``<AWS::Region>`` in an environment-agnostic stack, the literal
        region and account in a stack with an ``env``; the acknowledgment is built the same way.
        """
        resolved = Stack.of(scope).resolve(self.schedules_arn)
        Validations.of(scope).acknowledge(
            _ack(
                f"AwsSolutions-IAM5[Resource::{_nag_text(resolved)}]",
                "One-time schedules are named after each job at run time, so only the "
                "schedule group's ARN pattern can name them; the group holds nothing else.",
            )
        )


_POLICY_HOLDERS = (iam.CfnRole, iam.CfnPolicy, iam.CfnUser, iam.CfnGroup, iam.CfnManagedPolicy)


def _granted(method: str, grantee: iam.IGrantable, grant: iam.Grant) -> iam.Grant:
    """``grant``, or raise when it put its statements nowhere.

    The grants are identity policies (the queues, functions and table carry no resource policy
    for the app). A principal without one (an account, a service) makes ``Grant.success``
    false; an imported role CDK may not change (``Role.from_role_arn(..., mutable=False)``, or a
    role of another account than its stack's, which CDK imports immutable) reports success and
    keeps nothing, so the check is that the principal now holds an IAM resource of this app.
    """
    principal = grantee.grant_principal
    if not grant.success:
        raise JobBackendConfigError(
            f"{method}: {_describe(principal)} has no identity policy to add the statements to (an "
            "account or service principal); grant to a role or user of the app's account"
        )
    scope = _construct(principal)
    node = scope.node if scope is not None else None
    if node is not None and not any(isinstance(c, _POLICY_HOLDERS) for c in node.find_all()):
        arn = getattr(principal, "role_arn", None) or node.path
        raise JobBackendConfigError(
            f"{method}: {node.path} ({arn}) is an imported role that CDK does not "
            "change (Role.from_role_arn with mutable=False, or a role of another account than "
            "its stack's), so no policy would grant it anything; import it mutable in a stack "
            "of its own account, or add the statements where the role is defined"
        )
    return grant


def _construct(principal: iam.IPrincipal) -> Construct | None:
    """``principal`` as a construct (a role, user or group of the app), else None (an account
    or service principal). Imported roles come back from jsii as interface proxies, not
    ``Construct`` instances, so this looks for a construct ``node``."""
    node = getattr(principal, "node", None)
    return cast(Construct, principal) if isinstance(node, Node) else None


def _describe(principal: iam.IPrincipal) -> str:
    """``AccountPrincipal(222222222222)`` and the like (jsii's ``toString``)."""
    to_string = getattr(principal, "to_string", None)
    return str(to_string()) if callable(to_string) else repr(principal)


def _nag_text(value: Any) -> str:
    """A resolved template value as cdk-nag writes it in a finding id (``Fn::Join`` joined,
    ``{"Ref": X}`` as ``<X>``, ``Fn::GetAtt`` as ``<Id.Attr>``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_nag_text(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return json.dumps(value)


STANDARD_TIER_MAX_CHARS = 4096
"""Standard SSM parameters hold at most 4,096 characters (SSM's ``ValidationException``: "Standard
tier parameters support a maximum parameter value of 4096 characters"; Advanced: 8 KB)."""
_REGION, _ACCOUNT, _PARTITION, _DOMAIN = 16, 12, 10, len("amazonaws.com.cn")
_QUEUE_URL = len("https://sqs..") + _REGION + _DOMAIN + 1 + _ACCOUNT + 1 + 80
_QUEUE_ARN = len("arn::sqs:::") + _PARTITION + _REGION + _ACCOUNT + 80
_FUNCTION_ARN = len("arn::lambda:::function:") + _PARTITION + _REGION + _ACCOUNT + 64
_WORST_CASE = {
    "target": max(_QUEUE_URL, _FUNCTION_ARN),
    "arn": max(_QUEUE_ARN, _FUNCTION_ARN),
    "url": _QUEUE_URL,
    "role_arn": len("arn::iam:::role/") + _PARTITION + _ACCOUNT + 64,
    "table": 255,
    "region": _REGION,
}
"""Longest value CloudFormation can give each token of the document (keys of the wire-formats
schema): the services' name limits (SQS queue 80, Lambda function 64, IAM role 64, DynamoDB
table 255 characters), a 16-character region, a 10-character partition and a ``.com.cn`` domain."""


def worst_case_length(document: Any, key: str = "") -> int:
    """Characters of ``document`` as JSON once deployed, with every unresolved token (an ARN,
    URL, name or region) at its longest (``_WORST_CASE``, by the key that holds it)."""
    if isinstance(document, Mapping):
        items = [len(json.dumps(k)) + 1 + worst_case_length(v, k) for k, v in document.items()]
        return 2 + sum(items) + max(len(items) - 1, 0)
    if isinstance(document, list):
        items = [worst_case_length(v, key) for v in document]
        return 2 + sum(items) + max(len(items) - 1, 0)
    if isinstance(document, str) and Token.is_unresolved(document):
        return 2 + _WORST_CASE[key]
    return len(json.dumps(document))


def parameter_tier(document: Mapping[str, Any]) -> ssm.ParameterTier:
    """Standard when the client configuration surely fits 4,096 characters, else Advanced."""
    return (
        ssm.ParameterTier.STANDARD
        if worst_case_length(document) <= STANDARD_TIER_MAX_CHARS
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
        "max_message_size_bytes": SQS_MAX_MESSAGE_BYTES,
    }
    settings.update(props)
    if fifo:
        settings["fifo"] = True
    return sqs.Queue(scope, id, **settings)


def lane_suffix(queue: JobQueue, index: int) -> str:
    """The construct-id suffix of lane ``index`` of ``queue``: stable as lanes are added.

    The lane that serves priority 0 (every job's default) keeps the queue's own id, the id a
    one-lane queue has, so adding lanes keeps the existing queue (or Lamb function) as that lane.
    The others count outwards from it: ``-Up1`` is the next band above, ``-Down1`` the next below.
    Adding or splitting a lane adds an id at the far end; the existing ones keep theirs.
    """
    home = next(
        i for i, lane in enumerate(queue.lanes) if lane.min_priority <= 0 <= lane.max_priority
    )
    if index == home:
        return ""
    return f"-Up{index - home}" if index > home else f"-Down{home - index}"


def lane_entry(lane: PriorityLane, *, target: str, arn: str) -> dict[str, Any]:
    """One lane of the client configuration (:func:`lambda_jobs.contract.lane_document`)."""
    return lane_document(lane.min_priority, lane.max_priority, target, arn)


def _installed(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def cdk_nag_warning(version: str | None) -> str | None:
    """The synth warning for an app with cdk-nag older than 3 (``version``), else None.

    The constructs acknowledge their findings with ``Validations.of(...).acknowledge``, which
    cdk-nag 3 reads; cdk-nag 2's ``NagSuppressions`` does not, so its app would report them.
    """
    if version is None or not version.split(".")[0].isdigit() or int(version.split(".")[0]) >= 3:
        return None
    return (
        f"cdk-nag {version} does not read the acknowledgments of lambda-jobs-cdk (aws-cdk-lib "
        "Validations, cdk-nag 3); its AwsSolutions checks will report the findings listed in "
        "lambda-jobs-cdk's constructs reference. Upgrade to cdk-nag>=3.0.2 "
        "(pip install 'lambda-jobs-cdk[nag]')"
    )


def _ack(rule_id: str, reason: str) -> Any:
    from aws_cdk import Acknowledgment

    return Acknowledgment(id=rule_id, reason=reason)
