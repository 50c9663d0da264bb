"""Today's AWS under ``lambda-jobs local``: recursive loop detection, hand-backs, tenants, 1 MiB.

- A chain of 20 jobs, each enqueued by the one before from inside the function: with
  ``RecursiveLoop`` ``Allow`` all 20 run; with ``Terminate`` the first 16 run and the 17th is
  stopped where AWS stops it, never in silence (Goat: the emulator's log says so and the queue's
  redrive policy moves the message to the DLQ; Lamb: the on-failure destination record in the
  DLQ).
- 40 jobs on a function that runs one job per invocation and hands the rest back (``Terminate``):
  some job is handed back more than 16 times, and every job still runs, once, on attempt 1.
- Tenant-keyed jobs run; a job just under Goat's payload limit runs and one just over is refused.

Each test starts its own emulator for one stack of ``tests/e2e/loop_app.py``.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import aws, enqueue_many
from lambda_jobs.errors import InvalidJobError
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.e2e.conftest import Backend, handler_lines, poll, synthesize
from tests.e2e.loop_app import LOOP_PROJECT, STACKS

pytestmark = pytest.mark.e2e

CHAIN = 20
RUN_HOPS = 16

if str(LOOP_PROJECT) not in sys.path:
    sys.path.insert(0, str(LOOP_PROJECT))
#: The tasks module, imported under the name the functions register it by (``loop_tasks``).
loop_tasks: Any = importlib.import_module("loop_tasks")


@pytest.fixture(scope="module")
def loop_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(
        tmp_path_factory.mktemp("loops") / "cdk.out", app="python -m tests.e2e.loop_app"
    )


Start = Callable[[str, str], AbstractContextManager[Backend]]


@pytest.fixture
def start(loop_assembly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """``start(backend, setting)``: a context manager running that stack, the client aimed at it."""

    @contextmanager
    def running(backend: str, setting: str) -> Iterator[Backend]:
        log = tmp_path / f"{backend}-{setting}.jsonl"
        with EmulatorProcess(
            loop_assembly,
            log_path=tmp_path / f"{backend}-{setting}-emulator.log",
            extra_args=[
                "--stack",
                STACKS[(backend, setting)],
                "--async-retry-scale",
                "0.05",
                "--env",
                f"LOOP_LOG={log}",
            ],
        ) as emulator:
            running_backend = Backend(backend, emulator, log)
            monkeypatch.setenv("LAMBDA_JOBS_CONFIG", running_backend.config_value)
            aws.reset()
            try:
                yield running_backend
            finally:
                aws.reset()

    yield running


def emulator_log(backend: Backend) -> str:
    return backend.emulator.log_path.read_text(encoding="utf-8")


def steps(backend: Backend, chain_id: str) -> list[int]:
    return sorted(event["n"] for event in backend.events(task="chain", chain_id=chain_id))


def chain_step_in_dlq(backend: Backend, chain_id: str) -> Callable[[], int | None]:
    """The step number of the chain's message in the DLQ (Goat: the body; Lamb: the record's
    ``requestPayload``), or None."""

    def find() -> int | None:
        for message in backend.dead_letters():
            body = json.loads(message["Body"])
            envelope = body.get("requestPayload", body)
            args = envelope.get("args") if isinstance(envelope, dict) else None
            if isinstance(args, list) and args and args[0] == chain_id:
                return int(args[1])
        return None

    return find


@pytest.mark.parametrize("backend", ["goat", "lamb"])
def test_chain_of_20_self_enqueuing_jobs_completes_with_recursive_loop_allow(
    start: Start, backend: str
) -> None:
    with start(backend, "allow") as running:
        chain_id = uuid.uuid4().hex
        loop_tasks.chain.enqueue(chain_id, 1, CHAIN)
        poll(
            lambda: len(steps(running, chain_id)) >= CHAIN,
            timeout=120,
            what=f"all {CHAIN} steps of the chain",
        )
        assert steps(running, chain_id) == list(range(1, CHAIN + 1))
        assert "recursive loop stopped" not in emulator_log(running)
        assert chain_step_in_dlq(running, chain_id)() is None


@pytest.mark.parametrize("backend", ["goat", "lamb"])
def test_chain_stops_after_16_hops_with_terminate_and_the_17th_is_in_the_dlq(
    start: Start, backend: str
) -> None:
    with start(backend, "terminate") as running:
        chain_id = uuid.uuid4().hex
        loop_tasks.chain.enqueue(chain_id, 1, CHAIN)
        stopped = poll(
            chain_step_in_dlq(running, chain_id), timeout=120, what="the stopped step in the DLQ"
        )
        assert stopped == RUN_HOPS + 1
        assert steps(running, chain_id) == list(range(1, RUN_HOPS + 1))
        log = emulator_log(running)
        assert "recursive loop stopped" in log
        assert f"invocation {RUN_HOPS + 1} of" in log and "RecursiveLoop Terminate" in log
        if backend == "lamb":
            (record,) = [
                json.loads(m["Body"])
                for m in running.dead_letters()
                if "requestPayload" in json.loads(m["Body"])
            ]
            assert record["requestContext"]["condition"] == "RecursiveInvocationException"


def test_a_job_handed_back_more_than_16_times_never_meets_the_cutoff(start: Start) -> None:
    with start("goat", "handback") as running:
        tag = uuid.uuid4().hex[:8]
        jobs = enqueue_many(loop_tasks.note.prepare(f"{tag}-{i}") for i in range(40))
        ids = {job.id for job in jobs}
        poll(
            lambda: (
                len(running.events(task="note")) >= len(jobs)
                or "recursive loop stopped" in emulator_log(running)
            ),
            timeout=180,
            what="every handed-back job to run",
        )
        assert "recursive loop stopped" not in emulator_log(running)
        handed_back = Counter(
            line["id"]
            for line in handler_lines(running.emulator.log_path, "handed_back")
            if line["id"] in ids
        )
        most = max(handed_back.values())
        assert most > RUN_HOPS, f"the most handed-back job went back {most} times only"
        succeeded = [
            line
            for line in handler_lines(running.emulator.log_path, "succeeded")
            if line["id"] in ids
        ]
        assert sorted(line["id"] for line in succeeded) == sorted(ids)  # each once
        assert {line["attempt"] for line in succeeded} == {1}  # hand-backs cost no attempt
        assert running.dead_letters() == []


def test_tenant_keyed_jobs_run_on_goat(start: Start) -> None:
    with start("goat", "allow") as running:
        tags = [f"tenant-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
        loop_tasks.note.using(tenant="acme").enqueue(tags[0])
        loop_tasks.note.using(tenant="globex:eu/1").enqueue(tags[1])
        enqueue_many([loop_tasks.note.using(tenant="acme").prepare(tags[2])])
        for tag in tags:

            def ran(tag: str = tag) -> list[dict[str, Any]]:
                return running.events(task="note", tag=tag)

            poll(ran, timeout=60, what=tag)
        with pytest.raises(InvalidJobError, match=r"tenant must be 1-128 characters"):
            loop_tasks.note.using(tenant="café").enqueue("x")


def test_a_job_just_under_the_goat_limit_runs_and_one_just_over_is_refused(
    start: Start,
) -> None:
    with start("goat", "allow") as running:
        limit = running.config["max_payload_bytes"]
        assert limit == 1024 * 1024 - 16 * 1024
        # The envelope around the argument takes a few hundred bytes.
        blob = "x" * (limit - 400)
        loop_tasks.measure.enqueue(blob)
        poll(
            lambda: running.events(task="measure", size=len(blob)),
            timeout=60,
            what="the near-1 MiB job to run",
        )
        with pytest.raises(InvalidJobError, match=r"over the goat backend's limit of 1,032,192"):
            loop_tasks.measure.enqueue("x" * limit)
