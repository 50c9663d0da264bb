"""The worker's hot DynamoDB requests (the claim and the outcome write, both ``UpdateItem``) sent
without botocore's per-request machinery, over one kept-alive connection.

**Why.** botocore spends about 500 µs of CPU on each of these requests before and after the
network (its event hooks, endpoint rules, serializer, signer, retry handler, parser: benchmark 6,
"A job's claim and outcome write against answers that cost nothing"), against about 35 µs for all
else the handler does for a job. The requests are fixed: one operation, parameters lambda-jobs
builds itself, answers it reads two ways. This module sends them as the DynamoDB low-level API
defines them ("DynamoDB low-level API", DynamoDB Developer Guide,
docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.LowLevelAPI.html): an HTTP
``POST /`` of the parameters as JSON (``Content-Type: application/x-amz-json-1.0``,
``X-Amz-Target: DynamoDB_20120810.UpdateItem``), signed with Signature Version 4; the answer is
``200`` with the output as JSON (``Attributes`` in DynamoDB JSON), or an error
``{"__type": "...#<code>", "message": ...}`` ("Error handling with DynamoDB", same guide,
.../developerguide/Programming.Errors.html).

**Where botocore decides, botocore still decides.**

- *Endpoint and signing scope*: learned from the first ``UpdateItem`` botocore itself sends (its
  ``before-send`` event): the URL its endpoint rules resolved (``endpoint_url``, the client
  configuration's ``endpoints``, ``AWS_ENDPOINT_URL_DYNAMODB``, FIPS, account endpoints) and the
  region and service of its signature's credential scope. Until then requests go through botocore.
- *Credentials*: the client's own (the session's provider chain), frozen for each request with
  ``get_frozen_credentials()`` as botocore's signer does, so refreshable credentials refresh there.
- *TLS*: botocore's SSL context and CA bundle (``botocore.httpsession``). A proxy or a client
  certificate in the client's HTTP settings turns this path off (botocore serves every request).
- *Anything else than a ``200`` or a ``ConditionalCheckFailedException``* (throttling, a 5xx,
  another 4xx, a connection or read error, an answer that fails its ``x-amz-crc32`` check): the
  same request goes through the botocore client, with its retries, error types and messages
  (a kept-alive connection the server closed is first reopened once on this path). A
  request sent again after an answer was lost is safe for the store's writes: the claim recognises
  its own token (:mod:`lambda_jobs.jobstore.claims`), the outcome write sets the same values on the
  same condition (the write that takes back an attempt refused unrun sets ``attempt`` back, so
  its second copy is refused and reported as a store error: the first copy did the write).

**Signing by hand.** botocore's ``SigV4Auth`` (an ``AWSRequest``, its generic canonicalisation
and four HMACs deriving the signing key for every request) costs about 50 µs a request, where
the same signature by hand costs under 5 µs (benchmark 6, "Signing one request"): the request's
shape never changes, so its canonical request is a format string, and the signing key is derived
once a day per secret key. ``SigV4Auth`` would add about 90 µs to a job's two requests: nearly
three times the ~50 µs of CPU this path costs a job answered in-process, and about 40% more
time for the store-on Goat handler with DynamoDB answering at once (benchmark 6: 0.24 ms a job,
5.6x the store-off handler, would become about 0.33 ms, 8x).
The algorithm is AWS's ("Create a signed AWS API request", IAM User Guide,
docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html), and
``tests/runtime/jobstore/test_direct.py`` checks each header against ``SigV4Auth``'s.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import threading
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

TARGET = "DynamoDB_20120810.UpdateItem"
CONTENT_TYPE = "application/x-amz-json-1.0"
#: Added to the User-Agent botocore sends: the requests of this path are told apart by it.
USER_AGENT_MARK = "lambda-jobs-direct"
_CONDITION_FAILED = "ConditionalCheckFailedException"
_ALGORITHM = "AWS4-HMAC-SHA256"


class Refused(Exception):
    """The write's condition was false (``ConditionalCheckFailedException``); ``item`` is the
    item as it is, when the request asked for it (``ReturnValuesOnConditionCheckFailure``) and
    the service sent it, else None."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("the conditional request failed")
        self.item = item


class _Unexpected(Exception):
    """An answer (or no answer) this path does not interpret: botocore's path takes over."""


