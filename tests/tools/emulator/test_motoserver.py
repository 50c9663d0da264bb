"""The emulator's moto server is its own: bound by its own process, and a failed start says why.

``lambda-jobs local`` used to pick a free port, then start moto on it: another server taking the
port in between was adopted ("ready"), while its own moto exited 1 with its error discarded. Now
moto binds port 0 itself and reports the port it got, and a start that fails raises with moto's
own stderr.
"""

from __future__ import annotations

import socket

import pytest
from lambda_jobs_tools.emulator import motoserver
from lambda_jobs_tools.emulator.motoserver import MotoServer, MotoStartError

from tests.conftest import boto_client


def test_a_port_taken_meanwhile_is_never_adopted(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race made certain: the "free" port is the session's moto server's.
    monkeypatch.setattr(motoserver, "free_port", lambda: moto.port)
    with MotoServer() as own:
        assert own.port != moto.port
        assert own.process.poll() is None  # its own server runs, and answers
        boto_client(own, "sqs").create_queue(QueueName="only-in-own")
        names = boto_client(moto, "sqs").list_queues().get("QueueUrls", [])
        assert not [url for url in names if url.endswith("/only-in-own")]


def test_a_failed_start_reports_moto_s_own_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(MotoStartError) as failed:
            MotoServer(port=port)
    text = str(failed.value)
    assert text.startswith("moto_server exited with code 1; moto_server said:")
    assert "Address already in use" in text
