"""``run_alone``: a real fork; the child's answer, or how it died, reaches the parent."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from lambda_jobs.worker.isolation import run_alone


def test_the_childs_answer_comes_back_and_the_parent_keeps_its_state(tmp_path: Path):
    state = {"touched": False}

    def work() -> bool:
        state["touched"] = True  # the child's memory, not the parent's
        (tmp_path / "ran").write_text(str(os.getpid()))
        return False

    assert run_alone(work, 10) == (False, "")
    assert run_alone(lambda: True, 10) == (True, "")
    assert run_alone(lambda: "7 1", 10) == ("7 1", "")  # a text answer (Goat: a retry copy)
    assert state == {"touched": False}
    assert int((tmp_path / "ran").read_text()) != os.getpid()


def test_a_child_that_ends_its_process_is_reported_with_its_exit_code():
    assert run_alone(lambda: os._exit(3), 10) == (None, "exit code 3")


def test_a_child_killed_by_a_signal_is_reported_with_the_signal():
    def killed() -> bool:
        os.kill(os.getpid(), signal.SIGKILL)
        return True

    assert run_alone(killed, 10) == (None, "killed by signal 9 (SIGKILL)")


def test_a_child_past_its_time_is_killed_at_it():
    def stuck() -> bool:
        signal.signal(signal.SIGALRM, signal.SIG_IGN)  # as code stuck in C would
        time.sleep(30)
        return True

    started = time.monotonic()
    settled, how = run_alone(stuck, 0.3)
    assert settled is None and how.startswith("killed after 0.3 s")
    assert time.monotonic() - started < 5
