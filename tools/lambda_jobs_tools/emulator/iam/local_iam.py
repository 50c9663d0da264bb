"""IAM checks wired into ``lambda-jobs local``: the few hooks
:mod:`~lambda_jobs_tools.emulator.local` calls, so that the emulator's other modules stay
unaware of IAM.

- :attr:`IamChecks.url` is the endpoint every SDK call goes to (the gateway);
- :meth:`IamChecks.credentials` gives a function's processes its execution role's key;
- :meth:`IamChecks.check_mappings` checks each SQS event-source mapping's role at start, as
  Lambda does when the mapping is created (``CreateEventSourceMapping`` fails with "The provided
  execution role does not have permissions to call ReceiveMessage on SQS"): the poller then
  polls as a role that may;
- :meth:`IamChecks.authorize` judges the calls AWS services make as a role: Scheduler's send or
  invoke as the schedule's role, Lambda's async destination send as the function's role.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lambda_jobs_tools.emulator.iam.authorizer import Authorizer
from lambda_jobs_tools.emulator.iam.evaluator import Evaluator
from lambda_jobs_tools.emulator.iam.gateway import Gateway
from lambda_jobs_tools.emulator.iam.report import write
from lambda_jobs_tools.emulator.iam.requests import Call
from lambda_jobs_tools.emulator.provision import ProvisionError
from lambda_jobs_tools.emulator.topology import StackSpec

#: What Lambda needs of the execution role to poll an SQS queue (AWSLambdaSQSQueueExecutionRole).
MAPPING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


class IamChecks:
    """The evaluator, the authorizer and the gateway of one emulator run."""

    def __init__(
        self,
        stacks: list[StackSpec],
        *,
        app: Path,
        moto_url: str,
        sqs_url: str,
        lambda_url: str,
        scheduler_url: str,
        caller_role: str | None,
        on_denied: Callable[[str], None],
    ) -> None:
        self.evaluator = Evaluator(app)
        try:
            self.authorizer = Authorizer(
                [stack.iam for stack in stacks if stack.iam is not None],
                self.evaluator,
                caller_role,
            )
        except ValueError as exc:
            self.evaluator.close()
            raise ProvisionError(f"--caller-role: {exc}") from None
        self.on_denied = on_denied
        self.gateway = Gateway(
            self.authorizer,
            moto_url=moto_url,
            upstreams={"sqs": sqs_url, "lambda": lambda_url, "scheduler": scheduler_url},
            on_denied=on_denied,
        )
        self.url = self.gateway.url

    def credentials(self, function_name: str) -> dict[str, str]:
        return self.authorizer.credentials(function_name)

    def check_mappings(self, stacks: list[StackSpec]) -> None:
        """Refuse to start a mapping whose role may not poll its queue (as Lambda refuses)."""
        for spec in stacks:
            for mapping in spec.event_source_mappings:
                role = self.authorizer.role_of_function(mapping.function.name)
                if role is None:
                    continue
                for action in MAPPING_ACTIONS:
                    decision = self.authorizer.authorize(role, Call(action, mapping.queue.arn))
                    if not decision.allowed:
                        raise ProvisionError(
                            f"stack {spec.name}, event-source mapping {mapping.logical_id}: "
                            f"the provided execution role does not have permissions to call "
                            f"{action.split(':')[1]} on SQS ({decision.message})"
                        )

    def authorize(self, role_arn: str | None, action: str, resource: str) -> str | None:
        """None if ``role_arn`` may do ``action`` on ``resource``, else AWS's denial message.

        A role the stacks do not define (or none) is not checked.
        """
        role = self.authorizer.roles.get(role_arn or "")
        if role is None:
            return None
        decision = self.authorizer.authorize(role, Call(action, resource))
        if decision.allowed:
            return None
        self.on_denied(decision.message)
        return decision.message

    def function_role(self, function_arn: str) -> str | None:
        role = self.authorizer.role_of_function(function_arn.split(":")[6])
        return role.arn if role else None

    def close(self, report: Path | None) -> None:
        self.gateway.close()
        self.evaluator.close()
        if report is not None:
            write(self.authorizer, report)
