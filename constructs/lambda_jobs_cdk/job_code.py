"""``JobCode``: the job image, built from the user's project directory by a Dockerfile we own.

``JobCode.from_directory(path, tasks=[...])`` stages a Docker build context once, eagerly and
deterministically: the same inputs always give the same files with the same bytes (sorted walk, no
timestamps, fixed modes), so the same CDK asset hash, so no needless image rebuilds or deploys.
The staged directory is content-addressed (``<tmp>/lambda-jobs-cdk/context-<sha256 prefix>``) and
CDK copies it into the cloud assembly as ``cdk.out/asset.<hash>/``.

Staged layout (what callers, such as the local emulator, may rely on)::

    asset.<hash>/
      Dockerfile                 lambda_jobs_cdk/image/Dockerfile, verbatim
      requirements.txt           the project's requirements.txt, or a comment-only placeholder
      runtime/pyproject.toml     a minimal pyproject so that ``pip install runtime/`` works
      runtime/lambda_jobs/...    a copy of the installed lambda_jobs package (no __pycache__)
      project/...                the user's project directory, filtered (see EXCLUDED_*)

The image installs ``requirements.txt`` and ``runtime/`` into ``${LAMBDA_TASK_ROOT}`` with pip,
copies ``project/`` there too, sets ``LAMBDA_JOBS_TASKS`` (a build argument) and runs
``CMD ["lambda_jobs.handler.handle"]``. To run the functions' code without Docker, put
``project/`` and ``runtime/`` on ``PYTHONPATH`` (plus boto3) and set ``LAMBDA_JOBS_TASKS``.

Relative paths inside the project's requirements.txt are not supported (it is installed from the
context root, not from the project directory).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_

from lambda_jobs_cdk.validation import JobBackendConfigError

DOCKERFILE = Path(__file__).parent / "image" / "Dockerfile"
EXCLUDED_DIRECTORIES = frozenset(
    {
        ".git",
        ".venv",
        "node_modules",
        "cdk.out",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
    }
)
"""Directory names never staged, at any depth."""
EXCLUDED_FILE_PATTERNS = ("*.pyc", "*.pyo")
"""File name patterns never staged."""
PLACEHOLDER_REQUIREMENTS = (
    "# The project has no requirements.txt: the runtime alone is installed.\n"
)
MODULE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_PLATFORMS = {"arm64": ecr_assets.Platform.LINUX_ARM64, "x86_64": ecr_assets.Platform.LINUX_AMD64}


class JobCode:
    """The code of a job backend's functions: one container image for all of them.

    Build it with :meth:`from_directory`. Attributes callers may rely on: ``directory`` (the
    staged build context), ``tasks`` (the task modules), ``architecture``.
    """

    def __init__(
        self, *, directory: Path, tasks: tuple[str, ...], architecture: lambda_.Architecture
    ) -> None:
        self.directory = directory
        self.tasks = tasks
        self.architecture = architecture

    @classmethod
    def from_directory(
        cls,
        path: str | os.PathLike[str],
        *,
        tasks: Sequence[str],
        architecture: lambda_.Architecture | None = None,
        exclude: Sequence[str] = (),
    ) -> JobCode:
        """Stage an image build context from the project at ``path``.

        :param path: the project directory; its top level is what ``${LAMBDA_TASK_ROOT}`` holds.
        :param tasks: the modules that define your tasks (``LAMBDA_JOBS_TASKS``), e.g.
            ``["myapp.tasks"]``. Required, at least one; each top-level package or module must be
            in ``path``. Only tasks registered while importing them can ever run.
        :param architecture: CPU architecture of the image and of every function. Default
            ``Architecture.ARM_64`` (cheaper per GB-second).
        :param exclude: extra glob patterns (matched against the path relative to ``path`` and
            against the file name) left out of the image. Default: none; ``.git``, ``.venv``,
            ``node_modules``, ``cdk.out``, caches and ``*.pyc`` are always left out.
        """
        project = Path(path)
        if not project.is_dir():
            raise JobBackendConfigError(f"JobCode path {str(path)!r} is not a directory")
        modules = _check_tasks(tasks, project)
        arch = architecture if architecture is not None else lambda_.Architecture.ARM_64
        if arch.name not in _PLATFORMS:
            raise JobBackendConfigError(
                f"JobCode architecture must be Architecture.ARM_64 or Architecture.X86_64, "
                f"got {arch.name!r}"
            )
        directory = stage_build_context(project, exclude=tuple(exclude))
        return cls(directory=directory, tasks=modules, architecture=arch)

    @property
    def tasks_value(self) -> str:
        """The value of ``LAMBDA_JOBS_TASKS``: the task modules, comma-separated."""
        return ",".join(self.tasks)

    def image_code(self) -> lambda_.DockerImageCode:
        """A fresh ``DockerImageCode`` for one function (CDK deduplicates the asset by hash)."""
        return lambda_.DockerImageCode.from_image_asset(
            str(self.directory),
            platform=_PLATFORMS[self.architecture.name],
            build_args={"LAMBDA_JOBS_TASKS": self.tasks_value},
        )


def _check_tasks(tasks: Sequence[str], project: Path) -> tuple[str, ...]:
    if isinstance(tasks, str) or not tasks:
        raise JobBackendConfigError(
            "JobCode tasks must be a non-empty list of module names, e.g. tasks=['myapp.tasks']"
        )
    for module in tasks:
        if not isinstance(module, str) or not MODULE_PATTERN.match(module):
            raise JobBackendConfigError(
                f"JobCode tasks: {module!r} is not a dotted Python module name"
            )
        top = module.split(".", 1)[0]
        if not (project / f"{top}.py").is_file() and not (project / top).is_dir():
            raise JobBackendConfigError(
                f"JobCode tasks: module {module!r} is not in {str(project)!r} (looked for "
                f"{top}.py and {top}/)"
            )
    return tuple(tasks)


def _walk(root: Path, exclude: tuple[str, ...]) -> Iterator[tuple[str, Path]]:
    """(relative posix path, file) for every file to stage, in sorted order."""
    outdir = _cli_outdir()
    for current, dirnames, filenames in os.walk(root):
        base = Path(current)
        rel_dir = base.relative_to(root).as_posix()
        kept = []
        for name in sorted(dirnames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if name in EXCLUDED_DIRECTORIES or _excluded(rel, name, exclude):
                continue
            if _is_cloud_assembly(base / name) or (base / name).resolve() == outdir:
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if any(fnmatch.fnmatch(name, p) for p in EXCLUDED_FILE_PATTERNS):
                continue
            if _excluded(rel, name, exclude):
                continue
            yield rel, base / name


def _is_cloud_assembly(directory: Path) -> bool:
    """Whether ``directory`` is a CDK output directory, whatever its name (``cdk synth -o
    build/cdk``): a cloud assembly holds ``manifest.json`` and the version marker file
    ``cdk.out``. Staging one would put the previous synth (and its assets) into the image, so
    the asset hash would change on every synth."""
    return (directory / "manifest.json").is_file() and (directory / "cdk.out").is_file()


def _cli_outdir() -> Path | None:
    """The output directory the CDK CLI gives the app (``CDK_OUTDIR``), which may not hold an
    assembly yet on the first synth."""
    value = os.environ.get("CDK_OUTDIR")
    return Path(value).resolve() if value else None


def _excluded(rel: str, name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def runtime_package_directory() -> Path:
    """Where the installed ``lambda_jobs`` package lives (found without importing it)."""
    spec = importlib.util.find_spec("lambda_jobs")
    if spec is None or not spec.submodule_search_locations:
        raise JobBackendConfigError(
            "JobCode needs the lambda-jobs runtime installed next to lambda-jobs-cdk "
            "(pip install lambda-jobs)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def runtime_pyproject() -> str:
    """A minimal pyproject.toml for the runtime copy, from the installed distribution's metadata."""
    try:
        version = importlib.metadata.version("lambda-jobs")
        requires = importlib.metadata.requires("lambda-jobs") or []
    except importlib.metadata.PackageNotFoundError:
        version, requires = "0.0.0", ["boto3>=1.34"]
    base = sorted(r for r in requires if "extra ==" not in r)
    deps = ", ".join(f'"{r}"' for r in base)
    return (
        "# Written by lambda-jobs-cdk: the lambda-jobs runtime, copied into the image context.\n"
        "[build-system]\n"
        'requires = ["setuptools>=69"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        'name = "lambda-jobs"\n'
        f'version = "{version}"\n'
        'requires-python = ">=3.12"\n'
        f"dependencies = [{deps}]\n\n"
        "[tool.setuptools.packages.find]\n"
        'include = ["lambda_jobs*"]\n\n'
        "[tool.setuptools.package-data]\n"
        'lambda_jobs = ["py.typed"]\n'
    )


