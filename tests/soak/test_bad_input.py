"""Bad input: hypothesis-generated events at the handler and arguments at the client.

The strategies for record bodies and envelope fields are the handler property test's
(``tests/runtime/test_handler_properties.py``); these tests add what it does not cover, and run
:data:`tests.soak.sizes.EXAMPLES` examples each (CI 60, ``make soak`` 1,000):

- SQS records whose *other* fields are wrong too (receive counts that are not numbers, negative or
  huge; odd message attributes, MD5s, regions, source ARNs), still with real receipt handles: each
  record ends listed in ``batchItemFailures`` or in the DLQ with its body unchanged;
- envelope-shaped dicts (and well-formed envelopes of unknown tasks or past their last attempt)
  as async-invoke payloads and inside scheduler deliveries, and any other
  JSON event: the handler never raises; each job-shaped event is dead-lettered exactly once, any
  other event is answered with ``error`` and nothing is dead-lettered;
- arguments and options at the client (JSON and non-JSON values at any depth, priorities and queue
  names in and out of range): ``enqueue`` either sends a message whose envelope holds the arguments
  as JSON, or raises ``InvalidJobError`` naming the problem and sends nothing; nothing else;
- hostile bodies (JSON nested past the decoder's depth, bare or as an envelope's ``args``; a
  5,000-digit integer; a BOM before the JSON; a duplicate version key; ``NaN``; a lone surrogate)
  and jobs of tasks raising a ``BaseException`` (``KeyboardInterrupt``, ``SystemExit``,
  ``GeneratorExit``, ``CancelledError``, a library's own; plain and ``async def``) in Goat batches:
  each is dead-lettered exactly once with its body unchanged, none is listed, the handler never
  raises.

Each test reports how many cases it tried and that none raised or lost a record.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lambda_jobs import InvalidJobError, task
from lambda_jobs.worker.coldstart import cold_start
from lambda_jobs.worker.dispatch import dispatch
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client
from tests.runtime import lambda_events as ev
from tests.runtime.enqueue_backends import GoatBackend, goat
from tests.runtime.runner_tasks import BASE_EXCEPTIONS
from tests.runtime.test_handler_properties import bodies, envelope_fields, json_values, sqs_chars
from tests.soak import report
from tests.soak.sizes import EXAMPLES

__all__ = ["goat"]  # the fixture, imported for the client test

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

receive_counts = st.one_of(
    st.integers(-3, 200).map(str),
    st.sampled_from(["", "abc", "1.5", "1e9", "99999999999999999999", " 2"]),
    st.none(),
)
message_attributes = st.dictionaries(
    st.text(sqs_chars, min_size=1, max_size=12),
    st.fixed_dictionaries(
        {
            "stringValue": st.one_of(st.none(), st.text(sqs_chars, max_size=20)),
            "dataType": st.sampled_from(["String", "Number", "Binary", "", "Bogus"]),
        }
    ),
    max_size=3,
)
record_mutations = st.fixed_dictionaries(
    {},
    optional={
        "receive_count": receive_counts,
        "messageAttributes": message_attributes,
        "md5OfBody": st.text(sqs_chars, max_size=40),
        "awsRegion": st.text(sqs_chars, max_size=20),
        "sentTimestamp": st.one_of(st.text(sqs_chars, max_size=15), st.none()),
    },
)


def mutate(record: dict[str, Any], mutations: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its non-identifying fields replaced (id, receipt handle and body kept)."""
    changed = {**record, "attributes": dict(record["attributes"])}
    for name, value in mutations.items():
        if name == "receive_count":
            if value is None:
                changed["attributes"].pop("ApproximateReceiveCount", None)
            else:
                changed["attributes"]["ApproximateReceiveCount"] = value
        elif name == "sentTimestamp":
            if value is None:
                changed["attributes"].pop("SentTimestamp", None)
            else:
                changed["attributes"]["SentTimestamp"] = value
        else:
            changed[name] = value
    return changed


