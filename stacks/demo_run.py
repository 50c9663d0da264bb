"""``make demo``: run one job of each kind on both demo backends through ``lambda-jobs local``.

Run as ``python -m stacks.demo_run [--app cdk.out]`` after ``cdk synth``. For each backend it starts
``lambda-jobs local --stack <stack>`` (each with its own job log, so the two backends' results
never mix), reads the ``LAMBDA_JOBS_CONFIG`` line it prints, enqueues the demo tasks through the
public client, shows their progress live, then prints what happened to each job (from the tasks'
own log lines and the dead-letter queue) and stops everything.

Each demo stack also has a recurring schedule (``goat-tick``: every 10 minutes, Lisbon time;
``lamb-tick``: every 5 minutes); the demo shows each firing twice as its own job.

Lambda's async retry waits (about 1 and 2 minutes on AWS) are scaled by 0.05 here, and the
recurring schedules' clock runs 60 times faster (``--schedule-clock-scale 60``: an emulated
minute per second), so the demo fits in a minute; everything else runs with the template's own
settings.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from lambda_jobs import aws
from lambda_jobs.config import parse_text
from lambda_jobs_tools.emulator.process import EmulatorProcess
from rich.console import Console
from rich.live import Live
from rich.table import Table

DEMO_PROJECT = Path(__file__).resolve().parent / "demo_project"
STACKS = {"goat": "GoatDemo", "lamb": "LambDemo"}
ASYNC_RETRY_SCALE = "0.05"
SCHEDULE_CLOCK_SCALE = "60"
SCHEDULES = {"goat": "goat-tick: cron(0/10 * * * ? *) Lisbon", "lamb": "lamb-tick: rate(5 minutes)"}
FIRINGS_SHOWN = 2
DELAY_SECONDS = 5
SLOW_SECONDS = 10
DEADLINE_SECONDS = 90
FAILING_MESSAGE = "this task always fails"
CHORD_MEMBERS = 5


@dataclass(slots=True)
class DemoJob:
    """One enqueued demo job and what became of it."""

    backend: str
    kind: str
    expected: str
    task: str
    job_id: str = ""
    enqueued_at: float = 0.0
    match: dict[str, Any] = field(default_factory=dict)
    """Fields that identify this job's lines in the demo log."""
    events: list[dict[str, Any]] = field(default_factory=list)
    dead_letter: dict[str, Any] | None = None
    lane: str = ""
    firings: int = 0
    """A recurring schedule's row: finished once this many firings ran (0: an enqueued job)."""

    @property
    def finished(self) -> bool:
        if self.dead_letter is not None:
            return True
        succeeded = [e for e in self.events if e["event"] == "succeeded"]
        return len(succeeded) >= self.firings if self.firings else bool(succeeded)

    def status(self) -> str:
        if self.firings:
            ran = sorted(
                {e["scheduled_time"][11:16] for e in self.events if e["event"] == "succeeded"}
            )
            jobs = len({e["job_id"] for e in self.events})
            if not ran:
                return "waiting for its first firing"
            return f"fired {len(ran)} time(s), {jobs} job(s): scheduled {', '.join(ran)} UTC"
        return self._job_status()

    def _job_status(self) -> str:
        runs = [e for e in self.events if e["event"] in ("started", "failed", "succeeded")]
        if self.dead_letter is not None:
            attributes = self.dead_letter.get("MessageAttributes") or {}
            error = attributes.get("lambda_jobs.error_type", {}).get("StringValue", "?")
            attempts = attributes.get("lambda_jobs.attempts", {}).get("StringValue", "?")
            return f"in the DLQ after {attempts} attempts: {error.rsplit('.', 1)[-1]}"
        succeeded = [e for e in self.events if e["event"] == "succeeded"]
        if succeeded:
            after = succeeded[0]["at"] - self.enqueued_at
            attempt = succeeded[0].get("attempt")
            failed = len([e for e in self.events if e["event"] == "failed"])
            if attempt:
                return f"succeeded on attempt {attempt} ({failed} failed) at +{after:.1f} s"
            return f"succeeded at +{after:.1f} s"
        if runs:
            return f"running ({len(runs)} run(s) so far)"
        return "waiting"


