"""Trace and span ids of runs and steps, and spans around external calls (stats API, S3,
Postgres COPY, MLflow), over the OpenTelemetry API only.

Ids are derived from the run id, so every process of a run (in-process, multiprocess, Celery
workers) puts its steps into the run's trace and the JSON run logs can name them without a
tracer: trace id = the run's UUID as 128 bits; run span id and step span ids = the first 8
bytes of a SHA-256 of the run id (and step key).

Without an SDK tracer provider (observability/tracing.py installs one only when
OTEL_EXPORTER_OTLP_ENDPOINT is set) `span` is the API's no-op span.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

TRACER_NAME = "nba_platform"


def _hash_id(text: str, n_bytes: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:n_bytes], "big")
    return value or 1  # an all-zero id is invalid in OpenTelemetry


def run_trace_id(run_id: str) -> int:
    """The run's trace id: its UUID (Dagster run ids are UUIDs), else a hash of the id."""
    try:
        return uuid.UUID(run_id).int or 1
    except ValueError:
        return _hash_id(f"trace:{run_id}", 16)


def run_span_id(run_id: str) -> int:
    return _hash_id(f"run:{run_id}", 8)


def step_span_id(run_id: str, step_key: str) -> int:
    return _hash_id(f"step:{run_id}:{step_key}", 8)


def trace_id_hex(trace_id: int) -> str:
    return format(trace_id, "032x")


def span_id_hex(span_id: int) -> str:
    return format(span_id, "016x")


def log_ids(run_id: str | None, step_key: str | None) -> tuple[str | None, str | None]:
    """(trace_id, span_id) hex for a log line: the step's span inside a step, else the run's."""
    if not run_id:
        return None, None
    span = step_span_id(run_id, step_key) if step_key else run_span_id(run_id)
    return trace_id_hex(run_trace_id(run_id)), span_id_hex(span)


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A client span under the current one (the step's, inside a run); a no-op without an SDK."""
    from opentelemetry import trace

    tracer = trace.get_tracer(TRACER_NAME)
    attrs = {k: v for k, v in attributes.items() if v is not None}
    with tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT, attributes=attrs) as current:
        yield current


def traced(name: str, **attributes: Any) -> Callable:
    """Decorator: the call runs inside `span(name)`."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with span(name, **attributes):
                return fn(*args, **kwargs)

        return inner

    return wrap


def trace_boto3_client(client: Any) -> Any:
    """A span per AWS API call of a boto3 client (e.g. `s3 PutObject`), via botocore's event hooks."""
    from opentelemetry import trace

    tracer = trace.get_tracer(TRACER_NAME)
    service = client.meta.service_model.service_name

    def before_call(model, context=None, **_):
        current = tracer.start_span(f"{service} {model.name}", kind=trace.SpanKind.CLIENT)
        current.set_attribute("rpc.system", "aws-api")
        current.set_attribute("rpc.service", service)
        current.set_attribute("rpc.method", model.name)
        if context is not None:
            context["nba_span"] = current

    def after_call(http_response=None, context=None, **_):
        current = (context or {}).pop("nba_span", None)
        if current is not None:
            status = getattr(http_response, "status_code", None)
            if status is not None:
                current.set_attribute("http.status_code", status)
            current.end()

    def after_error(exception=None, context=None, **_):
        current = (context or {}).pop("nba_span", None)
        if current is not None:
            current.set_status(trace.Status(trace.StatusCode.ERROR, type(exception).__name__))
            current.end()

    client.meta.events.register(f"before-call.{service}", before_call)
    client.meta.events.register(f"after-call.{service}", after_call)
    client.meta.events.register(f"after-call-error.{service}", after_error)
    return client
