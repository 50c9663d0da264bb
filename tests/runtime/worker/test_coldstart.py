"""Cold start: what importing ``lambda_jobs.handler`` does, and what it must not load.

Pinned behaviour: LAMBDA_JOBS_TASKS is imported once at cold start and only the tasks registered
then may run; neither boto3 nor any module of the enqueue wing (``lambda_jobs.enqueue``) is
imported on the success path (checked in a fresh process's ``sys.modules``); every handler variable
a user can get wrong fails with a message naming it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lambda_jobs.emulator.motoserver import MotoServer
from lambda_jobs.errors import ConfigurationError
from lambda_jobs.worker.coldstart import cold_start

from tests.conftest import boto_client
from tests.runtime import lambda_events as ev

REPO = Path(__file__).resolve().parents[3]
TASKS = "tests.runtime.sample_tasks"

CHILD = """
import json, sys
import lambda_jobs.handler as handler
from tests.runtime.lambda_events import Context
events = json.loads(sys.stdin.read())
result = [handler.handle(event, Context()) for event in events]
heavy = sorted(m for m in ("boto3", "botocore", "logging", "dataclasses", "traceback")
               if m in sys.modules)
enqueue_wing = sorted(m for m in sys.modules if m.startswith("lambda_jobs.enqueue"))
print(json.dumps({"result": result, "heavy": heavy, "enqueue_wing": enqueue_wing}))
"""


def test_success_path_imports_no_boto3_and_no_enqueue_module_for_sqs_and_async_jobs(
    moto: MotoServer, tmp_path: Path
):
    sqs = boto_client(moto, "sqs")
    url, arn = ev.make_queue(sqs, "jobs")
    ev.send(
        sqs,
        url,
        *(
            ev.envelope(TASKS + ".write_file", str(tmp_path / f"{i}"), "x").to_json()
            for i in range(3)
        ),
    )
    event = ev.sqs_event(sqs, url, arn, 3)  # real receipt handles, real attributes
    lamb_job = ev.envelope(f"{TASKS}.write_file", str(tmp_path / "lamb"), "x")
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "LAMBDA_JOBS_TASKS": TASKS,
        "LAMBDA_JOBS_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/unused",
    }
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps([event, lamb_job.to_dict()]),
        capture_output=True,
        text=True,
        env=env,
        cwd=str(REPO),
        timeout=60,
        check=True,
    )
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["result"] == [
        {"batchItemFailures": []},
        {"job_id": lamb_job.id, "outcome": "succeeded"},
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1", "2", "lamb"]
    assert report["heavy"] == []
    assert report["enqueue_wing"] == []


def test_unset_tasks_variable_names_it():
    with pytest.raises(ConfigurationError, match="LAMBDA_JOBS_TASKS is not set"):
        cold_start({})
    with pytest.raises(ConfigurationError, match="LAMBDA_JOBS_TASKS is not set"):
        cold_start({"LAMBDA_JOBS_TASKS": " , "})


def test_task_module_that_fails_to_import_names_the_module():
    with pytest.raises(
        ConfigurationError, match=r"could not import task module 'tests\.runtime\.nope'"
    ):
        cold_start({"LAMBDA_JOBS_TASKS": f"{TASKS}, tests.runtime.nope"})


@pytest.mark.parametrize("value", ["soon", "-1", "60001", "1.5"])
def test_bad_deadline_margin_names_the_variable(value: str):
    with pytest.raises(ConfigurationError, match="LAMBDA_JOBS_DEADLINE_MARGIN_MS"):
        cold_start({"LAMBDA_JOBS_TASKS": TASKS, "LAMBDA_JOBS_DEADLINE_MARGIN_MS": value})


def test_deadline_margin_is_read_at_cold_start():
    runtime = cold_start({"LAMBDA_JOBS_TASKS": TASKS, "LAMBDA_JOBS_DEADLINE_MARGIN_MS": "500"})
    assert runtime.deadline_margin_ms == 500
    assert cold_start({"LAMBDA_JOBS_TASKS": TASKS}).deadline_margin_ms == 2000


def test_only_tasks_registered_at_cold_start_are_allowed():
    runtime = cold_start({"LAMBDA_JOBS_TASKS": TASKS})
    assert f"{TASKS}.write_file" in runtime.allowed
    assert runtime.task(f"{TASKS}.write_file").name == f"{TASKS}.write_file"


BARE_CHILD = """
import sys
before = set(sys.modules)
import lambda_jobs.handler as handler


class Context:
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bare"

    def get_remaining_time_in_millis(self):
        return 60000


event = {EVENT!r}
result = handler.handle(event, Context())
loaded = sorted(set(sys.modules) - before)
sys.stderr.write(repr((result, loaded)) + "\\n")
"""

#: What the success path must not load (each costs a bare cold start 0.5 to 4 ms; boto3 ~150).
NOT_ON_THE_SUCCESS_PATH = (
    "typing",
    "json",
    "re",
    "enum",
    "signal",
    "threading",
    "contextlib",
    "collections",
    "importlib",
    "warnings",
    "logging",
    "dataclasses",
    "boto3",
    "botocore",
)


def test_bare_cold_start_and_first_job_load_none_of_the_heavy_stdlib_modules(tmp_path: Path):
    """``python -S``: nothing preloaded, so every module the handler needs shows up here."""
    (tmp_path / "bare_tasks.py").write_text(
        "from lambda_jobs import task\n\n\n@task\ndef noop():\n    pass\n", encoding="utf-8"
    )
    body = ev.envelope("bare_tasks.noop").to_json()
    event = {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r-1",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bare",
            }
        ]
    }
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "runtime")]),
        "LAMBDA_JOBS_TASKS": "bare_tasks",
    }
    child = subprocess.run(
        [sys.executable, "-S", "-c", BARE_CHILD.replace("{EVENT!r}", repr(event))],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=60,
        check=True,
    )
    result, loaded = ast.literal_eval(child.stderr.strip().splitlines()[-1])
    assert result == {"batchItemFailures": []}
    assert '"outcome": "succeeded"' in child.stdout
    assert [name for name in NOT_ON_THE_SUCCESS_PATH if name in loaded] == []
