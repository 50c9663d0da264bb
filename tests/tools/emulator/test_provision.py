"""The template is the source of truth: queues get their attributes in moto, functions, mappings
and async configs are read with every reference resolved to local values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lambda_jobs_tools.emulator.assembly import read_assembly
from lambda_jobs_tools.emulator.motoserver import MotoServer
from lambda_jobs_tools.emulator.provision import ProvisionError, StackProvisioner

from tests.conftest import REGION, boto_client
from tests.tools.emulator.assembly_fixture import ASSET_HASH, template, write_assembly


def provision(moto: MotoServer, root: Path, doc: dict | None = None):  # type: ignore[type-arg]
    (artifact,) = read_assembly(write_assembly(root, doc))
    return StackProvisioner(artifact, moto_url=moto.url, region=REGION).provision()


def test_queues_are_created_with_their_template_attributes(
    moto: MotoServer, tmp_path: Path
) -> None:
    spec = provision(moto, tmp_path / "cdk.out")
    sqs = boto_client(moto, "sqs")
    work = sqs.get_queue_attributes(QueueUrl=spec.queues["Work"].url, AttributeNames=["All"])
    attributes = work["Attributes"]
    assert attributes["DelaySeconds"] == "2"
    assert attributes["VisibilityTimeout"] == "42"
    assert attributes["MessageRetentionPeriod"] == "3600"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == spec.queues["Dlq"].arn
    assert int(redrive["maxReceiveCount"]) == 7
    ordered = spec.queues["Ordered"]
    assert ordered.fifo and ordered.content_based_deduplication
    assert ordered.name.endswith(".fifo")


def test_function_mapping_and_async_config_are_read_resolved(
    moto: MotoServer, tmp_path: Path
) -> None:
    spec = provision(moto, tmp_path / "cdk.out")
    function = spec.functions["Fn"]
    assert function.timeout_seconds == 9
    assert function.memory_mb == 256
    assert function.reserved_concurrency == 3
    assert function.environment["LAMBDA_JOBS_DLQ_URL"] == spec.queues["Dlq"].url
    assert function.environment["LAMBDA_JOBS_TASKS"] == "app.tasks"  # from the image's ENV
    assert function.code_dir.name == f"asset.{ASSET_HASH}"
    assert function.arn == f"arn:aws:lambda:{REGION}:123456789012:function:{function.name}"
    (mapping,) = spec.event_source_mappings
    assert (mapping.queue.logical_id, mapping.function.logical_id) == ("Work", "Fn")
    assert (mapping.batch_size, mapping.batching_window_seconds) == (4, 1)
    assert mapping.maximum_concurrency == 2
    assert mapping.report_batch_item_failures
    config = spec.async_invoke[function.name]
    assert (config.max_retry_attempts, config.max_event_age_seconds) == (1, 120)
    assert config.on_failure_arn == spec.queues["Dlq"].arn


def test_client_config_is_resolved_and_ssm_and_group_exist(
    moto: MotoServer, tmp_path: Path
) -> None:
    spec = provision(moto, tmp_path / "cdk.out")
    (document,) = spec.client_configs
    assert document["region"] == REGION
    assert document["queues"]["default"]["lanes"][0]["target"] == spec.queues["Work"].url
    assert spec.config_parameters == {"/hm/client-config": document}
    stored = boto_client(moto, "ssm").get_parameter(Name="/hm/client-config")
    assert json.loads(stored["Parameter"]["Value"]) == document
    assert spec.schedule_groups == ["hm-group"]


def test_function_without_a_staged_image_is_named(moto: MotoServer, tmp_path: Path) -> None:
    doc = template()
    doc["Resources"]["Fn"]["Properties"]["Code"] = {"ZipFile": "def handler(e, c): pass"}
    with pytest.raises(ProvisionError, match="function Fn: the emulator runs container-image"):
        provision(moto, tmp_path / "cdk.out", doc)


def test_reference_to_a_missing_resource_is_named(moto: MotoServer, tmp_path: Path) -> None:
    doc = template()
    doc["Resources"]["Fn"]["Properties"]["Environment"]["Variables"]["X"] = {"Ref": "Ghost"}
    with pytest.raises(ProvisionError, match="function Fn: Ref to 'Ghost'"):
        provision(moto, tmp_path / "cdk.out", doc)
