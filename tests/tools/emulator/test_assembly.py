"""Reading cdk.out: stacks, templates, image assets; a wrong --app or --stack is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from lambda_jobs_tools.emulator.assembly import AssemblyError, read_assembly
from lambda_jobs_tools.emulator.image import read_image

from tests.tools.emulator.assembly_fixture import ASSET_HASH, STACK, write_assembly


def test_stack_template_region_and_image_asset_are_read(tmp_path: Path) -> None:
    (stack,) = read_assembly(write_assembly(tmp_path / "cdk.out"))
    assert stack.name == STACK
    assert stack.region is None  # environment-agnostic
    assert "Work" in stack.template["Resources"]
    asset = stack.image_assets[ASSET_HASH]
    assert asset.directory == (tmp_path / "cdk.out" / f"asset.{ASSET_HASH}").resolve()
    assert asset.build_args == {"LAMBDA_JOBS_TASKS": "app.tasks"}


def test_image_env_takes_build_args_and_cmd_is_the_handler(tmp_path: Path) -> None:
    (stack,) = read_assembly(write_assembly(tmp_path / "cdk.out"))
    command, environment = read_image(stack.image_assets[ASSET_HASH])
    assert command == ["lambda_jobs.handler.handle"]
    assert environment == {"LAMBDA_JOBS_TASKS": "app.tasks", "EXTRA": "fixed"}


def test_missing_app_directory_says_to_synthesize(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match="no such directory; run `cdk synth`"):
        read_assembly(tmp_path / "nope")


def test_unknown_stack_lists_the_known_ones(tmp_path: Path) -> None:
    app = write_assembly(tmp_path / "cdk.out")
    with pytest.raises(AssemblyError, match=f"no stack named Other .*has: {STACK}"):
        read_assembly(app, ["Other"])


def test_manifest_that_is_not_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(AssemblyError, match=r"manifest\.json is not valid JSON"):
        read_assembly(tmp_path)


def test_assembly_without_stacks_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"artifacts": {}}')
    with pytest.raises(AssemblyError, match="holds no CloudFormation stacks"):
        read_assembly(tmp_path)


def test_missing_image_asset_folder_is_named(tmp_path: Path) -> None:
    import shutil

    app = write_assembly(tmp_path / "cdk.out")
    shutil.rmtree(app / f"asset.{ASSET_HASH}")  # the templates were copied, not the assets
    with pytest.raises(AssemblyError) as refused:
        read_assembly(app)
    assert str(refused.value) == (
        f"{app.resolve()} is incomplete: stack {STACK}'s image asset folder(s) "
        f"asset.{ASSET_HASH} (the functions' code) are missing; run `cdk synth` again (or copy "
        "the whole directory, not only the templates)"
    )


def test_missing_asset_manifest_is_named(tmp_path: Path) -> None:
    app = write_assembly(tmp_path / "cdk.out")
    (app / f"{STACK}.assets.json").unlink()
    with pytest.raises(AssemblyError, match=rf"is incomplete: stack {STACK}'s asset manifest"):
        read_assembly(app)
