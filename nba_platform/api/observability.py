"""The API's Prometheus request metrics and its JSON access log, in one pure ASGI middleware
(cheaper per request than Starlette's BaseHTTPMiddleware).

Metrics (own registry, served at GET /metrics):
  nba_api_requests_total{route, method, status}         counter
  nba_api_request_duration_seconds{route, method}       histogram
`route` is the route template (/v1/teams/{team_id}/forecasts), never the raw path, so label
cardinality stays bounded; unmatched paths are `route="unmatched"`.

Access log: one JSON object per request on stderr (logger name `nba_platform.api.access`) with a request id
(the caller's X-Request-ID if it is a plain token, else a new one; echoed in the response). It
never holds headers, the raw path, the query string or a body (the route template stands for the
path): a bearer token cannot reach it, wherever a caller puts it.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram

from nba_platform.observability.metric_names import API_REQUEST_DURATION, API_REQUESTS

ACCESS_LOGGER = "nba_platform.api.access"
REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            API_REQUESTS,
            "HTTP requests answered by the forecast API",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            API_REQUEST_DURATION,
            "Time to answer a forecast API request",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple, tuple] = {}  # labelled series, looked up once per label set

    def count(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(route, method, str(status)), self.duration.labels(route, method))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


class AccessLog:
    """One JSON object per line, written straight to a stream (stderr by default): the logging
    module's record machinery costs more than the rest of a kept answer. Only the fields below are
    ever written; strings go through json.dumps."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def request(self, request_id: str, method: str, route: str, status: int, seconds: float, client, remote: str):
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}+00:00"
        line = (
            f'{{"ts": "{stamp}", "level": "info", "logger": "{ACCESS_LOGGER}", "message": "request", '
            f'"event": "http_request", "request_id": {json.dumps(request_id)}, "method": {json.dumps(method)}, '
            f'"route": {json.dumps(route)}, "status": {int(status)}, "duration_ms": {seconds * 1000:.3f}, '
            f'"client": {json.dumps(client)}, "remote_addr": {json.dumps(remote)}}}\n'
        )
        with self._lock:
            self.stream.write(line)
            self.stream.flush()


def configure_access_log(stream=None) -> AccessLog:
    return AccessLog(stream)


def _request_id(scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


class ObservedRequests:
    """ASGI middleware: request id, metrics, access log."""

    def __init__(self, app, metrics: ApiMetrics, logger: AccessLog):
        self.app = app
        self.metrics = metrics
        self.logger = logger

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.count(route, method, status, elapsed)
            self.logger.request(
                request_id,
                method,
                route,
                status,
                elapsed,
                scope.get("state", {}).get("client"),  # the token's subject once authenticated
                (scope.get("client") or ("", 0))[0],
            )
