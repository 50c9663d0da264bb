"""Alarms and a dashboard for a job backend: on by default, switchable, priced.

Every ``GoatJobBackend`` / ``LambJobBackend`` adds, unless its ``monitoring`` prop says otherwise
(:class:`JobMonitoring`):

- **DLQ not empty** — one alarm per dead-letter queue (the backend's DLQ; on Goat with FIFO
  queues also the FIFO crash-net DLQ): ``ApproximateNumberOfMessagesVisible`` ≥ 1 (maximum over
  5 minutes). A failed job is waiting for ``lambda-jobs dlq list`` / ``dlq redrive``.
- **Oldest message age** — Goat only, one alarm per lane queue:
  ``ApproximateAgeOfOldestMessage`` > ``max_message_age`` (default 15 minutes; maximum over 5
  minutes). Jobs wait longer than they should: the lane is starved (concurrency too low, function
  failing, a poison message retried).
- **Function errors** — one alarm per function: Lambda ``Errors`` ≥ 1 (sum over 5 minutes). The
  handler turns task exceptions into retries or dead letters, so this fires on crashes, function
  timeouts and failed DLQ sends only.
- **Function throttles** — one alarm per function: Lambda ``Throttles`` ≥ 1 (sum over 5 minutes).
  On Lamb a lane throttled by its reserved concurrency keeps its jobs in Lambda's async queue
  (retried up to ``max_event_age``), so sustained throttling means jobs may age out.
- a **CloudWatch dashboard**: lane depth and oldest age (Goat), dead letters, the handler's
  ``LambdaJobs`` metrics per queue of this backend (dimension ``backend`` = its unique name, so
  two backends of one account and region do not mix; succeeded, failed, retried, dead-lettered;
  duration and queue latency p50/p99), function errors, throttles and duration, and the alarms'
  states.

Every alarm treats missing data as not breaching and, with ``alarm_topic``, notifies that SNS
topic on ALARM and on OK.

**Monthly cost** (us-east-1 list prices): a standard-resolution alarm is $0.10 per alarm-month,
so a backend costs $0.10 x (dead-letter queues + Goat lanes + 2 x functions) — the default Goat
backend (one queue, one lane, one function) has 4 alarms ($0.40), the default Lamb backend (one
function) 3 ($0.30). A dashboard is $3.00 per month beyond the 3 free per account. The handler's
EMF metrics are custom metrics ($0.30 per metric-month for the first 10,000): 7 names x each
(backend, queue) pair that ran jobs, x tasks if ``LAMBDA_JOBS_METRICS_TASK_DIMENSION=1``; set
``environment={"LAMBDA_JOBS_METRICS": "0"}`` on the backend to emit none. Switch parts off with
``JobMonitoring(alarms=False)`` and/or ``JobMonitoring(dashboard=False)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from lambda_jobs_cdk.validation import JobBackendConfigError, check_range

PERIOD = Duration.minutes(5)
METRICS_NAMESPACE = "LambdaJobs"
"""Namespace of the handler's EMF metrics (``lambda_jobs.worker.metrics``)."""
DEFAULT_MAX_MESSAGE_AGE = Duration.minutes(15)
MIN_MAX_MESSAGE_AGE_SECONDS = 60
MAX_MAX_MESSAGE_AGE_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class JobMonitoring:
    """What a backend monitors. The default (``monitoring=None``) is everything on, no topic.

    :param alarms: create the alarms (DLQ not empty, oldest message age, function errors and
        throttles). Default True.
    :param dashboard: create the CloudWatch dashboard. Default True.
    :param alarm_topic: an SNS topic every alarm notifies on ALARM and OK. Default none (the
        alarms only change state).
    :param max_message_age: the oldest-message-age threshold of Goat lanes, 1 minute..14 days.
        Default 15 minutes.
    """

    alarms: bool = True
    dashboard: bool = True
    alarm_topic: sns.ITopic | None = None
    max_message_age: Duration = DEFAULT_MAX_MESSAGE_AGE


def check_monitoring(monitoring: JobMonitoring | None) -> JobMonitoring:
    """The monitoring props to use; a wrong value raises naming the prop."""
    if monitoring is None:
        return JobMonitoring()
    if not isinstance(monitoring, JobMonitoring):
        raise JobBackendConfigError(
            "monitoring must be a JobMonitoring, e.g. JobMonitoring(alarm_topic=topic), or None"
        )
    check_range(
        "monitoring.max_message_age",
        monitoring.max_message_age,
        MIN_MAX_MESSAGE_AGE_SECONDS,
        MAX_MAX_MESSAGE_AGE_SECONDS,
        seconds=True,
        required=True,
        why=" (between 1 minute and 14 days: SQS retention)",
    )
    return monitoring


