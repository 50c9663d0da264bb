"""The job store's direct path for the claim and the outcome write (``jobstore.direct``).

Pinned behaviour: its Signature Version 4 headers are the ones botocore's ``SigV4Auth`` computes
for the same request and time (with and without a session token, default and explicit ports);
the worker sends its claims and outcome writes on it once botocore's first request has shown the
endpoint (the requests carry its User-Agent mark); an answer it does not interpret (throttling,
a 5xx, a 500 after DynamoDB wrote the item) hands the same request to botocore, and the job is
neither lost nor run twice nor counted twice, in a real Goat batch against moto behind a real
HTTP proxy that injects the faults (``tests/soak/fault_proxy.py``); a kept-alive connection the
server closed is reopened on the direct path.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from lambda_jobs import aws
from lambda_jobs.jobstore import direct
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.runtime import lambda_events as ev
from tests.runtime.job_table import TABLE, make_table
from tests.runtime.jobstore.test_claims import item
from tests.runtime.worker.test_goat import Goat, T
from tests.soak.fault_proxy import FaultProxy

UPDATE = "DynamoDB_20120810.UpdateItem"


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("https://dynamodb.eu-west-1.amazonaws.com/", "FQoGZXIvYXdzE-session-token"),
        ("https://dynamodb.eu-west-1.amazonaws.com/", None),
        ("http://127.0.0.1:4566/", None),
    ],
)
def test_signature_is_botocores_sigv4(url: str, token: str | None) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    route = direct._Route(url, region="eu-west-1", service="dynamodb", credentials=credentials)
    host = url.split("/")[2]
    body = json.dumps({"TableName": "jobs", "Key": {"pk": {"S": "é-id"}}}).encode()
    ours = route.headers(body)

    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": direct.CONTENT_TYPE, "X-Amz-Target": direct.TARGET},
    )
    request.context["timestamp"] = ours["X-Amz-Date"]  # botocore's signer at the same second
    signer: Any = SigV4Auth(credentials.get_frozen_credentials(), "dynamodb", "eu-west-1")
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signer._inject_signature_to_request(request, signature)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")
    assert ours["Host"] == host.removesuffix(":443")


def outage_of(faults: dict[str, tuple[str, str]]) -> Any:
    """The proxy's outage rule: ``faults[job id] = (request, fault)``, request ``claim`` or
    ``outcome`` (told apart by their update expressions)."""

    def outage(target: str, body: bytes) -> tuple[str, str] | None:
        if target != UPDATE:
            return None
        data = json.loads(body)
        found = faults.get(data["Key"]["pk"]["S"])
        if found is None:
            return None
        request, fault = found
        is_claim = "#lease_owner = :owner" in data["UpdateExpression"]
        if is_claim != (request == "claim"):
            return None
        return f"{request}:{data['Key']['pk']['S']}", fault

    return outage


@pytest.fixture
def proxied(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FaultProxy, Any, Goat]]:
    """A fault proxy in front of moto's DynamoDB; the table; a Goat worker with the job store
    whose DynamoDB endpoint is the proxy."""
    faults: dict[str, tuple[str, str]] = {}
    with FaultProxy(
        moto.url,
        rate=0.0,
        seed=22,
        outage=outage_of(faults),
        outage_seconds=0.05,  # within botocore's retries (25 ms base for DynamoDB)
        agent_mark=direct.USER_AGENT_MARK,
    ) as proxy:
        proxy.faults_by_job = faults  # type: ignore[attr-defined]
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        aws.reset()
        dynamodb = make_table(moto)
        yield proxy, dynamodb, Goat(moto, monkeypatch, LAMBDA_JOBS_JOB_TABLE=TABLE)
        aws.reset()


def test_claims_and_outcomes_go_direct_after_botocores_first_request(
    proxied: tuple[FaultProxy, Any, Goat],
    tmp_path: Path,
) -> None:
    proxy, dynamodb, goat = proxied
    jobs = [ev.envelope(T + "long_timeout", str(tmp_path / f"runs-{i}")) for i in range(4)]
    goat.send(*jobs)
    _, result = goat.run(4, ev.Context(remaining_ms=900_000))
    assert result == {"batchItemFailures": []}
    store = goat.runtime.store
    assert store is not None
    # The first claim taught the route; the 7 writes after it went direct.
    assert (store.direct.sent, store.direct.fallbacks) == (7, 0)
    assert proxy.agents[UPDATE, True, 200] == 7 and proxy.agents[UPDATE, False, 200] == 1
    for job in jobs:
        stored = item(dynamodb, job.id)
        assert (stored["status"], stored["attempt"]) == ("succeeded", 1)


@pytest.mark.parametrize(
    ("request_kind", "fault"),
    [
        ("claim", "lost_answer"),  # DynamoDB wrote the claim; the worker saw a 500
        ("claim", "5xx"),
        ("claim", "throttle"),
        ("outcome", "lost_answer"),
        ("outcome", "5xx"),
    ],
)
def test_an_error_answer_goes_through_botocore_and_the_job_runs_once_as_attempt_1(
    proxied: tuple[FaultProxy, Any, Goat],
    tmp_path: Path,
    request_kind: str,
    fault: str,
) -> None:
    proxy, dynamodb, goat = proxied
    first, faulty = (ev.envelope(T + "long_timeout", str(tmp_path / n)) for n in ("a", "b"))
    proxy.faults_by_job[faulty.id] = (request_kind, fault)  # type: ignore[attr-defined]
    goat.send(first, faulty)  # the first job's claim teaches the direct path the endpoint
    _, result = goat.run(2, ev.Context(remaining_ms=900_000))
    assert result == {"batchItemFailures": []}
    assert (tmp_path / "b").read_text().splitlines() == ["run"]  # ran once
    assert proxy.outages[f"{request_kind}:{faulty.id}"] >= 1  # the fault happened
    store = goat.runtime.store
    assert store is not None and store.direct.fallbacks == 1
    stored = item(dynamodb, faulty.id)
    assert (stored["status"], stored["attempt"]) == ("succeeded", 1)
    assert len(stored["workers"]) == 1  # one claim recorded, however often it was sent
    assert ev.queue_is_empty(goat.sqs, goat.url) and ev.queue_is_empty(goat.sqs, goat.dlq_url)


def test_a_refused_claim_goes_direct_and_is_read_from_the_answer(
    proxied: tuple[FaultProxy, Any, Goat],
    tmp_path: Path,
) -> None:
    proxy, dynamodb, goat = proxied
    job = ev.envelope(T + "long_timeout", str(tmp_path / "runs"))
    goat.send(job, job)  # delivered twice: the second claim is refused (finished)
    _, result = goat.run(2, ev.Context(remaining_ms=900_000))
    assert result == {"batchItemFailures": []}
    assert (tmp_path / "runs").read_text().splitlines() == ["run"]
    store = goat.runtime.store
    assert store is not None and (store.direct.sent, store.direct.fallbacks) == (2, 0)
    assert proxy.agents[UPDATE, True, 400] == 1  # refused, the item in the answer: no GetItem
    assert "DynamoDB_20120810.GetItem" not in {target for target, _, _ in proxy.agents}
    assert item(dynamodb, job.id)["attempt"] == 1


def test_a_kept_alive_connection_closed_by_the_server_is_reopened_on_the_direct_path() -> None:
    """The server closes each connection after its answer without saying so (as an idle
    connection is closed after a pause): the next request meets the closed connection, opens a
    new one and is answered there, without falling back to botocore."""
    import boto3
    from botocore.config import Config

    connections: list[int] = []

    class OneAnswerPerConnection(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            connections.append(1)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", direct.CONTENT_TYPE)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            self.close_connection = True  # closed, though the answer says keep-alive

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), OneAnswerPerConnection)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        client = boto3.session.Session().client(
            "dynamodb",
            region_name="eu-west-1",
            endpoint_url=url,
            aws_access_key_id="a",
            aws_secret_access_key="b",
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )
        path = direct.Direct(client)
        path._route = direct._Route(
            url, region="eu-west-1", service="dynamodb", credentials=Credentials("a", "b")
        )
        for _ in range(3):
            assert path.update_item({"TableName": "t", "Key": {"pk": {"S": "x"}}}) == {}
        assert (path.sent, path.fallbacks, len(connections)) == (3, 0, 3)
        path.close()
    finally:
        server.shutdown()
        server.server_close()
