"""The API's Prometheus request metrics and its JSON access log, in one pure ASGI middleware
(cheaper per request than Starlette's BaseHTTPMiddleware).

Metrics (own registry, served at GET /metrics):
  nba_api_requests_total{route, method, status}         counter
  nba_api_request_duration_seconds{route, method}       histogram
`route` is the route template (/v1/teams/{team_id}/forecasts), never the raw path, so label
cardinality stays bounded; unmatched paths are `route="unmatched"`.

Access log: one JSON object per request on the `nba_platform.api.access` logger with a request id
(the caller's X-Request-ID if it is a plain token, else a new one; echoed in the response). It
never holds headers, the raw path, the query string or a body (the route template stands for the
path): a bearer token cannot reach it, wherever a caller puts it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

ACCESS_LOGGER = "nba_platform.api.access"
REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "nba_api_requests_total",
            "HTTP requests answered by the forecast API",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "nba_api_request_duration_seconds",
            "Time to answer a forecast API request",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, default=str)


def configure_access_log(stream=None) -> logging.Logger:
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(getattr(h, "_nba_access", False) for h in logger.handlers):
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._nba_access = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def _request_id(scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


class ObservedRequests:
    """ASGI middleware: request id, metrics, access log."""

    def __init__(self, app, metrics: ApiMetrics, logger: logging.Logger):
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
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.duration.labels(route, method).observe(elapsed)
            state = scope.get("state", {})
            self.logger.info(
                "request",
                extra={
                    "fields": {
                        "event": "http_request",
                        "request_id": request_id,
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "client": state.get("client"),  # the token's subject once authenticated
                        "remote_addr": (scope.get("client") or ("", 0))[0],
                    }
                },
            )