def demo_tasks() -> Any:
    """The demo tasks module, under the name the functions register it by."""
    if str(DEMO_PROJECT) not in sys.path:
        sys.path.insert(0, str(DEMO_PROJECT))
    return importlib.import_module("demo_tasks")


def enqueue_all(backend: str, config_value: str) -> list[DemoJob]:
    """One job of each kind on ``backend``."""
    tasks = demo_tasks()
    os.environ["LAMBDA_JOBS_CONFIG"] = config_value
    aws.reset()
    config = parse_text(config_value)
    default = config.queue("default")

    def lane(priority: int) -> str:
        found = default.lane_for(priority)
        return f"{found.min_priority}..{found.max_priority}"

    jobs: list[DemoJob] = []

    def add(job: DemoJob, sent: Any) -> None:
        job.job_id = sent.id
        job.enqueued_at = time.time()
        jobs.append(job)

    for kind, priority in (("immediate", 0), ("high priority", 80), ("low priority", -80)):
        name = f"{backend} {kind}"
        job = DemoJob(backend, kind, "runs at once", "hello", match={"greeting": f"Hello, {name}!"})
        job.lane = lane(priority)
        add(job, tasks.hello.using(priority=priority).enqueue(name))
    name = f"{backend} delayed"
    job = DemoJob(
        backend,
        f"delayed {DELAY_SECONDS} s",
        f"starts at +{DELAY_SECONDS} s",
        "hello",
        match={"greeting": f"Hello, {name}!"},
        lane=lane(0),
    )
    add(job, tasks.hello.using(run_after=timedelta(seconds=DELAY_SECONDS)).enqueue(name))
    add(
        DemoJob(
            backend,
            "flaky",
            "succeeds on attempt 3",
            "flaky",
            match={},
            lane=lane(0),
        ),
        tasks.flaky.enqueue(),
    )
    add(
        DemoJob(
            backend,
            "failing",
            "2 failures, then DLQ",
            "failing",
            match={"message": FAILING_MESSAGE},
            lane=lane(0),
        ),
        tasks.failing.enqueue(FAILING_MESSAGE),
    )
    jobs.append(
        DemoJob(
            backend,
            f"recurring {SCHEDULES[backend]}",
            f"each firing its own job ({FIRINGS_SHOWN} shown)",
            "tick",
            match={"label": f"{backend} schedule"},
            lane=lane(0),
            firings=FIRINGS_SHOWN,
        )
    )
    add(
        DemoJob(
            backend,
            "slow",
            "2 s timeout, twice, then DLQ",
            "slow",
            match={"seconds": SLOW_SECONDS},
            lane=lane(0),
        ),
        tasks.slow.enqueue(SLOW_SECONDS),
    )
    from lambda_jobs import chain, group

    chord = f"{backend} chord"
    add(
        DemoJob(
            backend,
            f"chord of {CHORD_MEMBERS} (workflow)",
            f"collect gets {[i * i for i in range(CHORD_MEMBERS)]}",
            "collect",
            match={"tag": chord, "values": [i * i for i in range(CHORD_MEMBERS)]},
            lane=lane(0),
        ),
        chain(
            group(tasks.square.prepare(i, tag=chord) for i in range(CHORD_MEMBERS)),
            tasks.collect.prepare(tag=chord),
        ).enqueue(),
    )
    return jobs


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def dead_letters(config_value: str) -> dict[str, dict[str, Any]]:
    """The backend's DLQ messages by job id (left in the queue)."""
    import boto3

    config = json.loads(config_value)
    sqs: Any = boto3.client(
        "sqs",
        endpoint_url=config["endpoints"]["sqs"],
        region_name=config["region"],
        aws_access_key_id="OperatorRole",  # reads the DLQ as the demo's grant_operate role
        aws_secret_access_key="local",
    )
    found: dict[str, dict[str, Any]] = {}
    for _ in range(3):
        response = sqs.receive_message(
            QueueUrl=config["dead_letter_queue"]["url"],
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages") or []
        for message in messages:
            attributes = message.get("MessageAttributes") or {}
            job_id = attributes.get("lambda_jobs.job_id", {}).get("StringValue")
            if job_id:
                found[job_id] = message
        if not messages:
            break
    return found


def refresh(jobs: list[DemoJob], logs: dict[str, Path], configs: dict[str, str]) -> None:
    for backend, path in logs.items():
        events = read_events(path)
        dlq = dead_letters(configs[backend])
        for job in jobs:
            if job.backend != backend:
                continue
            job.events = [
                e
                for e in events
                if e["task"] == job.task
                and e["at"] >= job.enqueued_at - 1
                and all(e.get(k) == v for k, v in job.match.items())
            ]
            job.dead_letter = dlq.get(job.job_id)


def table(jobs: list[DemoJob], title: str) -> Table:
    result = Table(title=title)
    for column in ("backend", "job", "lane (priorities)", "expected", "what happened"):
        result.add_column(column)
    for job in jobs:
        style = "green" if job.finished else "yellow"
        result.add_row(
            job.backend, job.kind, job.lane, job.expected, f"[{style}]{job.status()}[/{style}]"
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--app", default="cdk.out", help="the synthesized assembly (cdk.out)")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 120)
    app = Path(args.app)
    if not (app / "manifest.json").is_file():
        console.print(f"[red]{app} holds no synthesized app: run `make synth` first[/red]")
        return 1
    work = Path(tempfile.mkdtemp(prefix="lambda-jobs-demo-"))
    logs = {backend: work / f"{backend}-jobs.jsonl" for backend in STACKS}
    emulators: dict[str, EmulatorProcess] = {}
    jobs: list[DemoJob] = []
    started = time.monotonic()
    try:
        with console.status("starting lambda-jobs local for GoatDemo and LambDemo ..."):
            for backend, stack in STACKS.items():
                emulators[backend] = EmulatorProcess(
                    app,
                    log_path=work / f"{backend}-emulator.log",
                    extra_args=[
                        "--stack",
                        stack,
                        "--async-retry-scale",
                        ASYNC_RETRY_SCALE,
                        "--schedule-clock-scale",
                        SCHEDULE_CLOCK_SCALE,
                        "--env",
                        f"LAMBDA_JOBS_DEMO_LOG={logs[backend]}",
                        # The demo enqueues as its web app would: the role given grant_enqueue.
                        "--caller-role",
                        "AppRole",
                    ],
                )
        configs = {backend: emulators[backend].configs[backend] for backend in STACKS}
        console.print(
            f"emulators ready in {time.monotonic() - started:.1f} s; their logs: {work}/*.log"
        )
        for backend in STACKS:
            jobs += enqueue_all(backend, configs[backend])
        deadline = time.monotonic() + DEADLINE_SECONDS
        with Live(table(jobs, "running"), console=console, refresh_per_second=4) as live:
            while time.monotonic() < deadline:
                refresh(jobs, logs, configs)
                live.update(table(jobs, "running"))
                if all(job.finished for job in jobs):
                    break
                time.sleep(0.5)
    finally:
        for emulator in emulators.values():
            emulator.__exit__(None, None, None)
    refresh_done = all(job.finished for job in jobs)
    console.print(table(jobs, "what happened to each job"))
    if not refresh_done:
        console.print(f"[red]some jobs did not finish within {DEADLINE_SECONDS} s[/red]")
        return 1
    console.print(
        f"all {len(jobs)} jobs accounted for in {time.monotonic() - started:.1f} s; "
        "the emulators have exited"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
