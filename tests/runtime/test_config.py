"""LAMBDA_JOBS_CONFIG: every way to get it wrong raises ConfigurationError naming the problem."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from lambda_jobs import config
from lambda_jobs.config import INLINE, ClientConfig
from lambda_jobs.contract import DEFAULT_MAX_DELAY_SECONDS, DEFAULT_MAX_PAYLOAD
from lambda_jobs.errors import ConfigurationError
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client

URL = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
ARN = "arn:aws:sqs:us-east-1:123456789012:jobs"


def valid() -> dict[str, Any]:
    return {
        "version": 1,
        "backend": "goat",
        "region": "us-east-1",
        "queues": {
            "default": {
                "fifo": False,
                "lanes": [
                    {"min_priority": -100, "max_priority": 0, "target": URL, "arn": ARN},
                    {"min_priority": 1, "max_priority": 100, "target": URL + "-hi", "arn": ARN},
                ],
            }
        },
        "dead_letter_queue": {"url": URL + "-dlq", "arn": ARN + "-dlq"},
        "scheduler": {"group": "jobs", "role_arn": "arn:aws:iam::123456789012:role/s"},
    }


def lanes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = doc["queues"]["default"]["lanes"]
    return result


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        del target[last]

    return change


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("version missing", _delete("version"), "version None is not supported"),
    ("version 2", _set("version", 2), "version 2 is not supported (this runtime reads version 1)"),
    ("backend missing", _delete("backend"), "the document is missing 'backend'"),
    ("backend not a string", _set("backend", 3), "backend must be str, got 3"),
    ("backend unknown", _set("backend", "sqs"), "backend must be 'goat' or 'lamb', got 'sqs'"),
    ("queues missing", _delete("queues"), "the document is missing 'queues'"),
    ("queues not an object", _set("queues", []), "queues must be dict"),
    ("queues empty", _set("queues", {}), "queues must name at least one queue"),
    ("queue name", _set("queues", {"bad name": {}}), "queue name 'bad name' is not valid"),
    ("queue not an object", _set("queues.default", 1), "queues.default must be an object"),
    ("fifo not bool", _set("queues.default.fifo", "yes"), "queues.default.fifo must be true or"),
    ("lanes missing", _delete("queues.default.lanes"), "queues.default.lanes must be a non-empty"),
    ("lanes empty", _set("queues.default.lanes", []), "queues.default.lanes must be a non-empty"),
    ("lane not object", _set("queues.default.lanes.0", 5), "lanes[0] must be an object"),
    (
        "lane key missing",
        _delete("queues.default.lanes.1.target"),
        "queues.default.lanes[1] is missing 'target'",
    ),
    (
        "lane priority a bool",
        _set("queues.default.lanes.0.min_priority", True),
        "queues.default.lanes[0].min_priority must be int, got True",
    ),
    (
        "lane arn not a string",
        _set("queues.default.lanes.0.arn", 7),
        "queues.default.lanes[0].arn must be str, got 7",
    ),
    (
        "lanes leave a gap",
        _set("queues.default.lanes.1.min_priority", 5),
        "a band starting at 1 is expected, got 5..100",
    ),
    (
        "lanes overlap",
        _set("queues.default.lanes.1.min_priority", -5),
        "a band starting at 1 is expected, got -5..100",
    ),
    (
        "lanes start late",
        _set("queues.default.lanes.0.min_priority", -99),
        "a band starting at -100 is expected, got -99..0",
    ),
    (
        "lane band reversed",
        _set("queues.default.lanes.1.max_priority", 0),
        "a band starting at 1 is expected, got 1..0",
    ),
    (
        "lanes stop short",
        _set("queues.default.lanes.1.max_priority", 99),
        "stops at priority 99; lanes must reach 100",
    ),
    ("dlq missing", _delete("dead_letter_queue"), "the document is missing 'dead_letter_queue'"),
    ("dlq url missing", _delete("dead_letter_queue.url"), "dead_letter_queue is missing 'url'"),
    ("dlq arn not str", _set("dead_letter_queue.arn", None), "dead_letter_queue.arn must be str"),
    (
        "fifo dlq not object",
        _set("fifo_dead_letter_queue", "q"),
        "fifo_dead_letter_queue must be an object or null",
    ),
    (
        "fifo dlq url missing",
        _set("fifo_dead_letter_queue", {"arn": "arn:q"}),
        "fifo_dead_letter_queue is missing 'url'",
    ),
    ("scheduler not object", _set("scheduler", "on"), "scheduler must be an object or null"),
    ("scheduler role missing", _delete("scheduler.role_arn"), "scheduler is missing 'role_arn'"),
    ("payload too small", _set("max_payload_bytes", 10), "max_payload_bytes must be an integer"),
    ("payload a bool", _set("max_payload_bytes", True), "max_payload_bytes must be an integer"),
    ("delay negative", _set("max_delay_seconds", -1), "max_delay_seconds must be an integer >= 0"),
    ("delay a float", _set("max_delay_seconds", 1.5), "max_delay_seconds must be an integer >= 0"),
    ("endpoints service", _set("endpoints", {"s3": "http://x"}), "endpoints must map some of sqs"),
    ("endpoints not obj", _set("endpoints", ["http://x"]), "endpoints must map some of sqs"),
    ("region not str", _set("region", 5), "region must be a string"),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [pytest.param(change, expected, id=name) for name, change, expected in BROKEN],
)
def test_config_document_mistake_is_named(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    doc = copy.deepcopy(valid())
    change(doc)
    with pytest.raises(ConfigurationError) as caught:
        config.parse_text(json.dumps(doc))
    assert expected in str(caught.value)
    assert str(caught.value).startswith("LAMBDA_JOBS_CONFIG")


def test_config_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="must be a JSON object, got list"):
        config.parse([valid()])


def test_config_that_is_not_json_says_so() -> None:
    with pytest.raises(ConfigurationError, match="LAMBDA_JOBS_CONFIG is not valid JSON"):
        config.resolve('{"version": 1,')


def test_config_value_of_unknown_form_lists_the_accepted_forms() -> None:
    with pytest.raises(ConfigurationError) as caught:
        config.resolve("goat://default")
    assert "must be a JSON document, 'ssm:<parameter name>' or 'inline'" in str(caught.value)
    assert "'goat://default'" in str(caught.value)


@pytest.mark.parametrize("value", ["", "   "])
def test_config_unset_or_blank_is_an_error_not_a_fallback(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", value)
    with pytest.raises(ConfigurationError, match="LAMBDA_JOBS_CONFIG is not set"):
        config.load()
    monkeypatch.delenv("LAMBDA_JOBS_CONFIG")
    with pytest.raises(ConfigurationError, match="'inline' to run jobs in-process"):
        config.load()


def test_config_valid_document_parses_with_documented_defaults() -> None:
    parsed = config.parse(valid())
    assert parsed.backend == "goat" and not parsed.is_inline
    assert parsed.max_payload_bytes == DEFAULT_MAX_PAYLOAD
    assert parsed.max_delay_seconds == DEFAULT_MAX_DELAY_SECONDS
    assert [lane.target for lane in parsed.queue("default").lanes] == [URL, URL + "-hi"]
    assert parsed.queue("default").lane_for(1).target == URL + "-hi"
    assert parsed.queue("default").lane_for(0).target == URL
    assert parsed.fifo_dead_letter_queue is None  # optional (still version 1)
    fifo = {"url": URL + "-dlq.fifo", "arn": "arn:aws:sqs:eu-west-1:1:dlq.fifo"}
    with_fifo = config.parse({**valid(), "fifo_dead_letter_queue": fifo})
    assert with_fifo.fifo_dead_letter_queue == config.DeadLetterQueue(**fifo)


def test_config_lamb_defaults_without_scheduler_allow_no_delay() -> None:
    doc = valid()
    doc["backend"] = "lamb"
    doc["scheduler"] = None
    parsed = config.parse(doc)
    assert parsed.max_payload_bytes == DEFAULT_MAX_PAYLOAD
    assert parsed.max_delay_seconds == 0


def test_config_goat_without_scheduler_allows_900_s() -> None:
    doc = valid()
    doc["scheduler"] = None
    assert config.parse(doc).max_delay_seconds == 900


def test_config_unknown_queue_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        config.parse(valid()).queue("emails")
    assert str(caught.value) == "unknown queue 'emails'; this goat backend has: default"


def test_config_inline_word_selects_inline() -> None:
    assert config.resolve(" inline ") is INLINE
    assert INLINE.is_inline


def test_config_load_follows_changes_of_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", json.dumps(valid()))
    first = config.load()
    assert first is config.load()  # parsed once per distinct value
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", "inline")
    assert config.load() is INLINE


def test_config_ssm_prefix_needs_a_name() -> None:
    with pytest.raises(ConfigurationError, match="needs a parameter name after 'ssm:'"):
        config.resolve("ssm:  ")


def test_config_ssm_parameter_is_read_from_ssm(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"/lambda-jobs/{uuid.uuid4()}/client-config"
    boto_client(moto, "ssm").put_parameter(Name=name, Value=json.dumps(valid()), Type="String")
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", f"ssm:{name}")
    parsed: ClientConfig = config.load()
    assert parsed.queue("default").lanes[0].target == URL


def test_config_ssm_parameter_missing_names_it(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"/lambda-jobs/{uuid.uuid4()}/missing"
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", f"ssm:{name}")
    with pytest.raises(ConfigurationError) as caught:
        config.load()
    assert f"ssm:{name}: could not read the SSM parameter" in str(caught.value)
    assert "ParameterNotFound" in str(caught.value)


def test_config_ssm_parameter_with_a_bad_document_names_the_key(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"/lambda-jobs/{uuid.uuid4()}/bad"
    doc = valid()
    doc["backend"] = "lambda"
    boto_client(moto, "ssm").put_parameter(Name=name, Value=json.dumps(doc), Type="String")
    with pytest.raises(ConfigurationError, match="backend must be 'goat' or 'lamb', got 'lambda'"):
        config.resolve(f"ssm:{name}")


def test_config_lane_lookup_outside_every_band_names_queue_and_priority() -> None:
    # parse() never lets this happen; a hand-built QueueConfig can.
    queue = config.QueueConfig(
        name="partial",
        lanes=(config.Lane(min_priority=0, max_priority=100, target=URL, arn=ARN),),
    )
    with pytest.raises(ConfigurationError, match="queue 'partial' has no lane for priority -1"):
        queue.lane_for(-1)
