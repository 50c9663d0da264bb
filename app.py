"""The demo CDK app: ``cdk synth`` / ``cdk deploy`` stands up ``GoatDemo`` and ``LambDemo``.

cdk-nag's AwsSolutions pack runs at synth: an unacknowledged finding fails the synth.
"""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.goat_demo import GoatDemoStack
from stacks.lamb_demo import LambDemoStack


def build_app(app: App | None = None) -> App:
    """Both demo stacks in ``app`` (a new ``App`` by default), with cdk-nag registered."""
    app = app if app is not None else App()
    GoatDemoStack(app, "GoatDemo")
    LambDemoStack(app, "LambDemo")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
