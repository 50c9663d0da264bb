"""``lambda-jobs local``: everything the emulator runs, started and stopped together.

:class:`LocalCloud` reads the cloud assembly, starts a moto server, provisions each stack in it,
and starts one :class:`~lambda_jobs_tools.emulator.environments.FunctionPool` per function, the
event-source mapping pollers, the async invoke queues behind the Invoke API, and the scheduler;
unless ``iam`` is off, every SDK call goes through the IAM gateway that judges it as the
template's principal first (:mod:`~lambda_jobs_tools.emulator.iam`).
:meth:`LocalCloud.client_configs` then gives each backend's ``LAMBDA_JOBS_CONFIG`` document with
``endpoints`` pointing here. :meth:`LocalCloud.stop` ends every thread and child process it started
(moto, every execution environment, the SQS and Scheduler fronts).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_jobs import aws
from lambda_jobs.contract import SQS_MAX_MESSAGE_BYTES

from lambda_jobs_tools.emulator.assembly import read_assembly
from lambda_jobs_tools.emulator.async_queue import AsyncInvoker, record_over_limit, record_text
from lambda_jobs_tools.emulator.console_log import JobLog
from lambda_jobs_tools.emulator.environments import FunctionPool
from lambda_jobs_tools.emulator.esm import EventSourceMappingPoller
from lambda_jobs_tools.emulator.iam.local_iam import IamChecks
from lambda_jobs_tools.emulator.invoke_api import (
    MAX_ASYNC_PAYLOAD,
    InvokeApi,
    InvokeTarget,
    function_name,
)
from lambda_jobs_tools.emulator.motoserver import MotoServer
from lambda_jobs_tools.emulator.provision import StackProvisioner, moto_config
from lambda_jobs_tools.emulator.runtime_api import InvocationResult
from lambda_jobs_tools.emulator.scheduler import SchedulePoller
from lambda_jobs_tools.emulator.scheduler_front import SchedulerFront
from lambda_jobs_tools.emulator.sqs_front import SqsFront
from lambda_jobs_tools.emulator.topology import AsyncInvokeSpec, FunctionSpec, QueueSpec, StackSpec

#: Environments per function when the template reserves no concurrency. AWS's account default
#: is 1000; a laptop runs a handful of processes comfortably.
DEFAULT_CONCURRENCY = 4


def _mapping_concurrency(spec: StackSpec, function: FunctionSpec) -> int:
    """What the function's SQS mappings may run at once together (their MaximumConcurrency).

    An unreserved function on AWS draws from the account's pool, so its mappings' own limits are
    what bounds it; locally it gets at least that many environments so those limits hold.
    """
    return sum(
        mapping.maximum_concurrency or 0
        for mapping in spec.event_source_mappings
        if mapping.function is function and mapping.enabled
    )


@dataclass(slots=True, kw_only=True)
class LocalOptions:
    """What ``lambda-jobs local`` takes on its command line (see :mod:`lambda_jobs_tools.cli`)."""

    app: Path
    stacks: list[str] = field(default_factory=list)
    region: str | None = None
    async_retry_scale: float = 1.0
    default_concurrency: int = DEFAULT_CONCURRENCY
    function_environment: dict[str, str] = field(default_factory=dict)
    """Extra variables for every function (``--env NAME=VALUE``), over the template's."""
    show_function_output: bool = True
    scheduler_interval: float = 0.5
    schedule_clock_scale: float = 1.0
    """Recurring schedules' clock runs this many times faster than real time (tests, demos)."""
    iam: bool = True
    """Judge every AWS call as the template's principal (``--no-iam`` turns it off)."""
    iam_report: Path | None = None
    """Where to write the least-privilege report when stopping (``--iam-report``)."""
    caller_role: str | None = None
    """The role that callers signing with keys the emulator does not know act as."""


