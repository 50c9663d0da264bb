"""What machine a benchmark run measured: CPU, cores, Python, versions, load, date."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

PACKAGES = ("lambda-jobs", "boto3", "moto", "awslambdaric", "celery", "aws-lambda-powertools")


def cpu_model() -> str:
    """The CPU's model name, family and model, and whether it runs under a hypervisor."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() not in fields:
                fields[key.strip()] = value.strip()
    except OSError:
        return platform.processor() or platform.machine()
    text = fields.get("model name", platform.machine())
    if "cpu family" in fields and "model" in fields:
        text += f" (family {fields['cpu family']}, model {fields['model']})"
    if "hypervisor" in fields.get("flags", "").split():
        text += ", virtual machine"
    return text


def versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def describe() -> dict[str, str]:
    """Label → value, in the order ``RESULTS.md`` lists them."""
    return {
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": cpu_model(),
        "Cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable",
        "Python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "OS": f"{platform.system()} {platform.release()}",
        "Packages": versions(),
        "Load at start": load(),
    }
