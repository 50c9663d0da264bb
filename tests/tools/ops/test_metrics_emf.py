"""EMF metrics from the real handler entry point, ``lambda_jobs.handler.handle``, in a child.

Pinned behaviour: the handler emits CloudWatch Embedded Metric Format lines
counting jobs succeeded / failed / retried / dead-lettered with job duration and queue latency;
dimensions are backend and queue by default, task only when switched on; ``LAMBDA_JOBS_METRICS=0``
switches them off; every line is validated against the EMF specification's required structure;
a batch's metrics are one line, written once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs.worker import metrics
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client
from tests.runtime import lambda_events as ev

REPO = Path(__file__).resolve().parents[3]
TASKS = "tests.runtime.sample_tasks"
T = f"{TASKS}."

CHILD = """
import json, sys
import lambda_jobs.handler as handler
from tests.runtime.lambda_events import Context
for event in json.loads(sys.stdin.read()):
    handler.handle(event, Context())
"""


def validate_emf(doc: Any) -> None:
    """Raise AssertionError unless ``doc`` has the structure the EMF specification requires.

    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
    """
    assert isinstance(doc, dict), "root must be an object"
    aws = doc.get("_aws")
    assert isinstance(aws, dict), "_aws metadata object is required"
    assert isinstance(aws.get("Timestamp"), int) and aws["Timestamp"] > 0, "_aws.Timestamp (ms)"
    directives = aws.get("CloudWatchMetrics")
    assert isinstance(directives, list) and directives, "CloudWatchMetrics must be a list"
    for directive in directives:
        namespace = directive.get("Namespace")
        assert isinstance(namespace, str) and 1 <= len(namespace) <= 1024
        dimension_sets = directive.get("Dimensions")
        assert isinstance(dimension_sets, list), "Dimensions: array of DimensionSet"
        for dimension_set in dimension_sets:
            assert isinstance(dimension_set, list) and len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(name, str) and 1 <= len(name) <= 250
                value = doc.get(name)
                assert isinstance(value, str) and value, f"dimension {name} needs a string member"
        metric_list = directive.get("Metrics")
        assert isinstance(metric_list, list) and 1 <= len(metric_list) <= 100
        for metric in metric_list:
            name = metric.get("Name")
            assert isinstance(name, str) and 1 <= len(name) <= 1024
            assert metric.get("Unit") in {"Count", "Milliseconds", "Seconds", "None"}
            value = doc.get(name)
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100, f"metric {name}: 1..100 values"
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def run_handler(moto: MotoServer, events: list[Any], **env: str) -> list[dict[str, Any]]:
    """Run ``events`` through ``lambda_jobs.handler.handle`` in a child; its stdout lines."""
    child_env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "LAMBDA_JOBS_TASKS": TASKS,
        "LAMBDA_JOBS_BACKEND": "goat",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": ev.REGION,
        "AWS_ENDPOINT_URL": moto.url,
        **env,
    }
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        env=child_env,
        cwd=str(REPO),
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]


def emf(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "_aws" in line]


@pytest.fixture
def batch(moto: MotoServer, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """A real SQS batch of 4: two succeed, one fails with retries left, one is exhausted."""
    sqs = boto_client(moto, "sqs")
    url, arn = ev.make_queue(sqs, "jobs")
    dlq_url, _ = ev.make_queue(sqs, "jobs-dlq")
    ev.send(
        sqs,
        url,
        ev.envelope(T + "write_file", str(tmp_path / "a"), "x").to_json(),
        ev.envelope(T + "write_file", str(tmp_path / "b"), "x").to_json(),
        ev.envelope(T + "fail_with_retries", str(tmp_path / "c")).to_json(),
        ev.envelope(T + "always_fail", str(tmp_path / "d")).to_json(),
    )
    return ev.sqs_event(sqs, url, arn, 4), dlq_url


def test_emf_line_per_batch_counts_outcomes_and_follows_the_spec(
    moto: MotoServer, batch: tuple[dict[str, Any], str]
):
    event, dlq_url = batch
    lines = run_handler(moto, [event], LAMBDA_JOBS_DLQ_URL=dlq_url)
    [doc] = emf(lines)  # one line for the whole batch: one dimension set
    validate_emf(doc)
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "LambdaJobs"
    assert directive["Dimensions"] == [["backend", "queue"]]
    assert (doc["backend"], doc["queue"]) == ("goat", "default")
    assert "task" not in doc
    assert doc["JobsSucceeded"] == 2
    assert doc["JobsFailed"] == 2
    assert doc["JobsRetried"] == 1
    assert doc["JobsDeadLettered"] == 1
    assert len(doc["JobDuration"]) == 4
    assert len(doc["QueueLatency"]) == 4 and all(0 <= v < 60_000 for v in doc["QueueLatency"])
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units["JobDuration"] == units["QueueLatency"] == "Milliseconds"
    assert units["JobsSucceeded"] == "Count"
    job_lines = [line for line in lines if line.get("type") == "lambda_jobs.job"]
    assert all("queue_latency_ms" in line for line in job_lines)


def test_task_dimension_only_when_switched_on(moto: MotoServer, batch: tuple[dict[str, Any], str]):
    event, dlq_url = batch
    lines = run_handler(
        moto, [event], LAMBDA_JOBS_DLQ_URL=dlq_url, LAMBDA_JOBS_METRICS_TASK_DIMENSION="1"
    )
    docs = emf(lines)
    for doc in docs:
        validate_emf(doc)
        assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["backend", "queue", "task"]]
    by_task = {doc["task"]: doc for doc in docs}
    assert set(by_task) == {T + "write_file", T + "fail_with_retries", T + "always_fail"}
    assert by_task[T + "write_file"]["JobsSucceeded"] == 2
    assert by_task[T + "always_fail"]["JobsDeadLettered"] == 1


def test_metrics_switched_off_write_no_emf_line(
    moto: MotoServer, batch: tuple[dict[str, Any], str]
):
    event, dlq_url = batch
    lines = run_handler(moto, [event], LAMBDA_JOBS_DLQ_URL=dlq_url, LAMBDA_JOBS_METRICS="0")
    assert emf(lines) == []
    assert len([line for line in lines if line.get("type") == "lambda_jobs.job"]) == 4


def test_lamb_job_emits_one_line_with_unknown_backend_when_unset(moto: MotoServer, tmp_path: Path):
    job = ev.envelope(T + "write_file", str(tmp_path / "lamb"), "x")
    lines = run_handler(moto, [job.to_dict()], LAMBDA_JOBS_BACKEND="")
    [doc] = emf(lines)
    validate_emf(doc)
    assert (doc["backend"], doc["queue"], doc["JobsSucceeded"]) == ("unknown", "default", 1)


def test_more_than_100_values_split_into_valid_lines():
    metrics.begin()
    try:
        line = {"outcome": "succeeded", "backend": "goat", "queue": "q", "duration_ms": 1.5}
        for _ in range(250):
            metrics.observe(line, 2.0)
        docs = metrics.documents(now_ms=1)
    finally:
        metrics.discard()
    assert len(docs) == 3
    for doc in docs:
        validate_emf(doc)
    assert sum(d["JobsSucceeded"] for d in docs) == 250
    assert sum(len(d["JobDuration"]) for d in docs) == 250


def test_a_batch_of_records_is_counted_without_writing_and_flushed_as_one_line(
    capsys: pytest.CaptureFixture[str],
):
    """observe() per record writes nothing; flush() of a batch of 10 on one queue writes one line.

    What keeps metrics cheap per record (no write per job); their cost in µs is measured by
    ``benchmarks/bench_per_record.py``, never asserted here.
    """
    line = {"outcome": "succeeded", "backend": "goat", "queue": "q", "duration_ms": 1.5}
    metrics.begin()
    for _ in range(10):
        metrics.observe(line, 3.0)
    assert capsys.readouterr().out == ""
    metrics.flush()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    validate_emf(doc)
    assert doc["JobsSucceeded"] == 10
    assert doc["JobDuration"] == [1.5] * 10
    assert doc["QueueLatency"] == [3.0] * 10


@pytest.mark.parametrize("task_dimension", ["", "1"])
def test_close_writes_exactly_the_documents_as_json_lines(
    monkeypatch: pytest.MonkeyPatch, task_dimension: str
):
    """``close()`` writes its lines by hand (directives encoded once): pinned to ``documents()``."""
    monkeypatch.setenv("LAMBDA_JOBS_METRICS_TASK_DIMENSION", task_dimension)
    metrics.begin()
    try:
        for index in range(230):  # more than 100 values: several documents of one dimension set
            metrics.count("succeeded", "goat", "q", "t.a", 1.5 + index, 2.0 if index % 3 else None)
        metrics.count("retrying", "goat", "q", "t.b", 3.0, None)
        metrics.count("dead_lettered", None, None, None, 0.0, None)  # "unknown" dimensions
        metrics.count("handed_back", "", "", "", 0.0, None)  # the same dimension set
        metrics.count("succeeded", "goat", 'q "é"', "t.a", 0.5, 7.25)
        docs = metrics.documents(now_ms=1234)
    finally:
        text = metrics.close(now_ms=1234)
    assert len(docs) >= 4
    assert text == "".join(json.dumps(doc, separators=(",", ":")) + "\n" for doc in docs)


def test_the_backend_dimension_is_the_backends_own_name_when_the_construct_sets_it(
    monkeypatch: pytest.MonkeyPatch,
):
    """Two backends of one account and region publish distinct dimension sets (issue 30.14)."""
    line = {"outcome": "succeeded", "backend": "goat", "queue": "default", "duration_ms": 1.0}
    docs = []
    for name in ("Shop-Jobs-1A2B3C4D", "Billing-Jobs-5E6F7A8B"):
        monkeypatch.setenv("LAMBDA_JOBS_METRICS_BACKEND", name)
        metrics.begin()
        try:
            metrics.observe(line, None)
            docs += metrics.documents(now_ms=1)
        finally:
            metrics.discard()
    for doc in docs:
        validate_emf(doc)
    assert [(d["backend"], d["queue"]) for d in docs] == [
        ("Shop-Jobs-1A2B3C4D", "default"),
        ("Billing-Jobs-5E6F7A8B", "default"),
    ]
    monkeypatch.delenv("LAMBDA_JOBS_METRICS_BACKEND")
    metrics.begin()
    try:
        metrics.observe(line, None)
        (doc,) = metrics.documents(now_ms=1)
    finally:
        metrics.discard()
    assert doc["backend"] == "goat"  # without it, LAMBDA_JOBS_BACKEND's value as before


def test_every_attempt_that_ran_has_a_duration_however_short(moto: MotoServer, tmp_path: Path):
    """Issue 32: fast jobs (0.0 ms in the log) were left out of ``JobDuration``, so its count was
    below the jobs run and its percentiles biased upwards. A record refused unrun has none."""
    sqs = boto_client(moto, "sqs")
    url, arn = ev.make_queue(sqs, "fast")
    dlq_url, _ = ev.make_queue(sqs, "fast-dlq")
    bodies = [ev.envelope(T + "give_back", "small").to_json() for _ in range(8)]
    ev.send(sqs, url, *bodies, ev.envelope("tests.runtime.nobody_registered_this").to_json())
    lines = run_handler(moto, [ev.sqs_event(sqs, url, arn, 9)], LAMBDA_JOBS_DLQ_URL=dlq_url)
    [doc] = emf(lines)
    validate_emf(doc)
    jobs = [line for line in lines if line.get("type") == "lambda_jobs.job"]
    ran = [line for line in jobs if line["outcome"] == "succeeded"]
    assert len(ran) == 8 and doc["JobsDeadLettered"] == 1
    assert sorted(doc["JobDuration"]) == sorted(line["duration_ms"] for line in ran)
    assert len(doc["QueueLatency"]) == 8  # the refused record ran no attempt: no latency either


def test_a_zero_duration_is_a_value_of_job_duration():
    metrics.begin()
    try:
        for duration in (0.0, 0.0, 2.5):
            metrics.count("succeeded", "goat", "q", None, duration, None)
        metrics.count("dead_lettered", "goat", "q", None, None, None)  # refused: did not run
        [doc] = metrics.documents(now_ms=1)
    finally:
        metrics.discard()
    validate_emf(doc)
    assert doc["JobDuration"] == [0.0, 0.0, 2.5]
    assert (doc["JobsSucceeded"], doc["JobsDeadLettered"]) == (3, 1)


def test_a_record_run_alone_is_logged_and_counted_once(moto: MotoServer, tmp_path: Path):
    """A record that came back runs in a child process (:mod:`lambda_jobs.worker.isolation`): its
    line and its metrics are written by the child, once; the batch's others by the handler."""
    sqs = boto_client(moto, "sqs")
    url, arn = ev.make_queue(sqs, "alone")
    ev.send(sqs, url, ev.envelope(T + "write_file", str(tmp_path / "back"), "x").to_json())
    [first] = ev.receive(sqs, url, 1)  # its invocation crashed: it comes back, receive count 2
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    ev.send(sqs, url, ev.envelope(T + "write_file", str(tmp_path / "new"), "x").to_json())
    event = ev.sqs_event(sqs, url, arn, 2)
    counts = sorted(r["attributes"]["ApproximateReceiveCount"] for r in event["Records"])
    assert counts == ["1", "2"]
    lines = run_handler(moto, [event])
    jobs = [line for line in lines if line.get("type") == "lambda_jobs.job"]
    assert sorted(line["outcome"] for line in jobs) == ["succeeded", "succeeded"]
    assert len({line["id"] for line in jobs}) == 2
    docs = emf(lines)
    for doc in docs:
        validate_emf(doc)
    assert sum(doc["JobsSucceeded"] for doc in docs) == 2
    assert sum(len(doc["JobDuration"]) for doc in docs) == 2


