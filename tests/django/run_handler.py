"""Run ``lambda_jobs.handler.handle`` once in a fresh process, as a Lambda cold start would.

Usage: ``python -m tests.django.run_handler <result file>`` with the event JSON on stdin. Importing
the handler is the cold start (``DJANGO_SETTINGS_MODULE``, ``LAMBDA_JOBS_TASKS`` come from the
environment); the handler's answer is written to the result file (stdout carries its log lines).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.runtime.lambda_events import Context


def main() -> None:
    event = json.load(sys.stdin)
    from lambda_jobs.handler import handle

    Path(sys.argv[1]).write_text(json.dumps(handle(event, Context())), encoding="utf-8")


if __name__ == "__main__":
    main()
