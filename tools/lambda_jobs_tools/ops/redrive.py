"""Put dead-lettered jobs back on the lane each came from, attempt counter reset; lose and
duplicate nothing if interrupted.

For each selected DLQ entry: the envelope (the body, or ``requestPayload`` of a Lambda destination
record) goes back with ``attempt`` 1 as a **new** message or invocation, so the SQS receive count
restarts too. The lane is the one whose ARN is the entry's ``lambda_jobs.source`` (Goat: queue
ARN; Lamb: function ARN), else the lane of the envelope's queue and priority in the configuration.
Entries that cannot go back (undecodable body, no matching lane) are skipped and reported.

**Copy, then delete, with a journal.** Per entry: (1) send the copy; (2) append the entry's SQS
message id to the journal file and ``fsync`` it; (3) delete the entry. A run that finds an entry
already in the journal skips (1) and only deletes it. What that guarantees:

- a crash before (1) completes: the entry stays in the DLQ (it reappears after the visibility
  timeout the run held it with, ``--visibility-timeout``, default 120 s); rerun: nothing lost.
- a crash between (2) and (3): the rerun finds the id in the journal, deletes without copying:
  exactly one copy.
- a crash between SQS/Lambda accepting the copy in (1) and the journal line reaching the disk in
  (2) — a window of one local file write — cannot be told apart from "not sent": the rerun sends
  a second copy. On FIFO lanes the copy's ``MessageDeduplicationId`` is derived from the entry's
  message id, so SQS drops that second copy within its 5-minute deduplication window. On standard
  queues and Lamb, that one job may run twice — the at-least-once delivery every task must
  tolerate anyway.

The journal lives in ``$XDG_STATE_HOME/lambda-jobs`` (default ``~/.local/state/lambda-jobs``),
one file per DLQ, or at ``--journal PATH``; rerun an interrupted redrive on the same machine (or
with the same journal file). Entries are dropped from it once deleted from the DLQ (and after 14
days, SQS's longest retention); the file is removed when empty or when a run leaves the DLQ
empty. Every copy also carries the message attribute ``lambda_jobs.redrive_of`` (the DLQ message
id), for tracing. Two redrives of one DLQ at the same time are not coordinated: run one.

**Once per job.** Entries of one job id (a duplicate delivery, or a job dead-lettered by two
copies, leaves several) are redriven as one copy: the first entry of a job in a run is copied,
the later ones are only deleted (reported as ``acknowledged``). A rerun after an interruption
does the same for a job the journal shows copied, for its entries that failed before that copy
was sent (a later failure is the copy's own, and goes back).

**Job store.** With one, each job's item is set back to ``enqueued`` at attempt 0 (and leaves the
failures index) *before* its copy is sent, so the worker runs the copy instead of skipping it as
a finished duplicate. That write is conditional (:func:`lambda_jobs.jobstore.records.requeue`): only
a job with no live delivery goes back — ``failed``, expired (no item), ``running`` whose lease ran
out (a crashed attempt), or ``enqueued`` but never sent back by another entry. A job that is
running, waiting to retry, already sent back, succeeded or cancelled keeps its item, and its entry
stays in the DLQ, reported skipped with the job's status. If the send then fails, the item is put
back as it was (:func:`~lambda_jobs.jobstore.records.restore`) and the entry stays: ``jobs show``,
``jobs failures`` and ``jobs cancel`` keep telling the truth. ``--move-task`` does not update the
store, so with a store it is refused.

**Every DLQ.** The backend's DLQ, and on a Goat backend with FIFO queues the FIFO crash-net DLQ
(``fifo_dead_letter_queue`` of the configuration), are redriven in one run with one journal.

``StartMessageMoveTask`` (``--move-task``) moves the entries inside SQS instead, but only where
that is the same operation: a Goat backend with a single lane (the move task has one destination),
no filter. It keeps the message bodies as they were (no attempt reset; the envelopes of Goat DLQ
entries start at attempt 1 unless a deadline hand-back copy was dead-lettered) and AWS runs it, so
it is not resumable by this tool. moto (and so ``lambda-jobs local``) does not implement it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_jobs_tools.ops import dead_letters, shared
from lambda_jobs_tools.ops.shared import OpsError

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig, Lane
    from lambda_jobs.envelope import Envelope

    from lambda_jobs_tools.ops.dead_letters import DeadLetter

DEFAULT_VISIBILITY_SECONDS = 120
#: SQS's longest message retention: a journaled id older than this cannot be in the DLQ any more.
MAX_RETENTION = timedelta(days=14)
REDRIVE_OF = "lambda_jobs.redrive_of"


class Journal:
    """Message ids of DLQ entries whose copy was sent but whose deletion may not have happened,
    and when each job's copy was sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.copied: set[str] = set()
        self.jobs: dict[str, datetime] = {}
        if path.exists():
            oldest = datetime.now(UTC) - MAX_RETENTION
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(line)
                    at = datetime.fromisoformat(item["at"])
                    if at < oldest:
                        continue  # SQS keeps a message 14 days at most: that entry is gone
                    self.copied.add(str(item["copied"]))
                    if item.get("job_id"):
                        job = str(item["job_id"])
                        self.jobs[job] = max(at, self.jobs.get(job, at))
                except (ValueError, KeyError, TypeError):
                    continue  # a line torn by a crash mid-write: its copy was not recorded

    def covers(self, entry: DeadLetter) -> bool:
        """True if ``entry`` is another entry of a job whose copy an earlier run sent, and it
        failed before that copy was sent (so it is not the copy's own failure)."""
        sent = self.jobs.get(entry.job_id or "")
        return sent is not None and entry.failed_at is not None and entry.failed_at <= sent

    def record(self, message_id: str, job_id: str | None) -> None:
        """Durably note that ``message_id``'s copy was sent (flushed and fsync'd)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"copied": message_id, "job_id": job_id, "at": datetime.now(UTC).isoformat()}
        )
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.copied.add(message_id)
        if job_id:
            self.jobs[job_id] = datetime.now(UTC)

    def clear(self) -> None:
        """Forget everything (the DLQ holds no entry at all, so no journaled id can come back)."""
        self.copied.clear()
        self.jobs.clear()
        self.path.unlink(missing_ok=True)

    def forget(self, deleted: set[str]) -> None:
        """Drop the ids whose entries are gone from the DLQ; remove the file when none is left."""
        if not deleted or not self.path.exists():
            return
        self.copied -= deleted
        keep = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if str(json.loads(line)["copied"]) in deleted:
                    continue
            except (ValueError, KeyError, TypeError):
                continue
            keep.append(line)
        if keep:
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text("\n".join(keep) + "\n", encoding="utf-8")
            temporary.replace(self.path)
        else:
            self.path.unlink()


def default_journal_path(config: ClientConfig) -> Path:
    assert config.dead_letter_queue is not None
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    digest = hashlib.sha256(config.dead_letter_queue.arn.encode()).hexdigest()[:16]
    return Path(state) / "lambda-jobs" / f"redrive-{digest}.jsonl"


@dataclass(frozen=True, slots=True)
class Selection:
    """Which entries to redrive: ``task`` (exact name) and ``older_than`` (failed that long ago)."""

    task: str | None = None
    older_than: timedelta | None = None

    def matches(self, entry: DeadLetter, now: datetime) -> bool:
        if self.task is not None and entry.task != self.task:
            return False
        if self.older_than is not None:
            return entry.failed_at is not None and entry.failed_at <= now - self.older_than
        return True


@dataclass(slots=True)
class Report:
    examined: int = 0
    redriven: list[tuple[str, str, str]] = field(default_factory=list)  # job id, task, target
    resumed: int = 0  # of redriven: the copy had been sent by an interrupted run
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # job id, message id
    skipped: list[tuple[str, str]] = field(default_factory=list)  # job id or message id, why
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_selected: int = 0


def destination(config: ClientConfig, entry: DeadLetter) -> tuple[Lane, Envelope] | str:
    """The lane an entry goes back to and its envelope, or why it cannot go back."""
    from lambda_jobs import envelope as envelope_format
    from lambda_jobs.errors import ConfigurationError, EnvelopeError

    if entry.envelope is None:
        return "body is not a lambda-jobs envelope (inspect it with `dlq show`, then purge it)"
    try:
        envelope = envelope_format.from_dict(entry.envelope)
    except EnvelopeError as exc:
        return f"undecodable envelope: {exc}"
    found = shared.lane_by_arn(config, entry.source)
    if found is not None:
        return found[1], envelope
    try:
        return config.queue(envelope.queue).lane_for(envelope.priority), envelope
    except ConfigurationError as exc:
        return f"no lane to go back to: {exc}"


def send_copy(config: ClientConfig, lane: Lane, entry: DeadLetter, envelope: Envelope) -> None:
    """Send ``envelope`` at attempt 1 to ``lane`` as a new message (Goat) or invocation (Lamb)."""
    from lambda_jobs import aws

    body = envelope.with_attempt(1).to_json()
    if config.backend == "lamb":
        aws.client("lambda", config).invoke(
            FunctionName=lane.target, InvocationType="Event", Payload=body.encode()
        )
        return
    request: dict[str, Any] = {
        "QueueUrl": lane.target,
        "MessageBody": body,
        "MessageAttributes": {REDRIVE_OF: {"DataType": "String", "StringValue": entry.message_id}},
    }
    if lane.target.endswith(".fifo"):
        request["MessageGroupId"] = (entry.group_id or envelope.task)[:128]
        token = re.sub(r"[^\w!-/:-@\[-`{-~]", "_", entry.message_id)
        request["MessageDeduplicationId"] = f"redrive-{token}"[:128]
    shared.sqs(config).send_message(**request)


def redrive(
    config: ClientConfig,
    selection: Selection,
    *,
    journal: Journal,
    dry_run: bool = False,
    visibility: int = DEFAULT_VISIBILITY_SECONDS,
    on_progress: Callable[[], None] = lambda: None,
) -> Report:
    """Redrive the selected entries of every DLQ (see the module docstring for the guarantees)."""
    queues = shared.dead_letter_queues(config)
    if not queues:
        raise OpsError("the configuration names no dead_letter_queue")
    run = _Run(config, selection, journal, dry_run)
    for dlq in queues:
        run.drain(dlq.url, visibility, on_progress)
    if not dry_run and not run.report.failed:
        sqs = shared.sqs(config)
        if all(dead_letters.total_count(sqs, dlq.url) == 0 for dlq in queues):
            journal.clear()  # ids an interrupted run deleted but never crossed off
    return run.report


class _Run:
    """One redrive: the report, the jobs copied so far (each job once) and what is held."""

    def __init__(
        self, config: ClientConfig, selection: Selection, journal: Journal, dry_run: bool
    ) -> None:
        self.config = config
        self.selection = selection
        self.journal = journal
        self.dry_run = dry_run
        self.report = Report()
        self.done: set[str] = set()  # job ids copied (or found copied) in this run
        self.sqs = shared.sqs(config)
        self.now = datetime.now(UTC)

    def drain(self, url: str, visibility: int, on_progress: Callable[[], None]) -> None:
        """Go through the entries of the DLQ at ``url``; release what stays."""
        held: list[str] = []  # receipts of entries left in the DLQ, released at the end
        deleted: set[str] = set()
        refused: list[tuple[DeadLetter, str]] = []  # the store said the job is live: why
        try:
            for page in dead_letters.pages(self.sqs, url, visibility=visibility):
                for message in page:
                    entry = dead_letters.parse(message, shared.queue_name(url))
                    self.report.examined += 1
                    on_progress()
                    why = self.one(url, entry, deleted)
                    if why is not None:
                        refused.append((entry, why))
                    elif entry.message_id not in deleted:
                        held.append(entry.receipt)
            for entry, why in refused:
                # Another entry of the same job was copied later in this run: this one is done.
                if entry.job_id in self.done and self.dry_run:
                    self.report.acknowledged.append((entry.job_id, entry.message_id))
                    continue
                if entry.job_id in self.done and self.acknowledge(url, entry, deleted):
                    continue
                self.report.skipped.append((entry.job_id or entry.message_id, why))
        finally:
            # Refused entries not dealt with (an error cut the run short) are released too.
            held += [e.receipt for e, _ in refused if e.message_id not in deleted]
            try:
                dead_letters.release(self.sqs, url, list(dict.fromkeys(held)))
            finally:
                self.journal.forget(deleted)

    def one(self, url: str, entry: DeadLetter, deleted: set[str]) -> str | None:
        """Redrive, acknowledge or hold ``entry``; returns why the job store refused it, if so."""
        report = self.report
        if not self.selection.matches(entry, self.now):
            report.not_selected += 1
            return None
        where = destination(self.config, entry)
        name = entry.job_id or entry.message_id
        if isinstance(where, str):
            report.skipped.append((name, where))
            return None
        lane, envelope = where
        target = lane.target.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        resumed = entry.message_id in self.journal.copied
        duplicate = entry.job_id is not None and (
            entry.job_id in self.done or (not resumed and self.journal.covers(entry))
        )
        if self.dry_run:
            if duplicate:
                report.acknowledged.append((name, entry.message_id))
                return None
            refused = self.refusal(envelope, entry)
            if refused is not None:
                return refused
            report.redriven.append((name, envelope.task, target))
            if entry.job_id:
                self.done.add(entry.job_id)
            return None
        if duplicate:
            self.acknowledge(url, entry, deleted)
            return None
        if not resumed:
            sent, refused = self.send(lane, entry, envelope)
            if not sent:
                return refused
            self.journal.record(entry.message_id, entry.job_id)
        if entry.job_id:
            self.done.add(entry.job_id)
        try:
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=entry.receipt)
        except Exception as exc:
            # The journal has it: a rerun deletes it without a second copy.
            report.failed.append(
                (name, f"copied, but the DLQ delete failed (rerun finishes it): {exc}")
            )
            return None
        deleted.add(entry.message_id)
        report.redriven.append((name, envelope.task, target))
        report.resumed += resumed
        return None

    def refusal(self, envelope: Envelope, entry: DeadLetter) -> str | None:
        """A dry run's answer of the job store (if any): why the real run would leave ``entry``
        in the DLQ (:func:`lambda_jobs.jobstore.records.requeue_refusal`: read, no write)."""
        if self.config.job_store is None:
            return None
        from lambda_jobs.jobstore.records import requeue_refusal

        why = requeue_refusal(envelope.id, self.config, redrive_of=entry.message_id)
        return None if why is None else f"{why}; the entry is left in the DLQ"

    def send(self, lane: Lane, entry: DeadLetter, envelope: Envelope) -> tuple[bool, str | None]:
        """Requeue the job in the store (if any) and send the copy: (sent, why the store refused).

        A failed send is reported (the item restored) and leaves the entry in the DLQ."""
        from lambda_jobs.errors import JobStateError

        name = entry.job_id or entry.message_id
        previous: dict[str, Any] | None = None
        store = self.config.job_store is not None
        try:
            if store:
                from lambda_jobs.jobstore.records import requeue

                previous = requeue(envelope, self.config, redrive_of=entry.message_id)
        except JobStateError as exc:
            return False, f"{exc}; the entry is left in the DLQ"
        except Exception as exc:
            self.report.failed.append(
                (name, f"job store update refused: {type(exc).__name__}: {exc}")
            )
            return False, None
        try:
            send_copy(self.config, lane, entry, envelope)
        except Exception as exc:
            why = f"copy refused: {type(exc).__name__}: {exc}"
            if store:
                why += self.restore(envelope, previous, entry)
            self.report.failed.append((name, why))
            return False, None
        return True, None

    def restore(
        self, envelope: Envelope, previous: dict[str, Any] | None, entry: DeadLetter
    ) -> str:
        from lambda_jobs.jobstore.records import restore

        try:
            restore(envelope.id, previous, self.config, redrive_of=entry.message_id)
        except Exception as exc:
            return (
                f"; the job store could not be set back ({type(exc).__name__}: {exc}): "
                "`jobs show` says enqueued until a redrive succeeds"
            )
        return "; the job store is as it was"

    def acknowledge(self, url: str, entry: DeadLetter, deleted: set[str]) -> bool:
        """Delete an extra entry of a job already copied; False (and reported) if that fails."""
        name = entry.job_id or entry.message_id
        try:
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=entry.receipt)
        except Exception as exc:
            self.report.failed.append((name, f"duplicate entry not deleted: {exc}"))
            return False
        deleted.add(entry.message_id)
        self.report.acknowledged.append((name, entry.message_id))
        return True


def start_move_task(config: ClientConfig, selection: Selection) -> str:
    """Start SQS's own DLQ redrive to the single Goat lane; returns the task handle."""
    all_lanes = shared.lanes(config)
    if config.backend != "goat":
        raise OpsError(
            "--move-task works on Goat backends only: a Lamb backend's jobs go back by Invoke"
        )
    if config.job_store is not None:
        raise OpsError(
            "--move-task cannot be used with a job store: SQS would move the entries without "
            "setting their jobs back to enqueued, and the worker would skip them as finished; "
            "leave --move-task out"
        )
    if selection.task is not None or selection.older_than is not None:
        raise OpsError(
            "--move-task moves every entry of the DLQ; it cannot be combined with --task or "
            "--older-than (leave it out to redrive a selection by copy-then-delete)"
        )
    if len(all_lanes) != 1:
        raise OpsError(
            f"--move-task needs a backend with exactly one lane (it has {len(all_lanes)}): a move "
            "task has one destination, and entries must go back to the lane each came from"
        )
    assert config.dead_letter_queue is not None
    try:
        response = shared.sqs(config).start_message_move_task(
            SourceArn=config.dead_letter_queue.arn, DestinationArn=all_lanes[0][1].arn
        )
    except Exception as exc:
        if not shared.is_local(config):
            raise
        raise OpsError(
            "--move-task: lambda-jobs local (moto) does not implement SQS StartMessageMoveTask "
            f"({type(exc).__name__}); leave --move-task out to redrive by copy-then-delete"
        ) from None
    return str(response["TaskHandle"])