class LocalCloud:
    """The running emulator; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, options: LocalOptions, log: JobLog | None = None) -> None:
        self.options = options
        self.log = log or JobLog()
        self.stop_event = threading.Event()
        self.moto: MotoServer | None = None
        self.sqs_front: SqsFront | None = None
        """The functions' SQS endpoint (trace headers: :mod:`.sqs_front`)."""
        self.scheduler_front: SchedulerFront | None = None
        """Every client's Scheduler endpoint (AWS's error answers: ``scheduler_front``)."""
        self.stacks: list[StackSpec] = []
        self.pools: dict[str, FunctionPool] = {}
        """By function name."""
        self.async_invokers: dict[str, AsyncInvoker] = {}
        self.invoke_api: InvokeApi | None = None
        self.functions: dict[str, FunctionSpec] = {}
        self.queues_by_arn: dict[str, QueueSpec] = {}
        self.iam: IamChecks | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> LocalCloud:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        artifacts = read_assembly(self.options.app, self.options.stacks or None)
        self.moto = MotoServer()
        for artifact in artifacts:
            spec = StackProvisioner(
                artifact, moto_url=self.moto.url, region=self.options.region
            ).provision()
            self.stacks.append(spec)
            self.functions.update({f.name: f for f in spec.functions.values()})
            self.queues_by_arn.update({q.arn: q for q in spec.queues.values()})
        self.invoke_api = InvokeApi({})
        self.sqs_front = SqsFront(self.moto.url)
        self.scheduler_front = SchedulerFront(self.moto.url)
        if self.options.iam:
            self.iam = IamChecks(
                self.stacks,
                app=self.options.app,
                moto_url=self.moto.url,
                sqs_url=self.sqs_front.url,
                lambda_url=self.invoke_api.url,
                scheduler_url=self.scheduler_front.url,
                caller_role=self.options.caller_role,
                on_denied=lambda message: self.log("iam", f"denied: {message}"),
            )
            self.iam.check_mappings(self.stacks)
        on_output = self.log.function_output if self.options.show_function_output else None
        for spec in self.stacks:
            base = {
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_ENDPOINT_URL": self.moto.url,
                "AWS_ENDPOINT_URL_LAMBDA": self.invoke_api.url,
                "AWS_ENDPOINT_URL_SQS": self.sqs_front.url,
                "AWS_ENDPOINT_URL_SCHEDULER": self.scheduler_front.url,
            }
            if self.iam is not None:
                urls = (
                    "AWS_ENDPOINT_URL",
                    "AWS_ENDPOINT_URL_LAMBDA",
                    "AWS_ENDPOINT_URL_SQS",
                    "AWS_ENDPOINT_URL_SCHEDULER",
                )
                base = {**base, **dict.fromkeys(urls, self.iam.url)}
            for function in spec.functions.values():
                concurrency = function.reserved_concurrency
                if concurrency is None:
                    concurrency = max(
                        self.options.default_concurrency, _mapping_concurrency(spec, function)
                    )
                self.pools[function.name] = FunctionPool(
                    function,
                    concurrency=concurrency,
                    base_environment={
                        **base,
                        **(self.iam.credentials(function.name) if self.iam else {}),
                    },
                    override_environment=self.options.function_environment,
                    on_output=on_output,
                )
        for spec in self.stacks:
            self._start_stack(spec)
        self._publish_configs()

    def _start_stack(self, spec: StackSpec) -> None:
        assert self.moto is not None and self.invoke_api is not None
        moto = moto_config(self.moto.url, spec.region)
        for function in spec.functions.values():
            pool = self.pools[function.name]
            invoker = AsyncInvoker(
                pool,
                spec.async_invoke.get(function.name, AsyncInvokeSpec()),
                retry_scale=self.options.async_retry_scale,
                destination=self._send_to_destination,
                log=self.log,
                stop=self.stop_event,
            )
            invoker.start()
            self.async_invokers[function.name] = invoker
            self.invoke_api.targets[function.name] = InvokeTarget(
                function.arn,
                submit=invoker.submit,
                run=self._runner(pool),
                timeout_seconds=function.timeout_seconds,
            )
        for mapping in spec.event_source_mappings:
            EventSourceMappingPoller(
                mapping,
                self.pools[mapping.function.name],
                moto=moto,
                region=spec.region,
                log=self.log,
                stop=self.stop_event,
                trace_headers=self.sqs_front.trace_header if self.sqs_front else None,
            ).start()
        groups = list(spec.schedule_groups)
        for document in spec.client_configs:
            group = (document.get("scheduler") or {}).get("group")
            if isinstance(group, str) and group not in groups:
                groups.append(group)
        if groups:
            SchedulePoller(
                groups,
                queues=self.queues_by_arn,
                invoke_async=self.invoke_async,
                moto=moto,
                log=self.log,
                stop=self.stop_event,
                interval=self.options.scheduler_interval,
                clock_scale=self.options.schedule_clock_scale,
                authorize=self.iam.authorize if self.iam else None,
            ).start()

    def _runner(self, pool: FunctionPool) -> Any:
        def run(payload: bytes, request_id: str) -> InvocationResult:
            with pool.lease(self.stop_event) as env:
                if env is None:
                    return InvocationResult(
                        request_id=request_id, ok=False, body=b"", error_type="Emulator.Stopping"
                    )
                return env.invoke(payload, request_id=request_id)

        return run

    def stop(self) -> None:
        """Stop every poller, environment and the moto server. Safe to call twice."""
        self.stop_event.set()
        if self.invoke_api is not None:
            self.invoke_api.close()
            self.invoke_api = None
        if self.iam is not None:
            self.iam.close(self.options.iam_report)
            self.iam = None
        if self.sqs_front is not None:
            self.sqs_front.close()
            self.sqs_front = None
        if self.scheduler_front is not None:
            self.scheduler_front.close()
            self.scheduler_front = None
        for pool in self.pools.values():
            pool.stop()
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        aws.reset()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what callers use ----------------------------------------------------------------------

    @property
    def endpoints(self) -> dict[str, str]:
        assert self.moto is not None and self.invoke_api is not None
        assert self.scheduler_front is not None
        if self.iam is not None:
            return dict.fromkeys(("sqs", "scheduler", "ssm", "dynamodb", "lambda"), self.iam.url)
        return {
            "sqs": self.moto.url,
            "scheduler": self.scheduler_front.url,
            "ssm": self.moto.url,
            "dynamodb": self.moto.url,
            "lambda": self.invoke_api.url,
        }

    def client_configs(self) -> list[dict[str, Any]]:
        """Each backend's client configuration, with ``endpoints`` pointing at this emulator."""
        return [
            {**document, "endpoints": self.endpoints}
            for spec in self.stacks
            for document in spec.client_configs
        ]

    def invoke_async(self, function_arn: str, payload: bytes) -> bool:
        """Queue an async invocation of an emulated function; False if there is no such one."""
        invoker = self.async_invokers.get(function_name(function_arn))
        if invoker is None:
            return False
        invoker.submit(payload)
        return True

    # -- internals -----------------------------------------------------------------------------

    def _publish_configs(self) -> None:
        """Overwrite each published SSM copy of a client config with its local-endpoint form.

        An app that reads ``LAMBDA_JOBS_CONFIG=ssm:<name>`` from this moto then reaches the
        emulator's endpoints too. Its ``sqs`` endpoint is the functions' SQS front, so tasks that
        read it to enqueue follow-up jobs send their trace headers on as on AWS.
        """
        assert self.moto is not None and self.sqs_front is not None
        endpoints = self.endpoints if self.iam else {**self.endpoints, "sqs": self.sqs_front.url}
        for spec in self.stacks:
            ssm = aws.client("ssm", moto_config(self.moto.url, spec.region))
            for name, document in spec.config_parameters.items():
                ssm.put_parameter(
                    Name=name,
                    Value=json.dumps({**document, "endpoints": endpoints}),
                    Type="String",
                    Overwrite=True,
                )

    def _send_to_destination(self, target: str, record: dict[str, Any]) -> None:
        body = record_text(record)
        if self.iam is not None:
            # Lambda sends the record as the function's execution role.
            function = str((record.get("requestContext") or {}).get("functionArn", ""))
            action = "sqs:SendMessage" if target in self.queues_by_arn else "lambda:InvokeFunction"
            role = self.iam.function_role(function) if function.count(":") >= 6 else None
            if self.iam.authorize(role, action, target) is not None:
                return  # denied: Lambda drops the record (logged by the denial)
        queue = self.queues_by_arn.get(target)
        limit = SQS_MAX_MESSAGE_BYTES if queue is not None else MAX_ASYNC_PAYLOAD
        refused = record_over_limit(body, limit, "SQS" if queue is not None else "Lambda Invoke")
        if refused is not None:
            self.log("destinations", f"destination {target}: {refused}")
            return
        if queue is not None:
            assert self.moto is not None
            region = target.split(":")[3]
            sqs = aws.client("sqs", moto_config(self.moto.url, region))
            params: dict[str, Any] = {"QueueUrl": queue.url, "MessageBody": body}
            if queue.fifo:
                params["MessageGroupId"] = "lambda-destinations"
                if not queue.content_based_deduplication:
                    params["MessageDeduplicationId"] = record["requestContext"]["requestId"]
            sqs.send_message(**params)
        elif not self.invoke_async(target, body.encode()):
            self.log("destinations", f"destination {target} is not emulated; record dropped")
