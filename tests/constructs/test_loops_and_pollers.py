"""Today's AWS in the templates: 1 MiB lane queues, ``recursive_loop``, provisioned pollers and
the mappings' ``EventCount`` metrics; and each refusal of a combination AWS does not take.

One app (defaults and custom props of both backends) is synthesized once for the module and read
with ``aws_cdk.assertions``; the refusals are raised while the constructs are built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from lambda_jobs_cdk import (
    GoatJobBackend,
    JobBackendConfigError,
    JobCode,
    JobQueue,
    LambJobBackend,
    PriorityLane,
)

from stacks.demo_code import DEMO_PROJECT, demo_code
from tests.constructs.templates import lint_errors, nag_findings, resources

STACKS = ("GoatPlain", "GoatTuned", "LambPlain", "LambTuned")


class Synth:
    def __init__(self) -> None:
        self.app = App(analytics_reporting=False)
        code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
        GoatJobBackend(Stack(self.app, "GoatPlain"), "Jobs", code=code)
        GoatJobBackend(
            Stack(self.app, "GoatTuned"),
            "Jobs",
            code=code,
            recursive_loop=lambda_.RecursiveLoop.TERMINATE,
            queues=[
                JobQueue("burst", min_pollers=3, max_pollers=50, event_count_metrics=True),
                JobQueue(
                    "bands",
                    lanes=[
                        PriorityLane(min_priority=-100, max_priority=0, max_concurrency=5),
                        PriorityLane(min_priority=1, max_priority=100, max_pollers=10),
                    ],
                ),
            ],
        )
        LambJobBackend(Stack(self.app, "LambPlain"), "Jobs", code=code)
        LambJobBackend(
            Stack(self.app, "LambTuned"),
            "Jobs",
            code=code,
            recursive_loop=lambda_.RecursiveLoop.TERMINATE,
            queues=[
                JobQueue(
                    "default",
                    lanes=[
                        PriorityLane(min_priority=-100, max_priority=0),
                        PriorityLane(min_priority=1, max_priority=100),
                    ],
                )
            ],
        )
        assembly = self.app.synth()
        self.templates = {
            name: Template.from_json(assembly.get_stack_by_name(name).template) for name in STACKS
        }

    def json(self, name: str) -> dict[str, Any]:
        return dict(self.templates[name].to_json())


@pytest.fixture(scope="module")
def synth() -> Iterator[Synth]:
    yield Synth()


def _mappings(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Queue logical id prefix -> the mapping's properties."""
    found = {}
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        found[props["EventSourceArn"]["Fn::GetAtt"][0]] = props
    return found


# --- 1 MiB ----------------------------------------------------------------------------------


def test_goat_lane_queues_and_dlq_take_1_mib_messages(synth: Synth) -> None:
    template = synth.json("GoatPlain")
    queues = resources(template, "AWS::SQS::Queue")
    assert len(queues) == 2  # the lane and the DLQ
    for queue in queues.values():
        assert queue["Properties"]["MaximumMessageSize"] == 1024 * 1024


def test_goat_client_config_max_payload_is_1_mib_less_the_dead_letter_reserve(
    synth: Synth,
) -> None:
    """Both backends: a Lamb job is dead-lettered to an SQS queue too, so it keeps the reserve."""
    from lambda_jobs.contract import DEFAULT_MAX_PAYLOAD

    assert DEFAULT_MAX_PAYLOAD == 1_032_192
    for stack in ("GoatPlain", "LambPlain"):
        (parameter,) = resources(synth.json(stack), "AWS::SSM::Parameter").values()
        assert '"max_payload_bytes":1032192' in str(parameter["Properties"]["Value"])


# --- recursive_loop ---------------------------------------------------------------------------


def test_recursive_loop_defaults_to_allow_on_every_function_of_both_backends(
    synth: Synth,
) -> None:
    for name in ("GoatPlain", "LambPlain"):
        functions = resources(synth.json(name), "AWS::Lambda::Function")
        assert functions, name
        for function in functions.values():
            assert function["Properties"]["RecursiveLoop"] == "Allow", name


def test_recursive_loop_terminate_reaches_every_function(synth: Synth) -> None:
    goat = resources(synth.json("GoatTuned"), "AWS::Lambda::Function")
    lamb = resources(synth.json("LambTuned"), "AWS::Lambda::Function")
    assert len(lamb) == 2  # one function per lane
    for function in [*goat.values(), *lamb.values()]:
        assert function["Properties"]["RecursiveLoop"] == "Terminate"


def test_recursive_loop_must_be_a_recursive_loop_value() -> None:
    with pytest.raises(
        JobBackendConfigError,
        match=r"recursive_loop must be aws_lambda\.RecursiveLoop\.ALLOW or RecursiveLoop\."
        r"TERMINATE, got 'Allow'",
    ):
        GoatJobBackend(Stack(App(), "S"), "Jobs", code=demo_code(), recursive_loop="Allow")  # type: ignore[arg-type]


# --- provisioned pollers and metrics ----------------------------------------------------------


def test_standard_mode_and_no_metrics_by_default(synth: Synth) -> None:
    for props in _mappings(synth.json("GoatPlain")).values():
        assert "ProvisionedPollerConfig" not in props
        assert "MetricsConfig" not in props


