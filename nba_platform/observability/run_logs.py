"""Structured run logs for log shipping (CloudWatch, Loki, ...): every Dagster log record of every
run on the instance as one JSON object per line on stdout, secrets scrubbed.

Wiring: Dagster hands each run's records (framework events, `context.log`, and the Python
loggers named in `managed_python_loggers`) to the handlers in the instance's
`python_logs.dagster_handler_config` (infra/dagster/dagster.yaml; the CLI's local dagster.yaml).
That is the one place that covers every run: schedules, sensors, automation and UI launches
alike (a `@dg.logger` only applies to runs whose run config names it). `NBA_LOG_FORMAT`
(settings.py) picks the format: `json` turns this handler on; `text` leaves it silent and
Dagster's own console lines (stderr) are the log.

Fields: see `lib/json_logs.py`. The asset key of a step comes from the code location's assets
(op name -> asset keys, read once per process); an event about one asset (a materialization)
names that asset.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback

from nba_platform.lib.json_logs import json_log_line, partition_from_tags
from nba_platform.lib.tracing import log_ids
from nba_platform.observability import tracing
from nba_platform.settings import load_log_format

_assets_by_op: dict[str, list[str]] | None = None
_assets_lock = threading.RLock()


def asset_keys_by_op() -> dict[str, list[str]]:
    """op name -> the asset keys it materializes (or checks), from the platform's definitions."""
    global _assets_by_op
    with _assets_lock:
        if _assets_by_op is None:
            _assets_by_op = {}  # a record logged while the definitions load gets no asset keys
            mapping: dict[str, list[str]] = {}
            try:
                from nba_platform.definitions import defs

                loaded = defs()
                for assets_def in [*(loaded.assets or []), *(loaded.asset_checks or [])]:
                    if not hasattr(assets_def, "node_def"):  # AssetSpec: not executed here
                        continue
                    keys = [k.to_user_string() for k in assets_def.keys]
                    keys += [
                        c.asset_key.to_user_string()
                        for c in assets_def.check_keys
                        if c.asset_key.to_user_string() not in keys
                    ]
                    mapping.setdefault(assets_def.node_def.name, []).extend(keys)
            except Exception:  # a log line without asset keys beats a run without logs
                mapping = {}
            _assets_by_op = mapping
        return _assets_by_op


def _event_error(event) -> str | None:
    data = getattr(event, "event_specific_data", None) if event is not None else None
    error = getattr(data, "error", None) if data is not None else None
    if error is None:
        return None
    return getattr(data, "error_display_string", None) or error.to_string()


def format_record(record: logging.LogRecord) -> str:
    meta = getattr(record, "dagster_meta", None)
    exc_text = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else None
    if not meta:  # not a Dagster record: still one line, still scrubbed
        return json_log_line(
            created=record.created,
            level=record.levelname,
            message=record.getMessage(),
            logger=record.name,
            error=exc_text,
        )
    event = meta.get("dagster_event")
    step = meta.get("step_key")
    op = meta.get("op_name") or step
    event_key = getattr(event, "asset_key", None) if event is not None else None
    event_partition = getattr(event, "partition", None) if event is not None else None
    errors = [e for e in (_event_error(event), exc_text) if e]
    trace_id, span_id = log_ids(meta.get("run_id"), step)
    return json_log_line(
        created=record.created,
        level=record.levelname,
        message=meta.get("orig_message") or record.getMessage(),
        run_id=meta.get("run_id"),
        job=meta.get("job_name"),
        step=step,
        asset_keys=asset_keys_by_op().get(op, []) if op else [],
        event_asset_key=event_key.to_user_string() if event_key is not None else None,
        partition=event_partition or partition_from_tags(meta.get("job_tags")),
        event_type=event.event_type_value if event is not None else None,
        logger=f"resource:{meta['resource_name']}" if meta.get("resource_name") else record.name,
        error="\n".join(errors) or None,
        trace_id=trace_id,
        span_id=span_id,
    )


def trace_record(record: logging.LogRecord) -> None:
    """Run and step spans (observability/tracing.py) from Dagster's run and step events."""
    meta = getattr(record, "dagster_meta", None)
    event = meta.get("dagster_event") if meta else None
    if event is None:
        return
    tracing.on_event(
        event.event_type_value,
        meta.get("run_id"),
        meta.get("job_name"),
        meta.get("step_key"),
        record.created,
        _event_error(event),
    )


class RunLogHandler(logging.StreamHandler):
    """JSON lines on stdout (or `stream`) when NBA_LOG_FORMAT=json; silent when text. Also
    opens and closes the run's and steps' trace spans when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

    def __init__(self, stream=None):
        super().__init__(stream if stream is not None else sys.stdout)
        self.enabled = load_log_format() == "json"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            trace_record(record)
        except Exception:  # a broken exporter never breaks a run
            self.handleError(record)
        if not self.enabled:
            return
        try:
            line = format_record(record)
            with self.lock:
                self.stream.write(line + "\n")
                self.flush()
        except Exception:
            self.handleError(record)


# The one copy of the python_logs block of an instance's dagster.yaml: the CLI writes it into a new
# embedded home (cli/runs.py); infra/dagster/dagster.yaml is tested against it (test_json_logs.py).
PYTHON_LOGS_CONFIG = {
    "managed_python_loggers": ["nba_platform"],
    "dagster_handler_config": {
        "handlers": {
            "nba_json": {"class": "nba_platform.observability.run_logs.RunLogHandler", "stream": "ext://sys.stdout"}
        },
    },
}
