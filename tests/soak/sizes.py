"""How big the reliability suite runs: ``SOAK_SCALE=full`` (``make soak``) or the CI size.

The CI size (no ``SOAK_SCALE``) runs inside ``make test`` and keeps the whole soak suite near a
minute and a half on 2 cores; the full size is the full load (2,000 Goat and 500 Lamb jobs).
"""

from __future__ import annotations

import os

SCALES = ("ci", "full")
SCALE = os.environ.get("SOAK_SCALE", "ci") or "ci"
if SCALE not in SCALES:
    raise ValueError(f"SOAK_SCALE={SCALE!r}: expected one of {', '.join(SCALES)}")
FULL = SCALE == "full"

#: Jobs per backend in the load test.
LOAD_JOBS = {"goat": 2000, "lamb": 500} if FULL else {"goat": 200, "lamb": 60}
#: Jobs per backend in the kill test, and how many of them get their environment killed.
KILL_JOBS = {"goat": 200, "lamb": 100} if FULL else {"goat": 40, "lamb": 20}
KILLS = {"goat": 12, "lamb": 10} if FULL else {"goat": 4, "lamb": 3}
#: Jobs in the deadline test (batches of 10 on a 2 s function).
DEADLINE_JOBS = 200 if FULL else 40
#: Jobs per round in the enqueue-fault test (the last 10 enqueued one by one).
FAULT_JOBS = 400 if FULL else 40
#: Lamb jobs (with the job store) that wait for a retry while copies of their first delivery
#: arrive, and the copies each gets.
DUPLICATE_JOBS = 60 if FULL else 12
DUPLICATE_COPIES = 2
#: Hypothesis examples per bad-input property (full: 400, which keeps ``make soak`` near 6 minutes
#: here; 1,000 took about 3 minutes of the run on their own).
EXAMPLES = 400 if FULL else 60

#: ``SOAK_JOB_STORE=1``: every soak backend gets ``job_store=JobStore()`` (duplicates skipped);
#: figures are then labelled ``+store`` and RESULTS.md is not replaced (it holds the default run).
JOB_STORE = os.environ.get("SOAK_JOB_STORE", "") == "1"
#: Members of the workflow soak's chord (each delivered twice): the issue's 10,000 at full size and
#: its 1,000 under `lambda-jobs local` in the test suite (about 45 s here).
WORKFLOW_MEMBERS = 10_000 if FULL else 1_000
#: Workflows per backend (half chains of 3, half chords of WORKFLOW_CHORD members and their
#: successor) in the workflow fault and kill tests, and the environments the kill test kills.
WORKFLOW_FLOWS = 60 if FULL else 10
WORKFLOW_CHORD = 10 if FULL else 4
WORKFLOW_KILLS = {"goat": 12, "lamb": 10} if FULL else {"goat": 3, "lamb": 3}
#: Flow control under kills and duplicates: jobs under ``Concurrency("soak-c", 3)`` and under
#: ``Rate("soak-r", 10)``, each delivered twice, and the environments killed mid-job (at least the
#: cap: if a killed attempt's slot never came back, the limit would run nothing more).
LIMIT_CAPPED_JOBS = 150 if FULL else 24
LIMIT_PACED_JOBS = 100 if FULL else 20
LIMIT_KILLS = 8 if FULL else 3
