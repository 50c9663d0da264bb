"""LocalCloud as a whole: configs point at itself, SSM copies are rewritten, stop stops moto."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from lambda_jobs_tools.emulator.console_log import JobLog
from lambda_jobs_tools.emulator.local import LocalCloud, LocalOptions

from tests.tools.emulator.assembly_fixture import template, write_assembly


def test_client_config_points_at_the_emulator_and_ssm_copy_is_rewritten(tmp_path: Path) -> None:
    """With ``--no-iam``: moto, the Invoke API, and the SQS front in the copy functions read."""
    app = write_assembly(tmp_path / "cdk.out")
    with LocalCloud(LocalOptions(app=app, iam=False), log=JobLog(quiet=True)) as cloud:
        assert cloud.moto is not None and cloud.invoke_api is not None
        assert cloud.scheduler_front is not None  # moto, with AWS's error answers
        (document,) = cloud.client_configs()
        assert document["endpoints"] == {
            "sqs": cloud.moto.url,
            "scheduler": cloud.scheduler_front.url,
            "ssm": cloud.moto.url,
            "dynamodb": cloud.moto.url,
            "lambda": cloud.invoke_api.url,
        }
        ssm = boto3.client(
            "ssm",
            endpoint_url=cloud.moto.url,
            region_name=document["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        stored = ssm.get_parameter(Name="/hm/client-config")["Parameter"]["Value"]
        # The copy functions read: SQS through the front that keeps senders' trace headers.
        assert cloud.sqs_front is not None
        front = {**document["endpoints"], "sqs": cloud.sqs_front.url}
        assert json.loads(stored) == {**document, "endpoints": front}
        moto_process = cloud.moto.process
    assert moto_process.poll() is not None, "moto is stopped with the emulator"


def test_with_iam_every_endpoint_is_the_gateway_and_its_evaluator_stops_with_it(
    tmp_path: Path,
) -> None:
    """The default: one endpoint that judges each call (the published SSM copy too)."""
    app = write_assembly(tmp_path / "cdk.out")
    with LocalCloud(LocalOptions(app=app), log=JobLog(quiet=True)) as cloud:
        assert cloud.iam is not None
        gateway = cloud.iam.url
        (document,) = cloud.client_configs()
        assert set(document["endpoints"].values()) == {gateway}
        ssm = boto3.client(
            "ssm",
            endpoint_url=gateway,
            region_name=document["region"],
            aws_access_key_id="local",  # not a role's key, no --caller-role: served unchecked
            aws_secret_access_key="local",
        )
        stored = ssm.get_parameter(Name="/hm/client-config")["Parameter"]["Value"]
        assert json.loads(stored) == document
        evaluator = cloud.iam.evaluator._process
    assert evaluator.poll() is not None, "the evaluator process is stopped with the emulator"


def test_concurrency_is_reserved_else_at_least_the_mappings_maximum(tmp_path: Path) -> None:
    reserved = write_assembly(tmp_path / "reserved")
    with LocalCloud(LocalOptions(app=reserved), log=JobLog(quiet=True)) as cloud:
        assert [pool.concurrency for pool in cloud.pools.values()] == [3]
    doc = template()
    del doc["Resources"]["Fn"]["Properties"]["ReservedConcurrentExecutions"]
    unreserved = write_assembly(tmp_path / "unreserved", doc)
    options = LocalOptions(app=unreserved, default_concurrency=1)
    with LocalCloud(options, log=JobLog(quiet=True)) as cloud:
        assert [pool.concurrency for pool in cloud.pools.values()] == [2]
