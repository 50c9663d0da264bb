"""A redrive killed between copy and delete, then resumed, leaves exactly one copy of each job.

Pinned behaviour: "redrive interrupted and resumed leaves exactly one copy of each
job". The CLI runs as a child process whose SQS endpoint is a proxy in front of moto; the proxy
SIGKILLs it when its 3rd ``DeleteMessage`` arrives: two entries are fully redriven, the third is
copied and journaled but still in the DLQ, the rest untouched. The rerun (straight to moto, same
journal) must delete the third without copying it again and redrive the rest.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.tools.ops.conftest import TASKS, OpsBackend, cli_process
from tests.tools.ops.killing_proxy import KillingProxy

JOBS = 6
VISIBILITY = 2  # seconds the killed run's held entries stay hidden


def fill_dlq(goat: OpsBackend, tmp_path: Path) -> set[str]:
    from datetime import UTC, datetime

    from lambda_jobs.envelope import Envelope

    ids = set()
    for index in range(JOBS):
        path = tmp_path / f"job{index}"
        Path(str(path) + ".fail").touch()
        envelope = Envelope(
            id=f"job-{index}",
            task=f"{TASKS}.flaky",
            args=[str(path)],
            enqueued_at=datetime.now(UTC),
        )
        goat.sqs.send_message(QueueUrl=goat.low_url, MessageBody=envelope.to_json())
        ids.add(envelope.id)
    for _ in range(JOBS // 2):
        goat.run(goat.low_url, 2)
    assert goat.depth(goat.dlq_url) == JOBS
    return ids


def test_redrive_killed_between_copy_and_delete_then_resumed_leaves_one_copy_each(
    goat: OpsBackend, tmp_path: Path
):
    ids = fill_dlq(goat, tmp_path)
    journal = tmp_path / "journal.jsonl"
    proxy = KillingProxy(goat.server.url, "DeleteMessage", n=3)
    try:
        crashing = cli_process(
            "dlq",
            "redrive",
            "--journal",
            str(journal),
            "--visibility-timeout",
            str(VISIBILITY),
            env={"LAMBDA_JOBS_CONFIG": json.dumps(goat.config_document(proxy.url))},
        )
        proxy.victim_pid = crashing.pid
        crashing.communicate(timeout=60)
    finally:
        proxy.close()
    assert proxy.killed.is_set() and crashing.returncode == -9
    assert goat.depth(goat.low_url) == 3  # two redriven and deleted, one copied, not deleted
    assert goat.depth(goat.dlq_url) == JOBS - 2
    assert len(journal.read_text().splitlines()) == 3

    goat.wait_visible(goat.dlq_url, JOBS - 2)  # the killed run's hold on them expires
    resumed = cli_process(
        "dlq",
        "redrive",
        "--journal",
        str(journal),
        "--json",
        env={"LAMBDA_JOBS_CONFIG": goat.config},
    )
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    report = json.loads(out)
    assert report["resumed"] == 1 and len(report["redriven"]) == JOBS - 2
    assert "resuming: 3 copies of an interrupted redrive are recorded" in err
    assert "copie(s)" not in err

    copies = Counter(json.loads(m["Body"])["id"] for m in goat.drain(goat.low_url))
    assert copies == Counter({job_id: 1 for job_id in ids})
    assert goat.depth(goat.dlq_url) == 0
    assert not journal.exists()


def test_copy_refused_keeps_the_entry_and_reports_it(
    goat: OpsBackend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from tests.tools.ops.conftest import cli_run

    fill_dlq(goat, tmp_path)
    goat.sqs.delete_queue(QueueUrl=goat.low_url)  # the lane is gone: SendMessage fails
    status, _, err = cli_run(capsys, "dlq", "redrive", "--journal", str(tmp_path / "j"))
    assert status == 1
    assert "copy refused" in err and "0 redriven" in err and f"{JOBS} failed" in err
    goat.wait_visible(goat.dlq_url, JOBS, timeout=5)


def test_duplicate_entries_across_a_killed_and_resumed_redrive_give_one_copy_per_job(
    goat: OpsBackend, tmp_path: Path
):
    """Each job has two DLQ entries (as a duplicate delivery leaves them); the first run is killed
    at its 3rd delete; the rerun acknowledges the second entries of the jobs the journal shows
    copied instead of copying them again: one copy per job in all."""
    ids = fill_dlq(goat, tmp_path)
    for message in goat.drain(goat.dlq_url):  # every entry twice
        attributes = {
            name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
            for name, value in message["MessageAttributes"].items()
        }
        for _ in range(2):
            goat.sqs.send_message(
                QueueUrl=goat.dlq_url, MessageBody=message["Body"], MessageAttributes=attributes
            )
    assert goat.depth(goat.dlq_url) == 2 * JOBS
    journal = tmp_path / "journal.jsonl"
    proxy = KillingProxy(goat.server.url, "DeleteMessage", n=3)
    try:
        crashing = cli_process(
            "dlq",
            "redrive",
            "--journal",
            str(journal),
            "--visibility-timeout",
            str(VISIBILITY),
            env={"LAMBDA_JOBS_CONFIG": json.dumps(goat.config_document(proxy.url))},
        )
        proxy.victim_pid = crashing.pid
        crashing.communicate(timeout=60)
    finally:
        proxy.close()
    assert proxy.killed.is_set() and crashing.returncode == -9

    goat.wait_visible(goat.dlq_url, goat.depth(goat.dlq_url), timeout=15)
    resumed = cli_process(
        "dlq",
        "redrive",
        "--journal",
        str(journal),
        "--json",
        env={"LAMBDA_JOBS_CONFIG": goat.config},
    )
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    report = json.loads(out)
    assert report["failed"] == [] and report["skipped"] == []

    copies = Counter(json.loads(m["Body"])["id"] for m in goat.drain(goat.low_url))
    assert copies == Counter({job_id: 1 for job_id in ids})
    assert goat.depth(goat.dlq_url) == 0
