"""``lambda-jobs local`` options: every wrong value is refused with a message naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from lambda_jobs_tools.cli import main

from tests.tools.emulator.assembly_fixture import write_assembly


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "NOVALUE"], "--env 'NOVALUE': expected NAME=VALUE"),
        (["--env", "1X=y"], "--env '1X=y': expected NAME=VALUE"),
        (["--async-retry-scale", "fast"], "--async-retry-scale 'fast': expected a number"),
        (["--async-retry-scale", "-1"], "--async-retry-scale '-1': must be between 0 and 10"),
        (["--schedule-clock-scale", "x"], "--schedule-clock-scale 'x': expected a number"),
        (["--schedule-clock-scale", "0.5"], "--schedule-clock-scale '0.5': must be between 1 and"),
        (["--concurrency", "0"], "--concurrency '0': must be between 1 and 64"),
        (["--concurrency", "many"], "--concurrency 'many': expected a whole number"),
    ],
)
def test_bad_option_value_is_named(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", *args]) == 2
    assert message in capsys.readouterr().err


def test_missing_assembly_says_to_synthesize(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "--app", str(tmp_path / "missing")]) == 1
    assert "no such directory; run `cdk synth`" in capsys.readouterr().err


def test_unknown_stack_is_named_with_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = write_assembly(tmp_path / "cdk.out")
    assert main(["local", "--app", str(app), "--stack", "Nope"]) == 1
    assert "no stack named Nope" in capsys.readouterr().err


def test_help_lists_the_local_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "local" in capsys.readouterr().out


def test_unknown_caller_role_is_named_with_the_stacks_roles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = write_assembly(tmp_path / "cdk.out")
    assert main(["local", "--app", str(app), "--caller-role", "Nope"]) == 1
    err = capsys.readouterr().err
    assert "--caller-role: no role 'Nope' in the emulated stacks; their roles: " in err


def test_help_states_each_option_s_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["local", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    assert "by FACTOR, 0 to 10;" in text  # --async-retry-scale
    assert "from the emulator's start, 1 to 3600;" in text  # --schedule-clock-scale
    assert "reserves no concurrency, 1 to 64;" in text  # --concurrency
