"""Pure computations behind the platform exporter (observability/exporter.py): the values of the
Prometheus metrics from plain records read out of the Dagster instance and the serving database.
No Dagster, no Prometheus here."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# Per-partition metadata keys the table assets write (defs/tables/assets.py) and the exporter reads.
PARTITION_ROWS = "partition_rows"
# What a stats API step records (defs/ingestion/assets.py, an observation even when the step fails).
STATS_API_REQUESTS = "stats_api_http_requests"
STATS_API_RETRIES = "stats_api_retries"
STATS_API_FAILURES = "stats_api_failed_attempts"
STATS_API_BREAKERS = "stats_api_breaker_states"
BREAKER_STATES = ("closed", "half_open", "open")
RUN_STATUSES = ("QUEUED", "STARTING", "STARTED", "SUCCESS", "FAILURE", "CANCELING", "CANCELED")
FINISHED_STATUSES = ("SUCCESS", "FAILURE", "CANCELED")


def freshness_lag_seconds(now: float, last_materialized: float | None) -> float | None:
    """Seconds since the last materialization (never negative); None if never materialized."""
    if last_materialized is None:
        return None
    return max(0.0, now - last_materialized)


def table_of(asset_key: str) -> tuple[str, str] | None:
    """(table, 'accepted'|'quarantined') a table or quarantine asset counts rows for:
    tables/X -> (tables/X, accepted); quarantine/X_dedup -> (tables/X, quarantined) (set aside at
    dedup); quarantine/X -> (tables/X_validated, quarantined) (failed a row rule). None otherwise."""
    layer, _, name = asset_key.partition("/")
    if not name or "/" in name:
        return None
    if layer == "tables":
        return asset_key, "accepted"
    if layer == "quarantine":
        if name.endswith("_dedup"):
            return f"tables/{name[: -len('_dedup')]}", "quarantined"
        return f"tables/{name}_validated", "quarantined"
    return None


@dataclass(frozen=True)
class PartitionRows:
    asset_key: str
    partition: str | None
    rows: int


def rows_by_table_season(records: Iterable[PartitionRows]) -> dict[tuple[str, str, str], int]:
    """{(table, season, 'accepted'|'quarantined'): rows}; `records` newest first per asset, so
    the latest materialization of each partition wins. Unpartitioned assets get season 'all'."""
    out: dict[tuple[str, str, str], int] = {}
    seen: set[tuple[str, str]] = set()
    for record in records:
        mapped = table_of(record.asset_key)
        season = record.partition or "all"
        if mapped is None or (record.asset_key, season) in seen:
            continue
        seen.add((record.asset_key, season))
        table, kind = mapped
        out[(table, season, kind)] = out.get((table, season, kind), 0) + int(record.rows)
    return out


@dataclass(frozen=True)
class RunSummary:
    job: str
    status: str  # DagsterRunStatus name
    start: float | None
    end: float | None
    created: float  # ordering: newest first


def last_runs(runs: Iterable[RunSummary]) -> dict[str, RunSummary]:
    """The newest run of each job. Dagster's implicit asset job (`__ASSET_JOB`) counts as a job too."""
    latest: dict[str, RunSummary] = {}
    for run in runs:
        if run.job not in latest or run.created > latest[run.job].created:
            latest[run.job] = run
    return latest


def run_duration_seconds(run: RunSummary, now: float) -> float | None:
    """End - start; a run still going counts up to now; None if it never started."""
    if run.start is None:
        return None
    return max(0.0, (run.end if run.end is not None else now) - run.start)


def runs_by_status(runs: Iterable[RunSummary]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for run in runs:
        counts[(run.job, run.status)] = counts.get((run.job, run.status), 0) + 1
    return counts


@dataclass(frozen=True)
class Skill:
    games: int
    brier: float
    log_loss: float


def live_skill_by_version(predictions: pd.DataFrame, eps: float = 1e-15) -> dict[str, Skill]:
    """Brier and log loss per model version over games played: `predictions` has model_version,
    p_home_win and home_win (1/0; NaN for a game not played yet, which is left out)."""
    import numpy as np

    played = predictions.dropna(subset=["home_win", "p_home_win"])
    out: dict[str, Skill] = {}
    for version, group in played.groupby("model_version", sort=True):
        p = group["p_home_win"].astype(float).to_numpy()
        y = group["home_win"].astype(float).to_numpy()
        clipped = np.clip(p, eps, 1 - eps)
        out[str(version)] = Skill(
            games=len(group),
            brier=float(np.mean((p - y) ** 2)),
            log_loss=float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
        )
    return out


def latest_per_partition(records: Iterable[tuple[str | None, Mapping]], key: str) -> dict[str, float]:
    """{partition: value of metadata `key`} from (partition, metadata) newest first; NaN/absent skipped."""
    out: dict[str, float] = {}
    for partition, metadata in records:
        season = partition or "all"
        if season in out or key not in metadata:
            continue
        value = metadata[key]
        if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
            out[season] = float(value)
    return out


@dataclass(frozen=True)
class StatsApiTotals:
    requests: dict[str, int]  # by asset
    retries: dict[str, int]
    failed_attempts: dict[tuple[str, str], int]  # (asset, kind)
    breaker_states: dict[str, str]  # endpoint -> state at its latest recorded use


def stats_api_totals(observations: Iterable[tuple[str, Mapping]]) -> StatsApiTotals:
    """Totals over every recorded stats API step: (asset key, metadata), newest first. Counters
    add up across steps; a breaker's state is the one its newest step recorded."""
    requests: dict[str, int] = {}
    retries: dict[str, int] = {}
    failed: dict[tuple[str, str], int] = {}
    breakers: dict[str, str] = {}
    for asset, metadata in observations:
        if STATS_API_REQUESTS not in metadata:
            continue
        requests[asset] = requests.get(asset, 0) + int(metadata[STATS_API_REQUESTS])
        retries[asset] = retries.get(asset, 0) + int(metadata.get(STATS_API_RETRIES, 0))
        for kind, n in dict(metadata.get(STATS_API_FAILURES) or {}).items():
            failed[(asset, kind)] = failed.get((asset, kind), 0) + int(n)
        for endpoint, state in dict(metadata.get(STATS_API_BREAKERS) or {}).items():
            if state not in BREAKER_STATES:
                raise ValueError(f"unknown circuit breaker state {state!r} for {endpoint}")
            breakers.setdefault(endpoint, state)
    return StatsApiTotals(requests, retries, failed, breakers)
