"""Shared fixtures: one moto server per test session, reset between tests.

Tests talk to it over real HTTP with boto3 (``endpoint_url``); nothing in AWS is mocked in-process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from lambda_jobs import aws
from lambda_jobs_tools.emulator.motoserver import MotoServer

REGION = "us-east-1"

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto_server process for the whole session (started once: ~0.6 s)."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """The session's moto server, emptied, with AWS environment variables pointing at it."""
    moto_server.reset()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    aws.reset()
    yield moto_server
    aws.reset()


def boto_client(server: MotoServer, service: str) -> Any:
    """A plain boto3 client for checking what the server holds (not the code under test)."""
    import boto3

    return boto3.client(  # type: ignore[call-overload]  # boto3-stubs want a literal name
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


#: The first pass of ``make test`` hands whole files to four xdist workers in collection order;
#: the files that start emulators (and synthesize apps) come first, so the long ones do not start
#: last and leave three workers idle at the end (longest first: the least time to finish them all).
_FIRST = ("tests/soak/", "tests/e2e/", "tests/tools/", "tests/django/", "tests/constructs/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((i for i, prefix in enumerate(_FIRST) if path.startswith(prefix)), len(_FIRST))

    items.sort(key=rank)  # stable: a file's tests keep their order
