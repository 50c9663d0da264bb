"""An HTTP proxy in front of the moto server that kills a client process at a chosen request.

It forwards every request unchanged, but when the ``n``-th request whose ``X-Amz-Target`` names
``action`` arrives, it SIGKILLs ``victim_pid`` and drops the request: the client dies exactly
between its previous call and that one (for ``DeleteMessage``: after the copy was sent and
journaled, before the DLQ entry was deleted). A real process death over real HTTP, no mocking.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class KillingProxy:
    def __init__(self, upstream: str, action: str, n: int) -> None:
        self.upstream = urlsplit(upstream)
        self.action = action
        self.n = n
        self.seen = 0
        self.victim_pid: int | None = None
        self.killed = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if self.headers.get("X-Amz-Target", "").endswith("." + proxy.action):
                    proxy.seen += 1
                    if proxy.seen == proxy.n and proxy.victim_pid is not None:
                        os.kill(proxy.victim_pid, signal.SIGKILL)
                        proxy.killed.set()
                        self.close_connection = True
                        return
                connection = http.client.HTTPConnection(
                    proxy.upstream.hostname or "127.0.0.1", proxy.upstream.port, timeout=30
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
