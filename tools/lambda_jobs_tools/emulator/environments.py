"""Lambda execution environments: ``awslambdaric`` processes, pooled per function.

An :class:`ExecutionEnvironment` is one process running the image's CMD under the real runtime
interface client (``python -m awslambdaric lambda_jobs.handler.handle``) against its own
:class:`~lambda_jobs_tools.emulator.runtime_api.RuntimeApi`. It runs one invocation at a time, like
a Lambda environment. An invocation that passes the function timeout kills the process (on Lambda a
time-out resets the environment: it is a crash, and the next invocation starts cold).

What an environment can import is what the image would hold: the process starts in the staged
image build context (``LAMBDA_TASK_ROOT``) with ``PYTHONPATH`` listing the image's code folders
(see :func:`code_paths`); third-party packages come from the emulator's own interpreter
(its ``site-packages``), since no image is built locally. The repository the emulator runs from
is *not* on the path.

A :class:`FunctionPool` keeps warm environments of one function and starts new ones on demand up to
the function's concurrency (its reserved concurrency, else the emulator's default).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from lambda_jobs_tools.emulator import reaper
from lambda_jobs_tools.emulator.runtime_api import InvocationResult, RuntimeApi
from lambda_jobs_tools.emulator.topology import FunctionSpec

#: Lambda's limit on the init phase of an on-demand environment.
INIT_TIMEOUT_SECONDS = 10.0
#: Placeholder credentials: moto accepts any signature, and real AWS never sees these.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}

OutputSink = Callable[[str, str], None]
"""(function name, one line the function printed) -> None."""


def code_paths(code_dir: Path) -> list[Path]:
    """The folders of the staged image context that the image puts on ``sys.path``.

    The context's root is the image's ``LAMBDA_TASK_ROOT``; a ``runtime`` folder holding the
    ``lambda_jobs`` package (the runtime copy staged with the project) comes first so that the
    image's own runtime wins over whatever the emulator's interpreter has installed.
    """
    paths: list[Path] = []
    for name in ("runtime", "python", "lib"):
        candidate = code_dir / name
        if (candidate / "lambda_jobs").is_dir():
            paths.append(candidate)
    task_root = code_dir / "project" if (code_dir / "project").is_dir() else code_dir
    paths.append(task_root)
    return paths


def task_root(code_dir: Path) -> Path:
    """The folder the image copies the project into (``LAMBDA_TASK_ROOT``, the working dir)."""
    return code_paths(code_dir)[-1]


class ExecutionEnvironment:
    """One awslambdaric process and its Runtime API. Not thread-safe: one caller at a time."""

    def __init__(
        self,
        function: FunctionSpec,
        *,
        base_environment: dict[str, str],
        override_environment: dict[str, str] | None = None,
        on_output: OutputSink | None = None,
    ) -> None:
        """The template's variables win over ``base_environment`` (the emulator's endpoints and
        region); ``override_environment`` (``--env``) wins over both, an empty value included
        (``--env LAMBDA_JOBS_JOB_TABLE=`` turns the job store off)."""
        self.function = function
        self.id = uuid.uuid4().hex[:8]
        self.api = RuntimeApi()
        self.invocations = 0
        root = task_root(function.code_dir)
        env = {
            # A clean environment, as in Lambda: nothing of the emulator's own leaks in.
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(str(p) for p in code_paths(function.code_dir)),
            "LAMBDA_TASK_ROOT": str(root),
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{self.id}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "_HANDLER": function.command[-1] if function.command else "",
            **LOCAL_CREDENTIALS,
            **base_environment,
            **function.environment,
            **(override_environment or {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", *function.command],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.process.pid
        self._stopped = False
        reaper.watch(self.pid)  # its group (with a task's subprocesses) dies with the emulator
        threading.Thread(
            target=self._watch, args=(on_output,), name=f"env-{self.id}", daemon=True
        ).start()

    def _watch(self, on_output: OutputSink | None) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            if on_output is not None:
                on_output(self.function.name, raw.decode("utf-8", "replace").rstrip("\n"))
        code = self.process.wait()
        # Whatever was running ends as Lambda reports a dead runtime.
        if code < 0:
            name = signal.Signals(-code).name.removeprefix("SIG").lower()
            reason = "signal: killed" if name == "kill" else f"signal: {name}"
        else:
            reason = f"exit status {code}"
        self.api.fail_pending("Runtime.ExitError", f"Runtime exited with error: {reason}")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and self.api.init_error is None

    def invoke(
        self, payload: bytes, *, request_id: str, trace: str | None = None
    ) -> InvocationResult:
        """Run one invocation; a time-out kills this environment (check :attr:`alive` after).

        ``trace``: the invocation's trace header (its place in a chain of requests, see
        :mod:`lambda_jobs_tools.emulator.recursion`).
        """
        if self.invocations == 0:
            self.api.wait_for_init(INIT_TIMEOUT_SECONDS)
        self.invocations += 1
        result = self.api.invoke(
            payload,
            timeout_s=self.function.timeout_seconds,
            function_arn=self.function.arn,
            request_id=request_id,
            trace=trace,
        )
        if result.timed_out:
            self.stop()
        return result

    def stop(self) -> None:
        """Kill the process (and anything it started) and close the Runtime API."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        elif not self._stopped:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)  # a task's subprocess outliving it
        if not self._stopped:
            self._stopped = True
            reaper.forget(self.pid)
        self.api.close()


