"""Execution environments run the staged image code under the real awslambdaric, one invocation
at a time, are reused while warm, and die at their deadline."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import lambda_jobs
from lambda_jobs_tools.emulator.environments import ExecutionEnvironment, FunctionPool
from lambda_jobs_tools.emulator.topology import FunctionSpec


def test_environment_imports_the_staged_runtime_and_sets_lambda_variables(
    function: FunctionSpec,
) -> None:
    env = ExecutionEnvironment(function, base_environment={"AWS_REGION": "us-east-1"})
    try:
        names = ["FROM_TEMPLATE", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT"]
        result = env.invoke(json.dumps({"env": names}).encode(), request_id="r1")
        assert result.ok, result.body
        body = json.loads(result.body)
        assert body["lambda_jobs"].startswith(str(function.code_dir / "runtime"))
        repository = Path(lambda_jobs.__file__).parents[2]
        assert str(repository) not in body["sys_path"]
        assert str(repository / "runtime") not in body["sys_path"]
        assert body["env"] == {
            "FROM_TEMPLATE": "yes",
            "AWS_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": "probe-fn",
            "LAMBDA_TASK_ROOT": str(function.code_dir / "project"),
        }
        assert 0 < body["remaining_ms"] <= 2000
    finally:
        env.stop()


def test_env_option_wins_over_the_template_and_the_emulator_base(function: FunctionSpec) -> None:
    """``--env`` (the pool's override) beats the template's variables, which beat the emulator's
    base ones; an empty override is set empty (``--env LAMBDA_JOBS_JOB_TABLE=`` turns the
    job store off although the template names a table)."""
    pool = FunctionPool(
        function,
        concurrency=1,
        base_environment={"FROM_TEMPLATE": "base", "AWS_REGION": "us-east-1", "ONLY_BASE": "b"},
        override_environment={"FROM_TEMPLATE": "", "AWS_REGION": "eu-west-1"},
    )
    stop = threading.Event()
    try:
        with pool.lease(stop) as env:
            assert env is not None
            names = ["FROM_TEMPLATE", "AWS_REGION", "ONLY_BASE"]
            result = env.invoke(json.dumps({"env": names}).encode(), request_id="r1")
        assert result.ok, result.body
        assert json.loads(result.body)["env"] == {
            "FROM_TEMPLATE": "",
            "AWS_REGION": "eu-west-1",
            "ONLY_BASE": "b",
        }
        plain = ExecutionEnvironment(function, base_environment={"FROM_TEMPLATE": "base"})
        try:
            body = plain.invoke(json.dumps({"env": ["FROM_TEMPLATE"]}).encode(), request_id="r2")
            assert json.loads(body.body)["env"] == {"FROM_TEMPLATE": "yes"}, "template wins"
        finally:
            plain.stop()
    finally:
        pool.stop()


def test_invocation_past_the_timeout_kills_the_environment(function: FunctionSpec) -> None:
    env = ExecutionEnvironment(function, base_environment={})
    try:
        result = env.invoke(b'{"sleep": 5}', request_id="slow")
        assert result.timed_out
        assert env.process.poll() is not None
        assert not env.alive
    finally:
        env.stop()


def test_pool_reuses_warm_environments_and_caps_them_at_the_concurrency(
    function: FunctionSpec,
) -> None:
    pool = FunctionPool(function, concurrency=2, base_environment={})
    stop = threading.Event()
    pids: list[int] = []

    def run(payload: bytes) -> None:
        with pool.lease(stop) as env:
            assert env is not None
            pids.append(json.loads(env.invoke(payload, request_id="x").body)["pid"])

    try:
        run(b"{}")
        run(b"{}")
        assert pids[0] == pids[1], "a warm environment is reused"
        threads = [threading.Thread(target=run, args=(b'{"sleep": 0.5}',)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(set(pids)) == 2, "at most two environments for concurrency 2"
        assert len(pool.pids) == 2
    finally:
        pool.stop()
    assert pool.pids == []