class BackendMonitoring(Construct):
    """The alarms and dashboard of one backend (see the module docstring).

    Attributes callers may rely on: ``alarms`` (every alarm created, possibly none) and
    ``dashboard`` (or None).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        props: JobMonitoring,
        backend: str,
        queue_names: Sequence[str],
        dead_letter_queues: Sequence[sqs.IQueue],
        lane_queues: Sequence[tuple[str, sqs.IQueue]],
        functions: Sequence[lambda_.IFunction],
    ) -> None:
        super().__init__(scope, id)
        self.alarms: list[cloudwatch.Alarm] = []
        self.dashboard: cloudwatch.Dashboard | None = None
        if props.alarms:
            for index, dlq in enumerate(dead_letter_queues):
                self._alarm(
                    f"DeadLetters{index + 1}",
                    dlq.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum"
                    ),
                    threshold=1,
                    description=(
                        "lambda-jobs: failed jobs are waiting in the dead-letter queue. Inspect "
                        "them with `lambda-jobs dlq list`, fix the cause, then `lambda-jobs dlq "
                        "redrive`."
                    ),
                )
            age = props.max_message_age.to_seconds()
            for name, queue in lane_queues:
                self._alarm(
                    f"OldestMessage-{queue.node.id}",
                    queue.metric_approximate_age_of_oldest_message(
                        period=PERIOD, statistic="Maximum"
                    ),
                    threshold=age,
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    description=(
                        f"lambda-jobs: a job of queue {name} has waited over {age:g} s; check "
                        "`lambda-jobs status`, function errors and the lane's concurrency."
                    ),
                )
            for function in functions:
                fid = function.node.id
                self._alarm(
                    f"Errors-{fid}",
                    function.metric_errors(period=PERIOD, statistic="Sum"),
                    threshold=1,
                    description=(
                        "lambda-jobs: the function crashed, timed out or could not reach the "
                        "dead-letter queue; see its log (lambda_jobs.job lines with aws_error)."
                    ),
                )
                self._alarm(
                    f"Throttles-{fid}",
                    function.metric_throttles(period=PERIOD, statistic="Sum"),
                    threshold=1,
                    description=(
                        "lambda-jobs: invocations were throttled; jobs wait (Lamb: in Lambda's "
                        "async queue, up to max_event_age). Raise the lane's concurrency?"
                    ),
                )
            if props.alarm_topic is not None:
                action = cloudwatch_actions.SnsAction(props.alarm_topic)
                for alarm in self.alarms:
                    alarm.add_alarm_action(action)
                    alarm.add_ok_action(action)
        if props.dashboard:
            self.dashboard = self._dashboard(
                backend, queue_names, dead_letter_queues, lane_queues, functions
            )

    def _alarm(
        self,
        id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
    ) -> None:
        self.alarms.append(
            cloudwatch.Alarm(
                self,
                id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=comparison,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
        )

    def _dashboard(
        self,
        backend: str,
        queue_names: Sequence[str],
        dead_letter_queues: Sequence[sqs.IQueue],
        lane_queues: Sequence[tuple[str, sqs.IQueue]],
        functions: Sequence[lambda_.IFunction],
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard")

        def job_metric(name: str, queue: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"backend": backend, "queue": queue},
                statistic=statistic,
                period=PERIOD,
                label=f"{queue} {name} {statistic}",
            )

        counts = ("JobsSucceeded", "JobsFailed", "JobsRetried", "JobsDeadLettered")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Jobs (per 5 min)",
                left=[job_metric(n, q, "Sum") for q in queue_names for n in counts],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Job duration and queue latency (ms)",
                left=[
                    job_metric(n, q, s)
                    for q in queue_names
                    for n in ("JobDuration", "QueueLatency")
                    for s in ("p50", "p99")
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Dead letters",
                left=[
                    q.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum"
                    )
                    for q in dead_letter_queues
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function errors and throttles",
                left=[f.metric_errors(period=PERIOD) for f in functions]
                + [f.metric_throttles(period=PERIOD) for f in functions],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function duration (p99)",
                left=[f.metric_duration(period=PERIOD, statistic="p99") for f in functions],
                width=8,
            ),
        )
        if lane_queues:
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Lane depth (visible)",
                    left=[
                        q.metric_approximate_number_of_messages_visible(
                            period=PERIOD, statistic="Maximum", label=f"{name} {q.node.id}"
                        )
                        for name, q in lane_queues
                    ],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title="Oldest message age (s)",
                    left=[
                        q.metric_approximate_age_of_oldest_message(
                            period=PERIOD, statistic="Maximum", label=f"{name} {q.node.id}"
                        )
                        for name, q in lane_queues
                    ],
                    width=12,
                ),
            )
        if self.alarms:
            dashboard.add_widgets(
                cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24)
            )
        return dashboard
