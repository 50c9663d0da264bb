"""A Goat backend made of real moto queues, its client configuration, and the real handler.

``OpsBackend`` creates the lanes (queue ``default``: a low lane -100..0 and a high lane 1..100;
FIFO queue ``ordered``), the DLQ and a schedule group in the session's moto server, and runs
batches through :func:`lambda_jobs.worker.dispatch.dispatch` exactly as the event-source mapping
would (receive, run, delete what is not in ``batchItemFailures``). :func:`cli` runs ``lambda-jobs``
in-process, :func:`cli_process` as a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs.worker.coldstart import Runtime, cold_start
from lambda_jobs.worker.dispatch import dispatch
from lambda_jobs_tools import cli
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import REGION, boto_client
from tests.runtime import lambda_events as ev

REPO = Path(__file__).resolve().parents[3]
TASKS = "tests.tools.ops.ops_tasks"


class OpsBackend:
    def __init__(self, server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = server
        self.sqs = boto_client(server, "sqs")
        self.low_url, self.low_arn = ev.make_queue(self.sqs, "jobs-low")
        self.high_url, self.high_arn = ev.make_queue(self.sqs, "jobs-high")
        self.fifo_url, self.fifo_arn = ev.make_queue(self.sqs, "jobs-ordered", fifo=True)
        self.dlq_url, self.dlq_arn = ev.make_queue(self.sqs, "jobs-dlq")
        boto_client(server, "scheduler").create_schedule_group(Name="jobs")
        monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", self.dlq_url)
        monkeypatch.setenv("LAMBDA_JOBS_BACKEND", "goat")
        self.document = self.config_document(server.url)
        self.config = json.dumps(self.document)
        monkeypatch.setenv("LAMBDA_JOBS_CONFIG", self.config)
        self.runtime: Runtime = cold_start({"LAMBDA_JOBS_TASKS": TASKS})

    def config_document(self, endpoint: str) -> dict[str, Any]:
        return {
            "version": 1,
            "backend": "goat",
            "region": REGION,
            "queues": {
                "default": {
                    "fifo": False,
                    "lanes": [
                        {
                            "min_priority": -100,
                            "max_priority": 0,
                            "target": self.low_url,
                            "arn": self.low_arn,
                        },
                        {
                            "min_priority": 1,
                            "max_priority": 100,
                            "target": self.high_url,
                            "arn": self.high_arn,
                        },
                    ],
                },
                "ordered": {
                    "fifo": True,
                    "lanes": [
                        {
                            "min_priority": -100,
                            "max_priority": 100,
                            "target": self.fifo_url,
                            "arn": self.fifo_arn,
                        }
                    ],
                },
            },
            "dead_letter_queue": {"url": self.dlq_url, "arn": self.dlq_arn},
            "scheduler": {"group": "jobs", "role_arn": "arn:aws:iam::123456789012:role/jobs"},
            "endpoints": {"sqs": endpoint, "scheduler": endpoint, "lambda": endpoint},
        }

    def arn_of(self, url: str) -> str:
        return {
            self.low_url: self.low_arn,
            self.high_url: self.high_arn,
            self.fifo_url: self.fifo_arn,
        }[url]

    def run(self, url: str, count: int) -> dict[str, Any]:
        """Receive ``count`` messages of lane ``url`` and run them like the event-source mapping."""
        event = ev.sqs_event(self.sqs, url, self.arn_of(url), count)
        result = dispatch(event, ev.Context(), self.runtime)
        ev.settle(self.sqs, url, event, result)
        return result

    def depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        values = attributes["Attributes"]
        return sum(
            int(values[k])
            for k in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )

    def wait_visible(self, url: str, count: int, timeout: float = 15.0) -> None:
        """Poll until ``count`` messages of ``url`` are visible."""
        deadline = time.monotonic() + timeout
        while True:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            if int(attributes["Attributes"]["ApproximateNumberOfMessages"]) == count:
                return
            assert time.monotonic() < deadline, f"{url} never had {count} visible messages"
            time.sleep(0.1)

    def drain(self, url: str) -> list[dict[str, Any]]:
        """Receive and delete every visible message of ``url``."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ).get("Messages", [])
            if not page:
                return out
            for message in page:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            out.extend(page)


@pytest.fixture
def goat(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpsBackend]:
    yield OpsBackend(moto, monkeypatch)


def cli_run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``lambda-jobs ARGV`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    status, out, err = cli_run(capsys, *argv, "--json")
    assert status == 0, err
    return json.loads(out)


def cli_process(*argv: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``lambda-jobs ARGV`` as a child process (stdout and stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "lambda_jobs_tools.cli", *argv],
        cwd=str(REPO),
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
