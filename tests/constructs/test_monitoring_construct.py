"""Alarms and dashboard of the backend constructs: present by default, switchable, with a topic.

Pins that both backends add alarms (DLQ not empty, oldest message age over a threshold on Goat
lanes, function errors and throttles) that notify an optional SNS topic on ALARM and OK, and a
CloudWatch dashboard of the handler's metrics, all on by default and switchable; that cdk-nag and
cfn-lint stay clean with them; and that every wrong ``monitoring`` prop fails naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from lambda_jobs_cdk import (
    GoatJobBackend,
    JobBackendConfigError,
    JobCode,
    JobMonitoring,
    JobQueue,
    LambJobBackend,
)

from stacks.demo_code import DEMO_PROJECT
from tests.constructs.templates import lint_errors, nag_findings

ALARM = "AWS::CloudWatch::Alarm"
DASHBOARD = "AWS::CloudWatch::Dashboard"


class Synth:
    def __init__(self) -> None:
        self.app = App(analytics_reporting=False)
        code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
        GoatJobBackend(Stack(self.app, "GoatDefault"), "Jobs", code=code)
        LambJobBackend(Stack(self.app, "LambDefault"), "Jobs", code=code)
        topic_stack = Stack(self.app, "GoatTopic")
        self.topic = sns.Topic(
            topic_stack,
            "Alerts",
            enforce_ssl=True,
            master_key=kms.Alias.from_alias_name(topic_stack, "SnsKey", "alias/aws/sns"),
        )
        self.topic_backend = GoatJobBackend(
            topic_stack,
            "Jobs",
            code=code,
            queues=[JobQueue("default"), JobQueue("ordered", fifo=True)],
            monitoring=JobMonitoring(alarm_topic=self.topic, max_message_age=Duration.hours(1)),
        )
        GoatJobBackend(
            Stack(self.app, "GoatOff"),
            "Jobs",
            code=code,
            monitoring=JobMonitoring(alarms=False, dashboard=False),
        )
        LambJobBackend(
            Stack(self.app, "LambDashboardOnly"),
            "Jobs",
            code=code,
            monitoring=JobMonitoring(alarms=False),
        )
        assembly = self.app.synth()
        self.templates: dict[str, dict[str, Any]] = {
            stack.stack_name: stack.template for stack in assembly.stacks
        }

    def of_type(self, stack: str, type_name: str) -> list[dict[str, Any]]:
        resources = self.templates[stack]["Resources"].values()
        return [r["Properties"] for r in resources if r["Type"] == type_name]

    def alarms_by_metric(self, stack: str) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for alarm in self.of_type(stack, ALARM):
            found.setdefault(alarm["MetricName"], []).append(alarm)
        return found


@pytest.fixture(scope="module")
def synth() -> Iterator[Synth]:
    yield Synth()


def test_goat_default_has_dlq_age_error_and_throttle_alarms_and_a_dashboard(synth: Synth):
    alarms = synth.alarms_by_metric("GoatDefault")
    assert sorted((m, len(a)) for m, a in alarms.items()) == [
        ("ApproximateAgeOfOldestMessage", 1),
        ("ApproximateNumberOfMessagesVisible", 1),
        ("Errors", 1),
        ("Throttles", 1),
    ]
    [dlq] = alarms["ApproximateNumberOfMessagesVisible"]
    assert (dlq["Namespace"], dlq["Statistic"], dlq["Threshold"]) == ("AWS/SQS", "Maximum", 1)
    assert dlq["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert "lambda-jobs dlq list" in dlq["AlarmDescription"]
    [age] = alarms["ApproximateAgeOfOldestMessage"]
    assert (age["Threshold"], age["ComparisonOperator"]) == (900, "GreaterThanThreshold")
    for alarm in synth.of_type("GoatDefault", ALARM):
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["EvaluationPeriods"] == 1 and alarm["Period"] == 300
        assert "AlarmActions" not in alarm
    [errors] = alarms["Errors"]
    assert (errors["Namespace"], errors["Statistic"], errors["Threshold"]) == (
        "AWS/Lambda",
        "Sum",
        1,
    )
    assert len(synth.of_type("GoatDefault", DASHBOARD)) == 1


def test_lamb_default_has_dlq_error_and_throttle_alarms_no_age_alarm(synth: Synth):
    alarms = synth.alarms_by_metric("LambDefault")
    assert sorted((m, len(a)) for m, a in alarms.items()) == [
        ("ApproximateNumberOfMessagesVisible", 1),
        ("Errors", 1),
        ("Throttles", 1),
    ]
    assert len(synth.of_type("LambDefault", DASHBOARD)) == 1


def test_topic_gets_every_alarm_and_ok_and_age_threshold_is_the_prop(synth: Synth):
    alarms = synth.of_type("GoatTopic", ALARM)
    # 2 DLQs (standard + FIFO crash net) + 2 lanes + 2 x 1 function
    assert len(alarms) == 6
    topic = {
        "Ref": next(
            k
            for k, v in synth.templates["GoatTopic"]["Resources"].items()
            if v["Type"] == "AWS::SNS::Topic"
        )
    }
    for alarm in alarms:
        assert alarm["AlarmActions"] == [topic]
        assert alarm["OKActions"] == [topic]
    ages = synth.alarms_by_metric("GoatTopic")["ApproximateAgeOfOldestMessage"]
    assert [a["Threshold"] for a in ages] == [3600, 3600]


def test_monitoring_can_be_switched_off_or_left_dashboard_only(synth: Synth):
    assert synth.of_type("GoatOff", ALARM) == []
    assert synth.of_type("GoatOff", DASHBOARD) == []
    assert synth.of_type("LambDashboardOnly", ALARM) == []
    assert len(synth.of_type("LambDashboardOnly", DASHBOARD)) == 1


def _dashboard_text(synth: Synth, stack: str) -> str:
    [dashboard] = synth.of_type(stack, DASHBOARD)
    return json.dumps(dashboard["DashboardBody"])


def test_dashboard_graphs_the_handler_emf_metrics_per_queue_and_the_alarms(synth: Synth):
    text = _dashboard_text(synth, "GoatTopic")
    for name in (
        "JobsSucceeded",
        "JobsFailed",
        "JobsRetried",
        "JobsDeadLettered",
        "JobDuration",
        "QueueLatency",
    ):
        assert name in text
    assert '\\"LambdaJobs\\"' in text
    # The backend dimension names this backend (its unique name), not only its kind: two
    # backends of one account and region keep their metrics apart.
    name = synth.topic_backend.schedule_group_name
    assert name.startswith("GoatTopic-Jobs-")
    assert f'\\"backend\\",\\"{name}\\",\\"queue\\",\\"ordered\\"' in text
    assert "ApproximateAgeOfOldestMessage" in text
    assert "alarms" in text  # the alarm status widget


def test_cdk_nag_finds_nothing_unacknowledged_with_monitoring(synth: Synth):
    assert nag_findings(synth.app) == []


def test_cfn_lint_reports_no_error_with_monitoring(synth: Synth):
    for name, template in synth.templates.items():
        assert lint_errors(template) == [], name


@pytest.mark.parametrize(
    ("monitoring", "expected"),
    [
        ("on", "monitoring must be a JobMonitoring"),
        (JobMonitoring(max_message_age=Duration.seconds(30)), "monitoring.max_message_age must be"),
        (JobMonitoring(max_message_age=Duration.days(15)), "between 1 minute and 14 days"),
        (JobMonitoring(max_message_age=900), "monitoring.max_message_age must be a Duration"),  # type: ignore[arg-type]
    ],
)
def test_wrong_monitoring_prop_is_named(monitoring: Any, expected: str):
    app = App(analytics_reporting=False)
    code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
    with pytest.raises(JobBackendConfigError, match=expected):
        GoatJobBackend(Stack(app, "Bad"), "Jobs", code=code, monitoring=monitoring)
