"""Construct-test fixtures: the demo app, synthesized once per session (one node process).

Synthesizing costs seconds, so every test module that looks at the demo stacks shares one
in-process synth; modules that need their own stacks build one ``App`` per module.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

DEMO_STACKS = ("GoatDemo", "LambDemo")


class DemoAssembly:
    """The demo app (with cdk-nag registered, as ``app.py`` builds it) and its templates."""

    def __init__(self, app: Any, outdir: Path) -> None:
        self.app = app
        self.outdir = outdir
        self.templates: dict[str, dict[str, Any]] = {
            name: json.loads((outdir / f"{name}.template.json").read_text()) for name in DEMO_STACKS
        }


@pytest.fixture(scope="session")
def demo_assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoAssembly]:
    from aws_cdk import App

    from app import build_app

    outdir = tmp_path_factory.mktemp("demo-cdk-out")
    app = build_app(App(outdir=str(outdir), analytics_reporting=False))
    app.synth()
    yield DemoAssembly(app, outdir)
