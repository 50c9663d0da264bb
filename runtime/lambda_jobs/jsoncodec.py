"""JSON on the handler's hot path: the C codec behind :mod:`json`, without importing :mod:`json`.

``import json`` loads ``re`` and with it ``enum``, ``functools`` and ``collections``: about 4 ms
of a bare cold start, for a handler that only needs to decode an envelope and encode flat log
lines. CPython's ``_json`` accelerator holds the scanner and the encoder that ``json.loads`` and
``json.dumps`` call; this module calls them directly, so the text and the values are the ones
:mod:`json` would give.

What callers may rely on:

- :func:`loads` returns what ``json.loads`` returns; anything unusual (bytes, leading whitespace,
  invalid JSON) is handed to ``json.loads`` itself (imported then), so errors are json's own
  (``ValueError``).
- :func:`encoder` returns a function giving the text ``json.dumps`` gives with the same options
  and ``check_circular=False`` (the values encoded here are flat and built by the runtime).
- :func:`quote` is a string as ``json.dumps(text, ensure_ascii=False)`` writes it.
- :func:`wire_json` is the text lambda-jobs sends to AWS (an SQS body, a Lambda ``Event`` payload,
  a Scheduler target ``Input``, the emulator's destination records) and :func:`wire_size` its size
  as AWS counts it against a limit: the one measure every size check uses.
- Without ``_json`` (another interpreter) both use :mod:`json`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    import _json
    from collections.abc import Callable
    from typing import Any
else:
    try:
        import _json
    except ImportError:  # interpreters without the C accelerator
        _json = None

_WHITESPACE = " \t\n\r"


class _Decoding:
    """The attributes the C scanner reads from a ``json.JSONDecoder`` (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(
        {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
    )


_scan: Callable[[str, int], tuple[Any, int]] | None = (
    # The scanner reads a ``JSONDecoder``'s attributes; _Decoding has the same ones.
    None if _json is None else _json.make_scanner(_Decoding())  # type: ignore[arg-type]
)


def loads(text: str | bytes) -> Any:
    """``json.loads(text)``."""
    if _scan is not None and type(text) is str:
        try:
            value, end = _scan(text, 0)
        except (StopIteration, ValueError):
            pass  # json.loads below says what is wrong (or reads leading whitespace)
        else:
            if end == len(text) or not text[end:].strip(_WHITESPACE):
                return value
    import json

    return json.loads(text)


if _json is not None:
    quote: Callable[[str], str] = _json.encode_basestring
else:  # pragma: no cover - interpreters without the C accelerator

    def quote(text: str) -> str:
        import json

        return json.dumps(text, ensure_ascii=False)


def _not_serializable(value: object) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encoder(
    *,
    separators: tuple[str, str] = (", ", ": "),
    ensure_ascii: bool = True,
    default: Callable[[Any], Any] | None = None,
) -> Callable[[Any], str]:
    """``json.dumps`` with these options (and ``check_circular=False``), as a function."""
    item_separator, key_separator = separators
    if _json is None:  # pragma: no cover - interpreters without the C accelerator
        import json

        return json.JSONEncoder(
            separators=separators, ensure_ascii=ensure_ascii, default=default, check_circular=False
        ).encode
    make = _json.make_encoder(
        None,
        default or _not_serializable,
        _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring,
        None,
        key_separator,
        item_separator,
        False,
        False,
        True,
    )

    def encode(value: Any) -> str:
        return "".join(make(value, 0))

    return encode


def wire_json(value: Any) -> str:
    """``value`` as lambda-jobs sends it to AWS: compact JSON, non-ASCII characters as themselves
    (UTF-8 on the wire, not ``\\u`` escapes that would triple their size), no NaN or infinity;
    raises TypeError/ValueError for what is not JSON."""
    import json  # the enqueue side's and the follow-up calls' path, not the handler's cold start

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def wire_size(text: str) -> int:
    """Bytes AWS counts for ``text`` against its limits: its UTF-8 encoding as sent.

    SQS counts a message's body and attributes in bytes ("Amazon SQS message quotas"), Lambda the
    ``Invoke`` request body, EventBridge Scheduler the target's ``Input``; all of them are the
    UTF-8 bytes of the text on the wire (:func:`wire_json` writes non-ASCII unescaped, so one
    ``"é"`` is 2 bytes, not the 6 of ``"\\u00e9"``).
    """
    return len(text.encode("utf-8"))
