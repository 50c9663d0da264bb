"""Lambda's recursive loop detection, as the emulator models it.

What AWS says ("Use Lambda recursive loop detection to prevent infinite loops", the launch post
"Detecting and stopping recursive loops in AWS Lambda functions"): Lambda tracks a *chain of
requests* with the X-Ray trace header's ``Lineage`` field. An event sent from inside an invocation
with a supported AWS SDK carries the invocation's trace header (botocore adds ``X-Amzn-Trace-Id``
from ``_X_AMZN_TRACE_ID`` when ``AWS_LAMBDA_FUNCTION_NAME`` is set; SQS keeps it as the message's
``AWSTraceHeader`` system attribute, which overrides the HTTP header when both are given). When a
function is invoked more than 16 times in one chain, Lambda stops the next invocation, unless the
function's ``RecursiveLoop`` is ``Allow`` (Lambda's default, when the template sets none, is
``Terminate``). The stopped event is not lost: an SQS message stays in its queue and the queue's
redrive policy moves it to the DLQ after ``maxReceiveCount`` receives; an asynchronous event goes
to the function's on-failure destination. AWS also notifies (Health Dashboard, e-mail, the
``RecursiveInvocationsDropped`` metric); the emulator logs a line instead.

Services on the page: SQS, SNS, S3 and Lambda's Invoke API. EventBridge Scheduler is not one of
them, so a schedule starts a new chain (the emulator's scheduler sends no trace header).

AWS does not document the field's format; the emulator writes ``Lineage=<function hash>:<count>``
entries joined by ``|``, one per function of the chain, and counts invocations per function.
"""

from __future__ import annotations

import hashlib
import secrets
import time

#: Invocations of one function in one chain that run; the next one is stopped (``Terminate``).
MAX_HOPS = 16
ALLOW = "Allow"
TERMINATE = "Terminate"
#: Lambda's setting for a function whose template has no ``RecursiveLoop``.
DEFAULT_SETTING = TERMINATE
LINEAGE = "Lineage"


def function_hash(function_arn: str) -> str:
    """The short id the emulator's ``Lineage`` entries name a function by."""
    return hashlib.sha256(function_arn.encode()).hexdigest()[:8]


def parse(header: str | None) -> tuple[dict[str, str], dict[str, int]]:
    """(the header's other fields, the lineage counts by function hash) of a trace header."""
    fields: dict[str, str] = {}
    counts: dict[str, int] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if not sep or not name:
            continue
        if name != LINEAGE:
            fields[name] = value
            continue
        for entry in value.split("|"):
            key, _, count = entry.partition(":")
            if key and count.isdigit():
                counts[key] = int(count)
    return fields, counts


def new_root() -> str:
    """An X-Ray trace id: ``1-<8 hex epoch seconds>-<24 hex>``."""
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


class Hop:
    """Where one invocation of ``function_arn`` stands in its chain of requests.

    ``count`` is this invocation's number in the chain for that function (1 for an event from
    outside any function); ``trace`` is the trace header the invocation runs with (the Runtime
    API's ``Lambda-Runtime-Trace-Id``, so the function's own AWS calls carry it on).
    """

    __slots__ = ("count", "trace")

    def __init__(self, incoming: str | None, function_arn: str) -> None:
        fields, counts = parse(incoming)
        key = function_hash(function_arn)
        self.count = counts.get(key, 0) + 1
        counts[key] = self.count
        lineage = "|".join(f"{k}:{v}" for k, v in counts.items())
        root = fields.get("Root") or new_root()
        self.trace = f"Root={root};Parent={secrets.token_hex(8)};Sampled=0;{LINEAGE}={lineage}"

    def stopped(self, setting: str) -> bool:
        """Whether Lambda stops this invocation under the function's ``RecursiveLoop``."""
        return setting != ALLOW and self.count > MAX_HOPS
