"""Flow control's API and its conditional writes (issue 20).

The API: ``Concurrency`` / ``Rate`` values, ``@task(limits=...)``, ``using(limits=...)``, the
refusal of one name with two numbers, and the ``job_store`` requirement (cold start, enqueue).
The store: slots and budgets in a real (moto server) DynamoDB table: a slot comes back when its
lease ends, a rate never grants more than ``n`` in a window. The whole path under the emulator is
``tests/e2e/test_limits.py``.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import (
    Concurrency,
    ConfigurationError,
    InvalidJobError,
    InvalidTaskError,
    Rate,
    task,
)
from lambda_jobs.jobstore import limits as store_limits
from lambda_jobs.jobstore.claims import WorkerStore
from lambda_jobs.limits import Held
from lambda_jobs.worker.coldstart import cold_start
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.runtime.enqueue_backends import GoatBackend, goat  # noqa: F401 - fixture
from tests.runtime.job_table import TABLE, make_table


@task(name="tests.limits.crm_a", limits=[Concurrency("unit-crm", 5)])
def crm_a(contact_id: int) -> None: ...


@task(
    name="tests.limits.per_account",
    limits=[Concurrency("unit-account", 1, key=lambda account_id, **_: account_id)],
)
def per_account(account_id: Any, full: bool = False) -> None: ...


def test_a_name_with_two_numbers_is_refused_naming_both_tasks() -> None:
    with pytest.raises(InvalidTaskError) as caught:

        @task(name="tests.limits.crm_b", limits=[Concurrency("unit-crm", 3)])
        def crm_b() -> None: ...

    message = str(caught.value)
    assert "'unit-crm'" in message
    assert "Concurrency('unit-crm', 5) in task tests.limits.crm_a" in message
    assert "Concurrency('unit-crm', 3) in task tests.limits.crm_b" in message


def test_the_same_name_and_numbers_are_one_shared_limit() -> None:
    @task(name="tests.limits.crm_c", limits=[Concurrency("unit-crm", 5)])
    def crm_c() -> None: ...

    assert crm_c.limits[0].n == 5


def test_a_name_used_as_concurrency_and_as_rate_is_refused() -> None:
    with pytest.raises(InvalidTaskError, match="Rate\\('unit-crm', 5, per=1s\\) in task"):

        @task(name="tests.limits.crm_d", limits=[Rate("unit-crm", 5)])
        def crm_d() -> None: ...


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Concurrency("", 1), "Concurrency name must be 1-64 characters"),
        (lambda: Concurrency("a#b", 1), "letters, digits and _ . - :, got 'a#b'"),
        (lambda: Concurrency("x", 0), r"Concurrency\('x'\) n must be a whole number 1..1000"),
        (lambda: Concurrency("x", 1001), "got 1001"),
        (lambda: Concurrency("x", True), "got True"),
        (lambda: Concurrency("x", 2.5), "got 2.5"),  # type: ignore[arg-type]
        (lambda: Concurrency("x", 1, key="account"), "key must be a function"),  # type: ignore[arg-type]
        (lambda: Rate("x", 10, per=timedelta(milliseconds=500)), "per must be a timedelta or"),
        (lambda: Rate("x", 10, per=timedelta(days=2)), "to 86400 s"),
        (lambda: Rate("x", 10, per="1s"), "got '1s'"),  # type: ignore[arg-type]
    ],
)
def test_bad_limit_values_name_the_problem(make: Any, message: str) -> None:
    with pytest.raises(InvalidTaskError, match=message):
        make()


def test_limits_must_be_a_list_of_limits_with_each_name_once() -> None:
    with pytest.raises(InvalidTaskError, match="limits must be a list"):
        task(name="tests.limits.bad1", limits=Concurrency("unit-x", 1))(lambda: None)  # type: ignore[call-overload]
    with pytest.raises(InvalidTaskError, match=r"hold Concurrency\(...\) and Rate\(...\) only"):
        task(name="tests.limits.bad2", limits=["crm"])(lambda: None)  # type: ignore[list-item]
    with pytest.raises(InvalidTaskError, match="limit 'unit-y' appears twice"):
        task(name="tests.limits.bad3", limits=[Rate("unit-y", 1), Rate("unit-y", 1)])(lambda: None)


def test_using_limits_replaces_them_for_one_job_and_travels_in_the_envelope() -> None:
    job = crm_a.using(limits=[Rate("unit-rate", 2, per=60)]).prepare(7)
    assert job.overrides == {"limits": [["rate", "unit-rate", 2, 60.0, None]]}
    assert crm_a.prepare(7).overrides == {}  # the task's own: resolved by the worker
    assert crm_a.using(limits=[]).prepare(7).overrides == {"limits": []}
    with pytest.raises(InvalidJobError, match="limit 'unit-crm' is Concurrency\\('unit-crm', 5\\)"):
        crm_a.using(limits=[Concurrency("unit-crm", 9)])
    with pytest.raises(InvalidJobError, match="limits must be a list"):
        crm_a.using(limits=Concurrency("unit-z", 1))  # type: ignore[arg-type]


def test_a_key_is_a_function_of_the_arguments_checked_at_enqueue() -> None:
    assert per_account.using(limits=per_account.limits[:0] + per_account.limits).prepare(
        "acme", full=True
    ).overrides == {"limits": [["concurrency", "unit-account", 1, 0.0, "acme"]]}
    with pytest.raises(InvalidJobError, match="must return a string or an int, got NoneType"):
        per_account.prepare(None)
    failing = Concurrency("unit-failing", 1, key=lambda account_id, **_: 1 // 0)
    with pytest.raises(InvalidJobError, match="'unit-failing' raised ZeroDivisionError"):
        per_account.using(limits=[failing]).prepare("acme")


def test_enqueue_without_a_job_store_is_a_configuration_error(goat: GoatBackend) -> None:  # noqa: F811
    with pytest.raises(ConfigurationError, match=r"tests\.limits\.crm_a: its limits need the job"):
        crm_a.enqueue(1)


def test_cold_start_without_a_job_store_names_the_task_and_the_prop() -> None:
    with pytest.raises(ConfigurationError) as caught:
        cold_start({"LAMBDA_JOBS_TASKS": "tests.runtime.limited_tasks"})
    message = str(caught.value)
    assert "tests.runtime.limited_tasks.limited_job has limits=[...]" in message
    assert "job_store" in message and "LAMBDA_JOBS_JOB_TABLE" in message
    runtime = cold_start(
        {"LAMBDA_JOBS_TASKS": "tests.runtime.limited_tasks", "LAMBDA_JOBS_JOB_TABLE": TABLE}
    )
    assert runtime.store is not None


@pytest.fixture
def store(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> WorkerStore:
    make_table(moto)
    return WorkerStore(TABLE, 3600)


def acquire(store: WorkerStore, held: Held, holder: str, lease: float) -> float | None:
    return store_limits.acquire(store, held, holder, lease_seconds=lease).wait


def test_a_slot_held_by_a_killed_attempt_comes_back_when_its_lease_ends(
    store: WorkerStore,
) -> None:
    slot = Held("concurrency", "unit-lease", 1, 0.0, "k")
    assert acquire(store, slot, "job-1/req-1", 1.0) is None
    wait = acquire(store, slot, "job-2/req-2", 1.0)
    assert wait is not None and 0 < wait <= 1.0
    # job-1's process was killed: nobody releases; the lease ends and the slot is free again.
    deadline = time.monotonic() + 5
    while acquire(store, slot, "job-2/req-2", 1.0) is not None:
        assert time.monotonic() < deadline, "the slot never came back"
        time.sleep(0.1)
    # Released at once by its holder: the next one gets it without waiting for the lease.
    store_limits.release(store, slot, "job-2/req-2")
    assert acquire(store, slot, "job-3/req-3", 60.0) is None
    other_key = Held("concurrency", "unit-lease", 1, 0.0, "other")
    assert acquire(store, other_key, "job-4/req-4", 60.0) is None


def test_a_rate_grants_n_at_once_then_waits_out_the_window(store: WorkerStore) -> None:
    budget = Held("rate", "unit-window", 3, 1.0, None)
    granted = [store_limits.acquire(store, budget, f"j{i}", 5.0) for i in range(3)]
    assert [decision.wait for decision in granted] == [None, None, None]
    # The grant's time is the store's: the one the window is measured on.
    assert all(time.time() - 5 < decision.at <= time.time() for decision in granted)
    wait = acquire(store, budget, "j3", 5.0)
    assert wait is not None and 0.5 < wait <= 1.0 + store_limits.RATE_MARGIN_SECONDS
    time.sleep(wait + 0.05)
    assert acquire(store, budget, "j3", 5.0) is None


def test_goat_hands_a_limited_job_back_as_a_delayed_copy_that_uses_no_attempt(
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In-process Goat with the store: the job is refused before its claim, the original is
    acknowledged and a copy comes back after the wait; run then, it is attempt 1."""
    from tests.runtime import lambda_events as ev
    from tests.runtime.worker.test_goat import Goat, T

    dynamodb = make_table(moto)
    worker = Goat(moto, monkeypatch, LAMBDA_JOBS_JOB_TABLE=TABLE)
    dynamodb.put_item(  # another attempt holds the only slot
        TableName=TABLE,
        Item={
            "pk": {"S": "limit#unit-goat"},
            "holders": {"M": {"other/req": {"N": str(int(time.time()) + 60)}}},
            "v": {"N": "1"},
        },
    )
    out = tmp_path / "out"
    limited = ["concurrency", "unit-goat", 1, 0.0, None]
    job = ev.envelope(T + "write_file", str(out), "ran", limits=[limited])
    free = ev.envelope(T + "write_file", str(tmp_path / "free"), "ran")
    worker.send(job, free)
    _, result = worker.run(2)
    assert result == {"batchItemFailures": []}  # the original is acknowledged: a copy waits
    assert not out.exists() and (tmp_path / "free").read_text() == "ran"
    line = next(
        json.loads(text)
        for text in capsys.readouterr().out.splitlines()
        if '"outcome": "limited"' in text
    )
    assert (line["id"], line["limit"], line["attempt"]) == (job.id, "unit-goat", 1)
    assert 1 <= line["retry_in_s"] <= 4
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": job.id}})  # unclaimed
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "limit#unit-goat"}})  # slot free
    [copy] = ev.receive(worker.sqs, worker.url, 1, timeout=10)
    body = json.loads(copy["Body"])
    assert (body["id"], body["attempt"], body["overrides"]["limits"]) == (job.id, 1, [limited])
    assert int(copy["Attributes"]["ApproximateReceiveCount"]) == 1  # a fresh message


def test_a_malformed_limits_override_is_dead_lettered_unrun(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.runtime import lambda_events as ev
    from tests.runtime.worker.test_goat import Goat, T

    make_table(moto)
    worker = Goat(moto, monkeypatch, LAMBDA_JOBS_JOB_TABLE=TABLE)
    out = tmp_path / "out"
    worker.send(ev.envelope(T + "write_file", str(out), "ran", limits=[["concurrency", "x", 0]]))
    _, result = worker.run(1)
    assert result == {"batchItemFailures": []}
    assert not out.exists()
    [entry] = ev.receive(worker.sqs, worker.dlq_url, 1)
    attributes = entry["MessageAttributes"]
    assert attributes["lambda_jobs.reason"]["StringValue"] == "undecodable"
    assert (
        "a limit override is [kind, name, n, per, key]"
        in (attributes["lambda_jobs.error_message"]["StringValue"])
    )
