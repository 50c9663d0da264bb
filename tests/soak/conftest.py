"""Reliability-suite fixtures: the soak app synthesized once, one ``lambda-jobs local`` per stack.

Emulators are session-scoped and shared by the tests that need the same stack; each test names its
jobs with its own key prefix, so what one test's jobs wrote never counts for another's. The
figures every test adds to :mod:`tests.soak.report` are printed at the end of the run (no ``-s``
needed) and, at full size, written to ``tests/soak/RESULTS.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.terminal import TerminalReporter
from lambda_jobs import aws
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.e2e.conftest import ASYNC_RETRY_SCALE, handler_lines, shared_synthesis
from tests.soak import report, sizes
from tests.soak.fault_proxy import FaultProxy
from tests.soak.soak_app import STACKS

STARTED = time.monotonic()


class SoakBackend:
    """One backend of the soak app under a running emulator, as the tests see it."""

    def __init__(self, name: str, emulator: EmulatorProcess, log: Path, emulator_log: Path) -> None:
        self.name = name
        self.emulator = emulator
        self.log = log
        self.emulator_log = emulator_log
        backend = "lamb" if name.startswith("lamb") else "goat"
        self.config_value = emulator.configs[backend]
        self.config: dict[str, Any] = json.loads(self.config_value)

    def runs(self, prefix: str) -> list[dict[str, Any]]:
        """Lines the soak tasks wrote for jobs whose key starts with ``prefix``, in order."""
        if not self.log.exists():
            return []
        found = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            if line.strip():
                run = json.loads(line)
                if run["key"].startswith(prefix):
                    found.append(run)
        return found

    def function_lines(self, outcome: str) -> list[dict[str, Any]]:
        """The handler's job-log lines with ``outcome`` (functions' output copied to the log)."""
        return handler_lines(self.emulator_log, outcome)

    def sqs(self) -> Any:
        import boto3

        return boto3.client(
            "sqs",
            endpoint_url=self.config["endpoints"]["sqs"],
            region_name=self.config["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def take_dead_letters(self, seen: dict[str, dict[str, Any]]) -> None:
        """Receive every DLQ message not seen yet into ``seen`` (hidden 5 min: each comes once)."""
        sqs = self.sqs()
        url = self.config["dead_letter_queue"]["url"]
        while True:
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=300,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                seen[message["MessageId"]] = message


def dead_letter_attribute(message: dict[str, Any], name: str) -> str | None:
    """The ``lambda_jobs.<name>`` attribute of a DLQ message, or None."""
    value = (message.get("MessageAttributes") or {}).get(f"lambda_jobs.{name}")
    return None if value is None else str(value["StringValue"])


def destination_job_id(message: dict[str, Any]) -> str | None:
    """The job id in a Lambda on-failure destination record (a Lamb crash through its retries)."""
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return None
    payload = body.get("requestPayload") if isinstance(body, dict) else None
    return str(payload["id"]) if isinstance(payload, dict) and "id" in payload else None


@contextlib.contextmanager
def store_backends_behind(
    proxy: FaultProxy, assembly: Path, directory: Path
) -> Iterator[dict[str, SoakBackend]]:
    """The Goat and the Lamb store stacks in one emulator whose functions reach DynamoDB through
    ``proxy`` (``AWS_ENDPOINT_URL_DYNAMODB``), the proxy pointed at the emulator's endpoint."""
    log, emulator_log = directory / "runs.jsonl", directory / "emulator.log"
    emulator = EmulatorProcess(
        assembly,
        log_path=emulator_log,
        extra_args=[
            "--stack",
            STACKS["goat-store"],
            "--stack",
            STACKS["lamb-store"],
            "--async-retry-scale",
            ASYNC_RETRY_SCALE,
            "--env",
            f"LAMBDA_JOBS_SOAK_LOG={log}",
            "--env",
            f"AWS_ENDPOINT_URL_DYNAMODB={proxy.url}",
        ],
    )
    with emulator:
        proxy.upstream = json.loads(emulator.configs["goat"])["endpoints"]["dynamodb"]
        yield {name: SoakBackend(name, emulator, log, emulator_log) for name in ("goat", "lamb")}


@pytest.fixture(scope="session")
def soak_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_synthesis(tmp_path_factory, "soak", app="python -m tests.soak.soak_app")


