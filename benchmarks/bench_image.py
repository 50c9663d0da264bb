"""Benchmark 5: what the job image's ``pip install --target`` puts into ``LAMBDA_TASK_ROOT``.

The demo project's build context is staged (``stacks.demo_code.demo_code()``, what ``cdk synth``
stages) and installed into a temporary task root with pip, as the Dockerfile does
(``constructs/lambda_jobs_cdk/image/Dockerfile``), in three ways:

- **as the Dockerfile does**: the project's ``requirements.txt`` with its dependencies, then the
  runtime with ``--no-deps`` (the base image's runtime-included boto3 serves the failure paths);
- **with the tools' code** (the runtime before the tools left it for ``lambda-jobs-tools``): the
  same, plus ``tools/`` with ``--no-deps``, so the emulator, the operations commands and the
  console script's code land in the task root as they did inside ``lambda_jobs``;
- **with the runtime's dependencies** (the Dockerfile before): one ``pip install -r
  requirements.txt runtime/``, so boto3, botocore, s3transfer, jmespath, urllib3, dateutil and six
  land in the task root beside the base image's copy.

For each: the task root's size (MiB, files; a goal checks that no tools module is in the image's),
and the handler's cold start from it in fresh interpreters (``python -S``, ``PYTHONPATH`` = the task
root, as in the image; the import and an SQS batch of one job of the demo's ``hello`` task), plus
what ``import boto3`` costs from there (the failure path: only a job that fails or is dead-lettered
needs it). pip installs from the configured package index; the Docker build itself is not run (no
Docker engine here).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_results import Goal, Section, median, quartiles, write_section

REPO = Path(__file__).resolve().parents[1]

CHILD = """\
import sys, time
t0 = time.perf_counter()
import lambda_jobs.handler as handler
t1 = time.perf_counter()


class Context:
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:image"

    def get_remaining_time_in_millis(self):
        return 60000


result = handler.handle({event!r}, Context())
t2 = time.perf_counter()
sys.stderr.write(repr((t1 - t0, t2 - t1, result == {{"batchItemFailures": []}})) + "\\n")
"""

BOTO3_CHILD = """\
import sys, time
t0 = time.perf_counter()
import boto3
sys.stderr.write(repr((time.perf_counter() - t0, boto3.__file__)) + "\\n")
"""

OURS = "as the Dockerfile does (runtime `--no-deps`)"
WITH_TOOLS = "with the tools' code (before lambda-jobs-tools)"
WITH_DEPS = "with the runtime's dependencies (before)"
LAYOUTS = {OURS: "no-deps", WITH_TOOLS: "with-tools", WITH_DEPS: "with-deps"}
TOOLS_MODULES = (
    "lambda_jobs/emulator",
    "lambda_jobs/ops",
    "lambda_jobs/cli.py",
    "lambda_jobs_tools",
)


def tools_copy(folder: Path) -> Path:
    """A copy of ``tools/`` to build from (pip's build writes egg-info next to the sources)."""
    target = folder / "tools-source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    shutil.copytree(REPO / "tools", target, ignore=ignore)
    return target


def pip_install(root: Path, context: Path, layout: str, tools: Path) -> None:
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-cache-dir", "--target"]
    requirements = ["-r", str(context / "requirements.txt")]
    runtime = str(context / "runtime")
    if layout in {"no-deps", "with-tools"}:
        steps = [[*pip, str(root), *requirements], [*pip, str(root), "--no-deps", runtime]]
        if layout == "with-tools":
            steps.append([*pip, str(root), "--no-deps", str(tools)])
    else:
        steps = [[*pip, str(root), *requirements, runtime]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"pip failed ({done.returncode}):\n{done.stderr[-3000:]}")
    shutil.copytree(context / "project", root, dirs_exist_ok=True)


def size(root: Path) -> tuple[float, int]:
    """MiB and file count of ``root``, with the ``.pyc`` files pip compiled (the image has them:
    ``/var/task`` is read-only in Lambda, so byte code compiled at install is what it runs)."""
    total, count = 0, 0
    for current, _dirnames, filenames in os.walk(root):
        for name in filenames:
            total += (Path(current) / name).stat().st_size
            count += 1
    return total / 2**20, count


def run(root: Path, code: str) -> tuple[object, ...]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(root),
        "LAMBDA_JOBS_TASKS": "demo_tasks",
        "LAMBDA_JOBS_BACKEND": "goat",
        "LAMBDA_JOBS_DEMO_LOG": os.devnull,
        "PYTHONHASHSEED": "0",
    }
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    value: tuple[object, ...] = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    return value


def demo_event() -> dict[str, object]:
    from lambda_jobs.envelope import Envelope

    from tests.runtime.lambda_events import envelope

    job: Envelope = envelope("demo_tasks.hello")
    job.kwargs = {"name": "image"}
    return {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r-1",
                "body": job.to_json(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:image",
            }
        ]
    }


