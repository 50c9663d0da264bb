"""The soak tasks module as the tests import it, and the waiting every soak test does.

The functions register the tasks under the module name ``soak_tasks`` (the project directory is
their code root), so the tests import it under that name too: the prepared jobs then name the same
tasks the functions run.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.soak.conftest import SoakBackend
from tests.soak.soak_app import SOAK_PROJECT

if str(SOAK_PROJECT) not in sys.path:
    sys.path.insert(0, str(SOAK_PROJECT))
soak_tasks: Any = importlib.import_module("soak_tasks")


def succeeded_keys(backend: SoakBackend, prefix: str) -> set[str]:
    return {run["key"] for run in backend.runs(prefix) if run["outcome"] == "succeeded"}


def wait_for(done: Callable[[], bool], *, timeout: float, interval: float = 0.25) -> bool:
    """Poll ``done()`` until it is true or ``timeout`` seconds pass; returns its last value.

    The caller asserts on the outcome itself, so a timeout fails with what was missing.
    """
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
