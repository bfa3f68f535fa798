"""Every Prometheus metric the platform exposes, by exporter: the one list the dashboard and the
alert rules are checked against (nba_platform_tests/infra/test_observability_files.py).

The forecast API's own request metrics (GET /metrics on the API) use API_METRICS; the platform
exporter (`nba-platform metrics`, observability/exporter.py) PLATFORM_METRICS.
"""

from __future__ import annotations

# name -> Prometheus type. Counters are named without `_total` in prometheus-client but exposed with it.
API_REQUESTS = "nba_api_requests_total"  # counter; labels route, method, status
API_REQUEST_DURATION = "nba_api_request_duration_seconds"  # histogram; labels route, method
API_METRICS = {API_REQUESTS: "counter", API_REQUEST_DURATION: "histogram"}

ASSET_LAST_MATERIALIZATION = "nba_asset_last_materialization_timestamp_seconds"
ASSET_FRESHNESS_LAG = "nba_asset_freshness_lag_seconds"
JOB_LAST_RUN_STATUS = "nba_job_last_run_status"  # 1 for the status of the job's latest run
JOB_LAST_RUN_SUCCESS = "nba_job_last_run_success"
JOB_LAST_RUN_DURATION = "nba_job_last_run_duration_seconds"
JOB_LAST_RUN_END = "nba_job_last_run_end_timestamp_seconds"
JOB_RUNS = "nba_job_runs"  # runs by status among the recent runs read
ROWS_ACCEPTED = "nba_table_rows_accepted"
ROWS_QUARANTINED = "nba_table_rows_quarantined"
MODEL_LIVE_BRIER = "nba_model_live_brier"
MODEL_LIVE_LOG_LOSS = "nba_model_live_log_loss"
MODEL_LIVE_GAMES = "nba_model_live_games"
MODEL_VALIDATION_BRIER = "nba_model_validation_brier"
DRIFT_SHARE = "nba_feature_drift_share"
STATS_API_REQUESTS = "nba_stats_api_requests_total"
STATS_API_RETRIES = "nba_stats_api_retries_total"
STATS_API_FAILED_ATTEMPTS = "nba_stats_api_failed_attempts_total"
STATS_API_BREAKER_STATE = "nba_stats_api_breaker_state"  # 1 for the endpoint's state at its last use
EXPORTER_SCRAPE_SECONDS = "nba_exporter_collect_seconds"
EXPORTER_UP = "nba_exporter_source_up"  # 1 when a source (instance, serving_db) was read

PLATFORM_METRICS = {
    ASSET_LAST_MATERIALIZATION: "gauge",
    ASSET_FRESHNESS_LAG: "gauge",
    JOB_LAST_RUN_STATUS: "gauge",
    JOB_LAST_RUN_SUCCESS: "gauge",
    JOB_LAST_RUN_DURATION: "gauge",
    JOB_LAST_RUN_END: "gauge",
    JOB_RUNS: "gauge",
    ROWS_ACCEPTED: "gauge",
    ROWS_QUARANTINED: "gauge",
    MODEL_LIVE_BRIER: "gauge",
    MODEL_LIVE_LOG_LOSS: "gauge",
    MODEL_LIVE_GAMES: "gauge",
    MODEL_VALIDATION_BRIER: "gauge",
    DRIFT_SHARE: "gauge",
    STATS_API_REQUESTS: "counter",
    STATS_API_RETRIES: "counter",
    STATS_API_FAILED_ATTEMPTS: "counter",
    STATS_API_BREAKER_STATE: "gauge",
    EXPORTER_SCRAPE_SECONDS: "gauge",
    EXPORTER_UP: "gauge",
}

_SERIES_SUFFIXES = {
    "counter": ("", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}


def series_names(metrics: dict[str, str]) -> set[str]:
    """The sample names a scrape shows for `metrics` (a histogram's _bucket/_count/_sum, ...)."""
    return {name + suffix for name, kind in metrics.items() for suffix in _SERIES_SUFFIXES[kind]}


def exposed_series_names() -> set[str]:
    """Every sample name the platform's exporters expose, plus Prometheus' own `up`."""
    return series_names(API_METRICS) | series_names(PLATFORM_METRICS) | {"up", "scrape_duration_seconds"}