class FunctionPool:
    """The execution environments of one function, at most ``concurrency`` at a time."""

    def __init__(
        self,
        function: FunctionSpec,
        *,
        concurrency: int,
        base_environment: dict[str, str],
        override_environment: dict[str, str] | None = None,
        on_output: OutputSink | None = None,
    ) -> None:
        """``base_environment`` and ``override_environment``: as :class:`ExecutionEnvironment`."""
        self.function = function
        self.concurrency = concurrency
        self._base_environment = base_environment
        self._override_environment = dict(override_environment or {})
        self._on_output = on_output
        self._slots = threading.Semaphore(concurrency)
        self._lock = threading.Lock()
        self._idle: list[ExecutionEnvironment] = []
        self._all: set[ExecutionEnvironment] = set()
        self._closed = threading.Event()

    @property
    def pids(self) -> list[int]:
        """Process ids of the environments alive now (tests kill them to simulate crashes)."""
        with self._lock:
            return [env.pid for env in self._all if env.process.poll() is None]

    @contextlib.contextmanager
    def lease(self, stop: threading.Event) -> Iterator[ExecutionEnvironment | None]:
        """A free environment (warm if one is idle, else a new one), or None once stopping.

        Blocks while all ``concurrency`` environments are busy.
        """
        while not self._slots.acquire(timeout=0.2):
            if stop.is_set() or self._closed.is_set():
                yield None
                return
        env: ExecutionEnvironment | None = None
        try:
            with self._lock:
                while self._idle and env is None:
                    candidate = self._idle.pop()
                    if candidate.alive:
                        env = candidate
                    else:
                        self._all.discard(candidate)
                        candidate.stop()
                if env is None and not self._closed.is_set():
                    env = ExecutionEnvironment(
                        self.function,
                        base_environment=self._base_environment,
                        override_environment=self._override_environment,
                        on_output=self._on_output,
                    )
                    self._all.add(env)
            yield env
        finally:
            if env is not None:
                with self._lock:
                    if env.alive and not self._closed.is_set():
                        self._idle.append(env)
                    else:
                        self._all.discard(env)
                        env.stop()
            self._slots.release()

    def stop(self) -> None:
        """Kill every environment of this function."""
        self._closed.set()
        with self._lock:
            environments = list(self._all)
            self._all.clear()
            self._idle.clear()
        for env in environments:
            env.stop()
