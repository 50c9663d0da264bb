"""The job log line: its text, and when it reaches stdout.

Pinned behaviour: the line :func:`log_job` writes field by field is exactly what the JSON encoder
writes for the documented fields in their order, whatever the field values; outside an
invocation each line is written at once; inside one (``begin`` .. ``end``) the lines are held and
written in one write at the end, at once when the last write is ``HOLD_SECONDS`` old, and before a
job is interrupted by its time limit.
"""

from __future__ import annotations

import io
import json
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lambda_jobs.errors import JobTimeoutError
from lambda_jobs.worker import joblog
from lambda_jobs.worker.timelimit import AlarmSession, TimeLimit

COMMON: dict[str, Any] = {
    "job_id": "0b7f8c8e-7a4c-4f57-9a43-3f2ad1c1e0f1",
    "task": "app.tasks.send_mail",
    "queue": "default",
    "attempt": 1,
    "max_attempts": 4,
    "outcome": "succeeded",
    "duration_ms": 12.25,
}


class Stdout:
    """``sys.stdout`` for the test's body, counting writes (``stdout()`` installs it)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return self.buffer.write(text)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return self.buffer.getvalue()


@pytest.fixture
def stdout(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Stdout]]:
    """Call it in the test's body: pytest's own capture replaces ``sys.stdout`` before then."""
    monkeypatch.setenv("LAMBDA_JOBS_BACKEND", "goat")

    def install() -> Stdout:
        out = Stdout()
        monkeypatch.setattr("sys.stdout", out)
        return out

    yield install
    joblog.end()


#: ``log_job``'s own parameters; any other field is one of its ``extra``.
PARAMETERS = ("due_at", "message_id", "store_error")


def log_job(**fields: Any) -> None:
    """``joblog.log_job`` with ``fields``: those it has no parameter for go in ``extra``."""
    extra = {k: v for k, v in fields.items() if k not in COMMON and k not in PARAMETERS}
    named = {k: v for k, v in fields.items() if k not in extra}
    joblog.log_job(**named, extra=extra or None)


def expected(due_at: datetime | None = None, **fields: Any) -> str:
    """The line as the JSON encoder writes its fields (the reference), in the documented order:
    type, level, backend, the common ones, ``store_error``, ``message_id``, the rest."""
    failed = fields.get("store_error") is not None or fields.get("aws_error") is not None
    level = "ERROR" if failed else joblog._LEVELS.get(fields["outcome"], "ERROR")
    line: dict[str, Any] = {"type": "lambda_jobs.job", "level": level, "backend": "goat"}
    line["id"] = fields["job_id"]
    line.update({k: fields[k] for k in COMMON if k != "job_id"})
    line["duration_ms"] = round(fields["duration_ms"], 1)
    for key in ("store_error", "message_id"):
        if fields.get(key) is not None:
            line[key] = fields[key]
    line.update(
        {
            k: v
            for k, v in fields.items()
            if k not in line and k not in (*COMMON, *PARAMETERS) and v is not None
        }
    )
    if due_at is not None:
        duration = fields["duration_ms"]
        waited = (time.time() - duration / 1000 - due_at.timestamp()) * 1000
        line["queue_latency_ms"] = round(waited, 1)
    return json.dumps(line, ensure_ascii=False, default=str)


@pytest.mark.parametrize(
    "fields",
    [
        COMMON,
        {**COMMON, "message_id": "6e2a7c62", "duration_ms": 0.04},
        {**COMMON, "duration_ms": 0.05, "task": 'quote " and \\ and é ☃'},
        {**COMMON, "outcome": "retrying", "error_type": "ValueError", "retry_in_s": 10},
        {**COMMON, "outcome": "retrying", "aws_error": "ChangeMessageVisibility failed: x"},
        {**COMMON, "outcome": "dead_lettered", "reason": "exhausted", "error_type": "E"},
        {**COMMON, "outcome": "handed_back", "remaining_ms": 1999.5},
        {**COMMON, "job_id": None, "task": None, "queue": None, "attempt": None},
        {**COMMON, "max_attempts": None, "message_id": None},
        {**COMMON, "duration_ms": 0},
        {**COMMON, "duration_ms": 123456789.96},
        {**COMMON, "duration_ms": 1e16, "outcome": "handed_back", "remaining_ms": float("inf")},
        {**COMMON, "outcome": "retrying", "retry_in_s": 2**70, "error_type": ("E", 1)},
        {**COMMON, "attempt": True},
        {
            **COMMON,
            "outcome": "retrying",
            "error_type": "E",
            "retry_in_s": 3,
            "message_id": "m",
            "store_error": "claim failed, ran without it: x",
        },
        {**COMMON, "outcome": "retrying", "retry_in_s": 3, "message_id": "m", "store_error": "x"},
    ],
)
def test_line_text_is_what_the_encoder_writes(fields: dict[str, Any], stdout: Callable[[], Stdout]):
    out = stdout()
    log_job(**fields)
    assert out.getvalue() == expected(**fields) + "\n"


def test_first_attempt_line_carries_the_queue_latency(stdout: Callable[[], Stdout]):
    out = stdout()
    due = datetime.now(UTC) - timedelta(seconds=3)
    log_job(**COMMON, due_at=due)
    line = json.loads(out.getvalue())
    assert list(line)[-1] == "queue_latency_ms"
    assert 3000 - 13 <= line["queue_latency_ms"] < 3000 + 60_000  # to the start: - 12.25 ms
    assert out.getvalue() == expected(**COMMON)[:-1] + (
        f', "queue_latency_ms": {line["queue_latency_ms"]!r}}}\n'
    )


def test_lines_are_held_in_an_invocation_and_written_in_one_write(stdout: Callable[[], Stdout]):
    writes = stdout().writes
    joblog.begin()
    for index in range(3):
        log_job(**{**COMMON, "job_id": f"job-{index}"})
    assert writes == []
    joblog.end('{"emf": 1}\n')
    assert len(writes) == 1
    assert [json.loads(line).get("id") for line in writes[0].splitlines()] == [
        "job-0",
        "job-1",
        "job-2",
        None,
    ]


def test_a_line_is_written_at_once_when_the_last_write_is_old(
    stdout: Callable[[], Stdout], monkeypatch: pytest.MonkeyPatch
):
    out = stdout()
    monkeypatch.setattr(joblog, "HOLD_SECONDS", 0.0)
    joblog.begin()
    log_job(**COMMON)
    assert json.loads(out.getvalue())["id"] == COMMON["job_id"]


def test_held_lines_are_written_before_a_job_is_interrupted_by_its_limit(
    stdout: Callable[[], Stdout],
):
    out = stdout()
    saved = signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL)
    signal.setitimer(signal.ITIMER_REAL, 0)
    seen_when_interrupted = ""
    try:
        joblog.begin()
        log_job(**COMMON)  # a finished job's line, held
        assert out.getvalue() == ""
        with AlarmSession(on_fire=joblog.flush):
            try:
                with TimeLimit(0.05, "runs over"):
                    time.sleep(5)
            except JobTimeoutError:
                seen_when_interrupted = out.getvalue()
    finally:
        signal.signal(signal.SIGALRM, saved[0])
        if saved[1][0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *saved[1])
    assert json.loads(seen_when_interrupted)["id"] == COMMON["job_id"]
