"""The same Django task, with a Lamb client configuration, becomes an async Invoke.

Only the configuration changes (``LAMBDA_JOBS_CONFIG``): the Django project's ``TASKS`` and tasks
stay as they are. Invokes go to the runtime tests' recording Lambda endpoint (real HTTP); delayed
jobs become schedules in moto's EventBridge Scheduler.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from lambda_jobs import envelope
from lambda_jobs.scheduling import one_time
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client
from tests.django.conftest import use_config_env
from tests.runtime.enqueue.test_lamb import HIGH, LambdaRecorder, lamb_document
from tests.runtime.enqueue_backends import SCHEDULE_GROUP


@pytest.fixture
def lamb(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaRecorder]:
    boto_client(moto, "scheduler").create_schedule_group(Name=SCHEDULE_GROUP)
    server = LambdaRecorder()
    use_config_env(monkeypatch, lamb_document(server.url))
    yield server
    server.stop()


def test_lamb_enqueue_of_django_task_invokes_the_lane_function_with_the_envelope(
    lamb: LambdaRecorder,
) -> None:
    from tests.django.djapp.tasks import flaky, write_text

    plain = write_text.enqueue("/tmp/l", "lamb")
    urgent = flaky.using(priority=90).enqueue("/tmp/f", 1)

    calls = {call.envelope.id: call for call in lamb.invocations}
    assert calls[plain.id].function == "jobs-default-low"
    assert calls[plain.id].invocation_type == "Event"
    assert calls[plain.id].envelope.task == "tests.django.djapp.tasks.write_text"
    assert calls[urgent.id].function == "jobs-default-high"
    assert calls[urgent.id].envelope.overrides["retries"] == 2


def test_lamb_delayed_django_task_becomes_a_schedule_delivering_the_envelope(
    lamb: LambdaRecorder, moto: MotoServer
) -> None:
    from django.utils import timezone

    from tests.django.djapp.tasks import write_text

    result = write_text.using(
        run_after=timezone.now() + timedelta(minutes=30), priority=60
    ).enqueue("/tmp/s", "later")

    assert lamb.invocations == []
    scheduler = boto_client(moto, "scheduler")
    (listed,) = scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
    schedule = scheduler.get_schedule(Name=listed["Name"], GroupName=SCHEDULE_GROUP)
    assert schedule["Target"]["Arn"] == HIGH
    delivery = json.loads(schedule["Target"]["Input"])
    assert one_time.is_lamb_delivery(delivery)
    job = envelope.from_dict(delivery["job"])
    assert (job.id, job.task) == (result.id, "tests.django.djapp.tasks.write_text")
