"""Django stays an optional extra; the runtime imports and runs jobs without it.

Each test starts a fresh interpreter in which a ``sys.meta_path`` finder refuses ``django`` (as if
it were not installed), then imports ``lambda_jobs`` and the handler module.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.django.conftest import REPO_ROOT, subprocess_env

BLOCK_DJANGO = """
import sys

class RefuseDjango:
    def find_spec(self, name, path=None, target=None):
        if name == "django" or name.startswith("django."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, RefuseDjango())
"""


def run_without_django(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = subprocess_env()
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", BLOCK_DJANGO + code],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )


def test_runtime_and_handler_import_and_run_inline_job_without_django(tmp_path: Path) -> None:
    target = tmp_path / "plain.txt"
    completed = run_without_django(
        f"""
import lambda_jobs
import lambda_jobs.handler
from tests.django.plain_tasks import write_plain
job = write_plain.enqueue({str(target)!r}, "no django here")
assert job.status == "succeeded", job.error
assert not any(name == "django" or name.startswith("django.") for name in sys.modules)
try:
    import django
except ModuleNotFoundError as exc:
    print("blocked:", exc)
""",
        LAMBDA_JOBS_TASKS="tests.django.plain_tasks",
        LAMBDA_JOBS_CONFIG="inline",
    )
    assert completed.returncode == 0, completed.stderr
    assert "blocked: No module named 'django'" in completed.stdout
    assert target.read_text() == "no django here"


def test_handler_with_django_settings_but_no_django_names_the_extra() -> None:
    completed = run_without_django(
        "import lambda_jobs.handler",
        LAMBDA_JOBS_TASKS="tests.django.plain_tasks",
        DJANGO_SETTINGS_MODULE="tests.django.djproject.settings",
    )
    assert completed.returncode != 0
    assert "DJANGO_SETTINGS_MODULE is set, but lambda_jobs.django.worker cannot be imported" in (
        completed.stderr
    )
    assert "install lambda-jobs[django]" in completed.stderr
