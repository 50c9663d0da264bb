"""The envelope: JSON round trip, unknown versions and every malformed field raise EnvelopeError."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from lambda_jobs.envelope import VERSION_KEY, Envelope, from_dict, from_json
from lambda_jobs.errors import EnvelopeError

ENQUEUED = datetime(2026, 11, 27, 20, 0, 0, 123000, tzinfo=UTC)


def full() -> Envelope:
    return Envelope(
        id="6f1c2c9e-0000-4000-8000-000000000001",
        task="app.tasks.send_mail",
        args=[42, "ü", [1, 2], None],
        kwargs={"flag": True, "nested": {"x": 1.5}},
        queue="emails",
        priority=-7,
        enqueued_at=ENQUEUED,
        run_after=ENQUEUED + timedelta(hours=2),
        attempt=3,
        overrides={"retries": 2, "timeout": 9.5, "retry_jitter": False},
    )


def test_envelope_round_trip_keeps_every_field() -> None:
    original = full()
    decoded = from_json(original.to_json())
    assert decoded == original
    assert decoded.to_dict() == original.to_dict()
    assert from_json(original.to_json().encode()) == original


def test_envelope_wire_form_is_compact_json_with_the_version_first() -> None:
    text = full().to_json()
    data = json.loads(text)
    assert next(iter(data)) == VERSION_KEY and data[VERSION_KEY] == 1
    assert data["enqueued_at"] == "2026-11-27T20:00:00.123+00:00"
    assert data["run_after"] == "2026-11-27T22:00:00.123+00:00"
    assert ", " not in text and "ü" in text  # compact, UTF-8 not escaped


def test_envelope_times_are_written_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    envelope = Envelope(id="i", task="t", enqueued_at=datetime(2026, 1, 1, 13, 0, tzinfo=paris))
    assert envelope.to_dict()["enqueued_at"] == "2026-01-01T12:00:00.000+00:00"


def test_envelope_minimal_document_gets_the_defaults() -> None:
    decoded = from_dict(
        {VERSION_KEY: 1, "id": "i", "task": "t", "enqueued_at": ENQUEUED.isoformat()}
    )
    assert (decoded.args, decoded.kwargs, decoded.queue, decoded.priority) == ([], {}, "default", 0)
    assert (decoded.attempt, decoded.run_after, decoded.overrides) == (1, None, {})


def test_envelope_with_attempt_copies() -> None:
    original = full()
    retried = original.with_attempt(4)
    assert retried.attempt == 4 and original.attempt == 3
    assert retried.to_dict() | {"attempt": 3} == original.to_dict()


@pytest.mark.parametrize("version", [None, 0, 2, "1", 1.0, True])
def test_envelope_unknown_version_is_an_envelope_error(version: Any) -> None:
    data = full().to_dict()
    if version is None:
        del data[VERSION_KEY]
    else:
        data[VERSION_KEY] = version
    with pytest.raises(EnvelopeError) as caught:
        from_dict(data)
    assert f"unsupported envelope version {version!r}" in str(caught.value)
    assert "upgrade lambda-jobs" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not json", "message body is not JSON"),
        (b"\xff\xfe", "message body is not JSON"),
        ("[1, 2]", "envelope must be a JSON object, got list"),
        ('"text"', "envelope must be a JSON object, got str"),
        ("", "message body is not JSON"),
    ],
)
def test_envelope_body_that_is_not_an_object(text: str | bytes, expected: str) -> None:
    with pytest.raises(EnvelopeError, match=expected):
        from_json(text)


MALFORMED: list[tuple[str, Any, str]] = [
    ("id", None, "envelope field 'id' must be a non-empty string, got None"),
    ("id", "", "envelope field 'id' must be a non-empty string"),
    ("id", 5, "envelope field 'id' must be a non-empty string, got 5"),
    ("task", "", "envelope field 'task' must be a non-empty string"),
    ("task", ["a"], "envelope field 'task' must be a non-empty string"),
    ("args", {"a": 1}, "envelope field 'args' must be a JSON array"),
    ("args", "1,2", "envelope field 'args' must be a JSON array"),
    ("kwargs", [1], "envelope field 'kwargs' must be a JSON object"),
    ("queue", 3, "envelope field 'queue' must be a string, got 3"),
    ("priority", "high", "envelope field 'priority' must be an integer, got 'high'"),
    ("priority", True, "envelope field 'priority' must be an integer, got True"),
    ("priority", 1.5, "envelope field 'priority' must be an integer"),
    ("attempt", 0, "envelope field 'attempt' must be an integer >= 1, got 0"),
    ("attempt", False, "envelope field 'attempt' must be an integer >= 1, got False"),
    ("attempt", "2", "envelope field 'attempt' must be an integer >= 1"),
    ("enqueued_at", None, "envelope field 'enqueued_at' must be an ISO 8601 string, got None"),
    ("enqueued_at", 1732737600, "envelope field 'enqueued_at' must be an ISO 8601 string"),
    ("enqueued_at", "yesterday", "envelope field 'enqueued_at' is not an ISO 8601 time"),
    ("enqueued_at", "2026-11-27T20:00:00", "envelope field 'enqueued_at' has no time zone"),
    ("run_after", "soon", "envelope field 'run_after' is not an ISO 8601 time"),
    ("run_after", 30, "envelope field 'run_after' must be an ISO 8601 string, got 30"),
    ("overrides", [], "envelope field 'overrides' must be a JSON object"),
    ("overrides", {"queue": "x"}, "envelope override 'queue' is not a task option"),
    ("overrides", {"retries": "3"}, "envelope override 'retries' has the wrong type: '3'"),
    ("overrides", {"retries": True}, "envelope override 'retries' has the wrong type: True"),
    ("overrides", {"timeout": None}, "envelope override 'timeout' has the wrong type: None"),
    ("overrides", {"retry_jitter": 1}, "envelope override 'retry_jitter' has the wrong type: 1"),
]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [pytest.param(f, v, e, id=f"{f}={v!r}") for f, v, e in MALFORMED],
)
def test_envelope_malformed_field_is_named(field: str, value: Any, expected: str) -> None:
    data = full().to_dict()
    data[field] = value
    with pytest.raises(EnvelopeError) as caught:
        from_json(json.dumps(data))
    assert expected in str(caught.value)


def test_envelope_unknown_fields_are_named() -> None:
    data = full().to_dict() | {"pickle": "gASV", "eta": 5}
    with pytest.raises(EnvelopeError, match="envelope has unknown fields: eta, pickle"):
        from_dict(data)


def test_envelope_error_is_a_value_error_for_callers() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        from_json("{")


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"run_after": datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)},
        {"overrides": {"retries": 3, "timeout": 1.5, "retry_jitter": False}},
        {"attempt": 7, "priority": -100, "queue": "bulk-lane_2"},
    ],
)
def test_decoding_what_to_dict_and_to_json_write_gives_the_envelope_back(changes: dict[str, Any]):
    original = Envelope(
        id="job-1",
        task="app.tasks.go",
        args=[1, "two", {"three": 3}],
        kwargs={"four": [4]},
        enqueued_at=datetime(2030, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
        **changes,
    )
    decoded, parsed = from_dict(original.to_dict()), from_json(original.to_json())
    assert decoded == parsed == original
    assert decoded.enqueued_at == original.enqueued_at and decoded.run_after == original.run_after
