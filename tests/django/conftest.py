"""Django for the tests in this folder only: configured once per process, no global environment.

``settings.configure`` takes the values of ``tests.django.djproject.settings`` instead of
``DJANGO_SETTINGS_MODULE``, so other folders' tests (and the subprocesses they start) never see a
Django settings variable. Test modules import the test app's tasks inside tests or fixtures, after
this has run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SETTINGS_MODULE = "tests.django.djproject.settings"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def django_project() -> Iterator[None]:
    """``django.setup()`` with the test project's settings, once per test process."""
    import importlib

    import django
    from django.conf import settings

    if not settings.configured:
        module = importlib.import_module(SETTINGS_MODULE)
        values = {name: getattr(module, name) for name in dir(module) if name.isupper()}
        settings.configure(**values)
    django.setup()
    # Declare the test app's tasks now, against the project's own TASKS (tests override it later).
    importlib.import_module("tests.django.djapp.tasks")
    importlib.import_module("tests.django.djapp.outside")
    yield
    Path(settings.JOBS_DATABASE).unlink(missing_ok=True)


@pytest.fixture
def signal_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the test app's receivers append Django task signals to (``DJAPP_SIGNAL_LOG``)."""
    path = tmp_path / "signals.jsonl"
    monkeypatch.setenv("DJAPP_SIGNAL_LOG", str(path))
    return path


@pytest.fixture
def tasks_setting() -> Iterator[Any]:
    """Call with a TASKS value to use it for the rest of the test (Django's override_settings)."""
    from django.test import override_settings

    overrides: list[Any] = []

    def use(tasks: dict[str, Any]) -> None:
        override = override_settings(TASKS=tasks)
        override.enable()
        overrides.append(override)

    yield use
    for override in reversed(overrides):
        override.disable()


def use_config_env(monkeypatch: pytest.MonkeyPatch, document: dict[str, Any] | str) -> None:
    """Point ``LAMBDA_JOBS_CONFIG`` at ``document`` (a dict is written as JSON)."""
    value = document if isinstance(document, str) else json.dumps(document)
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", value)


def subprocess_env(**extra: str) -> dict[str, str]:
    """This environment, with the repository importable, plus ``extra``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env