def test_queue_pollers_and_event_count_metrics_on_its_mapping(synth: Synth) -> None:
    synth.templates["GoatTuned"].has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^JobsQueueburst"), "Arn"]},
            "ProvisionedPollerConfig": {"MinimumPollers": 3, "MaximumPollers": 50},
            "MetricsConfig": {"Metrics": ["EventCount"]},
            "ScalingConfig": Match.absent(),
        },
    )


def test_lane_pollers_apply_to_that_lane_only(synth: Synth) -> None:
    mappings = _mappings(synth.json("GoatTuned"))
    # The lane serving priority 0 keeps the queue's own id; the band above it is "Up1".
    high = next(p for k, p in mappings.items() if k.startswith("JobsQueuebandsUp1"))
    low = next(
        p
        for k, p in mappings.items()
        if k.startswith("JobsQueuebands") and not k.startswith("JobsQueuebandsUp1")
    )
    assert low["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert "ProvisionedPollerConfig" not in low
    assert high["ProvisionedPollerConfig"] == {"MaximumPollers": 10}
    assert "ScalingConfig" not in high and "MetricsConfig" not in high


def test_cdk_nag_and_cfn_lint_are_clean(synth: Synth) -> None:
    assert nag_findings(synth.app) == []
    for name in STACKS:
        assert lint_errors(synth.json(name)) == [], name


POLLER_ERRORS: list[tuple[Callable[[], Any], str]] = [
    (
        lambda: JobQueue("q", min_pollers=1),
        r"JobQueue 'q' min_pollers must be in 2\.\.200 \(provisioned mode of an SQS "
        r"event-source mapping\), got 1",
    ),
    (lambda: JobQueue("q", min_pollers=201), r"min_pollers must be in 2\.\.200"),
    (lambda: JobQueue("q", max_pollers=2001), r"JobQueue 'q' max_pollers must be in 2\.\.2000"),
    (
        lambda: JobQueue("q", max_pollers="9"),  # type: ignore[arg-type]
        r"max_pollers must be an integer in 2\.\.2000",
    ),
    (
        lambda: JobQueue("q", min_pollers=20, max_pollers=10),
        r"JobQueue 'q' min_pollers \(20\) must not exceed max_pollers \(10\)",
    ),
    (
        lambda: PriorityLane(min_priority=-100, max_priority=100, min_pollers=1),
        r"PriorityLane min_pollers must be in 2\.\.200",
    ),
    (
        lambda: JobQueue("q", event_count_metrics="yes"),  # type: ignore[arg-type]
        r"JobQueue 'q' event_count_metrics must be True or False, got 'yes'",
    ),
]


@pytest.mark.parametrize(("build", "message"), POLLER_ERRORS)
def test_poller_props_out_of_range_are_refused(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(JobBackendConfigError, match=message):
        build()


EXCLUSIVE = (
    r"sets both max_concurrency and min_pollers/max_pollers: AWS makes MaximumConcurrency and "
    r"provisioned mode \(ProvisionedPollerConfig\) of an SQS event-source mapping exclusive"
)


@pytest.mark.parametrize(
    "queue",
    [
        pytest.param(lambda: JobQueue("q", max_concurrency=5, min_pollers=2), id="queue"),
        pytest.param(
            lambda: JobQueue(
                "q",
                max_concurrency=5,
                lanes=[PriorityLane(min_priority=-100, max_priority=100, max_pollers=4)],
            ),
            id="queue-concurrency-lane-pollers",
        ),
        pytest.param(
            lambda: JobQueue(
                "q",
                min_pollers=2,
                lanes=[PriorityLane(min_priority=-100, max_priority=100, max_concurrency=3)],
            ),
            id="queue-pollers-lane-concurrency",
        ),
    ],
)
def test_goat_refuses_max_concurrency_with_pollers_naming_both(
    queue: Callable[[], JobQueue],
) -> None:
    with pytest.raises(JobBackendConfigError, match=r"JobQueue 'q' \(priorities -100\.\.100\) "):
        GoatJobBackend(Stack(App(), "S"), "Jobs", code=demo_code(), queues=[queue()])
    with pytest.raises(JobBackendConfigError, match=EXCLUSIVE):
        GoatJobBackend(Stack(App(), "S"), "Jobs", code=demo_code(), queues=[queue()])


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        (
            lambda: JobQueue("q", min_pollers=2),
            r"JobQueue 'q' min_pollers is a GoatJobBackend \(SQS\) setting",
        ),
        (
            lambda: JobQueue("q", max_pollers=9),
            r"JobQueue 'q' max_pollers is a GoatJobBackend \(SQS\) setting",
        ),
        (
            lambda: JobQueue("q", event_count_metrics=True),
            r"JobQueue 'q' event_count_metrics is a GoatJobBackend \(SQS\) setting",
        ),
        (
            lambda: JobQueue(
                "q", lanes=[PriorityLane(min_priority=-100, max_priority=100, min_pollers=2)]
            ),
            r"JobQueue 'q' PriorityLane -100\.\.100 min_pollers/max_pollers are a GoatJobBackend",
        ),
    ],
)
def test_lamb_refuses_goat_mapping_props(queue: Callable[[], JobQueue], message: str) -> None:
    with pytest.raises(JobBackendConfigError, match=message):
        LambJobBackend(Stack(App(), "S"), "Jobs", code=demo_code(), queues=[queue()])