class Direct:
    """``UpdateItem`` on one DynamoDB client's endpoint, fast when it can be; thread-safe.

    :meth:`update_item` answers like the client's ``update_item`` (the output as a dict), except
    that a false condition raises :class:`Refused`. ``sent`` counts the requests answered on this
    path, ``fallbacks`` those it handed to botocore after trying. ``enabled`` False: every
    request goes through botocore (the client's HTTP settings need it, or a caller said so).
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._connection: http.client.HTTPConnection | None = None
        self._route: _Route | None = None
        self.enabled = _transport_allowed(client)
        self.sent = 0
        self.fallbacks = 0
        if self.enabled:
            client.meta.events.register_first(
                f"before-send.dynamodb.{TARGET.split('.')[1]}", self._learn
            )

    # -- botocore's first request shows the way -----------------------------------------------

    def _learn(self, request: Any, **_: Any) -> None:
        """botocore's ``before-send``: take the URL and scope of the request it is sending."""
        if self._route is not None:
            return
        try:
            route = _Route.of(
                request.url,
                _header(request.headers, "Authorization"),
                _header(request.headers, "User-Agent"),
                self._client,
            )
        except (ValueError, TypeError, AttributeError):
            route = None
        if route is None:
            self.enabled = False
        self._route = route

    # -- one request ---------------------------------------------------------------------------

    def update_item(self, params: dict[str, Any]) -> dict[str, Any]:
        """``UpdateItem`` with ``params`` (the client's keyword arguments); raises
        :class:`Refused` on a false condition and botocore's errors when botocore's path, which
        serves anything unexpected, gives up."""
        route = self._route
        if route is not None and self.enabled:
            try:
                answer = self._send(route, json.dumps(params).encode())
            except _Unexpected:
                self.fallbacks += 1
            except Refused:
                self.sent += 1
                raise
            else:
                self.sent += 1
                return answer
        return self._through_client(params)

    def _through_client(self, params: dict[str, Any]) -> dict[str, Any]:
        client = self._client
        try:
            return client.update_item(**params)  # type: ignore[no-any-return]
        except client.exceptions.ConditionalCheckFailedException as refused:
            raise Refused(refused.response.get("Item")) from None

    def _send(self, route: _Route, body: bytes) -> dict[str, Any]:
        status, checksum, data = self._exchange(route, body, route.headers(body))
        if checksum is not None and checksum != str(zlib.crc32(data) & 0xFFFFFFFF):
            raise _Unexpected("the answer failed its CRC32 check")
        if status == 200:
            try:
                return json.loads(data)  # type: ignore[no-any-return]
            except ValueError:
                raise _Unexpected("the answer is not JSON") from None
        if status == 400:
            try:
                error = json.loads(data)
            except ValueError:
                raise _Unexpected("the error is not JSON") from None
            if str(error.get("__type", "")).rpartition("#")[2] == _CONDITION_FAILED:
                raise Refused(error.get("Item"))
        raise _Unexpected(f"HTTP {status}")

    def _exchange(
        self, route: _Route, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None, bytes]:
        """The network part: send, read the whole answer; ``(status, x-amz-crc32, body)``.

        A kept-alive connection the server closed meanwhile (a warm function's first request
        after a pause) fails at once with a ``ConnectionError``: the request is sent once more
        on a new connection (safe, see the module docstring) before botocore takes over."""
        if self._pid != os.getpid():  # a forked child: the parent's connection is not its own
            self._pid, self._lock, self._connection = os.getpid(), threading.Lock(), None
        with self._lock:
            while True:
                reused = self._connection is not None
                connection = self._connection or route.connect()
                self._connection = connection
                try:
                    connection.request("POST", route.path, body=body, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                except ConnectionError as exc:
                    self._close()
                    if not reused:
                        raise _Unexpected(str(exc)) from None
                except (OSError, http.client.HTTPException) as exc:
                    self._close()
                    raise _Unexpected(str(exc)) from None
                else:
                    break
            if response.will_close:
                self._close()
        return response.status, response.getheader("x-amz-crc32"), data

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        """Close the kept-alive connection (tests, a forked process)."""
        with self._lock:
            self._close()


def _header(headers: Any, name: str) -> str:
    value = headers.get(name)
    if isinstance(value, bytes):
        value = value.decode("ascii")
    return value or ""


def _transport_allowed(client: Any) -> bool:
    """False when the client's HTTP settings ask for what this path does not do (a proxy, a
    client certificate) or cannot be read: then botocore sends every request."""
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    proxies = getattr(session, "_proxy_config", None)
    if session is None or proxies is None:
        return False
    url = client.meta.endpoint_url or ""
    try:
        proxied = proxies.proxy_url_for(url)
    except Exception:  # a setting this path cannot judge: leave it to botocore
        return False
    return not proxied and getattr(session, "_cert_file", None) is None


class _Route:
    """Where and how this path sends: host, path, the signing scope, the credentials."""

    __slots__ = (
        "_key",
        "credentials",
        "host",
        "https",
        "netloc",
        "path",
        "port",
        "region",
        "service",
        "timeouts",
        "user_agent",
        "verify",
    )

    def __init__(
        self,
        url: str,
        *,
        region: str,
        service: str,
        credentials: Any,
        user_agent: str = USER_AGENT_MARK,
        timeouts: tuple[float, float] = (60.0, 60.0),
        verify: Any = True,
    ) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        default = self.port == (443 if self.https else 80)
        # What SigV4 signs as the host: botocore leaves the default port out.
        self.netloc = self.host if default else f"{self.host}:{self.port}"
        if ":" in self.host:  # an IPv6 literal keeps its brackets
            self.netloc = f"[{self.host}]" if default else f"[{self.host}]:{self.port}"
        self.path = "/"
        self.region = region
        self.service = service
        self.credentials = credentials
        self.user_agent = user_agent
        self.timeouts = timeouts
        self.verify = verify
        self._key: tuple[str, str, bytes] | None = None

    @classmethod
    def of(cls, url: str, authorization: str, user_agent: str, client: Any) -> _Route | None:
        """The route of botocore's request to ``url`` signed with ``authorization``; None when
        it is not a SigV4-signed ``POST /`` this path can repeat."""
        parts = urlsplit(url)
        scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
        if (
            not authorization.startswith(_ALGORITHM)
            or len(scope) != 5
            or parts.scheme not in ("http", "https")
            or parts.path not in ("", "/")
            or parts.query
            or not parts.hostname
        ):
            return None
        credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
        if credentials is None:
            return None
        config = client.meta.config
        return cls(
            url,
            region=scope[2],
            service=scope[3],
            credentials=credentials,
            user_agent=f"{user_agent} {USER_AGENT_MARK}".strip(),
            timeouts=(config.connect_timeout, config.read_timeout),
            verify=getattr(client._endpoint.http_session, "_verify", True),
        )

    def connect(self) -> http.client.HTTPConnection:
        connect_timeout, _ = self.timeouts
        if not self.https:
            return _Connection(self.host, self.port, timeout=connect_timeout, route=self)
        from botocore.httpsession import create_urllib3_context, get_cert_path

        context = create_urllib3_context()
        if self.verify:
            context.load_verify_locations(cafile=get_cert_path(self.verify))
        else:
            import ssl

            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return _TLSConnection(
            self.host, self.port, timeout=connect_timeout, context=context, route=self
        )

    def headers(self, body: bytes) -> dict[str, str]:
        """The request's headers, signed (Signature Version 4, see the module docstring)."""
        frozen = self.credentials.get_frozen_credentials()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        day = stamp[:8]
        key = self._key
        if key is None or key[0] != day or key[1] != frozen.secret_key:
            derived = hmac.new(f"AWS4{frozen.secret_key}".encode(), day.encode(), hashlib.sha256)
            signing = derived.digest()
            for part in (self.region, self.service, "aws4_request"):
                signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
            key = self._key = (day, frozen.secret_key, signing)
        token = frozen.token
        if token:
            canonical_headers = (
                f"content-type:{CONTENT_TYPE}\nhost:{self.netloc}\nx-amz-date:{stamp}\n"
                f"x-amz-security-token:{token}\nx-amz-target:{TARGET}\n"
            )
            signed = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
        else:
            canonical_headers = (
                f"content-type:{CONTENT_TYPE}\nhost:{self.netloc}\nx-amz-date:{stamp}\n"
                f"x-amz-target:{TARGET}\n"
            )
            signed = "content-type;host;x-amz-date;x-amz-target"
        canonical = (
            f"POST\n{self.path}\n\n{canonical_headers}\n{signed}\n"
            f"{hashlib.sha256(body).hexdigest()}"
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = (
            f"{_ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.new(key[2], to_sign.encode(), hashlib.sha256).hexdigest()
        headers = {
            "Host": self.netloc,
            "Content-Type": CONTENT_TYPE,
            "X-Amz-Target": TARGET,
            "X-Amz-Date": stamp,
            "User-Agent": self.user_agent,
            "Authorization": (
                f"{_ALGORITHM} Credential={frozen.access_key}/{scope}, "
                f"SignedHeaders={signed}, Signature={signature}"
            ),
        }
        if token:
            headers["X-Amz-Security-Token"] = token
        return headers


class _Connection(http.client.HTTPConnection):
    """A connection that waits ``read_timeout`` for answers once connected (botocore's two
    timeouts: ``connect_timeout`` to connect, ``read_timeout`` for each read)."""

    def __init__(self, host: str, port: int, *, timeout: float, route: _Route) -> None:
        super().__init__(host, port, timeout=timeout)
        self._read_timeout = route.timeouts[1]

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(self._read_timeout)


class _TLSConnection(http.client.HTTPSConnection):
    """:class:`_Connection` over TLS."""

    def __init__(
        self, host: str, port: int, *, timeout: float, context: Any, route: _Route
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._read_timeout = route.timeouts[1]

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(self._read_timeout)
