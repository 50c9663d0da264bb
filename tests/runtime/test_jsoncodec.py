"""The handler's JSON codec (``_json`` without ``json``) gives what ``json`` gives.

Pinned behaviour: ``loads`` returns ``json.loads``'s value for every input and raises its error
(a ``ValueError``) for invalid text; ``encoder(...)`` writes ``json.dumps``'s text.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from lambda_jobs import jsoncodec

VALID = [
    '{"a": [1, 2.5, "x", null, true, false], "b": {}}',
    '  {"leading": "whitespace"}',
    '{"trailing": "whitespace"} \n',
    '"just a string"',
    "12",
    '{"unicode": "é ☃ \\u00e9 \\ud83d\\ude00"}',
    b'{"bytes": 1}',
    "\ufeff" + '{"bom": 1}',
]


@pytest.mark.parametrize("text", VALID)
def test_loads_is_json_loads(text: str | bytes):
    if isinstance(text, str) and text.startswith("\ufeff"):
        with pytest.raises(ValueError) as ours:
            jsoncodec.loads(text)
        with pytest.raises(ValueError) as theirs:
            json.loads(text)
        assert str(ours.value) == str(theirs.value)
        return
    assert jsoncodec.loads(text) == json.loads(text)


def test_loads_reads_the_json_constants():
    assert math.isnan(jsoncodec.loads("NaN"))
    assert jsoncodec.loads("[Infinity, -Infinity]") == [math.inf, -math.inf]


@pytest.mark.parametrize("text", ["{", '{"a": 1} x', "", "[1,]", '{"a" 1}', "nul"])
def test_invalid_text_raises_json_s_own_error(text: str):
    with pytest.raises(ValueError) as ours:
        jsoncodec.loads(text)
    with pytest.raises(ValueError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)


VALUES: list[Any] = [
    {"a": 1, "b": "é", "c": None, "d": 1.5, "e": [1, 2], "f": True, "g": {"h": -0.0}},
    "plain",
    [math.inf, math.nan],
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"separators": (",", ":")},
        {"ensure_ascii": False},
        {"ensure_ascii": False, "default": str},
    ],
)
def test_encoder_writes_what_json_dumps_writes(value: Any, options: dict[str, Any]):
    assert jsoncodec.encoder(**options)(value) == json.dumps(value, **options)


def test_encoder_uses_default_or_refuses_like_json_dumps():
    assert jsoncodec.encoder(default=str)({"x": b"1"}) == json.dumps({"x": b"1"}, default=str)
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsoncodec.encoder()({"x": object()})