def _start(
    name: str, app: Path, directory: Path, *extra: str
) -> tuple[EmulatorProcess, Path, Path]:
    log = directory / f"{name}-runs.jsonl"
    emulator_log = directory / f"{name}-emulator.log"
    emulator = EmulatorProcess(
        app,
        log_path=emulator_log,
        extra_args=[
            "--stack",
            STACKS[name],
            "--async-retry-scale",
            ASYNC_RETRY_SCALE,
            "--env",
            f"LAMBDA_JOBS_SOAK_LOG={log}",
            *extra,
        ],
    )
    return emulator, log, emulator_log


def _backend(
    name: str, app: Path, factory: pytest.TempPathFactory, *extra: str
) -> Iterator[SoakBackend]:
    emulator, log, emulator_log = _start(name, app, factory.mktemp(name), *extra)
    with emulator:
        yield SoakBackend(name, emulator, log, emulator_log)


@pytest.fixture(scope="session")
def soak_goat_backend(
    soak_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SoakBackend]:
    yield from _backend("goat", soak_assembly, tmp_path_factory, "--quiet-functions")


@pytest.fixture(scope="session")
def soak_lamb_backend(
    soak_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SoakBackend]:
    yield from _backend("lamb", soak_assembly, tmp_path_factory, "--quiet-functions")


@pytest.fixture(scope="session")
def soak_lamb_store_backend(
    soak_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SoakBackend]:
    # Functions' output stays in the log: the duplicate test counts the handler's skipped copies.
    yield from _backend("lamb-store", soak_assembly, tmp_path_factory)


@pytest.fixture(scope="session")
def soak_goat_short_backend(
    soak_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SoakBackend]:
    # Functions' output stays in the log: the deadline test reads the handler's hand-back lines.
    # A 0.8 s deadline margin leaves a 2 s function a 1.2 s budget: three 0.6 s-timeout jobs.
    yield from _backend(
        "goat-short", soak_assembly, tmp_path_factory, "--env", "LAMBDA_JOBS_DEADLINE_MARGIN_MS=800"
    )


@pytest.fixture(scope="session")
def soak_goat_short_store_backend(
    soak_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SoakBackend]:
    yield from _backend(
        "goat-short-store",
        soak_assembly,
        tmp_path_factory,
        "--env",
        "LAMBDA_JOBS_DEADLINE_MARGIN_MS=800",
    )


def use(backend: SoakBackend, monkeypatch: pytest.MonkeyPatch) -> SoakBackend:
    """Point the client (``LAMBDA_JOBS_CONFIG``) at ``backend``."""
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", backend.config_value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.reset()
    return backend


@pytest.fixture
def soak_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> SoakBackend:
    """The backend named by the test's indirect parameter, with the client pointed at it."""
    name: str = request.param
    chosen: SoakBackend = request.getfixturevalue(f"soak_{name.replace('-', '_')}_backend")
    request.addfinalizer(aws.reset)
    return use(chosen, monkeypatch)


#: Node ids of the soak tests collected in this session.
SOAK_ITEMS: set[str] = set()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    SOAK_ITEMS.update(item.nodeid for item in items if item.nodeid.startswith("tests/soak/"))


def pytest_terminal_summary(
    terminalreporter: TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if not report.FIGURES:
        return
    terminalreporter.section(f"reliability suite figures (SOAK_SCALE={sizes.SCALE})")
    for line in report.lines():
        terminalreporter.write_line(line)
    failed = terminalreporter.stats.get("failed", []) + terminalreporter.stats.get("error", [])
    passed = [r for r in terminalreporter.stats.get("passed", []) if r.nodeid in SOAK_ITEMS]
    # Only a full run of the whole suite replaces RESULTS.md (not one file, nor a test picked
    # with -k): every soak test file collected, every collected soak test passed.
    files = {item.partition("::")[0] for item in SOAK_ITEMS}
    every_file = {f"tests/soak/{p.name}" for p in Path(__file__).parent.glob("test_*.py")} <= files
    whole = (
        every_file
        and len(passed) == len(SOAK_ITEMS) > 0
        and not terminalreporter.stats.get("deselected")
    )
    if sizes.FULL and exitstatus == 0 and not failed and whole and not sizes.JOB_STORE:
        command = os.environ.get("SOAK_COMMAND", "SOAK_SCALE=full .venv/bin/pytest tests/soak")
        report.write_results(command, time.monotonic() - STARTED)
        terminalreporter.write_line(f"written to {report.RESULTS}")
