"""OpenTelemetry traces of runs: run -> step -> external calls, exported over OTLP/HTTP when
OTEL_EXPORTER_OTLP_ENDPOINT is set (off by default: the API's no-op tracer, nothing else).

Wiring: the run log handler (observability/run_logs.py), which the instance's python_logs config
attaches to every run, hands each Dagster event here. RUN_START .. RUN_SUCCESS/FAILURE/CANCELED
becomes the run span; STEP_START .. STEP_SUCCESS/FAILURE a step span, child of the run span and
made current in the step's thread, so the spans of external calls (lib/tracing.py: stats API,
S3, Postgres COPY, MLflow) nest under it. Ids come from the run id (lib/tracing.py), so steps in
other processes (multiprocess, Celery) join the same trace.

Standard OTEL_* variables apply (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
OTEL_SERVICE_NAME, ...). Spans are batched and flushed at the end of every step and run.
"""

from __future__ import annotations

import contextvars
import os
import threading

from nba_platform.lib import tracing as ids

_forced_ids: contextvars.ContextVar[tuple[int | None, int] | None] = contextvars.ContextVar(
    "nba_forced_span_ids", default=None
)
_provider = None
_configured = False
_lock = threading.Lock()
_run_starts: dict[str, int] = {}  # run id -> RUN_START time (ns)
_open_steps: dict[tuple[str, str], tuple[object, object]] = {}  # (run id, step key) -> (span, context token)

# Dagster's event type values (DagsterEventType.RUN_START.value is still "PIPELINE_START").
RUN_START_EVENTS = {"PIPELINE_START", "RUN_START"}
RUN_END_EVENTS = {
    "PIPELINE_SUCCESS": True,
    "PIPELINE_FAILURE": False,
    "PIPELINE_CANCELED": False,
    "RUN_SUCCESS": True,
    "RUN_FAILURE": False,
    "RUN_CANCELED": False,
}
STEP_END_EVENTS = {"STEP_SUCCESS": True, "STEP_FAILURE": False}


def enabled() -> bool:
    """True when OTEL_EXPORTER_OTLP_ENDPOINT is set; installs the SDK tracer provider once."""
    global _configured, _provider
    if _configured:
        return _provider is not None
    with _lock:
        if _configured:
            return _provider is not None
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            _provider = _install_provider()
        _configured = True
    return _provider is not None


def _install_provider():
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class RunDerivedIds(RandomIdGenerator):
        """Random ids, except for the run and step spans, whose ids come from the run id."""

        def generate_trace_id(self) -> int:
            forced = _forced_ids.get()
            return forced[0] if forced and forced[0] else super().generate_trace_id()

        def generate_span_id(self) -> int:
            forced = _forced_ids.get()
            return forced[1] if forced else super().generate_span_id()

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "nba-platform")})
    provider = TracerProvider(resource=resource, id_generator=RunDerivedIds())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def _start(name: str, trace_id: int | None, span_id: int, parent_context, start_ns: int, attributes: dict):
    from opentelemetry import trace

    tracer = trace.get_tracer(ids.TRACER_NAME)
    token = _forced_ids.set((trace_id, span_id))
    try:
        return tracer.start_span(
            name, context=parent_context, kind=trace.SpanKind.INTERNAL, start_time=start_ns, attributes=attributes
        )
    finally:
        _forced_ids.reset(token)


def _run_parent(run_id: str):
    from opentelemetry import trace

    parent = trace.SpanContext(
        trace_id=ids.run_trace_id(run_id),
        span_id=ids.run_span_id(run_id),
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


def _end(span, ok: bool, end_ns: int, error: str | None = None) -> None:
    from opentelemetry import trace

    span.set_status(trace.Status(trace.StatusCode.OK) if ok else trace.Status(trace.StatusCode.ERROR, error))
    span.end(end_time=end_ns)


def on_event(
    event_type: str | None,
    run_id: str | None,
    job: str | None,
    step_key: str | None,
    created_s: float,
    error: str | None = None,
) -> None:
    """Open or close the run's and steps' spans as Dagster reports them (called per log record)."""
    if not event_type or not run_id or not enabled():
        return
    from opentelemetry import context as otel_context
    from opentelemetry import trace

    now_ns = int(created_s * 1e9)
    if event_type in RUN_START_EVENTS:
        _run_starts[run_id] = now_ns
    elif event_type in RUN_END_EVENTS:
        start_ns = _run_starts.pop(run_id, now_ns)
        span = _start(
            f"run {job}",
            ids.run_trace_id(run_id),
            ids.run_span_id(run_id),
            otel_context.Context(),  # a root span
            start_ns,
            {"dagster.run_id": run_id, "dagster.job": job or ""},
        )
        _end(span, RUN_END_EVENTS[event_type], now_ns, error)
        _provider.force_flush()
    elif event_type == "STEP_START" and step_key:
        span = _start(
            f"step {step_key}",
            None,
            ids.step_span_id(run_id, step_key),
            _run_parent(run_id),
            now_ns,
            {"dagster.run_id": run_id, "dagster.job": job or "", "dagster.step_key": step_key},
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        _open_steps[(run_id, step_key)] = (span, token)
    elif event_type in STEP_END_EVENTS and step_key:
        opened = _open_steps.pop((run_id, step_key), None)
        if opened is None:
            return
        span, token = opened
        try:
            otel_context.detach(token)
        except Exception:  # ended from another thread/context: the span still ends
            pass
        _end(span, STEP_END_EVENTS[event_type], now_ns, error)
        _provider.force_flush()
