"""Who installs what: the runtime distribution carries no tools, the tools one carries the script.

``pip wheel ./runtime`` builds what ``pip install ./runtime`` (and an app's ``pip install
lambda-jobs``) installs: its files must hold no emulator, no operations command and no console
script (those are ``lambda-jobs-tools``, which images never install; the image's task root is
checked in tests/constructs/test_image_package.py). pip builds the wheel with setuptools fetched
by its build isolation from the configured package index, as for any user.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS_MODULES = ("lambda_jobs/emulator/", "lambda_jobs/ops/", "lambda_jobs/cli.py")


@pytest.fixture(scope="module")
def runtime_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--wheel-dir",
        str(out),
    ]
    result = subprocess.run(
        [*command, str(REPO / "runtime")],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = out.glob("lambda_jobs-*.whl")
    return zipfile.ZipFile(wheel)


def test_the_runtime_distribution_holds_no_emulator_operations_or_console_script(
    runtime_wheel: zipfile.ZipFile,
) -> None:
    names = runtime_wheel.namelist()
    assert "lambda_jobs/handler.py" in names
    assert not [n for n in names if n.startswith(TOOLS_MODULES) or "lambda_jobs_tools" in n]
    assert not [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = [
        line
        for line in runtime_wheel.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert requires == ["Requires-Dist: boto3>=1.34"]


def test_the_console_script_belongs_to_the_tools_distribution() -> None:
    (script,) = [
        ep
        for ep in importlib.metadata.entry_points(group="console_scripts")
        if ep.name == "lambda-jobs"
    ]
    assert script.value == "lambda_jobs_tools.cli:main"
    assert script.dist is not None and script.dist.name == "lambda-jobs-tools"
    requires = importlib.metadata.requires("lambda-jobs-tools") or []
    assert {re.split(r"[<>=\[ ;]", r)[0] for r in requires} == {
        "lambda-jobs",
        "moto",
        "awslambdaric",
        "rich",
    }
