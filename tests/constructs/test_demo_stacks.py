"""The demo app's two stacks: snapshots, cdk-nag, cfn-lint, the client configuration, the CLI.

Pins: snapshot tests of both demo stacks (stable across machines: asset hashes
normalised); zero unacknowledged cdk-nag AwsSolutions findings; zero cfn-lint errors on every
synthesized template; the published client configuration parses with the runtime's own parser;
``make synth`` (the real ``cdk synth``) produces both stacks; the architecture page's diagrams
draw what the templates hold.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import config as runtime_config
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.constructs.conftest import DEMO_STACKS, DemoAssembly
from tests.constructs.templates import concrete, lint_errors, nag_findings, normalised, resources

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", DEMO_STACKS)
def test_snapshot_of_demo_stack_template(
    demo_assembly: DemoAssembly, json_snapshot: SnapshotAssertion, stack: str
) -> None:
    assert normalised(demo_assembly.templates[stack]) == json_snapshot


def test_snapshot_normalisation_leaves_no_asset_hash_or_absolute_path(
    demo_assembly: DemoAssembly,
) -> None:
    for stack in DEMO_STACKS:
        text = json.dumps(normalised(demo_assembly.templates[stack]))
        assert "<ASSET_HASH>" in text  # the image URI's tag was there and was replaced
        assert str(REPO) not in text and "/tmp/" not in text


def test_cdk_nag_aws_solutions_has_no_unacknowledged_finding(demo_assembly: DemoAssembly) -> None:
    assert nag_findings(demo_assembly.app) == []


def test_cfn_lint_reports_no_error_on_any_synthesized_template(
    demo_assembly: DemoAssembly,
) -> None:
    for stack in DEMO_STACKS:
        text = (demo_assembly.outdir / f"{stack}.template.json").read_text()
        assert lint_errors(text) == [], stack


def _client_config(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    outputs = {k: v for k, v in template["Outputs"].items() if k.startswith("JobsClientConfig")}
    (document,) = [v["Value"] for k, v in outputs.items() if "ParameterName" not in k]
    return concrete(document), document


@pytest.mark.parametrize("stack", DEMO_STACKS)
def test_client_config_output_and_ssm_parameter_hold_the_same_json(
    demo_assembly: DemoAssembly, stack: str
) -> None:
    template = demo_assembly.templates[stack]
    _, document = _client_config(template)
    (parameter,) = resources(template, "AWS::SSM::Parameter").values()
    assert parameter["Properties"]["Type"] == "String"
    assert parameter["Properties"]["Value"] == document


def test_goat_demo_client_config_parses_with_the_runtime_parser(
    demo_assembly: DemoAssembly,
) -> None:
    template = demo_assembly.templates["GoatDemo"]
    text, _ = _client_config(template)
    parsed = runtime_config.parse_text(text)
    queues = resources(template, "AWS::SQS::Queue")
    assert parsed.backend == "goat"
    assert parsed.region == "us-east-1"
    assert sorted(parsed.queues) == ["default", "ordered"]
    default = parsed.queues["default"]
    assert not default.fifo
    assert [(lane.min_priority, lane.max_priority) for lane in default.lanes] == [
        (-100, 49),
        (50, 100),
    ]
    ordered = parsed.queues["ordered"]
    assert ordered.fifo
    for lane in (*default.lanes, *ordered.lanes):
        logical_id = lane.target.removeprefix("ref:")
        assert lane.arn == f"arn:{logical_id}"  # Goat: target = the queue URL, arn = its ARN
        assert logical_id in queues
    assert queues[ordered.lanes[0].target.removeprefix("ref:")]["Properties"]["FifoQueue"] is True
    assert parsed.dead_letter_queue is not None
    dlq_id = parsed.dead_letter_queue.url.removeprefix("ref:")
    assert parsed.dead_letter_queue.arn == f"arn:{dlq_id}"
    assert "FifoQueue" not in queues[dlq_id]["Properties"]
    # The FIFO lanes' redrive target (the crash safety net) is published too, so the operations
    # commands reach it: the queue the FIFO lane's RedrivePolicy names.
    assert parsed.fifo_dead_letter_queue is not None
    fifo_dlq_id = parsed.fifo_dead_letter_queue.url.removeprefix("ref:")
    assert parsed.fifo_dead_letter_queue.arn == f"arn:{fifo_dlq_id}"
    assert queues[fifo_dlq_id]["Properties"]["FifoQueue"] is True
    redrive = queues[ordered.lanes[0].target.removeprefix("ref:")]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [fifo_dlq_id, "Arn"]}
    assert parsed.scheduler is not None
    (group,) = resources(template, "AWS::Scheduler::ScheduleGroup").values()
    assert parsed.scheduler.group == group["Properties"]["Name"]
    assert resources(template, "AWS::IAM::Role")[parsed.scheduler.role_arn.removeprefix("arn:")]
    assert parsed.max_payload_bytes == 1_032_192
    assert parsed.max_delay_seconds == 365 * 24 * 3600


def test_lamb_demo_client_config_parses_with_the_runtime_parser(
    demo_assembly: DemoAssembly,
) -> None:
    template = demo_assembly.templates["LambDemo"]
    text, _ = _client_config(template)
    parsed = runtime_config.parse_text(text)
    functions = resources(template, "AWS::Lambda::Function")
    assert parsed.backend == "lamb"
    assert parsed.fifo_dead_letter_queue is None  # Lamb has no FIFO queues
    assert list(parsed.queues) == ["default"]
    lanes = parsed.queues["default"].lanes
    assert [(lane.min_priority, lane.max_priority) for lane in lanes] == [(-100, 49), (50, 100)]
    for lane in lanes:
        assert lane.target == lane.arn  # Lamb: both are the lane function's ARN
        assert lane.arn.removeprefix("arn:") in functions
    assert len({lane.arn for lane in lanes}) == 2
    assert parsed.max_payload_bytes == 1032192  # 1 MiB less the dead-letter reserve


@pytest.mark.skipif(shutil.which("node") is None, reason="the CDK CLI needs Node.js")
def test_make_synth_runs_the_real_cdk_cli_and_produces_both_stacks(tmp_path: Path) -> None:
    cdk = REPO / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        pytest.skip("node_modules/.bin/cdk is missing: run `npm ci` (make does)")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "--no-notices", "--output", str(tmp_path / "out")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for stack in DEMO_STACKS:
        template = json.loads((tmp_path / "out" / f"{stack}.template.json").read_text())
        assert resources(template, "AWS::Lambda::Function")
    assert any(p.name.startswith("asset.") for p in (tmp_path / "out").iterdir())


def _readme_diagram(title: str) -> str:
    """The Mermaid block after ``**<title>**`` in docs/internals/architecture.md's "What each
    backend deploys"."""
    text = (REPO / "docs" / "internals" / "architecture.md").read_text()
    section = text.index("## What each backend deploys")
    begin = text.index("```mermaid\n", text.index(f"**{title}**", section))
    return text[begin : text.index("\n```\n", begin)]