def _planned_files(project: Path, exclude: tuple[str, ...]) -> list[tuple[str, bytes, int]]:
    """Every file of the context: (relative path, content, mode), sorted by path."""
    files: list[tuple[str, bytes, int]] = [("Dockerfile", DOCKERFILE.read_bytes(), 0o644)]
    requirements = project / "requirements.txt"
    req = requirements.read_bytes() if requirements.is_file() else PLACEHOLDER_REQUIREMENTS.encode()
    files.append(("requirements.txt", req, 0o644))
    files.append(("runtime/pyproject.toml", runtime_pyproject().encode(), 0o644))
    for rel, source in _walk(runtime_package_directory(), ()):
        files.append((f"runtime/lambda_jobs/{rel}", source.read_bytes(), 0o644))
    for rel, source in _walk(project, exclude):
        mode = 0o755 if os.access(source, os.X_OK) else 0o644
        files.append((f"project/{rel}", source.read_bytes(), mode))
    files.sort(key=lambda item: item[0])
    return files


def stage_build_context(project: Path, *, exclude: tuple[str, ...] = ()) -> Path:
    """Write the build context for ``project`` and return its directory.

    The directory name is the SHA-256 of every staged path, mode and content, so staging the same
    inputs twice returns the same directory; a concurrent synth writes to a private directory
    first and renames it into place.
    """
    files = _planned_files(project, exclude)
    digest = hashlib.sha256()
    for rel, content, mode in files:
        digest.update(f"{rel}\0{mode:o}\0{len(content)}\0".encode())
        digest.update(content)
    root = Path(tempfile.gettempdir()) / "lambda-jobs-cdk"
    target = root / f"context-{digest.hexdigest()[:32]}"
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="staging-", dir=root))
    for rel, content, mode in files:
        dest = scratch / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(content)
        dest.chmod(mode)
    scratch.chmod(0o755)
    try:
        scratch.rename(target)
    except OSError:
        # Another process staged the same content first: theirs is identical.
        shutil.rmtree(scratch, ignore_errors=True)
    return target
