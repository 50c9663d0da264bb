"""Is ``cdk.out`` older than the task modules? A hint, not a check.

The emulator runs the code staged in the assembly (``asset.<hash>/project``, as the image would
hold it), not the project itself: a task added or changed after ``cdk synth`` is not there, and
its jobs are dead-lettered as ``unknown_task``. The assembly does not record where the project
is, so :func:`stale_task_modules` looks for each task module's file (its path relative to the
staged project, e.g. ``app/tasks.py``) under the given folders (the current directory and the
assembly's parent), a few levels deep; a copy whose text differs from the staged one and that was
modified after the synthesis (the assembly's ``manifest.json``) is reported.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lambda_jobs_tools.emulator.environments import task_root
from lambda_jobs_tools.emulator.topology import FunctionSpec

#: How deep below each folder the project's modules are looked for, and how many folders at most.
MAX_DEPTH = 5
MAX_FOLDERS = 5000
SKIPPED = frozenset(
    {
        ".git",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        "cdk.out",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        "site-packages",
    }
)


def _staged_modules(functions: Iterable[FunctionSpec]) -> dict[str, Path]:
    """Relative path of each task module's file (``a/b.py``) -> its staged copy."""
    staged: dict[str, Path] = {}
    for function in functions:
        root = task_root(function.code_dir)
        for listed in function.environment.get("LAMBDA_JOBS_TASKS", "").split(","):
            module = listed.strip()
            if not module:
                continue
            base = module.replace(".", "/")
            for relative in (f"{base}.py", f"{base}/__init__.py"):
                if (root / relative).is_file():
                    staged[relative] = root / relative
                    break
    return staged


def _walk(root: Path, skip: Path) -> Iterable[Path]:
    """Files under ``root`` (bounded depth and count), skipping tool folders and ``skip``."""
    for visited, (folder, dirnames, filenames) in enumerate(os.walk(root)):
        here = Path(folder)
        depth = len(here.relative_to(root).parts)
        dirnames[:] = [
            d
            for d in dirnames
            if d not in SKIPPED
            and not d.startswith("asset.")
            and depth < MAX_DEPTH
            and (here / d).resolve() != skip
        ]
        if visited >= MAX_FOLDERS:
            return
        for name in filenames:
            if name.endswith(".py"):
                yield here / name


def stale_task_modules(
    app: Path, functions: Iterable[FunctionSpec], roots: Iterable[Path]
) -> list[Path]:
    """Task module files under ``roots`` that differ from their staged copy in ``app`` and were
    modified after it was synthesized (sorted)."""
    manifest = app / "manifest.json"
    staged = _staged_modules(functions)
    if not staged or not manifest.is_file():
        return []
    synthesized = manifest.stat().st_mtime
    skip = app.resolve()
    found: set[Path] = set()
    seen_roots: set[Path] = set()
    for given in roots:
        root = given.resolve()
        if root in seen_roots or not root.is_dir():
            continue
        seen_roots.add(root)
        for path in _walk(root, skip):
            for relative, copy in staged.items():
                if not path.as_posix().endswith("/" + relative):
                    continue
                try:
                    newer = path.stat().st_mtime > synthesized
                    if newer and path.read_bytes() != copy.read_bytes():
                        found.add(path)
                except OSError:
                    continue
    return sorted(found)
