"""``lambda-jobs dlq list|show|redrive|purge``: the dead-letter queue, read safely and replayed.

``list`` and ``show`` never consume an entry (see :mod:`lambda_jobs_tools.ops.dead_letters`); job
arguments are printed only with ``--show-args`` (they may hold personal data). ``redrive`` is
described in :mod:`lambda_jobs_tools.ops.redrive`; ``purge`` deletes every entry after a
confirmation.
Each command covers every dead-letter queue of the configuration: the DLQ and, on a Goat backend
with FIFO queues, the FIFO crash-net DLQ (``fifo_dead_letter_queue``).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambda_jobs_tools.ops import shared
from lambda_jobs_tools.ops.shared import OpsError

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig

    from lambda_jobs_tools.ops.dead_letters import DeadLetter
    from lambda_jobs_tools.ops.redrive import Report

MESSAGE_WIDTH = 120


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dlq",
        help="list, show, redrive or purge failed jobs in the dead-letter queue",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    actions = parser.add_subparsers(dest="dlq_action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="failed jobs: task, attempts, error, failure times")
    shared.add_config_argument(listing)
    listing.add_argument("--task", metavar="NAME", help="only jobs of this task")
    listing.add_argument("--show-args", action="store_true", help="also print job arguments")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=run_list)

    show = actions.add_parser("show", help="one failed job in full (error, traceback)")
    shared.add_config_argument(show)
    show.add_argument("id", metavar="ID", help="the job id (or the DLQ message id)")
    show.add_argument("--show-args", action="store_true", help="also print job arguments")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(run=run_show)

    redrive = actions.add_parser(
        "redrive",
        help="send failed jobs back to the lane each came from, attempt counter reset",
        description=(
            "Copy each selected entry back to its lane (attempt 1, a new message), then delete it "
            "from the DLQ. An interrupted run is finished by running it again: a journal makes the "
            "rerun skip copies already sent."
        ),
    )
    shared.add_config_argument(redrive)
    redrive.add_argument("--task", metavar="NAME", help="only jobs of this task")
    redrive.add_argument(
        "--older-than",
        metavar="DURATION",
        help="only jobs that failed at least this long ago (90s, 15m, 2h, 7d)",
    )
    redrive.add_argument("--dry-run", action="store_true", help="show what would go where")
    redrive.add_argument(
        "--journal",
        metavar="PATH",
        help="the redrive journal file (default: one per DLQ in ~/.local/state/lambda-jobs)",
    )
    redrive.add_argument(
        "--visibility-timeout",
        metavar="SECONDS",
        default=str(120),
        help="how long entries are held while redriving; an interrupted run's entries come "
        "back after it (default: %(default)s)",
    )
    redrive.add_argument(
        "--move-task",
        action="store_true",
        help="use SQS StartMessageMoveTask (Goat, one lane, no filter; no attempt reset)",
    )
    redrive.add_argument("--json", action="store_true", help="print the report as JSON")
    redrive.set_defaults(run=run_redrive)

    purge = actions.add_parser("purge", help="delete every entry of the DLQ (asks first)")
    shared.add_config_argument(purge)
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(run=run_purge)


def _dlq_urls(config: ClientConfig) -> list[str]:
    """The URLs of every dead-letter queue of the configuration (the DLQ first)."""
    urls = [dlq.url for dlq in shared.dead_letter_queues(config)]
    if not urls:
        raise OpsError("the configuration names no dead_letter_queue")
    return urls


def _peek_all(config: ClientConfig) -> list[DeadLetter]:
    """Every entry of every DLQ, oldest failure first, none consumed."""
    from lambda_jobs_tools.ops import dead_letters

    sqs = shared.sqs(config)
    entries = [e for url in _dlq_urls(config) for e in dead_letters.peek(sqs, url)]
    entries.sort(key=lambda e: e.failed_at or datetime.max.replace(tzinfo=UTC))
    return entries


def _names(config: ClientConfig) -> str:
    return ", ".join(shared.queue_name(url) for url in _dlq_urls(config))


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "n/a"


def _error(entry: DeadLetter) -> str:
    text = ": ".join(x for x in (entry.error_type, entry.error_message) if x) or "n/a"
    return text if len(text) <= MESSAGE_WIDTH else text[: MESSAGE_WIDTH - 1] + "…"


def group_by_job(entries: list[DeadLetter]) -> list[list[DeadLetter]]:
    """Entries of one job id together (a job dead-lettered twice, e.g. a duplicate delivery)."""
    groups: dict[str, list[DeadLetter]] = {}
    for entry in entries:
        groups.setdefault(entry.job_id or entry.message_id, []).append(entry)
    return list(groups.values())


def job_summary(group: list[DeadLetter], show_args: bool) -> dict[str, Any]:
    last = group[-1]
    times = [e.failed_at for e in group if e.failed_at is not None]
    row: dict[str, Any] = {
        "job_id": last.job_id,
        "task": last.task,
        "reason": last.reason,
        "attempts": last.attempts,
        "error_type": last.error_type,
        "error_message": last.error_message,
        "first_failed_at": _when(min(times)) if times else None,
        "last_failed_at": _when(max(times)) if times else None,
        "entries": len(group),
        "message_ids": [e.message_id for e in group],
        "dead_letter_queue": last.queue,
    }
    if show_args:
        row["arguments"] = last.args_text
    return row


@shared.command("dlq list")
def run_list(args: argparse.Namespace) -> int:
    config = shared.load_config(args.config)
    entries = _peek_all(config)
    if args.task:
        entries = [e for e in entries if e.task == args.task]
    groups = group_by_job(entries)
    if args.json:
        from lambda_jobs_tools.ops.tables import print_json

        print_json([job_summary(g, args.show_args) for g in groups])
        return shared.EXIT_OK
    from lambda_jobs_tools.ops.tables import print_table

    columns = ["job id", "task", "reason", "attempts", "error", "first failure", "last failure"]
    columns.append("entries")
    if args.show_args:
        columns.append("arguments")
    rows = []
    for group in groups:
        summary = job_summary(group, args.show_args)
        row = [
            str(summary["job_id"] or f"(message {group[-1].message_id})"),
            str(summary["task"] or "?"),
            str(summary["reason"] or "?"),
            str(summary["attempts"] or "?"),
            _error(group[-1]),
            str(summary["first_failed_at"] or "n/a"),
            str(summary["last_failed_at"] or "n/a"),
            str(summary["entries"]),
        ]
        if args.show_args:
            row.append(summary["arguments"])
        rows.append(row)
    count = sum(len(g) for g in groups)
    print_table(
        f"{len(groups)} failed job(s), {count} entr{'y' if count == 1 else 'ies'}, in "
        f"{_names(config)}",
        columns,
        rows,
    )
    return shared.EXIT_OK


@shared.command("dlq show")
def run_show(args: argparse.Namespace) -> int:
    wanted = shared.job_id_argument(args.id)
    config = shared.load_config(args.config)
    entries = _peek_all(config)
    found = [e for e in entries if wanted in (e.job_id, e.message_id)]
    if not found:
        raise OpsError(
            f"no dead-lettered job with id {args.id!r} ({len(entries)} entries looked at; "
            "`lambda-jobs dlq list` shows the ids)"
        )
    summary = job_summary(found, args.show_args)
    last = found[-1]
    envelope = last.envelope or {}
    summary.update(
        queue=envelope.get("queue"),
        priority=envelope.get("priority"),
        enqueued_at=envelope.get("enqueued_at"),
        source=last.source,
        format=last.kind,
        error_traceback=last.error_traceback,
    )
    if args.json:
        from lambda_jobs_tools.ops.tables import print_json

        print_json(summary)
        return shared.EXIT_OK
    from lambda_jobs_tools.ops.tables import print_fields

    labels = [
        ("job id", "job_id"),
        ("task", "task"),
        ("queue", "queue"),
        ("priority", "priority"),
        ("enqueued at", "enqueued_at"),
        ("reason", "reason"),
        ("attempts", "attempts"),
        ("error type", "error_type"),
        ("error message", "error_message"),
        ("first failure", "first_failed_at"),
        ("last failure", "last_failed_at"),
        ("source", "source"),
        ("DLQ entries", "message_ids"),
        ("dead-letter queue", "dead_letter_queue"),
        ("format", "format"),
        ("traceback", "error_traceback"),
    ]
    if args.show_args:
        labels.append(("arguments", "arguments"))
    fields = [
        (label, ", ".join(v) if isinstance(v := summary.get(key), list) else _field(v))
        for label, key in labels
    ]
    print_fields(f"dead-lettered job {args.id}", fields)
    return shared.EXIT_OK


def _field(value: Any) -> str:
    """A value of ``dlq show``: n/a only when it is unknown (priority 0 is 0)."""
    return "n/a" if value is None or value == "" else str(value)


def _visibility(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise OpsError(
            f"--visibility-timeout {text!r}: expected whole seconds such as 120"
        ) from None
    if not 1 <= value <= 43_200:
        raise OpsError(f"--visibility-timeout {text!r}: must be between 1 and 43200 seconds")
    return value


@shared.command("dlq redrive")
def run_redrive(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lambda_jobs_tools.ops import redrive
    from lambda_jobs_tools.ops.durations import parse_duration
    from lambda_jobs_tools.ops.tables import message

    older = parse_duration(args.older_than, "--older-than") if args.older_than is not None else None
    visibility = _visibility(args.visibility_timeout)
    config = shared.load_config(args.config)
    _dlq_urls(config)
    selection = redrive.Selection(task=args.task, older_than=older)
    if args.move_task:
        handle = redrive.start_move_task(config, selection)
        message(f"started SQS message move task {handle}")
        return shared.EXIT_OK
    journal_path = Path(args.journal) if args.journal else redrive.default_journal_path(config)
    journal = redrive.Journal(journal_path)
    if journal.copied:
        count = len(journal.copied)
        message(
            f"resuming: {count} cop{'y' if count == 1 else 'ies'} of an interrupted redrive "
            f"{'is' if count == 1 else 'are'} recorded in {journal_path}; "
            f"{'that entry is' if count == 1 else 'those entries are'} deleted without a second "
            "copy"
        )
    if args.json:
        report = redrive.redrive(
            config, selection, journal=journal, dry_run=args.dry_run, visibility=visibility
        )
    else:
        from lambda_jobs_tools.ops import dead_letters
        from lambda_jobs_tools.ops.tables import progress

        sqs = shared.sqs(config)
        total = sum(dead_letters.visible_count(sqs, url) for url in _dlq_urls(config))
        verb = "checking" if args.dry_run else "redriving"
        with progress(f"{verb} dead letters", total) as advance:
            report = redrive.redrive(
                config,
                selection,
                journal=journal,
                dry_run=args.dry_run,
                visibility=visibility,
                on_progress=lambda: advance(1),
            )
    return _print_report(report, args)


def _print_report(report: Report, args: argparse.Namespace) -> int:
    from lambda_jobs_tools.ops.tables import message, print_json, print_table

    if args.json:
        print_json(
            {
                "dry_run": args.dry_run,
                "examined": report.examined,
                "redriven": [{"job_id": j, "task": t, "target": g} for j, t, g in report.redriven],
                "resumed": report.resumed,
                "acknowledged": [{"job_id": j, "message_id": m} for j, m in report.acknowledged],
                "skipped": [{"id": i, "why": w} for i, w in report.skipped],
                "failed": [{"id": i, "why": w} for i, w in report.failed],
                "not_selected": report.not_selected,
            }
        )
    else:
        title = "would redrive" if args.dry_run else "redriven"
        if report.redriven:
            print_table(
                f"{title}: {len(report.redriven)}",
                ["job id", "task", "to"],
                [list(r) for r in report.redriven],
            )
        for name, why in report.skipped:
            message(f"skipped {name}: {why}")
        for name, why in report.failed:
            message(f"failed {name}: {why}")
        for name, message_id in report.acknowledged:
            verb = "would acknowledge" if args.dry_run else "acknowledged"
            message(f"{verb} {message_id}: another entry of job {name} (one copy per job)")
        message(
            f"{len(report.redriven)} {title} ({report.resumed} finished from an interrupted run), "
            f"{len(report.acknowledged)} duplicate entries "
            f"{'to acknowledge' if args.dry_run else 'acknowledged'}, "
            f"{len(report.skipped)} skipped, {len(report.failed)} failed, "
            f"{report.not_selected} not selected; {report.examined} examined"
        )
    return shared.EXIT_PARTIAL if report.failed else shared.EXIT_OK


@shared.command("dlq purge")
def run_purge(args: argparse.Namespace) -> int:
    import sys

    from lambda_jobs_tools.ops import dead_letters
    from lambda_jobs_tools.ops.tables import confirm, message

    config = shared.load_config(args.config)
    urls = _dlq_urls(config)
    sqs = shared.sqs(config)
    counts = {shared.queue_name(url): dead_letters.visible_count(sqs, url) for url in urls}
    total = sum(counts.values())
    names = ", ".join(f"{name} ({count})" for name, count in counts.items())
    if not args.yes:
        if not sys.stdin.isatty():
            raise OpsError(
                f"dlq purge would delete {total} failed job(s) in {names}, and stdin is not a "
                "terminal, so it cannot ask: pass --yes to purge without asking; nothing was "
                "deleted"
            )
        if not confirm(
            f"Delete all {total} failed job(s) in {names}? They cannot be redriven afterwards."
        ):
            raise OpsError(f"purge of {names} not confirmed (answer y); nothing was deleted")
    for url in urls:
        sqs.purge_queue(QueueUrl=url)
    message(f"purged {names}: {total} failed job(s) deleted")
    return shared.EXIT_OK