def test_bad_input_sqs_records_with_wrong_fields_none_crash_none_lost(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = boto_client(moto, "sqs")
    url, arn = ev.make_queue(sqs, "soak-records")
    dlq_url, _ = ev.make_queue(sqs, "soak-records-dlq")
    monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", dlq_url)
    runtime = cold_start({"LAMBDA_JOBS_TASKS": "tests.runtime.sample_tasks"})
    tried = {"batches": 0, "records": 0, "listed": 0, "dead": 0}

    @SETTINGS
    @given(st.lists(st.tuples(bodies, record_mutations), min_size=1, max_size=4))
    def check(batch: list[tuple[str, dict[str, Any]]]) -> None:
        ids: dict[str, str] = {}  # SQS message id -> body
        for body, _ in batch:
            ids[sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]] = body
        event = ev.sqs_event(sqs, url, arn, len(batch))
        mutations = dict(zip(ids, (m for _, m in batch), strict=True))
        event["Records"] = [mutate(r, mutations[r["messageId"]]) for r in event["Records"]]
        result: Any = dispatch(event, ev.Context(), runtime)  # must not raise
        listed = set(ev.failed_ids(result))
        assert listed <= set(ids)
        ev.settle(sqs, url, event, result)
        dead = ev.dead_letters(sqs, dlq_url, len(batch) - len(listed))
        assert sorted(entry["body"] for entry in dead) == sorted(
            body for message_id, body in ids.items() if message_id not in listed
        )
        for rec in event["Records"]:
            if rec["messageId"] in listed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=rec["receiptHandle"])
        assert ev.queue_is_empty(sqs, url)
        assert ev.queue_is_empty(sqs, dlq_url)
        tried["batches"] += 1
        tried["records"] += len(batch)
        tried["listed"] += len(listed)
        tried["dead"] += len(dead)

    check()
    report.add(
        "bad-input[sqs records]",
        f"{tried['batches']} batches, {tried['records']} records tried; handler raised 0 times; "
        f"{tried['dead']} dead-lettered with body unchanged, {tried['listed']} listed as failed, "
        "0 lost",
    )


job_dicts = st.fixed_dictionaries(
    {"lambda_jobs": envelope_fields["lambda_jobs"]},
    optional={
        name: strategy for name, strategy in envelope_fields.items() if name != "lambda_jobs"
    },
)
#: Well-formed envelopes nobody may run: an unknown task, or a known one past its last attempt.
decodable_poison = st.one_of(
    st.builds(lambda: ev.envelope("app.tasks.nobody").to_dict()),
    st.integers(2, 60).map(
        lambda attempt: ev.envelope(
            "tests.runtime.sample_tasks.always_fail", "/nowhere", attempt=attempt
        ).to_dict()
    ),
)
async_events = st.one_of(
    job_dicts.map(lambda job: ("job", job)),
    decodable_poison.map(lambda job: ("job", job)),
    job_dicts.map(
        lambda job: (
            "job",
            {"source": "lambda_jobs.scheduler", "job": job, "schedule": "x"},
        )
    ),
    json_values.filter(
        lambda value: (
            not (isinstance(value, dict) and ("lambda_jobs" in value or "Records" in value))
        )
    ).map(lambda value: ("other", value)),
)


