"""``JobCode.from_directory``: the staged image build context, its determinism and its errors.

Acceptance points: the context is staged deterministically (same inputs -> same CDK asset hash,
whatever the file times or the project's location); it holds the library's Dockerfile, the
runtime copy with a pyproject pip can install, and the filtered project; hadolint finds nothing
in the Dockerfile; wrong ``tasks``/``path``/``architecture`` name the problem.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_
from lambda_jobs_cdk import JobBackendConfigError, JobCode
from lambda_jobs_cdk.job_code import DOCKERFILE, PLACEHOLDER_REQUIREMENTS

from stacks.demo_code import DEMO_PROJECT


def copy_project(target: Path, mtime: int) -> Path:
    shutil.copytree(DEMO_PROJECT, target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.rglob("*"):
        os.utime(path, (mtime, mtime))
    return target


def asset_hash(stack: Stack, id: str, code: JobCode) -> str:
    asset = ecr_assets.DockerImageAsset(
        stack,
        id,
        directory=str(code.directory),
        platform=ecr_assets.Platform.LINUX_ARM64,
        build_args={"LAMBDA_JOBS_TASKS": code.tasks_value},
    )
    return str(asset.asset_hash)


def test_staging_the_same_project_twice_gives_the_same_asset_hash(tmp_path: Path) -> None:
    first = copy_project(tmp_path / "a" / "project", mtime=1_000_000_000)
    second = copy_project(tmp_path / "elsewhere" / "project", mtime=1_700_000_000)
    code_a = JobCode.from_directory(first, tasks=["demo_tasks"])
    code_b = JobCode.from_directory(second, tasks=["demo_tasks"])
    assert code_a.directory == code_b.directory
    (second / "demo_tasks.py").write_text((second / "demo_tasks.py").read_text() + "\n# edit\n")
    code_c = JobCode.from_directory(second, tasks=["demo_tasks"])
    assert code_c.directory != code_a.directory
    stack = Stack(App(), "Hashes")
    hash_a = asset_hash(stack, "A", code_a)
    assert len(hash_a) == 64
    assert asset_hash(stack, "B", code_b) == hash_a
    assert asset_hash(stack, "C", code_c) != hash_a


def test_staged_layout_dockerfile_requirements_runtime_and_project(tmp_path: Path) -> None:
    code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
    root = code.directory
    assert (root / "Dockerfile").read_bytes() == DOCKERFILE.read_bytes()
    assert (root / "requirements.txt").read_text() == PLACEHOLDER_REQUIREMENTS
    assert (root / "runtime" / "lambda_jobs" / "__init__.py").is_file()
    assert (root / "runtime" / "lambda_jobs" / "handler.py").is_file()
    pyproject = (root / "runtime" / "pyproject.toml").read_text()
    assert 'name = "lambda-jobs"' in pyproject and "boto3" in pyproject
    assert (root / "project" / "demo_tasks.py").read_bytes() == (
        DEMO_PROJECT / "demo_tasks.py"
    ).read_bytes()
    staged = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in staged)
    tools = (
        "runtime/lambda_jobs/emulator/",
        "runtime/lambda_jobs/ops/",
        "runtime/lambda_jobs/cli.py",
    )
    assert not [p for p in staged if p.startswith(tools) or "lambda_jobs_tools" in p]
    assert code.tasks_value == "demo_tasks"
    assert code.architecture.name == "arm64"


def test_project_requirements_txt_is_staged_at_the_context_root(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project", mtime=1_000_000_000)
    (project / "requirements.txt").write_text("requests==2.32.3\n")
    code = JobCode.from_directory(project, tasks=["demo_tasks"])
    assert (code.directory / "requirements.txt").read_text() == "requests==2.32.3\n"


def test_git_venv_node_modules_cdk_out_caches_and_pyc_are_never_staged(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project", mtime=1_000_000_000)
    for junk in (
        ".git/config",
        ".venv/bin/python",
        "node_modules/x/index.js",
        "cdk.out/manifest.json",
        "__pycache__/demo_tasks.cpython-312.pyc",
        "pkg/__pycache__/m.cpython-312.pyc",
        "stale.pyc",
        "secrets/local.env",
    ):
        (project / junk).parent.mkdir(parents=True, exist_ok=True)
        (project / junk).write_text("junk")
    (project / "pkg" / "__init__.py").write_text("")
    code = JobCode.from_directory(project, tasks=["demo_tasks"], exclude=["secrets"])
    staged = {
        p.relative_to(code.directory / "project").as_posix()
        for p in (code.directory / "project").rglob("*")
        if p.is_file()
    }
    assert staged == {"demo_tasks.py", "pkg/__init__.py"}


def test_a_cdk_output_directory_inside_the_project_is_never_staged_whatever_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``JobCode.from_directory(".")`` with ``cdk synth -o build/cdk``: the image hash must not
    follow the previous synth's output (issue 30.13)."""
    project = copy_project(tmp_path / "project", mtime=1_000_000_000)
    monkeypatch.delenv("CDK_OUTDIR", raising=False)
    before = JobCode.from_directory(project, tasks=["demo_tasks"]).directory
    assembly = project / "build" / "cdk"
    for synth in range(2):  # two synths leave two different assemblies
        (assembly / f"asset.{synth}").mkdir(parents=True, exist_ok=True)
        (assembly / f"asset.{synth}" / "Dockerfile").write_text(f"FROM x{synth}")
        (assembly / "manifest.json").write_text(f'{{"synth": {synth}}}')
        (assembly / "cdk.out").write_text('{"version":"48.0.0"}')
        assert JobCode.from_directory(project, tasks=["demo_tasks"]).directory == before
    # Under the CDK CLI, its output directory is left out even before it holds an assembly.
    fresh = project / "out" / "next"
    fresh.mkdir(parents=True)
    (fresh / "partial.json").write_text("{}")
    monkeypatch.setenv("CDK_OUTDIR", str(fresh))
    assert JobCode.from_directory(project, tasks=["demo_tasks"]).directory == before


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_dockerfile_pins_the_base_image_and_runs_the_lambda_jobs_handler() -> None:
    text = DOCKERFILE.read_text()
    assert "FROM public.ecr.aws/lambda/python:3.12\n" in text
    assert 'CMD ["lambda_jobs.handler.handle"]' in text
    assert "ENV LAMBDA_JOBS_TASKS=${LAMBDA_JOBS_TASKS}" in text


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([], r"JobCode tasks must be a non-empty list of module names"),
        ("demo_tasks", r"JobCode tasks must be a non-empty list of module names"),
        (["demo-tasks"], r"JobCode tasks: 'demo-tasks' is not a dotted Python module name"),
        (["missing.tasks"], r"JobCode tasks: module 'missing.tasks' is not in .*missing\.py"),
    ],
)
def test_job_code_rejects_bad_tasks(tasks: object, message: str) -> None:
    with pytest.raises(JobBackendConfigError, match=message):
        JobCode.from_directory(DEMO_PROJECT, tasks=tasks)  # type: ignore[arg-type]


def test_job_code_rejects_a_path_that_is_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(JobBackendConfigError, match=r"JobCode path .*nope.* is not a directory"):
        JobCode.from_directory(tmp_path / "nope", tasks=["demo_tasks"])


def test_job_code_rejects_an_architecture_other_than_arm64_or_x86_64() -> None:
    with pytest.raises(
        JobBackendConfigError,
        match=r"JobCode architecture must be Architecture\.ARM_64 or Architecture\.X86_64",
    ):
        JobCode.from_directory(
            DEMO_PROJECT,
            tasks=["demo_tasks"],
            architecture=lambda_.Architecture.custom("riscv64", "linux/riscv64"),
        )
