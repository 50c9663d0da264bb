"""Django's contract where lambda-jobs had its own answer (issues 26 and 31).

What Django's own tests assert, and what these check against ``LambdaJobsBackend``:

- an argument that is not JSON raises ``TypeError`` containing "Unsupported type" (Django's
  ``test_enqueue_with_invalid_argument``); ours is also an ``InvalidTask``;
- arguments that do not fit the function's signature are refused at enqueue (Django does not
  check this; Python's own word for it is ``TypeError``): the same ``InvalidTaskArguments``;
- ``get_result`` of an id no job can have raises ``TaskResultDoesNotExist`` (Django's
  ``test_get_missing_result`` passes an int too);
- ``TaskError.exception_class`` resolves to the class for the runtime's own error types.

Every refusal here happens before a request: the configurations point at nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.django.test_validate_task import BACKEND, goat_document


@pytest.fixture
def use_backend(tasks_setting: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    def use(config: Any) -> None:
        tasks_setting({"default": {"BACKEND": BACKEND, "OPTIONS": {"config": config}}})

    return use


# Arguments ----------------------------------------------------------------------------------------


def test_arguments_that_do_not_fit_the_signature_are_refused_as_invalid_task_and_type_error(
    use_backend: Any,
) -> None:
    from django.tasks.exceptions import InvalidTask

    from tests.django.djapp.tasks import add_two, flaky

    use_backend(goat_document())

    with pytest.raises(InvalidTask) as missing:
        add_two.enqueue(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError) as extra:
        add_two.enqueue(1, 2, c=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError) as with_context:
        flaky.enqueue("/tmp/x")  # takes_context: bound without ``context``

    assert str(missing.value) == (
        "Task tests.django.djapp.tasks.add_two: the arguments do not fit the task's signature: "
        "missing a required argument: 'b'; it takes (a, b). Nothing was sent"
    )
    assert "got an unexpected keyword argument 'c'" in str(extra.value)
    assert "missing a required argument: 'succeed_on'" in str(with_context.value)
    assert "it takes (path, succeed_on)" in str(with_context.value)


def test_aenqueue_refuses_them_too(use_backend: Any) -> None:
    from django.tasks.exceptions import InvalidTask

    from tests.django.djapp.tasks import add_two

    use_backend(goat_document())
    with pytest.raises(InvalidTask, match="missing a required argument: 'b'"):
        asyncio.run(add_two.aenqueue(1))  # type: ignore[call-arg]


def test_the_opt_out_sends_them_as_given(use_backend: Any) -> None:
    from django.tasks import TaskResultStatus

    from tests.django.djapp.tasks import add_two_unchecked

    use_backend("inline")  # the job runs here: the function itself refuses the call

    result = add_two_unchecked.enqueue(1, 2, 3)

    assert result.status == TaskResultStatus.FAILED
    (error,) = result.errors
    assert error.exception_class is TypeError
    assert "takes 2 positional arguments but 3 were given" in error.traceback


@pytest.mark.parametrize("send", ["enqueue", "aenqueue"])
def test_an_argument_that_is_not_json_raises_type_error_unsupported_type(
    use_backend: Any, send: str
) -> None:
    from django.tasks.exceptions import InvalidTask

    from tests.django.djapp.tasks import write_text

    use_backend(goat_document())
    with pytest.raises(TypeError, match="Unsupported type") as caught:
        if send == "enqueue":
            write_text.enqueue("/tmp/x", datetime.now(UTC))  # type: ignore[arg-type]
        else:
            asyncio.run(write_text.aenqueue("/tmp/x", datetime.now(UTC)))  # type: ignore[arg-type]

    assert isinstance(caught.value, InvalidTask)
    assert "positional argument 1 is not JSON" in str(caught.value)


# Results ------------------------------------------------------------------------------------------


def store_document() -> dict[str, Any]:
    return goat_document(
        job_store={"table": "jobs", "ttl_seconds": 3600},
        endpoints={"dynamodb": "http://127.0.0.1:1"},
    )


@pytest.mark.parametrize("result_id", ["", 123, None, "x" * 2049])
def test_get_result_of_an_impossible_id_raises_task_result_does_not_exist(
    use_backend: Any, result_id: Any
) -> None:
    from django.tasks import default_task_backend
    from django.tasks.exceptions import TaskResultDoesNotExist

    from tests.django.djapp.tasks import write_text

    use_backend(store_document())

    with pytest.raises(TaskResultDoesNotExist, match="a job id is a non-empty string"):
        default_task_backend.get_result(result_id)
    with pytest.raises(TaskResultDoesNotExist):
        asyncio.run(default_task_backend.aget_result(result_id))
    with pytest.raises(TaskResultDoesNotExist):
        write_text.get_result(result_id)


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("IncompleteAttempts", "lambda_jobs.errors.IncompleteAttempts"),
        ("lambda_jobs.ResultNotStored", "lambda_jobs.errors.ResultNotStored"),
        ("ValueError", "builtins.ValueError"),
        ("lambda_jobs.worker.coldstart.UnknownTaskError", None),
        ("lambda_jobs.errors.JobTimeoutError", "lambda_jobs.errors.JobTimeoutError"),
        ("SomethingNew", "lambda_jobs.errors.LambdaJobsError"),
    ],
)
def test_every_recorded_error_type_resolves_to_an_exception_class(
    error_type: str, expected: str | None
) -> None:
    from django.tasks.base import TaskError
    from lambda_jobs.django.backend import _class_path

    error = TaskError(exception_class_path=_class_path(error_type), traceback="")
    kind = error.exception_class  # Django raises ImportError/ValueError for a bad path

    assert issubclass(kind, BaseException)
    if expected is not None:
        assert f"{kind.__module__}.{kind.__qualname__}" == expected


def test_the_store_placeholder_is_not_a_traceback(tmp_path: Path) -> None:
    from lambda_jobs import config as client_config
    from lambda_jobs.jobstore.records import to_job

    config = client_config.parse(store_document())
    item = {
        "pk": "job-1",
        "task": "app.tasks.big",
        "status": "succeeded",
        "error_type": "lambda_jobs.ResultNotStored",
        "error_message": "the return value is 71,682 bytes as JSON, over the job store's limit",
        "error_traceback": "-",
    }

    job = to_job(item, config)

    assert job.error_traceback is None
    assert job.error_message is not None and "71,682 bytes" in job.error_message