def _diagram_lanes(diagram: str) -> list[str]:
    body = diagram[diagram.index("subgraph lanes") : diagram.index("\n    end\n")]
    return re.findall(r'^\s+\w+\["(.*?)"\]$', body, re.M)


def _bands(labels: list[str]) -> list[tuple[int, int]]:
    found = [re.search(r"priorities (-?\d+)\.\.(-?\d+)", label) for label in labels]
    return [(int(m[1]), int(m[2])) for m in found if m]


def _assert_draws_what_both_create(template: dict[str, Any], diagram: str) -> None:
    drawn = {
        "AWS::SSM::Parameter": "SSM parameter",
        "AWS::Scheduler::ScheduleGroup": "EventBridge Scheduler",
        "AWS::CloudWatch::Alarm": "CloudWatch alarms",
        "AWS::SQS::Queue": "dead-letter queue",
    }
    for type_name, label in drawn.items():
        assert resources(template, type_name), type_name
        assert label in diagram, label


def test_readme_goat_diagram_draws_the_goat_demo_template(demo_assembly: DemoAssembly) -> None:
    """One lane node per lane queue with the template's priority bands, the FIFO queue and its
    dead-letter queue, one function, per-lane mappings, the 100-receive redrive."""
    template = demo_assembly.templates["GoatDemo"]
    parsed = runtime_config.parse_text(_client_config(template)[0])
    diagram = _readme_diagram("Goat")
    queues = resources(template, "AWS::SQS::Queue")
    lane_queues = [k for k in queues if "DeadLetterQueue" not in k]
    labels = _diagram_lanes(diagram)
    assert len(labels) == len(lane_queues) == sum(len(q.lanes) for q in parsed.queues.values())
    assert _bands(labels) == [
        (lane.min_priority, lane.max_priority) for lane in parsed.queues["default"].lanes
    ]
    assert ("(FIFO)" in diagram) == any(q.fifo for q in parsed.queues.values())
    has_fifo_dlq = any("FifoDeadLetterQueue" in k for k in queues)
    assert ("FIFO dead-letter queue" in diagram) == has_fifo_dlq
    assert len(resources(template, "AWS::Lambda::Function")) == 1 and "fn[" in diagram
    mappings = resources(template, "AWS::Lambda::EventSourceMapping").values()
    assert len(mappings) == len(lane_queues)
    for mapping in mappings:
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for queue in (queues[k] for k in lane_queues):
        assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 100
    assert "redrive after 100 receives" in diagram
    _assert_draws_what_both_create(template, diagram)


def test_readme_lamb_diagram_draws_the_lamb_demo_template(demo_assembly: DemoAssembly) -> None:
    """One lane node per lane function with the template's priority bands, no SQS lane, and the
    dead-letter queue as every function's on-failure destination."""
    template = demo_assembly.templates["LambDemo"]
    parsed = runtime_config.parse_text(_client_config(template)[0])
    diagram = _readme_diagram("Lamb")
    labels = _diagram_lanes(diagram)
    functions = resources(template, "AWS::Lambda::Function")
    assert len(labels) == len(functions) == len(parsed.queues["default"].lanes)
    assert _bands(labels) == [
        (lane.min_priority, lane.max_priority) for lane in parsed.queues["default"].lanes
    ]
    assert all("DeadLetterQueue" in k for k in resources(template, "AWS::SQS::Queue"))
    for config in resources(template, "AWS::Lambda::EventInvokeConfig").values():
        destination = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
        assert destination["Fn::GetAtt"][0].startswith("JobsDeadLetterQueue")
    assert "on-failure destination" in diagram
    _assert_draws_what_both_create(template, diagram)
