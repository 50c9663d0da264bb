"""``validate_task`` (and ``enqueue``) reject what the backend cannot run, by name.

Each test sets ``TASKS`` to a backend with an in-settings client configuration (nothing is sent:
every rejection happens before a request), declares a task with Django's ``@task`` and asserts
the ``InvalidTask`` message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.runtime.enqueue_backends import config_document, lane

BACKEND = "lambda_jobs.django.LambdaJobsBackend"


def plain(path: str) -> None:
    """A module-level function to declare as a task in the tests below."""


def with_context(context: Any, path: str) -> None:
    """A module-level function taking a context."""


def goat_document(
    *, scheduler: bool = False, backend: str = "goat", **extra: Any
) -> dict[str, Any]:
    target = "http://127.0.0.1:1/123456789012/q" if backend == "goat" else "arn:aws:lambda:fn"
    return config_document(
        backend,
        {
            "default": {"fifo": False, "lanes": [lane(-100, 100, target, "arn:aws:sqs:q")]},
            "emails": {"fifo": False, "lanes": [lane(-100, 100, target, "arn:aws:sqs:e")]},
        },
        scheduler=scheduler,
        **extra,
    )


@pytest.fixture
def use_backend(tasks_setting: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    def use(config: Any = None, queues: list[str] | None = None, **options: Any) -> None:
        params: dict[str, Any] = {"BACKEND": BACKEND, "OPTIONS": dict(options)}
        if config is not None:
            params["OPTIONS"]["config"] = config
        if queues is not None:
            params["QUEUES"] = queues
        tasks_setting({"default": params})

    return use


def test_validate_rejects_a_function_defined_in_a_local_scope(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend(goat_document())

    def local(path: str) -> None: ...

    with pytest.raises(InvalidTask, match="Task function must be defined at a module level"):
        task(local)


def test_validate_rejects_takes_context_without_context_parameter(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend(goat_document())
    with pytest.raises(InvalidTask, match="first argument of 'context'"):
        task(takes_context=True)(plain)  # type: ignore[arg-type]


def test_validate_rejects_queue_not_in_queues_setting(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend(goat_document(), queues=["default"])
    with pytest.raises(
        InvalidTask, match=r"Queue 'emails' is not in TASKS\['default'\]\['QUEUES'\] \(default\)"
    ):
        task(queue_name="emails")(plain)


def test_validate_rejects_queue_the_backend_config_does_not_have(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend(goat_document())
    declared = task(plain)
    with pytest.raises(
        InvalidTask,
        match=r"Queue 'reports' is not a queue of this lambda-jobs backend "
        r"\(TASKS\['default'\]\['OPTIONS'\]\['config'\]\); it has: default, emails",
    ):
        declared.using(queue_name="reports")


def test_validate_rejects_invalid_queue_name_with_inline_config(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend("inline")
    with pytest.raises(InvalidTask, match="queue_name must be 1-64 characters"):
        task(queue_name="no spaces")(plain)


def test_validate_rejects_priority_out_of_range(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend(goat_document())
    with pytest.raises(InvalidTask, match="priority must be a whole number between -100 and 100"):
        task(priority=101)(plain)


def test_validate_rejects_naive_run_after(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend(goat_document())
    with pytest.raises(InvalidTask, match="run_after must be an aware datetime"):
        task(plain).using(run_after=datetime(2030, 1, 1))


def test_validate_rejects_naive_run_after_also_without_use_tz(use_backend: Any) -> None:
    from datetime import UTC

    from django.tasks import task
    from django.tasks.exceptions import InvalidTask
    from django.test import override_settings

    use_backend(goat_document())
    with override_settings(USE_TZ=False):
        declared = task(plain)
        with pytest.raises(
            InvalidTask, match=r"run_after must be an aware datetime .* also with USE_TZ = False"
        ):
            declared.using(run_after=datetime(2030, 1, 1))
        later = declared.using(run_after=datetime.now(UTC) + timedelta(seconds=60))
    assert later.run_after is not None


def test_validate_rejects_run_after_over_the_max_delay(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask
    from django.utils import timezone

    use_backend(goat_document())  # Goat without a scheduler: 900 s at most
    with pytest.raises(
        InvalidTask,
        match=r"run_after is 3600 s away; this backend accepts delays of at most 900 s "
        r"\(max_delay_seconds\)\. Deploy the backend with a scheduler",
    ):
        task(plain).using(run_after=timezone.now() + timedelta(seconds=3600))


def test_validate_rejects_delay_on_fifo_queue_without_scheduler(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask
    from django.utils import timezone

    document = goat_document()
    document["queues"]["emails"]["fifo"] = True
    use_backend(document)
    with pytest.raises(
        InvalidTask,
        match=r"Queue 'emails' is FIFO and SQS FIFO queues take no per-message delay, so "
        r"run_after needs EventBridge Scheduler",
    ):
        task(queue_name="emails")(plain).using(run_after=timezone.now() + timedelta(seconds=60))


def test_validate_rejects_any_delay_on_lamb_without_scheduler(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask
    from django.utils import timezone

    use_backend(goat_document(backend="lamb"))
    with pytest.raises(InvalidTask, match="accepts delays of at most 0 s"):
        task(plain).using(run_after=timezone.now() + timedelta(seconds=60))


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"retries": 51}, "retries must be in 0..50"),
        ({"retries": "3"}, "retries must be an integer in 0..50"),
        ({"timeout": 901}, "timeout must be more than 0 and at most 900 s"),
        ({"timeout": "1m"}, "timeout must be seconds"),
        ({"retry_backoff": 0}, "retry_backoff must be more than 0"),
        ({"retry_backoff": 10, "retry_backoff_max": 5}, "retry_backoff_max must be between"),
        ({"retry_jitter": "yes"}, "retry_jitter must be True or False"),
    ],
)
def test_validate_rejects_task_options_out_of_range(
    use_backend: Any, option: dict[str, Any], message: str
) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend(goat_document())
    with pytest.raises(InvalidTask, match=rf"Task {__name__}\.plain: {message}"):
        task(**option)(plain)


def test_task_options_combine_with_backend_defaults(use_backend: Any) -> None:
    from django.tasks import task
    from lambda_jobs.django import LambdaJobsBackend

    use_backend(goat_document(), retries=4, timeout=timedelta(seconds=20))
    declared = task(retries=1)(plain)  # type: ignore[call-overload]
    backend = declared.get_backend()
    assert isinstance(backend, LambdaJobsBackend)
    options = backend.job_options(declared)
    assert (options.retry.retries, options.timeout) == (1, 20.0)


def test_enqueue_rejects_non_json_argument_naming_it(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend(goat_document())
    declared = task(plain)
    with pytest.raises(
        InvalidTask,
        match=rf"Task {__name__}\.plain: keyword argument 'path' is not JSON "
        r"\(Unsupported type: <class 'object'>\)",
    ):
        declared.enqueue(path=object())  # type: ignore[arg-type]


def test_enqueue_rejects_non_finite_float_naming_the_argument(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend(goat_document())
    with pytest.raises(
        InvalidTask, match=r"positional argument 0 is not JSON: the float nan has no JSON form"
    ):
        task(plain).enqueue(float("nan"))  # type: ignore[arg-type]


def test_enqueue_rejects_payload_over_the_backend_limit(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTask

    use_backend(goat_document(max_payload_bytes=1024))
    with pytest.raises(InvalidTask, match=r"over the goat backend's limit of 1,024 bytes"):
        task(plain).enqueue("x" * 2000)


def test_enqueue_without_any_client_config_names_the_variable(
    use_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTaskBackend

    monkeypatch.delenv("LAMBDA_JOBS_CONFIG", raising=False)
    use_backend()
    with pytest.raises(
        InvalidTaskBackend,
        match=r"TASKS\['default'\]: LAMBDA_JOBS_CONFIG is not a usable lambda-jobs client "
        r"configuration: LAMBDA_JOBS_CONFIG is not set",
    ):
        task(plain).enqueue("/tmp/x")


def test_enqueue_with_invalid_options_config_names_the_problem(use_backend: Any) -> None:
    from django.tasks import task
    from django.tasks.exceptions import InvalidTaskBackend

    document = goat_document()
    document["version"] = 2
    use_backend(document)
    with pytest.raises(
        InvalidTaskBackend,
        match=r"TASKS\['default'\]\['OPTIONS'\]\['config'\] is not a usable lambda-jobs client "
        r"configuration: LAMBDA_JOBS_CONFIG: version 2 is not supported",
    ):
        task(plain).enqueue("/tmp/x")


def test_declaring_with_context_parameter_is_accepted(use_backend: Any) -> None:
    from django.tasks import task

    use_backend(goat_document())
    declared = task(takes_context=True)(with_context)
    assert declared.takes_context
