"""A probe function: a staged image context like ``JobCode``'s, with a tiny handler."""

from __future__ import annotations

import shutil
from pathlib import Path

import lambda_jobs
import pytest
from lambda_jobs_tools.emulator.topology import FunctionSpec

PROBE = """
import json, os, sys, time
import lambda_jobs

def handle(event, context):
    if event.get("fail"):
        raise ValueError(event["fail"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {
        "lambda_jobs": lambda_jobs.__file__,
        "sys_path": sys.path,
        "pid": os.getpid(),
        "env": {k: os.environ.get(k) for k in event.get("env", [])},
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
"""


@pytest.fixture
def function(tmp_path: Path) -> FunctionSpec:
    """A staged image context like JobCode's: runtime/lambda_jobs and project/probe.py."""
    code = tmp_path / "asset.probe"
    shutil.copytree(
        Path(lambda_jobs.__file__).parent,
        code / "runtime" / "lambda_jobs",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (code / "project").mkdir()
    (code / "project" / "probe.py").write_text(PROBE, encoding="utf-8")
    return FunctionSpec(
        logical_id="Probe",
        name="probe-fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:probe-fn",
        timeout_seconds=2,
        memory_mb=256,
        environment={"FROM_TEMPLATE": "yes"},
        reserved_concurrency=2,
        code_dir=code,
        command=["probe.handle"],
        stack="Test",
    )
