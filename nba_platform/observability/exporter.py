"""The platform exporter (`nba-platform metrics`): Prometheus metrics read from the Dagster
instance (event log, runs) and the serving database, cached between scrapes.

A snapshot is read at most once per `ttl_seconds` however often Prometheus scrapes (reading the
event log costs a few queries per asset); scrapes are served from memory while a stale snapshot
is re-read in the background. The values
come from `lib/platform_metrics.py`; this module only reads the sources and names the metrics
(observability/metric_names.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from nba_platform.lib import platform_metrics as pm
from nba_platform.observability import metric_names as names

log = logging.getLogger(__name__)

MATERIALIZATIONS_READ = 1000  # newest materializations read per asset (covers every season many times over)
RUNS_READ = 1000  # newest runs read for the run metrics


def _value(metadata_value):
    return getattr(metadata_value, "value", metadata_value)


def _metadata(entry) -> dict:
    return {k: _value(v) for k, v in (entry.metadata or {}).items()}


# Published predictions with their game's result (NULL home_win: not played yet).
LIVE_PREDICTIONS_SQL = (
    # the registry label name/vN (model_version is an integer per model name)
    "SELECT p.model_name || '/v' || CAST(p.model_version AS TEXT) AS model_version, p.p_home_win AS p_home_win, "
    "CASE WHEN g.home_pts IS NULL OR g.away_pts IS NULL THEN NULL "
    "WHEN g.home_pts > g.away_pts THEN 1 ELSE 0 END AS home_win "
    "FROM game_predictions p JOIN games g ON g.game_id = p.game_id"
)


@dataclass
class Snapshot:
    taken_at: float
    collect_seconds: float = 0.0
    sources_up: dict[str, bool] = field(default_factory=dict)
    last_materialized: dict[str, float] = field(default_factory=dict)
    last_runs: dict[str, pm.RunSummary] = field(default_factory=dict)
    runs_by_status: dict[tuple[str, str], int] = field(default_factory=dict)
    rows: dict[tuple[str, str, str], int] = field(default_factory=dict)
    drift_share: dict[str, float] = field(default_factory=dict)
    validation_brier: dict[str, float] = field(default_factory=dict)
    live_skill: dict[str, pm.Skill] = field(default_factory=dict)
    stats_api: pm.StatsApiTotals = field(default_factory=lambda: pm.StatsApiTotals({}, {}, {}, {}))


def read_instance(instance: dg.DagsterInstance, snapshot: Snapshot) -> None:
    keys = list(instance.get_asset_keys())
    latest = instance.get_latest_materialization_events(keys)
    snapshot.last_materialized = {
        key.to_user_string(): entry.timestamp for key, entry in latest.items() if entry is not None
    }

    partition_rows: list[pm.PartitionRows] = []
    observations: list[tuple[str, dict]] = []
    for key in keys:
        name = key.to_user_string()
        if pm.table_of(name) is not None and name in snapshot.last_materialized:
            for record in instance.fetch_materializations(key, limit=MATERIALIZATIONS_READ).records:
                meta = _metadata(record.asset_materialization)
                if pm.PARTITION_ROWS in meta:
                    partition_rows.append(pm.PartitionRows(name, record.partition_key, int(meta[pm.PARTITION_ROWS])))
        if name == "monitoring/feature_drift":
            records = instance.fetch_materializations(key, limit=MATERIALIZATIONS_READ).records
            snapshot.drift_share = pm.latest_per_partition(
                ((r.partition_key, _metadata(r.asset_materialization)) for r in records), "drift_share"
            )
        if name == "models/game_outcome_model":
            for record in instance.fetch_materializations(key, limit=MATERIALIZATIONS_READ).records:
                meta = _metadata(record.asset_materialization)
                if "model" in meta and "validation_brier" in meta:
                    snapshot.validation_brier.setdefault(str(meta["model"]), float(meta["validation_brier"]))
        if key.path[0] == "raw":
            for record in instance.fetch_observations(key, limit=MATERIALIZATIONS_READ).records:
                observations.append((name, _metadata(record.asset_observation)))
    snapshot.rows = pm.rows_by_table_season(partition_rows)
    snapshot.stats_api = pm.stats_api_totals(observations)

    runs = [
        pm.RunSummary(
            job=record.dagster_run.job_name,
            status=record.dagster_run.status.value,
            start=record.start_time,
            end=record.end_time,
            created=record.create_timestamp.timestamp(),
        )
        for record in instance.get_run_records(limit=RUNS_READ)
    ]
    snapshot.last_runs = pm.last_runs(runs)
    snapshot.runs_by_status = pm.runs_by_status(runs)


def read_serving_db(query: Callable[[str], object], snapshot: Snapshot) -> None:
    snapshot.live_skill = pm.live_skill_by_version(query(LIVE_PREDICTIONS_SQL))


class PlatformCollector(Collector):
    """A prometheus-client collector serving a cached Snapshot (re-read after `ttl_seconds`)."""

    def __init__(
        self,
        instance_factory: Callable[[], dg.DagsterInstance],
        serving_query: Callable[[str], object] | None,
        ttl_seconds: float = 15.0,
        clock: Callable[[], float] = time.time,
    ):
        self.instance_factory = instance_factory
        self.serving_query = serving_query
        self.ttl_seconds = float(ttl_seconds)
        self.clock = clock
        self.reads = 0  # snapshots taken (the cache's effect is visible in tests)
        self._snapshot: Snapshot | None = None
        self._refreshing = False
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        """The cached snapshot. Only the first scrape waits for a read; once the snapshot is
        older than the TTL, a scrape starts one background re-read and is answered from the
        cache, so a slow event log never makes Prometheus time out."""
        with self._lock:
            if self._snapshot is None:
                self._snapshot = self._read(self.clock())
            elif self.clock() - self._snapshot.taken_at >= self.ttl_seconds and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="platform-metrics-refresh", daemon=True).start()
            return self._snapshot

    def refresh(self) -> Snapshot:
        """Re-read the sources now (blocking)."""
        snapshot = self._read(self.clock())
        with self._lock:
            self._snapshot = snapshot
        return snapshot

    def _refresh(self) -> None:
        try:
            self.refresh()
        finally:
            with self._lock:
                self._refreshing = False

    def _read(self, now: float) -> Snapshot:
        started = time.perf_counter()
        snapshot = Snapshot(taken_at=now)
        try:
            read_instance(self.instance_factory(), snapshot)
            snapshot.sources_up["dagster_instance"] = True
        except Exception:  # a scrape still answers; source_up says what could not be read
            log.exception("reading the Dagster instance failed")
            snapshot.sources_up["dagster_instance"] = False
        if self.serving_query is not None:
            try:
                read_serving_db(self.serving_query, snapshot)
                snapshot.sources_up["serving_db"] = True
            except Exception:
                log.exception("reading the serving database failed")
                snapshot.sources_up["serving_db"] = False
        snapshot.collect_seconds = time.perf_counter() - started
        self.reads += 1
        return snapshot

    def collect(self):
        snap = self.snapshot()
        now = self.clock()
        yield from families(snap, now)


def families(snap: Snapshot, now: float):
    """Prometheus metric families of a snapshot at time `now`."""
    up = GaugeMetricFamily(names.EXPORTER_UP, "1 when the source was read at the last snapshot", labels=["source"])
    for source, ok in sorted(snap.sources_up.items()):
        up.add_metric([source], 1.0 if ok else 0.0)
    yield up
    yield GaugeMetricFamily(
        names.EXPORTER_SCRAPE_SECONDS, "Seconds the last snapshot of the sources took", value=snap.collect_seconds
    )

    last = GaugeMetricFamily(
        names.ASSET_LAST_MATERIALIZATION, "Unix time of the asset's newest materialization", labels=["asset"]
    )
    lag = GaugeMetricFamily(
        names.ASSET_FRESHNESS_LAG, "Seconds since the asset's newest materialization", labels=["asset"]
    )
    for asset, ts in sorted(snap.last_materialized.items()):
        last.add_metric([asset], ts)
        lag.add_metric([asset], pm.freshness_lag_seconds(now, ts))
    yield last
    yield lag

    status = GaugeMetricFamily(
        names.JOB_LAST_RUN_STATUS, "1 for the status of the job's newest run", labels=["dagster_job", "status"]
    )
    success = GaugeMetricFamily(
        names.JOB_LAST_RUN_SUCCESS, "1 if the job's newest run succeeded", labels=["dagster_job"]
    )
    duration = GaugeMetricFamily(
        names.JOB_LAST_RUN_DURATION, "Duration of the job's newest run (so far, if running)", labels=["dagster_job"]
    )
    ended = GaugeMetricFamily(names.JOB_LAST_RUN_END, "Unix time the job's newest run ended", labels=["dagster_job"])
    for job, run in sorted(snap.last_runs.items()):
        for name in pm.RUN_STATUSES:
            status.add_metric([job, name], 1.0 if run.status == name else 0.0)
        success.add_metric([job], 1.0 if run.status == "SUCCESS" else 0.0)
        seconds = pm.run_duration_seconds(run, now)
        if seconds is not None:
            duration.add_metric([job], seconds)
        if run.end is not None:
            ended.add_metric([job], run.end)
    yield status
    yield success
    yield duration
    yield ended
    runs = GaugeMetricFamily(
        names.JOB_RUNS, f"Runs by job and status among the newest {RUNS_READ}", labels=["dagster_job", "status"]
    )
    for (job, run_status), n in sorted(snap.runs_by_status.items()):
        runs.add_metric([job, run_status], n)
    yield runs

    accepted = GaugeMetricFamily(
        names.ROWS_ACCEPTED, "Rows in the table's season partition (latest materialization)", labels=["table", "season"]
    )
    quarantined = GaugeMetricFamily(
        names.ROWS_QUARANTINED,
        "Rows of the season set aside in quarantine for the table (latest materialization)",
        labels=["table", "season"],
    )
    for (table, season, kind), rows in sorted(snap.rows.items()):
        (accepted if kind == "accepted" else quarantined).add_metric([table, season], rows)
    yield accepted
    yield quarantined

    brier = GaugeMetricFamily(
        names.MODEL_LIVE_BRIER, "Brier score of published predictions of played games", labels=["model_version"]
    )
    log_loss = GaugeMetricFamily(
        names.MODEL_LIVE_LOG_LOSS, "Log loss of published predictions of played games", labels=["model_version"]
    )
    games = GaugeMetricFamily(
        names.MODEL_LIVE_GAMES, "Played games with a published prediction", labels=["model_version"]
    )
    for version, skill in sorted(snap.live_skill.items()):
        brier.add_metric([version], skill.brier)
        log_loss.add_metric([version], skill.log_loss)
        games.add_metric([version], skill.games)
    yield brier
    yield log_loss
    yield games
    validation = GaugeMetricFamily(
        names.MODEL_VALIDATION_BRIER, "Validation Brier recorded when the model was trained", labels=["model_version"]
    )
    for version, value in sorted(snap.validation_brier.items()):
        validation.add_metric([version], value)
    yield validation

    drift = GaugeMetricFamily(
        names.DRIFT_SHARE, "Share of features drifted vs the training seasons (latest report)", labels=["season"]
    )
    for season, share in sorted(snap.drift_share.items()):
        drift.add_metric([season], share)
    yield drift

    requests = CounterMetricFamily(
        names.STATS_API_REQUESTS, "HTTP requests sent to stats.nba.com by recorded steps", labels=["asset"]
    )
    for asset, n in sorted(snap.stats_api.requests.items()):
        requests.add_metric([asset], n)
    yield requests
    retries = CounterMetricFamily(names.STATS_API_RETRIES, "stats.nba.com requests retried", labels=["asset"])
    for asset, n in sorted(snap.stats_api.retries.items()):
        retries.add_metric([asset], n)
    yield retries
    failed = CounterMetricFamily(
        names.STATS_API_FAILED_ATTEMPTS, "stats.nba.com attempts that failed, by kind", labels=["asset", "kind"]
    )
    for (asset, kind), n in sorted(snap.stats_api.failed_attempts.items()):
        failed.add_metric([asset, kind], n)
    yield failed
    breaker = GaugeMetricFamily(
        names.STATS_API_BREAKER_STATE,
        "1 for the circuit breaker's state at the endpoint's newest recorded use",
        labels=["endpoint", "state"],
    )
    for endpoint, state in sorted(snap.stats_api.breaker_states.items()):
        for name in pm.BREAKER_STATES:
            breaker.add_metric([endpoint, name], 1.0 if state == name else 0.0)
    yield breaker


def platform_registry(collector: PlatformCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def default_collector(ttl_seconds: float) -> PlatformCollector:
    """The configured instance (NBA_HOME / DAGSTER_HOME) and serving database (settings.py)."""
    from nba_platform.cli.runs import get_instance
    from nba_platform.resources.environment import build_resources

    serving = build_resources()["serving_db"]
    instance = get_instance()
    return PlatformCollector(lambda: instance, serving.query, ttl_seconds)


def serve(host: str, port: int, ttl_seconds: float) -> None:
    """Serve /metrics until interrupted."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client import make_wsgi_app

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):
            pass

    app = make_wsgi_app(platform_registry(default_collector(ttl_seconds)))
    with make_server(host, port, app, handler_class=QuietHandler) as server:
        print(f"platform metrics on http://{host}:{server.server_port}/metrics (cache {ttl_seconds:g} s)", flush=True)
        server.serve_forever()
