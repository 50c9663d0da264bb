"""What the emulator's HTTP fronts share: a loopback server and keep-alive requests upstream.

The SQS front, the Scheduler front and the IAM gateway each stand before another server (moto,
or the service a request names) and differ only in what they do to a request or an answer
(trace headers, error shapes, IAM judging). The lifecycle of their server
(:class:`LoopbackServer`, which the Invoke API uses too), the plumbing of their request handlers
(:class:`QuietHandler`) and the way they reach upstream (:class:`KeepAlive`) are here, once.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Collection, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Request headers about the connection to a front, not passed upstream (its own request sets
#: them); every other header is (signature headers included: moto does not check them).
CONNECTION_HEADERS = frozenset({"host", "content-length", "connection", "keep-alive"})


class LoopbackServer:
    """A threading HTTP server on a free port of ``host``, serving from a daemon thread.

    ``url`` is its endpoint; :meth:`close` stops it. A subclass sets what its handler reads
    before calling ``__init__``: requests are served as soon as it returns.
    """

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], *, name: str, host: str = "127.0.0.1"
    ) -> None:
        self._server = _Server((host, 0), handler)
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class QuietHandler(BaseHTTPRequestHandler):
    """A keep-alive (HTTP/1.1) request handler that logs nothing, with the body read and the
    answer written as the fronts do."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent (each front reports what matters its own way)."""

    def request_body(self) -> bytes:
        """The request's body (``Content-Length`` bytes; empty without one)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def request_headers(self, skipped: Collection[str] = CONNECTION_HEADERS) -> dict[str, str]:
        """The request's headers but those named (lower case) in ``skipped``, to pass upstream."""
        return {k: v for k, v in self.headers.items() if k.lower() not in skipped}

    def reply(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        """Answer ``status`` with ``headers``, then ``Content-Length`` and ``body``."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class KeepAlive:
    """Requests to upstream HTTP servers, each thread on its own keep-alive connection to each.

    A request that fails on a connection (the upstream closed a kept-alive one) is sent once more
    on a fresh connection; a second failure is raised.
    """

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def send(
        self, url: str, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """One request to the server at ``url``: its response (read) and body."""
        parts = urllib.parse.urlsplit(url)
        key = (parts.hostname or "127.0.0.1", parts.port or 80)
        connections: dict[tuple[str, int], http.client.HTTPConnection] = (
            getattr(self._local, "connections", None) or {}
        )
        self._local.connections = connections
        for attempt in (1, 2):
            connection = connections.get(key)
            if connection is None:
                connection = http.client.HTTPConnection(*key, timeout=self.timeout)
                connections[key] = connection
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                del connections[key]
                if attempt == 2:
                    raise
                continue
            return response, data
        raise AssertionError("unreachable")
