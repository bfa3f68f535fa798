"""Structured run logs: one JSON object per line, secrets scrubbed. Pure Python (no Dagster):
`observability/run_logs.py` pulls the values out of Dagster's log records and calls `json_log_line`.

Fields, in this order, absent when empty: timestamp (UTC, ISO 8601), level, message, run_id,
job, step, asset_key (the one asset the line is about), asset_keys (every asset of a step that
materializes several), partition (one key, or `first...last` for a run over a range),
event_type (Dagster's, e.g. STEP_FAILURE), logger, error, trace_id, span_id (the run's
OpenTelemetry trace and the step's span, or the run's outside a step: lib/tracing.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence

from nba_platform.lib.secret_scrubbing import redact

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_from_tags(tags: Mapping[str, str] | None) -> str | None:
    """A run's partition: its single key, or `first...last` (Dagster's range notation)."""
    tags = tags or {}
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}...{end}"
    return None


def iso_utc(epoch_seconds: float) -> str:
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_log_line(
    *,
    created: float,
    level: str,
    message: str,
    run_id: str | None = None,
    job: str | None = None,
    step: str | None = None,
    asset_keys: Sequence[str] = (),
    event_asset_key: str | None = None,
    partition: str | None = None,
    event_type: str | None = None,
    logger: str | None = None,
    error: str | None = None,
    secrets: Iterable[str] = (),
    trace_id: str | None = None,
    span_id: str | None = None,
) -> str:
    """One log line. Every text field goes through `redact` (known secret values of the process,
    `secrets`, and secret-looking patterns), so no value the secrets resource handed out is
    printed."""
    secrets = list(secrets)
    keys = list(dict.fromkeys(asset_keys))
    asset_key = event_asset_key or (keys[0] if len(keys) == 1 else None)
    entry = {
        "timestamp": iso_utc(created),
        "level": level,
        "message": redact(message, secrets),
        "run_id": run_id,
        "job": job,
        "step": step,
        "asset_key": asset_key,
        "asset_keys": keys if len(keys) > 1 else None,
        "partition": partition,
        "event_type": event_type,
        "logger": logger,
        "error": redact(error, secrets) if error else None,
        "trace_id": trace_id,
        "span_id": span_id,
    }
    return json.dumps({k: v for k, v in entry.items() if v not in (None, "")}, ensure_ascii=False, default=str)
