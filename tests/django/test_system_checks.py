"""Misconfiguration of a ``LambdaJobsBackend`` is reported as Django system checks.

Each test builds a backend from a ``TASKS`` entry and runs Django's own check framework
(``django.core.checks.run_checks``, which calls ``backend.check()``), asserting ids and messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.django.conftest import use_config_env
from tests.django.test_validate_task import BACKEND, goat_document


@pytest.fixture
def run_checks(tasks_setting: Callable[[dict[str, Any]], None]) -> Callable[..., list[Any]]:
    """Use ``params`` as TASKS['jobs'] and return the lambda_jobs messages Django's checks give."""

    def run(params: dict[str, Any]) -> list[Any]:
        from django.core.checks import run_checks as django_run_checks

        tasks_setting({"jobs": {"BACKEND": BACKEND, **params}})
        return [m for m in django_run_checks() if m.id and m.id.startswith("lambda_jobs.")]

    return run


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


def test_check_valid_configuration_reports_nothing(run_checks: Any) -> None:
    assert run_checks({"QUEUES": ["default"], "OPTIONS": {"config": goat_document()}}) == []


def test_check_e001_no_client_configuration(
    run_checks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAMBDA_JOBS_CONFIG", raising=False)
    (message,) = run_checks({})
    assert message.id == "lambda_jobs.E001"
    assert message.msg == "TASKS['jobs'] has no lambda-jobs client configuration."
    assert "OPTIONS['config'] or the LAMBDA_JOBS_CONFIG environment variable" in message.hint


def test_check_e002_invalid_client_configuration_from_environment(
    run_checks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_config_env(monkeypatch, '{"version": 1, "backend": "sheep"}')
    (message,) = run_checks({})
    assert message.id == "lambda_jobs.E002"
    assert message.msg == (
        "TASKS['jobs']: LAMBDA_JOBS_CONFIG is not a usable lambda-jobs client configuration: "
        "LAMBDA_JOBS_CONFIG: backend must be 'goat' or 'lamb', got 'sheep'"
    )


def test_check_e002_invalid_client_configuration_in_options(run_checks: Any) -> None:
    (message,) = run_checks({"OPTIONS": {"config": "not json"}})
    assert message.id == "lambda_jobs.E002"
    assert message.msg.startswith(
        "TASKS['jobs']: TASKS['jobs']['OPTIONS']['config'] is not a usable lambda-jobs client "
        "configuration: LAMBDA_JOBS_CONFIG must be a JSON document"
    )


def test_check_e002_ssm_without_parameter_name(run_checks: Any) -> None:
    (message,) = run_checks({"OPTIONS": {"config": "ssm:"}})
    assert message.id == "lambda_jobs.E002"
    assert message.msg == (
        "TASKS['jobs']: TASKS['jobs']['OPTIONS']['config'] says 'ssm:' without a parameter name."
    )


def test_check_ssm_configuration_is_not_fetched(run_checks: Any) -> None:
    # No SSM endpoint answers here: a fetch would fail, so no message proves no fetch.
    assert run_checks({"QUEUES": ["anything"], "OPTIONS": {"config": "ssm:/app/jobs"}}) == []


def test_check_e003_unknown_option_keys(run_checks: Any) -> None:
    (message,) = run_checks({"OPTIONS": {"config": "inline", "retry": 3, "CONFIG": {}}})
    assert message.id == "lambda_jobs.E003"
    assert message.msg == "TASKS['jobs']['OPTIONS'] has unknown keys: CONFIG, retry."
    assert message.hint == (
        "Known keys: config, retries, retry_backoff, retry_backoff_max, retry_jitter, timeout."
    )


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"config": "inline", "retries": 100}, "OPTIONS: retries must be in 0..50"),
        ({"config": "inline", "timeout": 0}, "OPTIONS: timeout must be more than 0"),
        ({"config": 42}, "OPTIONS['config'] must be the client configuration as a dict"),
    ],
)
def test_check_e004_invalid_option_values(run_checks: Any, options: Any, text: str) -> None:
    messages = run_checks({"OPTIONS": options})
    assert "lambda_jobs.E004" in ids(messages)
    (message,) = [m for m in messages if m.id == "lambda_jobs.E004"]
    assert message.msg.startswith(f"TASKS['jobs']: {text}")


def test_check_e004_reports_every_bad_option_value_not_only_the_first(run_checks: Any) -> None:
    messages = run_checks({"OPTIONS": {"config": "inline", "retries": -1, "timeout": 5000}})

    texts = [m.msg for m in messages if m.id == "lambda_jobs.E004"]
    assert texts == [
        "TASKS['jobs']: OPTIONS: retries must be in 0..50 (attempts after the first), got -1",
        "TASKS['jobs']: OPTIONS: timeout must be more than 0 and at most 900 s (Lambda's limit), "
        "got 5000",
    ]


def test_check_e004_options_not_a_dict(run_checks: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    use_config_env(monkeypatch, "inline")
    (message,) = run_checks({"OPTIONS": ["config"]})
    assert message.id == "lambda_jobs.E004"
    assert message.msg == "TASKS['jobs']: OPTIONS must be a dict, got list"


def test_check_e005_queues_the_backend_does_not_have(run_checks: Any) -> None:
    (message,) = run_checks(
        {"QUEUES": ["default", "reports", "bulk"], "OPTIONS": {"config": goat_document()}}
    )
    assert message.id == "lambda_jobs.E005"
    assert message.msg == (
        "TASKS['jobs']['QUEUES'] names queues the lambda-jobs backend does not have: bulk, reports."
    )
    assert message.hint.startswith(
        "Its configuration (TASKS['jobs']['OPTIONS']['config']) has: default, emails."
    )


def test_check_e006_queue_name_not_valid(run_checks: Any) -> None:
    (message,) = run_checks({"QUEUES": ["bad name"], "OPTIONS": {"config": "inline"}})
    assert message.id == "lambda_jobs.E006"
    assert message.msg.startswith(
        "TASKS['jobs']['QUEUES'] entry 'bad name': queue_name must be 1-64 characters"
    )


def test_check_w001_config_in_options_and_environment(
    run_checks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_config_env(monkeypatch, "inline")
    (message,) = run_checks({"OPTIONS": {"config": goat_document()}})
    assert message.id == "lambda_jobs.W001"
    assert message.msg == (
        "TASKS['jobs']['OPTIONS']['config'] is set, so LAMBDA_JOBS_CONFIG is ignored by this "
        "backend."
    )
