"""Every operations-command input a user can get wrong fails with a message naming the problem.

Pinned behaviour: bad JSON arguments, unknown task, unknown queue,
bad duration, bad priority, bad options, missing or unusable configuration, unknown job id,
unknown schedule.
"""

from __future__ import annotations

import pytest

from tests.tools.ops.conftest import TASKS, OpsBackend, cli_run

FLAKY = f"{TASKS}.flaky"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["enqueue", FLAKY, "--args", "[1,"], "--args is not valid JSON"),
        (["enqueue", FLAKY, "--args", '{"a": 1}'], "--args must be a JSON array"),
        (["enqueue", FLAKY, "--kwargs", "[1]"], "--kwargs must be a JSON object"),
        (["enqueue", FLAKY, "--kwargs", "{bad"], "--kwargs is not valid JSON"),
        (
            ["enqueue", f"{TASKS}.nope"],
            f"unknown task '{TASKS}.nope': {TASKS} does not register it; it registers: "
            f"{TASKS}.flaky, {TASKS}.ordered",
        ),
        (["enqueue", "nowhere_pkg.tasks.send"], "cannot import a module of task"),
        (["enqueue", "send"], "is not a dotted task name"),
        (
            ["enqueue", "tests.tools.ops.broken_module.job"],
            "importing tests.tools.ops.broken_module",
        ),
        (
            ["enqueue", FLAKY, "--args", '["x"]', "--queue", "mail"],
            "unknown queue 'mail'; this goat backend has: default, ordered",
        ),
        (["enqueue", FLAKY, "--args", '["x"]', "--priority", "high"], "--priority 'high'"),
        (["enqueue", FLAKY, "--args", '["x"]', "--priority", "500"], "priority must be in"),
        (["enqueue", FLAKY, "--args", '["x"]', "--delay", "soon"], "--delay 'soon' is not a"),
        (["enqueue", FLAKY, "--args", '[{"a": NaN}]'], "argument"),
        (
            ["enqueue", FLAKY, "--args", '["x", "y"]'],
            "2 positional arguments given, at most 1 accepted; it takes (path)",
        ),
        (["dlq", "redrive", "--older-than", "3 fortnights"], "--older-than '3 fortnights'"),
        (["dlq", "redrive", "--older-than", ""], "is not a duration"),
        (["dlq", "redrive", "--visibility-timeout", "x"], "--visibility-timeout 'x'"),
        (["dlq", "redrive", "--visibility-timeout", "0"], "between 1 and 43200"),
        (["dlq", "redrive", "--move-task", "--task", FLAKY], "cannot be combined with --task"),
        (["dlq", "redrive", "--move-task"], "exactly one lane (it has 3)"),
        (["dlq", "show", "no-such-job"], "no dead-lettered job with id 'no-such-job'"),
        (["status", "--config", "/nonexistent/config.json"], "--config '/nonexistent/config.json'"),
        (["status", "--config", "inline"], "--config is 'inline'"),
        (["schedules", "run", "nope"], "no recurring schedule 'nope' in group"),
        (["schedules", "--config", "inline"], "--config is 'inline'"),
        (["status", "--config", '{"version": 2}'], "version 2 is not supported"),
        # Errors in a --config value name --config, not the variable.
        (["status", "--config", '{"version": 2}'], "--config: version 2 is not supported"),
        (["dlq", "list", "--config", "{bad"], "--config is not valid JSON"),
        (["dlq", "list", "--config", "ssm:"], "--config=ssm: needs a parameter name"),
        (["dlq", "list", "--config", ""], "--config '': expected the JSON document"),
        (
            ["status", "--config", '{"version": 1, "backend": "goat", "queues": {}}'],
            "--config: queues must name at least one queue",
        ),
        # Job ids are checked before any request (DynamoDB would answer ValidationException).
        (["jobs", "show", ""], "ID '' is not a job id: expected the id `enqueue` printed"),
        (["jobs", "show", "a b"], "ID 'a b' is not a job id"),
        (["jobs", "cancel", ""], "ID '' is not a job id"),
        (["jobs", "show", "x" * 3000], "is not a job id"),
        (["dlq", "show", ""], "ID '' is not a job id"),
        (["jobs", "failures", ""], "TASK '' is not a task name"),
        (["jobs", "failures", FLAKY, "--limit", "x"], "--limit must be a whole number 1..1000"),
        # No job store in this configuration: said plainly, exit status 2.
        (["jobs", "show", "some-id"], "has no job store: deploy it with job_store=JobStore"),
    ],
)
def test_input_error_names_the_problem(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
):
    status, out, err = cli_run(capsys, *argv)
    assert status == 2
    assert expected in err
    assert out == ""


