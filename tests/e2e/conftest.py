"""End-to-end fixtures: the demo app synthesized once, one ``lambda-jobs local`` per backend.

The emulator runs as a child process exactly as a user runs it; tests enqueue through the public
client (``LAMBDA_JOBS_CONFIG`` from the line it printed) and check what the demo tasks wrote to
their log file (``LAMBDA_JOBS_DEMO_LOG``) and what the queues in its moto server hold.

``LAMBDA_JOBS_E2E_APP=<cdk.out dir>`` reuses an existing synthesis (for example ``make synth``'s)
instead of synthesizing into a temporary directory.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from lambda_jobs import aws
from lambda_jobs_tools.emulator.process import EmulatorProcess

REPO = Path(__file__).resolve().parents[2]
DEMO_PROJECT = REPO / "stacks" / "demo_project"
STACKS = {"goat": "GoatDemo", "lamb": "LambDemo"}
#: The demo's roles (stacks/demo_code.py): the test process enqueues as the app's, and looks at
#: queues (like the operations commands) as the operator's; IAM is judged as in AWS.
APP_ROLE = "AppRole"
OPERATOR_ROLE = "OperatorRole"
#: Lambda's async retry waits (60 s, 120 s) scaled to 3 s and 6 s.
ASYNC_RETRY_SCALE = "0.05"

if str(DEMO_PROJECT) not in sys.path:
    sys.path.insert(0, str(DEMO_PROJECT))
#: The demo's tasks module, imported under the name the functions register it by (``demo_tasks``).
demo_tasks: Any = importlib.import_module("demo_tasks")


def synthesize(out: Path, app: str | None = None) -> Path:
    """``cdk synth`` of the repository's demo app (or of the ``app`` command) into ``out``."""
    env = {
        **os.environ,
        "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    command = [str(REPO / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "-o", str(out)]
    if app is not None:
        command += ["--app", app]
    subprocess.run(
        command,
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    return out


def shared_synthesis(
    tmp_path_factory: pytest.TempPathFactory, name: str, app: str | None = None
) -> Path:
    """:func:`synthesize` once for all the xdist workers of this run: they test the same code,
    and a synthesis costs several seconds of CPU on a machine the workers already keep busy. The
    first worker to need it synthesizes under a file lock into the run's shared temporary
    directory; the others wait for it and read the same assembly (nothing writes into one)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return synthesize(tmp_path_factory.mktemp(name) / "cdk.out", app)
    import fcntl

    shared = tmp_path_factory.getbasetemp().parent  # pytest-N, the parent of every popen-gwK
    out, done = shared / f"{name}-cdk.out", shared / f"{name}-cdk.out.done"
    with (shared / f"{name}-cdk.out.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            synthesize(out, app)
            done.touch()
    return out


@pytest.fixture(scope="session")
def demo_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("LAMBDA_JOBS_E2E_APP")
    if given:
        return Path(given)
    return shared_synthesis(tmp_path_factory, "e2e")


class Deliverable(Protocol):
    """A backend under the emulator, as :func:`deliver_again` needs it (e2e's and the soak's)."""

    name: str
    config: dict[str, Any]

    def sqs(self) -> Any: ...


def deliver_again(backend: Deliverable, body: str) -> None:
    """Send a job's envelope ``body`` once more to the backend's default lane, as SQS or Lambda's
    async queue may deliver it twice ("How Lambda handles errors and retries with asynchronous
    invocation"): a ``SendMessage`` on Goat, an ``Event`` invoke on Lamb."""
    lane = backend.config["queues"]["default"]["lanes"][0]["target"]
    if backend.name.startswith("goat"):
        backend.sqs().send_message(QueueUrl=lane, MessageBody=body)
        return
    import boto3

    boto3.client(
        "lambda",
        endpoint_url=backend.config["endpoints"]["lambda"],
        region_name=backend.config["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).invoke(FunctionName=lane, InvocationType="Event", Payload=body.encode())


def poll[T](
    condition: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """The first truthy value of ``condition()``; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def handler_lines(emulator_log: Path, outcome: str) -> list[dict[str, Any]]:
    """The handler's job-log lines with ``outcome`` (the functions' output is in the emulator's
    log, after the emulator's own prefix)."""
    found = []
    for line in emulator_log.read_text(encoding="utf-8").splitlines():
        start = line.find("{")
        if start < 0 or f'"{outcome}"' not in line:
            continue
        try:
            data = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("outcome") == outcome:
            found.append(data)
    return found


class Backend:
    """One backend under a running emulator, as the tests see it."""

    def __init__(self, name: str, emulator: EmulatorProcess, demo_log: Path) -> None:
        self.name = name
        self.emulator = emulator
        self.demo_log = demo_log
        self.config_value = emulator.configs[name]
        self.config: dict[str, Any] = json.loads(self.config_value)
        self.moto_url: str = self.config["endpoints"]["sqs"]

    def events(self, **match: Any) -> list[dict[str, Any]]:
        """Lines the demo tasks wrote whose fields equal ``match``."""
        if not self.demo_log.exists():
            return []
        found = []
        for line in self.demo_log.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            event = json.loads(line)
            if all(event.get(k) == v for k, v in match.items()):
                found.append(event)
        return found

    def sqs(self) -> Any:
        import boto3

        return boto3.client(
            "sqs",
            endpoint_url=self.moto_url,
            region_name=self.config["region"],
            aws_access_key_id=OPERATOR_ROLE,
            aws_secret_access_key="testing",
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every message in the backend's DLQ, left visible for the next look."""
        sqs = self.sqs()
        url = self.config["dead_letter_queue"]["url"]
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(5):
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                MessageAttributeNames=["All"],
            )
            for message in response.get("Messages", []):
                seen[message["MessageId"]] = message
            if not response.get("Messages"):
                break
        return list(seen.values())

    def dead_letter_for(self, job_id: str) -> dict[str, Any] | None:
        """The DLQ message of ``job_id``: a lambda-jobs DLQ entry or a Lambda destination record."""
        for message in self.dead_letters():
            attributes = message.get("MessageAttributes") or {}
            if attributes.get("lambda_jobs.job_id", {}).get("StringValue") == job_id:
                return message
            body = json.loads(message["Body"])
            payload = body.get("requestPayload") if isinstance(body, dict) else None
            if isinstance(payload, dict) and payload.get("id") == job_id:
                return message
        return None

    def queue_depth(self, url: str) -> int:
        attributes = self.sqs().get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())


def _start(name: str, app: Path, directory: Path) -> tuple[EmulatorProcess, Path]:
    """``LAMBDA_JOBS_E2E_IAM_REPORTS=<dir>`` writes each backend's IAM report there."""
    demo_log = directory / f"{name}-jobs.jsonl"
    reports = os.environ.get("LAMBDA_JOBS_E2E_IAM_REPORTS")
    report = ["--iam-report", str(Path(reports) / f"{name}-iam.json")] if reports else []
    emulator = EmulatorProcess(
        app,
        log_path=directory / f"{name}-emulator.log",
        extra_args=[
            "--stack",
            STACKS[name],
            "--async-retry-scale",
            ASYNC_RETRY_SCALE,
            "--env",
            f"LAMBDA_JOBS_DEMO_LOG={demo_log}",
            "--caller-role",
            APP_ROLE,
            *report,
        ],
    )
    return emulator, demo_log


@pytest.fixture(scope="session")
def goat_backend(
    demo_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    emulator, demo_log = _start("goat", demo_assembly, tmp_path_factory.mktemp("goat"))
    with emulator:
        yield Backend("goat", emulator, demo_log)


@pytest.fixture(scope="session")
def lamb_backend(
    demo_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    emulator, demo_log = _start("lamb", demo_assembly, tmp_path_factory.mktemp("lamb"))
    with emulator:
        yield Backend("lamb", emulator, demo_log)


@pytest.fixture(params=["goat", "lamb"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    """Each backend in turn, with ``LAMBDA_JOBS_CONFIG`` pointing the client at it."""
    chosen: Backend = request.getfixturevalue(f"{request.param}_backend")
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", chosen.config_value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.reset()
    yield chosen
    aws.reset()


@pytest.fixture
def goat(goat_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    """The Goat backend only (tests of SQS batch semantics)."""
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", goat_backend.config_value)
    aws.reset()
    yield goat_backend
    aws.reset()


@pytest.fixture
def lamb(lamb_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    """The Lamb backend only (tests of async-invoke semantics)."""
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", lamb_backend.config_value)
    aws.reset()
    yield lamb_backend
    aws.reset()
