"""SQS FIFO receive as SQS does it, in the ``moto_server`` process the emulator starts.

SQS's rules ("FIFO queue delivery logic in Amazon SQS", SQS Developer Guide): messages of one
message group are received in the order they were sent; once a message of a group is in flight
(received, not deleted, its visibility timeout not over), no message sent after it in that group
is returned until it is deleted or visible again ("Interleaving multiple ordered message groups
in Amazon SQS"; AWS Knowledge Center "sqs-fifo-messages-not-returned": in-flight messages block
delivery of available messages within the same message group). So a receive returns, of each
group, the visible messages up to the first invisible one and none after it, as many of one
group as it can before going on to the next (the guide: "as many messages with the same message
group ID as possible"). A message made visible again (its visibility timeout over, or
``ChangeMessageVisibility`` to 0) takes its place in the group's order again.

moto 5.2.5 gets FIFO receive wrong in two ways (``SQSBackend.receive_message``):

- it blocks a whole group while *any* of its messages is in flight, where SQS returns the
  messages before the first invisible one;
- after a group's in-flight messages time out, it returns the *last* one first (it forgets a
  group's "pending" state only once it reaches the group's last timed-out message, which it
  then delivers before going back to the earlier ones): ``m5``, then ``m0..m4``.

:func:`install` replaces moto's receive for FIFO queues with :func:`receive_fifo`, which follows
the rules above; standard queues keep moto's own. :class:`~.motoserver.MotoServer` starts moto
through this module (``python -m lambda_jobs_tools.emulator.fifo_receive <moto_server arguments>``),
so every client of the emulator's moto (the event-source mapping pollers, apps, tests) sees
SQS's FIFO order. Redrive is kept as moto does it: a visible message already received
``maxReceiveCount`` times moves to the dead-letter queue when a receive reaches it (the next
message of its group then becomes its head).
"""

from __future__ import annotations

import time
from copy import deepcopy
from typing import Any

#: How often a long poll looks again while nothing is deliverable (visibility ends unannounced).
POLL_SECONDS = 0.05


def receive_fifo(
    backend: Any,
    queue_name: str,
    *,
    count: int,
    wait_seconds: int,
    visibility_timeout: int | None,
    message_attribute_names: list[str] | None,
) -> list[Any]:
    """Up to ``count`` messages of a FIFO queue, waiting up to ``wait_seconds`` for the first."""
    queue = backend.get_queue(queue_name)
    deadline = time.monotonic() + (wait_seconds or 0)
    while True:
        result = _receive_once(
            backend, queue, count, visibility_timeout, message_attribute_names or []
        )
        left = deadline - time.monotonic()
        if result or left <= 0:
            return result
        with queue._messages_lock:  # woken by a send, else look again for visibility ending
            queue._messages_lock.wait(timeout=min(POLL_SECONDS, left))


def deliverable(
    messages: list[Any], *, max_receive_count: int | None
) -> tuple[list[Any], list[Any]]:
    """``(to deliver in order, to redrive)`` from ``messages`` in the queue's order.

    Per group, the visible, undelayed messages before its first in-flight (or delayed) one; the
    groups in the order of their first such message, each group's messages together.
    """
    heads: dict[str, list[Any]] = {}
    blocked: set[str] = set()
    redrive: list[Any] = []
    for message in messages:
        group = str(message.group_id or "")
        if group in blocked:
            continue
        if message.delayed or not message.visible:
            blocked.add(group)  # nothing after an in-flight message of its group
            continue
        if max_receive_count is not None and message.approximate_receive_count >= max_receive_count:
            redrive.append(message)
            continue
        heads.setdefault(group, []).append(message)
    return [m for group in heads.values() for m in group], redrive


def _receive_once(
    backend: Any,
    queue: Any,
    count: int,
    visibility_timeout: int | None,
    message_attribute_names: list[str],
) -> list[Any]:
    from moto.sqs.models import _filter_message_attributes

    max_receive_count = None
    if queue.dead_letter_queue is not None and queue.redrive_policy:
        max_receive_count = int(queue.redrive_policy["maxReceiveCount"])
    ready, redrive = deliverable(list(queue._messages), max_receive_count=max_receive_count)
    for message in redrive:
        try:
            queue._messages.remove(message)
        except ValueError:  # deleted meanwhile by a request on another thread
            continue
        queue.dead_letter_queue.add_message(message)
    result: list[Any] = []
    for message in ready:
        if len(result) >= count:
            break
        if not backend.is_message_valid_based_on_retention_period(queue.name, message):
            continue
        message.mark_received(visibility_timeout=visibility_timeout)
        copy = deepcopy(message)  # the caller filters attributes on a copy, as moto does
        _filter_message_attributes(copy, message_attribute_names)
        result.append(copy)
    return result


def install() -> None:
    """Serve FIFO receives with :func:`receive_fifo` in this process's moto (idempotent)."""
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message
    if getattr(original, "lambda_jobs_fifo", False):
        return

    def receive_message(  # noqa: PLR0917  (moto's signature: its callers pass these by position)
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        if not self.get_queue(queue_name).fifo_queue:
            return original(
                self,
                queue_name,
                count,
                wait_seconds_timeout,
                visibility_timeout,
                message_attribute_names,
            )
        return receive_fifo(
            self,
            queue_name,
            count=count,
            wait_seconds=wait_seconds_timeout,
            visibility_timeout=visibility_timeout,
            message_attribute_names=message_attribute_names,
        )

    receive_message.lambda_jobs_fifo = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    """``moto_server`` with :func:`install` applied (and DynamoDB's atomic conditional writes,
    :mod:`~lambda_jobs_tools.emulator.dynamodb_atomic`); takes moto_server's arguments."""
    install()
    from lambda_jobs_tools.emulator import dynamodb_atomic

    dynamodb_atomic.install()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main()
