"""App config: connects the signal receivers when Django is set up."""

from __future__ import annotations

from django.apps import AppConfig


class DjappConfig(AppConfig):
    name = "tests.django.djapp"
    label = "djapp"

    def ready(self) -> None:
        from tests.django.djapp import receivers

        receivers.connect()
