"""Stand up one stack's resources in moto and describe what runs locally.

The template is the source of truth. Queues are created in moto with their template attributes
(delay, visibility, retention, maximum size, long-poll wait, redrive, FIFO, content-based
deduplication); SSM parameters, schedule groups and schedules (``AWS::Scheduler::Schedule``, the
recurring jobs) are created as written; DynamoDB tables (the job store) with their key schema,
billing mode, global secondary indexes and TTL attribute; functions, event-source mappings and
async-invoke configs are read into :mod:`~lambda_jobs_tools.emulator.topology` records with every
``Ref``/``Fn::GetAtt``/``Fn::Join``/``Fn::Sub``/``Fn::Select`` resolved to local values.

Physical names follow CloudFormation's habit (``<stack>-<logical id>`` when the template sets no
name) but without the random suffix, so a restart gives the same URLs. Resources the emulator does
not run (IAM, alarms, log groups, ...) still get a physical id and an ARN, so references to them
resolve, but nothing is created for them; the roles and policies are read into
``StackSpec.iam`` for the emulator's IAM checks (:mod:`~lambda_jobs_tools.emulator.iam`).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from lambda_jobs import aws
from lambda_jobs.config import SERVICES, ClientConfig

from lambda_jobs_tools.emulator import recursion
from lambda_jobs_tools.emulator.assembly import ImageAsset, StackArtifact
from lambda_jobs_tools.emulator.image import read_image
from lambda_jobs_tools.emulator.intrinsics import Resolver, UnresolvableError
from lambda_jobs_tools.emulator.topology import (
    DEFAULT_MAX_EVENT_AGE_SECONDS,
    DEFAULT_MAX_RETRY_ATTEMPTS,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_SECONDS,
    AsyncInvokeSpec,
    EventSourceMappingSpec,
    FunctionSpec,
    QueueSpec,
    StackSpec,
)

#: moto's default account: the ARNs it builds carry it, so ours do too.
ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


class ProvisionError(ValueError):
    """The template holds something the emulator cannot run; the message names the resource."""


def moto_config(moto_url: str, region: str) -> ClientConfig:
    """A client configuration whose every endpoint is the moto server (for :func:`aws.client`)."""
    return ClientConfig(backend="goat", region=region, endpoints=dict.fromkeys(SERVICES, moto_url))


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class StackProvisioner:
    """Creates one stack's resources in moto; :meth:`provision` returns its :class:`StackSpec`."""

    def __init__(self, artifact: StackArtifact, *, moto_url: str, region: str | None) -> None:
        self.artifact = artifact
        self.region = region or artifact.region or DEFAULT_REGION
        self.moto = moto_config(moto_url, self.region)
        template = artifact.template
        self.resources: dict[str, dict[str, Any]] = template.get("Resources") or {}
        self.parameters: dict[str, Any] = template.get("Parameters") or {}
        self.physical: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], Any] = {}
        self.tables: list[str] = []
        """DynamoDB tables created in moto (names)."""
        self.resolver = Resolver(self._ref, self._get_att, template.get("Conditions"))

    # -- lookups the resolver uses -------------------------------------------------------------

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.artifact.name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{ACCOUNT_ID}:stack/{self.artifact.name}/local"
            ),
            "AWS::NotificationARNs": [],
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            parameter = self.parameters[name]
            if "Default" not in parameter:
                raise KeyError(name)
            return parameter["Default"]
        return self.physical[name]

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        return self.attributes[(logical_id, attribute)]

    def resolve(self, value: Any, where: str) -> Any:
        try:
            return self.resolver.resolve(value)
        except UnresolvableError as exc:
            raise ProvisionError(f"stack {self.artifact.name}, {where}: {exc}") from exc

    # -- physical names ------------------------------------------------------------------------

    def _name_resources(self) -> None:
        stack = self.artifact.name
        for logical_id, resource in self.resources.items():
            kind = resource.get("Type", "")
            props = resource.get("Properties") or {}
            default = f"{stack}-{logical_id}"
            match kind:
                case "AWS::SQS::Queue":
                    fifo = bool(props.get("FifoQueue"))
                    name = props.get("QueueName")
                    if not isinstance(name, str):
                        name = default[: 75 if fifo else 80] + (".fifo" if fifo else "")
                    arn = f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{name}"
                    self.attributes[(logical_id, "Arn")] = arn
                    self.attributes[(logical_id, "QueueName")] = name
                    # The URL is known once moto created the queue; set in _create_queues.
                    self.physical[logical_id] = name
                case "AWS::Lambda::Function":
                    name = props.get("FunctionName")
                    if not isinstance(name, str):
                        name = default[:64]
                    self.physical[logical_id] = name
                    arn = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}"
                    self.attributes[(logical_id, "Arn")] = arn
                case "AWS::IAM::Role":
                    name = props.get("RoleName")
                    if not isinstance(name, str):
                        name = default[:64]
                    self.physical[logical_id] = name
                    self.attributes[(logical_id, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
                    self.attributes[(logical_id, "RoleId")] = f"AROA{logical_id.upper()[:17]}"
                case "AWS::Scheduler::ScheduleGroup":
                    name = props.get("Name")
                    if not isinstance(name, str):
                        name = default[:64]
                    self.physical[logical_id] = name
                    self.attributes[(logical_id, "Arn")] = (
                        f"arn:aws:scheduler:{self.region}:{ACCOUNT_ID}:schedule-group/{name}"
                    )
                case "AWS::DynamoDB::Table":
                    name = props.get("TableName")
                    if not isinstance(name, str):
                        name = default[:255]
                    self.physical[logical_id] = name
                    self.attributes[(logical_id, "Arn")] = (
                        f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{name}"
                    )
                case "AWS::SSM::Parameter":
                    name = props.get("Name")
                    if not isinstance(name, str):
                        name = f"CFN-{logical_id}"
                    self.physical[logical_id] = name
                case _:
                    self.physical[logical_id] = default
                    service = kind.split("::")[1].lower() if kind.count("::") == 2 else "local"
                    self.attributes[(logical_id, "Arn")] = (
                        f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{default}"
                    )

    def _of_type(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (logical_id, resource.get("Properties") or {})
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == kind
        ]

    # -- creation ------------------------------------------------------------------------------

    def _create_queues(self, spec: StackSpec) -> None:
        sqs = aws.client("sqs", self.moto)
        redrives: list[tuple[str, str, Any]] = []
        for logical_id, props in self._of_type("AWS::SQS::Queue"):
            where = f"queue {logical_id}"
            attributes = {
                key: _attribute_text(self.resolve(props[key], where))
                for key in _QUEUE_ATTRIBUTES
                if key in props
            }
            name = self.physical[logical_id]
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self.physical[logical_id] = url
            self.attributes[(logical_id, "QueueUrl")] = url
            spec.queues[logical_id] = QueueSpec(
                logical_id=logical_id,
                name=name,
                url=url,
                arn=self.attributes[(logical_id, "Arn")],
                fifo=attributes.get("FifoQueue") == "true",
                content_based_deduplication=attributes.get("ContentBasedDeduplication") == "true",
            )
            if "RedrivePolicy" in props:
                redrives.append((logical_id, url, props["RedrivePolicy"]))
        # Redrive refers to other queues: set it once every queue exists.
        for logical_id, url, policy in redrives:
            resolved = self.resolve(policy, f"queue {logical_id} RedrivePolicy")
            sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"RedrivePolicy": _attribute_text(resolved)}
            )

    def _create_schedule_groups(self, spec: StackSpec) -> None:
        groups = self._of_type("AWS::Scheduler::ScheduleGroup")
        if not groups:
            return
        scheduler = aws.client("scheduler", self.moto)
        for logical_id, _props in groups:
            name = self.physical[logical_id]
            with contextlib.suppress(scheduler.exceptions.ConflictException):
                scheduler.create_schedule_group(Name=name)
            spec.schedule_groups.append(name)

    def _create_schedules(self) -> None:
        """Each ``AWS::Scheduler::Schedule`` in moto, as CloudFormation would create it.

        moto refuses a recurring schedule whose ``StartDate`` lies more than 5 minutes in the
        past; such a start is left out (it has passed: the schedule is simply active).
        """
        schedules = self._of_type("AWS::Scheduler::Schedule")
        if not schedules:
            return
        from datetime import UTC, datetime, timedelta

        scheduler = aws.client("scheduler", self.moto)
        keys = ("Description", "ScheduleExpressionTimezone", "State", "FlexibleTimeWindow")
        for logical_id, raw in schedules:
            props = self.resolve(raw, f"schedule {logical_id}")
            request: dict[str, Any] = {
                "Name": props.get("Name") or self.physical[logical_id][:64],
                "GroupName": props.get("GroupName") or "default",
                "ScheduleExpression": props["ScheduleExpression"],
                "Target": props["Target"],
                **{key: props[key] for key in keys if key in props},
            }
            request.setdefault("FlexibleTimeWindow", {"Mode": "OFF"})
            for key in ("StartDate", "EndDate"):
                if key in props:
                    moment = datetime.fromisoformat(str(props[key]))
                    if key == "EndDate" or moment > datetime.now(UTC) - timedelta(minutes=4):
                        request[key] = moment
            with contextlib.suppress(scheduler.exceptions.ConflictException):
                scheduler.create_schedule(**request)
            self.physical[logical_id] = request["Name"]

    def _create_tables(self) -> None:
        """DynamoDB tables as the template has them: keys, billing, indexes and TTL."""
        tables = self._of_type("AWS::DynamoDB::Table")
        if not tables:
            return
        dynamodb = aws.client("dynamodb", self.moto)
        for logical_id, raw in tables:
            props = self.resolve(raw, f"table {logical_id}")
            name = self.physical[logical_id]
            kwargs: dict[str, Any] = {
                "TableName": name,
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": props.get("BillingMode", "PROVISIONED"),
            }
            if kwargs["BillingMode"] == "PROVISIONED":
                kwargs["ProvisionedThroughput"] = props.get(
                    "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
                )
            if props.get("GlobalSecondaryIndexes"):
                kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            try:
                dynamodb.create_table(**kwargs)
            except dynamodb.exceptions.ResourceInUseException:
                continue  # a restart against the same moto server: keep its items
            ttl = props.get("TimeToLiveSpecification") or {}
            if ttl.get("Enabled"):
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "Enabled": True,
                        "AttributeName": ttl["AttributeName"],
                    },
                )
            self.tables.append(name)

    def _create_parameters(self) -> None:
        parameters = self._of_type("AWS::SSM::Parameter")
        if not parameters:
            return
        ssm = aws.client("ssm", self.moto)
        for logical_id, props in parameters:
            value = self.resolve(props.get("Value"), f"SSM parameter {logical_id}")
            kind = str(props.get("Type", "String"))
            self.attributes[(logical_id, "Value")] = value
            self.attributes[(logical_id, "Type")] = kind
            ssm.put_parameter(
                Name=self.physical[logical_id], Value=str(value), Type=kind, Overwrite=True
            )

    def _functions(self, spec: StackSpec) -> None:
        for logical_id, props in self._of_type("AWS::Lambda::Function"):
            where = f"function {logical_id}"
            code = self.resolve(props.get("Code") or {}, where)
            image = self._image(logical_id, code)
            image_command, image_environment = read_image(image)
            image_config = self.resolve(props.get("ImageConfig") or {}, where)
            command = image_config.get("Command") or image_command
            variables = {
                **image_environment,
                **self.resolve((props.get("Environment") or {}).get("Variables") or {}, where),
            }
            reserved = props.get("ReservedConcurrentExecutions")
            spec.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                name=self.physical[logical_id],
                arn=self.attributes[(logical_id, "Arn")],
                timeout_seconds=float(
                    self.resolve(props.get("Timeout", DEFAULT_TIMEOUT_SECONDS), where)
                ),
                memory_mb=int(self.resolve(props.get("MemorySize", DEFAULT_MEMORY_MB), where)),
                environment={str(k): _attribute_text(v) for k, v in variables.items()},
                reserved_concurrency=(
                    None if reserved is None else int(self.resolve(reserved, where))
                ),
                code_dir=image.directory,
                command=[str(part) for part in command],
                stack=self.artifact.name,
                recursive_loop=str(
                    self.resolve(props.get("RecursiveLoop", recursion.DEFAULT_SETTING), where)
                ),
            )

    def _image(self, logical_id: str, code: dict[str, Any]) -> ImageAsset:
        image_uri = code.get("ImageUri")
        if isinstance(image_uri, str) and ":" in image_uri:
            tag = image_uri.rsplit(":", 1)[1]
            if tag in self.artifact.image_assets:
                return self.artifact.image_assets[tag]
        metadata = self.resources[logical_id].get("Metadata") or {}
        asset_path = metadata.get("aws:asset:path")
        if isinstance(asset_path, str):
            for asset in self.artifact.image_assets.values():
                if asset.directory.name == asset_path:
                    return asset
        raise ProvisionError(
            f"stack {self.artifact.name}, function {logical_id}: the emulator runs container-image "
            "functions whose image asset is staged in the assembly; this one has none "
            f"(Code: {sorted(code)})"
        )

    def _event_source_mappings(self, spec: StackSpec) -> None:
        by_arn = {q.arn: q for q in spec.queues.values()}
        by_name = {f.name: f for f in spec.functions.values()} | {
            f.arn: f for f in spec.functions.values()
        }
        for logical_id, raw in self._of_type("AWS::Lambda::EventSourceMapping"):
            props = self.resolve(raw, f"event-source mapping {logical_id}")
            queue = by_arn.get(str(props.get("EventSourceArn")))
            function = by_name.get(str(props.get("FunctionName")))
            if queue is None or function is None:
                raise ProvisionError(
                    f"stack {self.artifact.name}, event-source mapping {logical_id}: only SQS "
                    "queues and functions of the same stack are emulated"
                )
            scaling = props.get("ScalingConfig") or {}
            spec.event_source_mappings.append(
                EventSourceMappingSpec(
                    logical_id=logical_id,
                    function=function,
                    queue=queue,
                    batch_size=int(props.get("BatchSize", 10)),
                    batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    maximum_concurrency=(
                        int(scaling["MaximumConcurrency"])
                        if "MaximumConcurrency" in scaling
                        else None
                    ),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                    enabled=bool(props.get("Enabled", True)),
                )
            )

    def _async_invoke_configs(self, spec: StackSpec) -> None:
        by_name = {f.name: f for f in spec.functions.values()} | {
            f.arn: f for f in spec.functions.values()
        }
        for logical_id, raw in self._of_type("AWS::Lambda::EventInvokeConfig"):
            props = self.resolve(raw, f"event invoke config {logical_id}")
            function = by_name.get(str(props.get("FunctionName")))
            if function is None:
                raise ProvisionError(
                    f"stack {self.artifact.name}, event invoke config {logical_id}: function "
                    f"{props.get('FunctionName')!r} is not in the stack"
                )
            destinations = props.get("DestinationConfig") or {}
            spec.async_invoke[function.name] = AsyncInvokeSpec(
                max_retry_attempts=int(
                    props.get("MaximumRetryAttempts", DEFAULT_MAX_RETRY_ATTEMPTS)
                ),
                max_event_age_seconds=int(
                    props.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS)
                ),
                on_failure_arn=(destinations.get("OnFailure") or {}).get("Destination"),
                on_success_arn=(destinations.get("OnSuccess") or {}).get("Destination"),
            )

    def _client_configs(self, spec: StackSpec) -> None:
        """Every output or SSM parameter that holds a lambda-jobs client configuration."""
        candidates: list[tuple[str | None, Any]] = [
            (None, output.get("Value"))
            for output in (self.artifact.template.get("Outputs") or {}).values()
        ]
        candidates += [
            (self.physical[logical_id], value)
            for (logical_id, attribute), value in self.attributes.items()
            if attribute == "Value"
        ]
        seen: set[str] = set()
        for parameter, candidate in candidates:
            try:
                text = self.resolver.resolve(candidate)
            except UnresolvableError:
                continue
            if not isinstance(text, str) or not text.lstrip().startswith("{"):
                continue
            try:
                document = json.loads(text)
            except ValueError:
                continue
            if not isinstance(document, dict) or document.get("backend") not in ("goat", "lamb"):
                continue
            if parameter is not None:
                spec.config_parameters[parameter] = document
            key = json.dumps(document, sort_keys=True)
            if key not in seen:
                seen.add(key)
                spec.client_configs.append(document)

    def _read_iam(self, spec: StackSpec) -> None:
        from lambda_jobs_tools.emulator.iam.policies import read_stack_iam

        spec.iam = read_stack_iam(
            self.resources,
            self.resolve,
            self.attributes,
            {
                self.physical[logical_id]: (logical_id, props.get("Role"))
                for logical_id, props in self._of_type("AWS::Lambda::Function")
            },
            {queue.url: queue.arn for queue in spec.queues.values()},
        )

    def provision(self) -> StackSpec:
        spec = StackSpec(name=self.artifact.name, region=self.region)
        self._name_resources()
        self._create_queues(spec)
        self._create_schedule_groups(spec)
        self._create_schedules()
        self._create_tables()
        self._create_parameters()
        self._functions(spec)
        self._read_iam(spec)
        self._event_source_mappings(spec)
        self._async_invoke_configs(spec)
        self._client_configs(spec)
        return spec
