"""Reliability under load: many jobs through each backend under ``lambda-jobs local``.

Per backend, ``N`` jobs go out in one ``enqueue_many``: 10% ``flaky`` (fail once, then succeed on
the retry), 2% ``doomed`` (fail on both attempts) and the rest ``steady``. The test then waits until
every job has reached its end and checks, per job:

- every ``steady`` and ``flaky`` job succeeded (a flaky one on attempt 2, after failing attempt 1);
- every ``doomed`` job is in the dead-letter queue, exactly once, with its error (type, message
  naming the job, 2 attempts) and nothing else is;
- no job is lost: each ran at least as often as its kind needs;
- executions are counted and printed; duplicates (at-least-once delivery) are reported, not
  failed.

Sizes: ``LAMBDA_JOBS_SOAK_GOAT_JOBS`` / ``LAMBDA_JOBS_SOAK_LAMB_JOBS`` (CI: 100 and 40; ``make
soak``: 2,000 and 500, the issue's load).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import aws, enqueue_many
from lambda_jobs.emulator.process import EmulatorProcess

from tests.e2e.conftest import synthesize
from tests.soak.soak_app import SOAK_PROJECT, STACKS

pytestmark = pytest.mark.e2e

if str(SOAK_PROJECT) not in sys.path:
    sys.path.insert(0, str(SOAK_PROJECT))
#: The tasks module, imported under the name the functions register it by (``soak_tasks``).
soak_tasks: Any = importlib.import_module("soak_tasks")

SIZES = {
    "goat": int(os.environ.get("LAMBDA_JOBS_SOAK_GOAT_JOBS", "100")),
    "lamb": int(os.environ.get("LAMBDA_JOBS_SOAK_LAMB_JOBS", "40")),
}
#: Runs each kind needs: steady once, flaky twice (fail, succeed), doomed twice (both fail).
RUNS_NEEDED = {"steady": 1, "flaky": 2, "doomed": 2}


def kind_of(index: int) -> str:
    """2% doomed, 10% flaky, the rest steady, spread through the batch."""
    if index % 50 == 0:
        return "doomed"
    if index % 10 == 1:
        return "flaky"
    return "steady"


@pytest.fixture(scope="module")
def soak_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(
        tmp_path_factory.mktemp("soak") / "cdk.out", app="python -m tests.soak.soak_app"
    )


@pytest.fixture
def emulator(
    request: pytest.FixtureRequest,
    soak_assembly: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[EmulatorProcess, Path]]:
    backend: str = request.param
    log = tmp_path / "runs.jsonl"
    extra = [
        "--stack",
        STACKS[backend],
        "--quiet-functions",
        "--env",
        f"LAMBDA_JOBS_SOAK_LOG={log}",
    ]
    with EmulatorProcess(
        soak_assembly, log_path=tmp_path / "emulator.log", extra_args=extra
    ) as emu:
        monkeypatch.setenv("LAMBDA_JOBS_CONFIG", emu.configs[backend])
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        aws.reset()
        yield emu, log
    aws.reset()


def runs(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]


def drain_dead_letters(sqs: Any, url: str, seen: dict[str, dict[str, Any]]) -> None:
    """Receive every DLQ message not seen yet (hidden for 5 minutes so each comes once)."""
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=300,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        for message in messages:
            seen[message["MessageId"]] = message


def attribute(message: dict[str, Any], name: str) -> str | None:
    value = (message.get("MessageAttributes") or {}).get(f"lambda_jobs.{name}")
    return None if value is None else str(value["StringValue"])


@pytest.mark.parametrize("emulator", ["goat", "lamb"], indirect=True)
def test_load_every_flaky_job_succeeds_every_failing_one_is_dead_lettered_none_lost(
    emulator: tuple[EmulatorProcess, Path], request: pytest.FixtureRequest
) -> None:
    emu, log = emulator
    backend = request.node.callspec.params["emulator"]
    size = SIZES[backend]
    config = json.loads(emu.configs[backend])
    tasks = {kind: getattr(soak_tasks, kind) for kind in RUNS_NEEDED}
    keys = {f"{backend}-{index:05d}": kind_of(index) for index in range(size)}
    started = time.monotonic()
    receipts = enqueue_many(tasks[kind].prepare(key) for key, kind in keys.items())
    enqueued_s = time.monotonic() - started
    job_ids = {receipt.id: key for receipt, key in zip(receipts, keys, strict=True)}

    import boto3

    sqs = boto3.client(
        "sqs",
        endpoint_url=config["endpoints"]["sqs"],
        region_name=config["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    dlq_url = config["dead_letter_queue"]["url"]
    dead: dict[str, dict[str, Any]] = {}
    doomed_keys = {key for key, kind in keys.items() if kind == "doomed"}
    deadline = time.monotonic() + 60 + size * 0.25
    while True:
        succeeded = {run["key"] for run in runs(log) if run["outcome"] == "succeeded"}
        drain_dead_letters(sqs, dlq_url, dead)
        done = len(succeeded) == size - len(doomed_keys) and len(dead) >= len(doomed_keys)
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    finished_s = time.monotonic() - started
    all_runs = runs(log)
    per_key = Counter(run["key"] for run in all_runs)
    lost = sorted(key for key, kind in keys.items() if per_key[key] < RUNS_NEEDED[kind])
    duplicates = sum(max(0, per_key[key] - RUNS_NEEDED[kind]) for key, kind in keys.items())
    print(
        f"\nsoak {backend}: {size} jobs ({len(doomed_keys)} doomed, "
        f"{sum(1 for k in keys.values() if k == 'flaky')} flaky), enqueued in {enqueued_s:.1f} s, "
        f"settled in {finished_s:.1f} s; {len(all_runs)} executions, {duplicates} duplicate "
        f"(at-least-once), {len(lost)} lost, {len(dead)} in the DLQ"
    )
    assert not lost, f"jobs that did not run as often as they must: {lost[:20]}"
    not_succeeded = sorted(
        key for key, kind in keys.items() if kind != "doomed" and key not in succeeded
    )
    assert not not_succeeded, f"jobs that never succeeded: {not_succeeded[:20]}"
    for run in all_runs:
        if keys[run["key"]] == "flaky":
            expected = "failed" if run["attempt"] == 1 else "succeeded"
            assert run["outcome"] == expected, run
    dead_keys = Counter(job_ids.get(attribute(m, "job_id") or "", "?") for m in dead.values())
    assert set(dead_keys) == doomed_keys, (
        f"DLQ holds {sorted(dead_keys)[:20]}, expected exactly the doomed jobs"
    )
    assert all(count == 1 for count in dead_keys.values()), f"dead-lettered twice: {dead_keys}"
    for message in dead.values():
        key = job_ids[attribute(message, "job_id") or ""]
        assert attribute(message, "reason") == "exhausted"
        assert attribute(message, "error_type") == "RuntimeError"
        assert f"{key}: always fails on purpose" in (attribute(message, "error_message") or "")
        assert attribute(message, "attempts") == "2"