def measure(rounds: int) -> Section:
    from stacks.demo_code import demo_code

    context = demo_code().directory
    event = demo_event()
    rows, boto3_rows = [], []
    figures: dict[str, tuple[float, int, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        tools = tools_copy(Path(folder))
        roots = {}
        for label, layout in LAYOUTS.items():
            root = Path(folder) / layout
            pip_install(root, context, layout, tools)
            roots[label] = root
            print(f"  image: installed {layout}", file=sys.stderr, flush=True)
        sizes = {label: size(root) for label, root in roots.items()}  # before any run adds .pyc
        tools_found = sorted(
            path.relative_to(roots[OURS]).as_posix()
            for name in TOOLS_MODULES
            for path in roots[OURS].glob(name)
        )
        for root in roots.values():  # warm-up: file system cache, the project's byte code
            run(root, CHILD.format(event=event))
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label in roots}
        for _ in range(rounds):
            for label, root in roots.items():
                imported, first_job, ok = run(root, CHILD.format(event=event))
                if not ok:
                    raise RuntimeError(f"the demo job did not succeed from {root}")
                samples[label].append((float(imported) * 1000, float(first_job) * 1000))  # type: ignore[arg-type]
        for label in roots:
            mib, files = sizes[label]
            totals = [a + b for a, b in samples[label]]
            q1, q3 = quartiles(totals)
            figures[label] = (mib, files, median(totals))
            rows.append(
                [
                    label,
                    f"{mib:.1f}",
                    f"{files:,}",
                    f"{median([a for a, _ in samples[label]]):.1f}",
                    f"**{median(totals):.1f}**",
                    f"{q1:.1f}..{q3:.1f}",
                ]
            )
        with_deps = roots[WITH_DEPS]
        boto3_ms = median([float(run(with_deps, BOTO3_CHILD)[0]) * 1000 for _ in range(5)])  # type: ignore[arg-type]
        boto3_rows.append(["`import boto3` from the task root (failure path)", f"{boto3_ms:.0f}"])
    ours, before, tooled = figures[OURS], figures[WITH_DEPS], figures[WITH_TOOLS]
    goals: list[Goal] = [
        {
            "goal": "the job image's task root holds nothing the function never imports",
            "measured": f"{ours[0]:.1f} MiB, {ours[1]:,} files (before: {before[0]:.1f} MiB, "
            f"{before[1]:,} files)",
            "met": ours[0] < before[0] / 10,
        },
        {
            "goal": "no emulator, operations or console-script module in the task root",
            "measured": (
                f"{', '.join(tools_found) or 'none found'}; {ours[0]:.1f} MiB, {ours[1]:,} files "
                f"(with the tools' code: {tooled[0]:.1f} MiB, {tooled[1]:,} files)"
            ),
            "met": not tools_found,
        },
    ]
    return {
        "title": "5. The job image's task root (demo project)",
        "method": (
            "The demo's build context staged as `cdk synth` stages it, installed with pip into "
            "a temporary `LAMBDA_TASK_ROOT` as the Dockerfile does, with the tools' code as "
            "the runtime held it before `lambda-jobs-tools` (`tools/` installed `--no-deps` "
            "beside it), and as the Dockerfile did before (the runtime with its dependencies). "
            "Size: every file pip wrote, its byte code "
            "included, and the project. Cold start: "
            f"{rounds} interleaved fresh interpreters per layout after a warm-up, `python -S` "
            "with only the task root on `PYTHONPATH`; import of `lambda_jobs.handler` and an SQS "
            "batch of one `demo_tasks.hello` job; median and quartiles."
        ),
        "tables": [
            {
                "title": "Task root and the handler's cold start from it",
                "columns": ["layout", "MiB", "files", "import ms", "total ms", "total q1..q3"],
                "rows": rows,
            },
            {
                "title": "What the SDK costs when a job needs it (ms, median of 5)",
                "columns": ["step", "ms"],
                "rows": boto3_rows,
            },
        ],
        "goals": goals,
        "notes": [
            "The handler's success path imports no boto3, so the cold start is the same from "
            "every task root: the SDK copy only costs image size (pulled on a cold start after "
            "each deploy) and build time. A job that fails imports boto3 once per execution "
            "environment, from the task root if a copy is there, else from the base image.",
            "Trade-off of not pinning: the SDK version is the base image's, which AWS updates "
            "and which depends on the runtime version and Region (Lambda developer guide, "
            "'Runtime-included SDK versions', docs.aws.amazon.com/lambda/latest/dg/"
            "lambda-python.html). The build fails if it is older than the runtime's "
            "`boto3>=1.34`; to pin, list `boto3==<version>` in the project's `requirements.txt` "
            "(the task root comes first on the function's path).",
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    write_section(args.out, measure(args.rounds))


if __name__ == "__main__":
    main()
