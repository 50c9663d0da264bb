"""The optional job store of a backend: one on-demand DynamoDB table (``job_store=JobStore(...)``).

The runtime documents the item schema and every condition (``lambda_jobs.jobstore.schema``). The
table:

- partition key ``pk`` (string), no sort key; billing ``PAY_PER_REQUEST`` (no idle cost);
- TTL attribute ``ttl`` (epoch seconds; the runtime sets it to the last change + ``ttl``);
- one global secondary index ``failures``: partition key ``failed_task``, sort key
  ``finished_at``, projecting the error attributes. Sparse: only failed jobs carry
  ``failed_task``, so it holds (and costs) nothing else;
- encryption at rest with the AWS owned key (DynamoDB's default, no KMS cost); point-in-time
  recovery off by default (see ``JobStore.point_in_time_recovery``), acknowledged for cdk-nag.

Grants: the functions' role gets ``GetItem``, ``UpdateItem`` and ``DeleteItem`` on the table
(claim, record, release a unique key); ``grant_enqueue`` adds ``PutItem``, ``GetItem``,
``UpdateItem`` and ``DeleteItem`` (write the job item, take and release unique keys, look up and
cancel). Listing failures (``lambda-jobs jobs failures``) needs ``dynamodb:Query`` on the index,
which ``grant_read_jobs`` gives (operators' roles; not the web app's).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from lambda_jobs.contract import FAILURES_INDEX

from constructs import Construct
from lambda_jobs_cdk.validation import JobBackendConfigError, is_token

TTL_ATTRIBUTE = "ttl"
DEFAULT_TTL = Duration.days(7)
MIN_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 365 * 24 * 3600
FUNCTION_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
CLIENT_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchGetItem",  # workflows: a stage's results, a workflow's steps
)


@dataclass(frozen=True, kw_only=True)
class JobStore:
    """A backend's job store (status, results, run-once, unique jobs, cancellation).

    :param ttl: how long a job's item is kept after its last change (DynamoDB deletes it then,
        typically within a few days), 1 hour..365 days. Default 7 days.
    :param point_in_time_recovery: keep 35 days of continuous backups (priced per GB-month).
        Default False: the items are short-lived observations of jobs whose source of truth is
        the queue, so a restore would bring back stale states.
    :param removal_policy: CloudFormation's ``DeletionPolicy`` and ``UpdateReplacePolicy`` of the
        table. Default ``RETAIN`` (aws-cdk-lib's default for tables): ``job_store=None`` or
        ``cdk destroy`` keeps the table with every job's status and result (unique-job keys,
        run-once claims, workflow state); ``DESTROY`` suits throwaway stacks.
    """

    ttl: Duration = DEFAULT_TTL
    point_in_time_recovery: bool = False
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


def check_job_store(job_store: object) -> JobStore | None:
    """``job_store`` if it is None or a valid ``JobStore``, else raise naming the problem."""
    if job_store is None:
        return None
    if not isinstance(job_store, JobStore):
        raise JobBackendConfigError(
            f"job_store must be a JobStore(...) or None, got {type(job_store).__name__}"
        )
    if not isinstance(job_store.ttl, Duration):
        raise JobBackendConfigError("job_store ttl must be a Duration, e.g. Duration.days(7)")
    if is_token(job_store.ttl):
        raise JobBackendConfigError(
            "job_store ttl must be known at synth (not a token such as a CfnParameter's value): "
            "the functions and the client configuration carry it in seconds"
        )
    seconds = job_store.ttl.to_seconds()
    if not MIN_TTL_SECONDS <= seconds <= MAX_TTL_SECONDS:
        raise JobBackendConfigError(f"job_store ttl must be 1 hour..365 days, got {seconds:g} s")
    return job_store


class JobTable(Construct):
    """The job store's table; ``table``, ``ttl_seconds`` and the grants the backend uses."""

    def __init__(self, scope: Construct, id: str, *, props: JobStore) -> None:
        super().__init__(scope, id)
        self.ttl_seconds = int(props.ttl.to_seconds())
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.DEFAULT,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=props.point_in_time_recovery
            ),
            removal_policy=props.removal_policy,
        )
        self.table.add_global_secondary_index(
            index_name=FAILURES_INDEX,
            partition_key=dynamodb.Attribute(
                name="failed_task", type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name="finished_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=[
                "task",
                "queue",
                "status",
                "attempt",
                "error_type",
                "error_message",
            ],
        )
        if not props.point_in_time_recovery:
            Validations.of(self.table).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-DDB3",
                    reason=(
                        "The job store holds short-lived (TTL) observations of jobs whose source "
                        "of truth is the queue; a point-in-time restore would bring back stale "
                        "states. JobStore(point_in_time_recovery=True) turns it on."
                    ),
                )
            )

    def grant(self, grantee: iam.IGrantable, actions: tuple[str, ...]) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=[self.table.table_arn]
        )

    def grant_query_failures(self, grantee: iam.IGrantable) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:Query", "dynamodb:GetItem"],
            resource_arns=[
                self.table.table_arn,
                f"{self.table.table_arn}/index/{FAILURES_INDEX}",
            ],
        )
