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
from typing import Any

import pytest
from lambda_jobs.errors import ConfigurationError
from lambda_jobs.worker.coldstart import cold_start
from lambda_jobs_tools.emulator.motoserver import MotoServer

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
at_import = set(sys.modules)


class Context:
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bare"

    def get_remaining_time_in_millis(self):
        return 60000


event = {EVENT!r}
result = handler.handle(event, Context())
by_job = sorted(set(sys.modules) - at_import)
sys.stderr.write(repr((result, sorted(at_import - before), by_job)) + "\\n")
"""

#: Every module a Goat function's cold start and first job load under ``python -S`` (nothing
#: preloaded), besides the task module: the success path and nothing else. A module that comes
#: back (or a new one) fails the test; each costs a bare cold start 0.15 to 0.6 ms on a slow VM.
#: ``os`` (with ``_collections_abc``, ``posixpath``, ``genericpath``, ``stat``, ``_stat``) is
#: here because the handler reads its configuration from ``os.environ``; any interpreter with
#: ``site``, and awslambdaric, has loaded it already. So are ``importlib`` (with its bootstrap
#: modules and ``warnings``), which imports the task modules: awslambdaric's bootstrap loads it
#: before the handler, so a stand-in for it saved nothing in Lambda (issue 18, item 7).
GOAT_SUCCESS_PATH = frozenset(
    {
        "__future__",
        "_collections_abc",
        "_datetime",
        "_json",
        "_stat",
        "datetime",
        "genericpath",
        "importlib",
        "importlib._bootstrap",
        "importlib._bootstrap_external",
        "warnings",
        "os",
        "os.path",
        "posixpath",
        "stat",
        "lambda_jobs",
        "lambda_jobs.contract",
        "lambda_jobs.envelope",
        "lambda_jobs.errors",
        "lambda_jobs.handler",
        "lambda_jobs.jsoncodec",
        "lambda_jobs.options",
        "lambda_jobs.registry",
        "lambda_jobs.tasks",
        "lambda_jobs.worker",
        "lambda_jobs.worker.coldstart",
        "lambda_jobs.worker.deadline",
        "lambda_jobs.worker.dispatch",
        "lambda_jobs.worker.goat",
        "lambda_jobs.worker.joblog",
        "lambda_jobs.worker.lifecycle",
        "lambda_jobs.worker.metrics",
        "lambda_jobs.worker.runner",
        "lambda_jobs.worker.timelimit",
        "lambda_jobs.worker.triage",
        "lambda_jobs.worker.words",
    }
)
#: A Lamb function's: the same with Lamb's module instead of Goat's.
LAMB_SUCCESS_PATH = (GOAT_SUCCESS_PATH - {"lambda_jobs.worker.goat"}) | {"lambda_jobs.worker.lamb"}

#: What the success path must not load: the heavy stdlib modules (each costs a bare cold start
#: 0.5 to 4 ms; boto3 ~150) and the runtime's modules that a successful job does not run (the
#: other backend, the schedules, the job context of ``takes_context`` tasks, with the store off
#: its item schema, without a firing the recurring decoder, the enqueue wing).
NOT_ON_THE_SUCCESS_PATH = (
    "typing",
    "json",
    "re",
    "enum",
    "signal",
    "threading",
    "contextlib",
    "collections",
    "logging",
    "dataclasses",
    "boto3",
    "botocore",
    "lambda_jobs.context",
    "lambda_jobs.scheduling",
    "lambda_jobs.job",
    "lambda_jobs.worker.deadletter",
    "lambda_jobs.jobstore",
    "lambda_jobs.enqueue",
)


def _bare_cold_start(
    tmp_path: Path, event: dict[str, Any], backend: str | None
) -> tuple[Any, set[str], set[str], str]:
    """Run ``import lambda_jobs.handler`` + ``handle(event)`` under ``python -S``.

    Returns the result, the modules the import loaded, those the first job added, and stdout.
    """
    (tmp_path / "bare_tasks.py").write_text(
        "from lambda_jobs import task\n\n\n@task\ndef noop():\n    pass\n", encoding="utf-8"
    )
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "runtime")]),
        "LAMBDA_JOBS_TASKS": "bare_tasks",
    }
    if backend is not None:
        env["LAMBDA_JOBS_BACKEND"] = backend
    child = subprocess.run(
        [sys.executable, "-S", "-c", BARE_CHILD.replace("{EVENT!r}", repr(event))],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=60,
        check=True,
    )
    result, at_import, by_job = ast.literal_eval(child.stderr.strip().splitlines()[-1])
    return result, set(at_import) - {"bare_tasks"}, set(by_job), child.stdout


def _sqs_event() -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r-1",
                "body": ev.envelope("bare_tasks.noop").to_json(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bare",
            }
        ]
    }


def _heavy(loaded: set[str]) -> list[str]:
    return [
        name
        for name in NOT_ON_THE_SUCCESS_PATH
        if any(m == name or m.startswith(name + ".") for m in loaded)
    ]


def test_bare_goat_cold_start_loads_exactly_the_success_path_and_all_of_it_at_import(
    tmp_path: Path,
):
    """``python -S``: nothing preloaded, so every module the handler needs shows up here.

    With ``LAMBDA_JOBS_BACKEND=goat`` (as the construct sets it) Goat's module is imported at cold
    start, in the init phase: the first job then loads nothing more.
    """
    result, at_import, by_job, stdout = _bare_cold_start(tmp_path, _sqs_event(), "goat")
    assert result == {"batchItemFailures": []}
    assert '"outcome": "succeeded"' in stdout
    assert _heavy(at_import | by_job) == []
    assert sorted(at_import - GOAT_SUCCESS_PATH) == []  # nothing new or come back
    assert sorted(GOAT_SUCCESS_PATH - at_import) == []  # the pin is current
    assert sorted(by_job) == []


def test_bare_lamb_cold_start_loads_lambs_module_and_not_goats(tmp_path: Path):
    event = ev.envelope("bare_tasks.noop").to_dict()
    result, at_import, by_job, stdout = _bare_cold_start(tmp_path, event, "lamb")
    assert result == {"job_id": event["id"], "outcome": "succeeded"}
    assert '"outcome": "succeeded"' in stdout
    assert _heavy(at_import | by_job) == []
    assert sorted(at_import ^ LAMB_SUCCESS_PATH) == []
    assert sorted(by_job) == []


def test_without_a_backend_the_first_event_imports_the_backend_of_its_shape(tmp_path: Path):
    result, at_import, by_job, _stdout = _bare_cold_start(tmp_path, _sqs_event(), None)
    assert result == {"batchItemFailures": []}
    assert "lambda_jobs.worker.goat" in by_job  # with what only it needs (triage, runner, ...)
    assert "lambda_jobs.worker.goat" not in at_import
    assert sorted((at_import | by_job) ^ GOAT_SUCCESS_PATH) == []


@pytest.mark.parametrize("value", ["sqs", "Goat", "goat,lamb"])
def test_unknown_backend_is_an_init_error_naming_the_variable_and_the_backends(value: str):
    with pytest.raises(
        ConfigurationError, match=r"LAMBDA_JOBS_BACKEND is .*: expected one of goat, lamb"
    ):
        cold_start({"LAMBDA_JOBS_TASKS": TASKS, "LAMBDA_JOBS_BACKEND": value})


def test_job_context_is_public_and_loads_on_first_use():
    import lambda_jobs
    from lambda_jobs.context import JobContext

    assert lambda_jobs.JobContext is JobContext
    assert "JobContext" in lambda_jobs.__all__
