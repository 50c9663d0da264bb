"""End to end: a Django project's task runs under ``lambda-jobs local``.

The stand-alone Django project ``local_project`` is the job image's code; ``local_cdk_app``
synthesizes a Goat backend for it with ``DJANGO_SETTINGS_MODULE`` set. The emulator runs it (moto
SQS, event-source mapping, the handler under awslambdaric); a separate Django process enqueues
with ``task.enqueue()`` using the ``LAMBDA_JOBS_CONFIG`` line the emulator printed.
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
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.django.conftest import REPO_ROOT
from tests.django.local_cdk_app import LOCAL_PROJECT, STACK, synthesize

pytestmark = pytest.mark.e2e


class LocalBackend:
    def __init__(self, emulator: EmulatorProcess, job_log: Path) -> None:
        self.emulator = emulator
        self.job_log = job_log
        self.config = emulator.configs["goat"]

    def lines(self) -> list[dict[str, Any]]:
        if not self.job_log.exists():
            return []
        text = self.job_log.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def wait_for(self, count: int, timeout: float, **match: Any) -> list[dict[str, Any]]:
        """Poll the job log until ``count`` lines match ``match``; fail after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            found = [x for x in self.lines() if all(x.get(k) == v for k, v in match.items())]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                log = self.emulator.log_path.read_text(encoding="utf-8")[-3000:]
                raise AssertionError(f"{len(found)} of {count} lines {match} in {timeout} s\n{log}")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def local_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    directory = tmp_path_factory.mktemp("django-local")
    assembly = synthesize(directory / "cdk.out")
    job_log = directory / "jobs.jsonl"
    emulator = EmulatorProcess(
        assembly,
        log_path=directory / "emulator.log",
        extra_args=["--stack", STACK, "--env", f"DJANGO_E2E_LOG={job_log}"],
    )
    with emulator:
        yield LocalBackend(emulator, job_log)


def enqueue_from_django(config: str, *names: str) -> list[str]:
    """Run ``greet.enqueue(name)`` for each name in a fresh Django process; returns the job ids."""
    code = (
        "import sys, django; django.setup()\n"
        "from local_app.tasks import greet\n"
        "for name in sys.argv[1:]:\n"
        "    print(greet.enqueue(name).id)\n"
    )
    return run_django(config, code, *names).split()


def run_django(config: str, code: str, *argv: str, timeout: float = 60) -> str:
    """Run ``code`` in a fresh process of the local Django project; returns its stdout."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "local_site.settings",
        "LAMBDA_JOBS_CONFIG": config,
        "PYTHONPATH": os.pathsep.join([str(LOCAL_PROJECT), str(REPO_ROOT)]),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    completed = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_django_task_runs_under_lambda_jobs_local_with_retry_and_signals(
    local_backend: LocalBackend,
) -> None:
    ok_id, retried_id = enqueue_from_django(local_backend.config, "ada", "fail-once-bob")

    (ran,) = local_backend.wait_for(1, 30, task="greet", job_id=ok_id)
    assert (ran["attempt"], ran["name"]) == (1, "ada")
    attempts = local_backend.wait_for(2, 30, task="greet", job_id=retried_id)
    assert sorted(line["attempt"] for line in attempts) == [1, 2]
    local_backend.wait_for(1, 30, signal="task_finished", job_id=retried_id, status="SUCCESSFUL")
    finished = local_backend.wait_for(1, 30, signal="task_finished", job_id=ok_id)
    assert [line["status"] for line in finished] == ["SUCCESSFUL"]
    failed = [
        line
        for line in local_backend.lines()
        if line.get("signal") == "task_finished" and line["job_id"] == retried_id
    ]
    assert [line["status"] for line in failed] == ["FAILED", "SUCCESSFUL"]


GET_RESULT_SCRIPT = """
import json, sys, time, django
django.setup()
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist
from local_app.tasks import greet

out = {"supports_get_result": default_task_backend.supports_get_result}
result = greet.enqueue("fail-once-carol")
fetched = default_task_backend.get_result(result.id)
out["first_status"] = fetched.status
deadline = time.monotonic() + 45
while not result.is_finished and time.monotonic() < deadline:
    time.sleep(0.2)
    result.refresh()
out.update(
    status=result.status,
    return_value=result.return_value if result.status == TaskResultStatus.SUCCESSFUL else None,
    attempts=result.attempts,
    errors=[(e.exception_class_path, e.traceback[-200:]) for e in result.errors],
    enqueued=result.enqueued_at is not None,
    ordered=result.enqueued_at <= result.started_at <= result.finished_at,
    task=result.task.module_path,
)
try:
    default_task_backend.get_result("no-such-job")
except TaskResultDoesNotExist as exc:
    out["unknown"] = str(exc)
print(json.dumps(out))
"""


def test_django_get_result_round_trip_through_the_job_store(local_backend: LocalBackend) -> None:
    stdout = run_django(local_backend.config, GET_RESULT_SCRIPT, timeout=90)
    out = json.loads(stdout.strip().splitlines()[-1])
    assert out["supports_get_result"] is True
    assert out["first_status"] in ("READY", "RUNNING")
    assert out["status"] == "SUCCESSFUL", out
    assert out["return_value"] == "Hello, fail-once-carol!"
    assert out["attempts"] == 2  # one worker id per attempt: the first failed, the second ran
    ((error_class, traceback),) = out["errors"]  # the last error is kept after the retry
    assert error_class == "builtins.RuntimeError"
    assert "the first attempt fails on purpose" in traceback
    assert out["enqueued"] and out["ordered"]
    assert out["task"] == "local_app.tasks.greet"
    assert "no job 'no-such-job'" in out["unknown"]


TRUTH_SCRIPT = """
import json, time, django
django.setup()
from django.tasks import task_backends
from local_app.tasks import big_result, greet

def finished(result):
    deadline = time.monotonic() + 45
    while not result.is_finished and time.monotonic() < deadline:
        time.sleep(0.2)
        result.refresh()
    return result

out = {}
lane = finished(greet.using(priority=50).enqueue("dora"))
fetched = greet.get_result(lane.id)
out["priority"] = [lane.task.priority, fetched.task.priority, fetched.task.queue_name]
fast = finished(greet.using(backend="fast").enqueue("eve"))
out["backend"] = [fast.task.backend, task_backends["fast"].get_result(fast.id).task.backend]
big = finished(big_result.enqueue(71000))
(error,) = big.errors
out["big"] = [str(big.status), error.exception_class.__name__, error.traceback]
print(json.dumps(out))
"""


def test_django_results_tell_the_truth_about_the_task_and_runtime_errors(
    local_backend: LocalBackend,
) -> None:
    stdout = run_django(local_backend.config, TRUTH_SCRIPT, timeout=120)
    out = json.loads(stdout.strip().splitlines()[-1])

    assert out["priority"] == [50, 50, "default"]  # the task as enqueued, not as declared
    (inside,) = local_backend.wait_for(1, 30, task="greet", name="dora")
    assert inside["priority"] == 50  # TaskResult.task inside the function, too
    assert out["backend"] == ["fast", "fast"]
    status, exception_class, traceback = out["big"]
    assert (status, exception_class) == ("SUCCESSFUL", "ResultNotStored")
    assert "over the job store's limit" in traceback
