"""Faults on the enqueue side: throttling and 5xx answers between the client and AWS.

The client's endpoint (SQS for Goat, Lambda Invoke for Lamb) points at a :class:`FaultProxy` that
answers a share of requests with throttling errors or 500/503, loses the answer of some requests
AWS did take, and (SQS) fails part of some batches. Two rounds per backend: a light fault rate
that botocore's retries (standard mode, 5 attempts) and the client's batch-entry retries should
absorb, and a heavy one where some jobs cannot be sent. Bulk (``enqueue_many``) and single
(``task.enqueue``) calls both go through it. Checked, per round:

- the client's report is exact: ``sent_ids`` and ``job_ids`` of the ``EnqueueError`` split the
  call's jobs, every failed id has a reason in ``errors``;
- every job reported sent had been accepted by AWS (the proxy saw it through), and ran;
- a job reported failed was accepted by AWS only if its answer was lost (then it runs: stated,
  not hidden); every job AWS accepted ran, so none is lost silently.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from lambda_jobs import EnqueueError, aws, enqueue_many

from tests.soak import report
from tests.soak.conftest import SoakBackend
from tests.soak.fault_proxy import FaultProxy
from tests.soak.sizes import FAULT_JOBS
from tests.soak.soak_jobs import soak_tasks, wait_for

pytestmark = pytest.mark.e2e

ROUNDS = {"light": 0.3, "heavy": 0.85}
SINGLES = 10


def send_through(keys: list[str]) -> tuple[set[str], dict[str, str]]:
    """Enqueue ``keys`` (bulk, then the last SINGLES one by one from threads, as a web app's
    requests would); returns (sent ids, failed id -> why)."""
    bulk = [soak_tasks.steady.prepare(key) for key in keys[:-SINGLES]]
    sent: set[str] = set()
    failed: dict[str, str] = {}
    try:
        sent.update(job.id for job in enqueue_many(bulk))
    except EnqueueError as error:
        assert set(error.sent_ids) | set(error.job_ids) == {job.id for job in bulk}
        assert not set(error.sent_ids) & set(error.job_ids)
        assert set(error.errors) == set(error.job_ids), "a failed job without its reason"
        sent.update(error.sent_ids)
        failed.update(error.errors)
    with ThreadPoolExecutor(max_workers=SINGLES) as pool:
        for outcome in pool.map(send_one, keys[-SINGLES:]):
            if isinstance(outcome, str):
                sent.add(outcome)
            else:
                assert len(outcome.job_ids) == 1 and not outcome.sent_ids, outcome
                failed[outcome.job_ids[0]] = outcome.errors.get(outcome.job_ids[0], str(outcome))
    return sent, failed


def send_one(key: str) -> str | EnqueueError:
    """The id of a job enqueued on its own, or the EnqueueError that refused it."""
    try:
        return str(soak_tasks.steady.enqueue(key).id)
    except EnqueueError as error:
        return error


@pytest.mark.parametrize("soak_backend", ["goat", "lamb"], indirect=True)
def test_faults_throttling_and_5xx_on_enqueue_every_sent_job_runs_every_failure_is_named(
    soak_backend: SoakBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = soak_backend
    service = "sqs" if backend.name == "goat" else "lambda"
    for round_name, rate in ROUNDS.items():
        prefix = f"enqueue-{backend.name}-{round_name}-"
        config: dict[str, Any] = json.loads(backend.config_value)
        with FaultProxy(config["endpoints"][service], rate=rate, seed=len(prefix)) as proxy:
            config["endpoints"] = {**config["endpoints"], service: proxy.url}
            monkeypatch.setenv("LAMBDA_JOBS_CONFIG", json.dumps(config))
            aws.reset()
            began = time.monotonic()
            sent, failed = send_through([f"{prefix}{index:05d}" for index in range(FAULT_JOBS)])
            enqueue_s = time.monotonic() - began
        aws.reset()
        assert len(sent) + len(failed) == FAULT_JOBS
        assert not sent & set(failed)
        assert sent <= proxy.accepted, "reported sent but AWS never got it"
        accepted_failed = set(failed) & proxy.accepted
        assert accepted_failed <= proxy.accepted_behind_lost_answer, (
            "reported failed although AWS answered that it took the job"
        )
        assert all(reason for reason in failed.values()), failed

        def ran_ids(prefix: str = prefix) -> set[str]:
            return {r["job_id"] for r in backend.runs(prefix) if r["outcome"] == "succeeded"}

        wait_for(lambda: proxy.accepted <= ran_ids(), timeout=60 + FAULT_JOBS * 0.1)
        ran = ran_ids()
        settled_s = time.monotonic() - began
        missing = sorted(proxy.accepted - ran)
        completions = Counter(r["job_id"] for r in backend.runs(prefix))
        report.add(
            f"enqueue-faults[{backend.name}, {round_name} {rate:.0%}]",
            f"{FAULT_JOBS} jobs ({FAULT_JOBS - SINGLES} bulk, {SINGLES} single); "
            f"{proxy.requests} requests, faults injected: "
            f"{', '.join(f'{n} {k}' for k, n in sorted(proxy.faults.items())) or 'none'}; "
            f"enqueue calls returned in {enqueue_s:.1f} s (botocore backoff included), all run "
            f"after {settled_s:.1f} s; {len(sent)} reported sent, {len(failed)} reported failed "
            f"({len(accepted_failed)} of them accepted behind a lost answer and run); "
            f"{sum(completions.values())} executions, "
            f"{sum(c - 1 for c in completions.values())} duplicates; {len(missing)} lost",
        )
        assert not missing, f"accepted by AWS but never ran: {missing[:20]}"
        assert sent <= ran
        if round_name == "heavy":
            assert failed, "the heavy round should leave some jobs unsent"