def test_workflows_ended_are_counted_once_in_the_steps_document_only_where_some_ended():
    """``WorkflowsSucceeded`` / ``WorkflowsFailed`` (docs/guide/workflows.md): in the document of
    the step's dimensions, as Count metrics the EMF directive declares; absent elsewhere."""
    metrics.begin()
    try:
        for _ in range(3):
            metrics.count("succeeded", "goat", "q", "t.step", 1.0, None)
        metrics.count("workflow_succeeded", "goat", "q", "t.step", None, None)
        metrics.count("workflow_succeeded", "", "q", "t.step", None, None)  # backend unknown
        metrics.count("dead_lettered", "goat", "q", "t.step", 1.0, None)
        metrics.count("workflow_failed", "goat", "q", "t.step", None, None)
        metrics.count("succeeded", "goat", "other", "t.plain", 1.0, None)
        docs = metrics.documents(now_ms=1)
    finally:
        text = metrics.close(now_ms=1)
    for doc in docs:
        validate_emf(doc)
    by_dimensions = {(doc["backend"], doc["queue"]): doc for doc in docs}
    assert set(by_dimensions) == {("goat", "q"), ("unknown", "q"), ("goat", "other")}
    step, plain = by_dimensions["goat", "q"], by_dimensions["goat", "other"]
    declared = {m["Name"]: m["Unit"] for m in step["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert step["WorkflowsSucceeded"] == 1 and step["WorkflowsFailed"] == 1
    assert by_dimensions["unknown", "q"]["WorkflowsSucceeded"] == 1
    assert step["JobsSucceeded"] == 3 and step["JobsFailed"] == 1
    assert declared["WorkflowsSucceeded"] == declared["WorkflowsFailed"] == "Count"
    assert "WorkflowsSucceeded" not in plain and "WorkflowsFailed" not in plain
    assert not any(
        m["Name"].startswith("Workflows") for m in plain["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    )
    assert text == "".join(json.dumps(doc, separators=(",", ":")) + "\n" for doc in docs)