def test_bad_input_async_payloads_and_scheduler_deliveries_none_crash_none_lost(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = boto_client(moto, "sqs")
    dlq_url, _ = ev.make_queue(sqs, "soak-async-dlq")
    monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", dlq_url)
    runtime = cold_start({"LAMBDA_JOBS_TASKS": "tests.runtime.sample_tasks"})
    tried: dict[str, int] = {"job": 0, "other": 0}
    reasons: dict[str, int] = {}

    @SETTINGS
    @given(async_events)
    def check(case: tuple[str, Any]) -> None:
        kind, event = case
        result = dispatch(event, ev.Context(), runtime)  # must not raise
        if kind == "job":
            (entry,) = ev.dead_letters(sqs, dlq_url, 1)
            reason = entry["reason"]
            assert reason in {"undecodable", "unknown_task", "not_allowed", "exhausted"}, entry
            assert result["outcome"] == "dead_lettered"
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            assert "error" in result
        assert ev.queue_is_empty(sqs, dlq_url)
        tried[kind] += 1

    check()
    report.add(
        "bad-input[async payloads]",
        f"{tried['job'] + tried['other']} events tried: {tried['job']} job-shaped, each "
        f"dead-lettered once ({', '.join(f'{n} {r}' for r, n in sorted(reasons.items()))}), "
        f"{tried['other']} other events answered with an error; handler raised 0 times, 0 lost",
    )


@task(queue_name="default")
def accepts_anything(*args: Any, **kwargs: Any) -> None:
    return None


class Opaque:
    """An object no JSON encoder knows."""


not_json = st.sampled_from(
    [
        b"x",
        {1},
        frozenset(),
        Decimal(1),
        datetime(2026, 1, 1, tzinfo=UTC),
        math.nan,
        math.inf,
        Opaque(),
        1j,
        (1, {2: "non-string key"}),
    ]
)
argument_values = st.recursive(
    json_values | not_json | st.tuples(json_values),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)
options = st.fixed_dictionaries(
    {},
    optional={
        "priority": st.integers(-300, 300),
        "queue_name": st.one_of(
            st.sampled_from(["default", "orders", "nowhere", "", "bad name!"]), st.text(max_size=8)
        ),
    },
)


def as_json(value: Any) -> Any:
    """What a JSON round trip makes of ``value`` (tuples become lists)."""
    return json.loads(json.dumps(value))


def test_bad_input_client_arguments_are_sent_intact_or_refused_by_name(
    goat: GoatBackend,
) -> None:
    counts = {"sent": 0, "refused": 0}
    lanes = [goat.low_url, goat.high_url, goat.fifo_url]

    @SETTINGS
    @given(
        args=st.lists(argument_values, max_size=3),
        kwargs=st.dictionaries(
            st.from_regex(r"[a-z_]{1,6}", fullmatch=True), argument_values, max_size=2
        ),
        chosen=options,
    )
    def check(args: list[Any], kwargs: dict[str, Any], chosen: dict[str, Any]) -> None:
        try:
            job = accepts_anything.using(**chosen).enqueue(*args, **kwargs)
        except InvalidJobError as error:
            text = str(error)
            assert text and any(
                word in text for word in ("argument", "priority", "queue", "JSON")
            ), text
            assert not any(goat.visible_now(url) for url in lanes), "a refused job was sent"
            counts["refused"] += 1
            return
        sent = [m for url in lanes for m in goat.visible_now(url)]
        assert len(sent) == 1, sent
        envelope = json.loads(sent[0]["Body"])
        assert envelope["id"] == job.id
        assert envelope["args"] == as_json(args)
        assert envelope["kwargs"] == as_json(kwargs)
        counts["sent"] += 1

    check()
    report.add(
        "bad-input[client arguments]",
        f"{counts['sent'] + counts['refused']} calls tried: {counts['sent']} sent with their "
        f"arguments intact, {counts['refused']} refused with InvalidJobError naming the problem, "
        "0 other exceptions, 0 refused jobs sent",
    )


def _envelope_text(**fields: Any) -> str:
    """An envelope's JSON text with ``fields`` replaced (raw JSON text each)."""
    values = {
        "lambda_jobs": "1",
        "id": json.dumps(str(uuid.uuid4())),
        "task": '"tests.runtime.sample_tasks.write_file"',
        "args": '["/nowhere", "x"]',
        "kwargs": "{}",
        "enqueued_at": '"2026-11-27T20:00:00.000+00:00"',
        **fields,
    }
    return "{" + ",".join(f'"{name}":{value}' for name, value in values.items()) + "}"


def _nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


#: Bodies no runtime can run, each with what it is (for the figures).
hostile_bodies = st.one_of(
    st.tuples(st.sampled_from([1_500, 5_000, 100_000]), st.sampled_from(["array", "object"])).map(
        lambda case: ("deep nesting", _nested(*case))
    ),
    st.sampled_from([1_500, 100_000]).map(
        lambda depth: ("deep nesting", _envelope_text(args=_nested(depth, "array")))
    ),
    st.just(("5,000-digit integer", _envelope_text(attempt="9" * 5_000))),
    st.just(("5,000-digit integer", "9" * 5_000)),
    st.just(("BOM", "\ufeff" + _envelope_text())),
    st.just(
        (
            "duplicate keys",
            _envelope_text().replace('"lambda_jobs":1', '"lambda_jobs":1,"lambda_jobs":2'),
        )
    ),
    st.just(("NaN", _envelope_text(attempt="NaN"))),
    st.just(("lone surrogate", _envelope_text(id='"\\ud800"', task='"tests.\\udfff"'))),
)
raising_jobs = st.tuples(
    st.sampled_from(sorted(BASE_EXCEPTIONS)), st.sampled_from(["raise_base", "raise_base_async"])
).map(
    lambda case: (
        case[0],
        ev.envelope(f"tests.runtime.runner_tasks.{case[1]}", case[0]).to_json(),
    )
)


def test_bad_input_hostile_bodies_and_base_exceptions_each_dead_lettered_once_none_listed(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = boto_client(moto, "sqs")
    url, arn = ev.make_queue(sqs, "soak-hostile")
    dlq_url, _ = ev.make_queue(sqs, "soak-hostile-dlq")
    monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", dlq_url)
    runtime = cold_start(
        {"LAMBDA_JOBS_TASKS": "tests.runtime.sample_tasks,tests.runtime.runner_tasks"}
    )
    kinds: dict[str, int] = {}
    errors: dict[str, int] = {}

    every_raise = [
        ("job", kind, ev.envelope(f"tests.runtime.runner_tasks.{name}", kind).to_json())
        for kind in sorted(BASE_EXCEPTIONS)
        for name in ("raise_base", "raise_base_async")
    ]

    @SETTINGS
    @example(every_raise)  # each kind, plain and async, in one batch of 10
    @given(
        st.lists(
            st.one_of(
                hostile_bodies.map(lambda c: ("body", *c)),
                raising_jobs.map(lambda c: ("job", *c)),
            ),
            min_size=1,
            max_size=4,
        )
    )
    def check(batch: list[tuple[str, str, str]]) -> None:
        ev.send(sqs, url, *(body for _, _, body in batch))
        event = ev.sqs_event(sqs, url, arn, len(batch))
        result: Any = dispatch(event, ev.Context(), runtime)  # must not raise
        assert ev.failed_ids(result) == [], [what for _, what, _ in batch]
        ev.settle(sqs, url, event, result)
        dead = ev.dead_letters(sqs, dlq_url, len(batch))
        assert sorted(entry["body"] for entry in dead) == sorted(body for _, _, body in batch)
        for entry in dead:
            if entry.get("task", "").startswith("tests.runtime.runner_tasks.raise_base"):
                assert entry["reason"] == "exhausted", entry
                assert entry["error_type"] in BASE_EXCEPTIONS, entry
                errors[entry["error_type"]] = errors.get(entry["error_type"], 0) + 1
            else:
                assert entry["reason"] in {"undecodable", "unknown_task"}, entry
        assert ev.queue_is_empty(sqs, url)
        assert ev.queue_is_empty(sqs, dlq_url)
        for _, what, _ in batch:
            kinds[what] = kinds.get(what, 0) + 1

    check()
    hostile = {k: n for k, n in kinds.items() if k not in BASE_EXCEPTIONS}
    report.add(
        "bad-input[hostile bodies, BaseException tasks]",
        f"{sum(kinds.values())} records tried: "
        + ", ".join(f"{n} {k}" for k, n in sorted(hostile.items()))
        + "; tasks raising "
        + ", ".join(f"{n} {k}" for k, n in sorted(errors.items()))
        + "; each dead-lettered once with its body unchanged, 0 listed, handler raised 0 times",
    )