def test_unset_configuration_is_named(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("LAMBDA_JOBS_CONFIG")
    for argv in (["dlq", "list"], ["status"], ["jobs", "show", "x"], ["schedules"]):
        status, _, err = cli_run(capsys, *argv)
        # The hint names both ways in, and not 'inline' (which these commands refuse).
        assert status == 2, argv
        assert "no client configuration: pass --config" in err
        assert "or set LAMBDA_JOBS_CONFIG" in err and "inline" not in err


def test_errors_in_a_config_file_name_the_file(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "config.json"
    path.write_text('{"version": 1, "backend": "goat"}')
    status, out, err = cli_run(capsys, "status", "--config", str(path))
    assert status == 2 and out == ""
    assert f"--config '{path}': the document is missing 'queues'" in err
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", '{"version": 1, "backend": "goat"}')
    status, _, err = cli_run(capsys, "status")  # from the variable: the variable is named
    assert status == 2 and "LAMBDA_JOBS_CONFIG: the document is missing 'queues'" in err


def test_purge_without_a_terminal_says_to_pass_yes_and_deletes_nothing(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    import io

    goat.sqs.send_message(QueueUrl=goat.dlq_url, MessageBody="{}")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: nothing can be asked
    status, _, err = cli_run(capsys, "dlq", "purge")
    assert status == 2
    assert "stdin is not a terminal, so it cannot ask: pass --yes" in err
    assert "answer y at the prompt" not in err
    goat.wait_visible(goat.dlq_url, 1, timeout=5)


def test_config_file_path_is_read(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("LAMBDA_JOBS_CONFIG")
    path = tmp_path / "config.json"
    path.write_text(goat.config)
    status, out, err = cli_run(capsys, "status", "--config", str(path), "--json")
    assert status == 0, err
    assert "jobs-low" in out


def test_move_task_is_refused_on_lamb(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    import json

    document = goat.document | {"backend": "lamb"}
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", json.dumps(document))
    status, _, err = cli_run(capsys, "dlq", "redrive", "--move-task")
    assert status == 2 and "--move-task works on Goat backends only" in err


def test_name_only_enqueue_sends_without_importing(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str]
):
    status, out, err = cli_run(
        capsys,
        "enqueue",
        "elsewhere.tasks.report",
        "--name-only",
        "--args",
        "[7]",
        "--priority",
        "20",
    )
    assert status == 0, err
    [message] = goat.drain(goat.high_url)
    import json

    body = json.loads(message["Body"])
    assert (body["id"], body["task"], body["args"]) == (out.strip(), "elsewhere.tasks.report", [7])


def test_move_task_on_moto_says_it_is_not_implemented_there(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    import json

    document = goat.document
    document["queues"] = {
        "default": {
            "fifo": False,
            "lanes": [
                {
                    "min_priority": -100,
                    "max_priority": 100,
                    "target": goat.low_url,
                    "arn": goat.low_arn,
                }
            ],
        }
    }
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", json.dumps(document))
    status, _, err = cli_run(capsys, "dlq", "redrive", "--move-task")
    assert status == 2
    assert "does not implement SQS StartMessageMoveTask" in err
