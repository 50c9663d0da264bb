"""Reading a synthesized cloud assembly (``cdk.out``): its stacks, templates and image assets.

Only what the emulator needs: for each stack artifact its name, template, region (when the stack is
bound to one) and the directories of its Docker image assets, keyed by asset hash (the image tag
the template's ``ImageUri`` ends with). Errors name the file or stack that is wrong, since a user
who points ``--app`` at the wrong directory should learn that at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STACK_ARTIFACT = "aws:cloudformation:stack"
ASSET_MANIFEST_ARTIFACT = "cdk:asset-manifest"


class AssemblyError(ValueError):
    """The cloud assembly is missing, unreadable, or lacks a requested stack."""


@dataclass(frozen=True, slots=True)
class ImageAsset:
    """A staged Docker image build context and the build arguments CDK would pass."""

    directory: Path
    build_args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StackArtifact:
    """One stack of the assembly, as synthesized."""

    name: str
    """The CloudFormation stack name (``stackName`` property, else the artifact id)."""
    artifact_id: str
    template: dict[str, Any]
    region: str | None
    """The stack's region when it is environment-bound, else None (environment-agnostic)."""
    image_assets: dict[str, ImageAsset] = field(default_factory=dict)
    """Image asset hash (= image tag) -> its staged build context."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssemblyError(f"{path} does not exist") from None
    except ValueError as exc:
        raise AssemblyError(f"{path} is not valid JSON: {exc}") from exc


def _region(environment: Any) -> str | None:
    # "aws://<account>/<region>"; CDK writes "unknown-region" for environment-agnostic stacks.
    if not isinstance(environment, str) or not environment.startswith("aws://"):
        return None
    region = environment.removeprefix("aws://").partition("/")[2]
    return None if not region or region.startswith("unknown-") else region


def _image_assets(root: Path, manifest_file: Path) -> dict[str, ImageAsset]:
    assets: dict[str, ImageAsset] = {}
    document = _read_json(manifest_file)
    for asset_hash, asset in (document.get("dockerImages") or {}).items():
        source = asset.get("source") or {}
        directory = source.get("directory")
        if not isinstance(directory, str):
            continue
        build_args = source.get("dockerBuildArgs") or {}
        path = ImageAsset(
            directory=(root / directory).resolve(),
            build_args={str(k): str(v) for k, v in build_args.items()},
        )
        assets[asset_hash] = path
        for destination in (asset.get("destinations") or {}).values():
            tag = destination.get("imageTag")
            if isinstance(tag, str):
                assets[tag] = path
    return assets


RESYNTH = "run `cdk synth` again (or copy the whole directory, not only the templates)"


def _check_staged(root: Path, stack: str, image_assets: dict[str, ImageAsset]) -> None:
    """Refuse an assembly whose image build contexts are not all there (the functions' code).

    Without them every job would fail in a function that cannot start; better to say so now.
    """
    missing = sorted(
        {
            str(
                asset.directory.relative_to(root)
                if asset.directory.is_relative_to(root)
                else asset.directory
            )
            for asset in image_assets.values()
            if not asset.directory.is_dir()
        }
    )
    if missing:
        raise AssemblyError(
            f"{root} is incomplete: stack {stack}'s image asset folder(s) {', '.join(missing)} "
            f"(the functions' code) are missing; {RESYNTH}"
        )


def read_assembly(app: Path, stacks: list[str] | None = None) -> list[StackArtifact]:
    """The stacks of the assembly in ``app`` (all, or those named in ``stacks``, in that order).

    A name matches a stack's CloudFormation name or its artifact id (what ``cdk synth`` shows).
    """
    root = app.resolve()
    if not root.is_dir():
        raise AssemblyError(
            f"--app {app}: no such directory; run `cdk synth` (or `make synth`) first"
        )
    manifest = _read_json(root / "manifest.json")
    artifacts: dict[str, Any] = manifest.get("artifacts") or {}
    found: list[StackArtifact] = []
    for artifact_id, artifact in artifacts.items():
        if artifact.get("type") != STACK_ARTIFACT:
            continue
        properties = artifact.get("properties") or {}
        template_file = properties.get("templateFile")
        if not isinstance(template_file, str):
            raise AssemblyError(f"stack {artifact_id} in {root} has no templateFile")
        image_assets: dict[str, ImageAsset] = {}
        for dependency in artifact.get("dependencies") or []:
            dep = artifacts.get(dependency) or {}
            if dep.get("type") == ASSET_MANIFEST_ARTIFACT:
                file = (dep.get("properties") or {}).get("file")
                if isinstance(file, str):
                    if not (root / file).is_file():
                        raise AssemblyError(
                            f"{root} is incomplete: stack {artifact_id}'s asset manifest {file} "
                            f"is missing; {RESYNTH}"
                        )
                    image_assets.update(_image_assets(root, root / file))
        _check_staged(root, str(properties.get("stackName") or artifact_id), image_assets)
        found.append(
            StackArtifact(
                name=str(properties.get("stackName") or artifact_id),
                artifact_id=artifact_id,
                template=_read_json(root / template_file),
                region=_region(artifact.get("environment")),
                image_assets=image_assets,
            )
        )
    if not found:
        raise AssemblyError(f"{root} holds no CloudFormation stacks")
    if not stacks:
        return found
    by_name = {s.name: s for s in found} | {s.artifact_id: s for s in found}
    missing = [name for name in stacks if name not in by_name]
    if missing:
        known = ", ".join(sorted(s.name for s in found))
        raise AssemblyError(
            f"no stack named {', '.join(missing)} in {root}; the assembly has: {known}"
        )
    return [by_name[name] for name in stacks]
