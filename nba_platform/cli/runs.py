"""Launching the platform's jobs in-process against the configured Dagster instance
(used by the CLI; the UI and daemon launch the same jobs)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg

from nba_platform.cli.orphans import cli_run_tags, mark_orphaned_runs
from nba_platform.settings import load_settings

SEASON_PARTITIONS = "season"
# The daemon's run monitoring (when `dagster dev` or the daemon runs on this home): runs that never
# start fail after 3 min, and no run may stay in progress longer than 6 h. In-process CLI runs
# killed outright are failed by the next CLI command (cli/orphans.py).
RUN_MONITORING = (
    "run_monitoring:\n  enabled: true\n  start_timeout_seconds: 180\n  cancel_timeout_seconds: 180\n"
    "  max_runtime_seconds: 21600\n  max_resume_run_attempts: 0\n  poll_interval_seconds: 60\n"
)


def get_instance() -> dg.DagsterInstance:
    settings = load_settings()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DAGSTER_HOME", str(home))
    if not (home / "dagster.yaml").exists():
        # freshness: evaluate the freshness policies of the daily-fed tables (shown in the UI)
        # python_logs: JSON run logs on stdout when NBA_LOG_FORMAT=json (observability/run_logs.py), silent otherwise
        # event_log_storage: Dagster's SQLite event log, one engine per shard (dagster_storage.py)
        (home / "dagster.yaml").write_text(
            "telemetry:\n  enabled: false\nfreshness:\n  enabled: true\n"
            "python_logs:\n  managed_python_loggers: [nba_platform]\n  dagster_handler_config:\n    handlers:\n"
            "      nba_json: {class: nba_platform.observability.run_logs.RunLogHandler, stream: 'ext://sys.stdout'}\n"
            "event_log_storage:\n  module: nba_platform.dagster_storage\n  class: EmbeddedSqliteEventLogStorage\n"
            "  config: {}\n" + RUN_MONITORING
        )
    instance = dg.DagsterInstance.get()
    for run_id in mark_orphaned_runs(instance):
        print(f"run {run_id}: its process is gone (killed?): marked FAILED")
    return instance


def register_seasons(instance: dg.DagsterInstance, seasons) -> list[str]:
    """Add season partitions that do not exist yet; keeps chronological order for new ones."""
    existing = set(instance.get_dynamic_partitions(SEASON_PARTITIONS))
    new = sorted(set(seasons) - existing)
    if new:
        instance.add_dynamic_partitions(SEASON_PARTITIONS, new)
    return new


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    seasons: list[str]


def run_job(
    job_name: str, seasons: list[str], instance: dg.DagsterInstance | None = None, tags: dict | None = None
) -> RunOutcome:
    """One in-process run covering `seasons` (a contiguous range in partition order)."""
    from nba_platform.definitions import defs

    instance = instance or get_instance()
    order = instance.get_dynamic_partitions(SEASON_PARTITIONS)
    positions = sorted(order.index(s) for s in seasons)
    run_tags = {
        "dagster/asset_partition_range_start": order[positions[0]],
        "dagster/asset_partition_range_end": order[positions[-1]],
        **cli_run_tags(),
        **(tags or {}),
    }
    job = defs().resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance, tags=run_tags, raise_on_error=False)
    covered = order[positions[0] : positions[-1] + 1]
    return RunOutcome(result.run_id, result.success, covered)
