"""Launching the platform's jobs in-process against the configured Dagster instance
(used by the CLI; the UI and daemon launch the same jobs)."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field

import dagster as dg
import yaml

from nba_platform.cli.orphans import cli_run_tags, mark_orphaned_runs
from nba_platform.lib.json_logs import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG
from nba_platform.observability.run_logs import PYTHON_LOGS_CONFIG
from nba_platform.settings import load_settings

SEASON_PARTITIONS = "season"
# The daemon's run monitoring (when `dagster dev` or the daemon runs on this home): runs that never
# start fail after 3 min, and no run may stay in progress longer than 6 h. In-process CLI runs
# killed outright are failed by the next CLI command (cli/orphans.py).
RUN_MONITORING = {
    "enabled": True,
    "start_timeout_seconds": 180,
    "cancel_timeout_seconds": 180,
    "max_runtime_seconds": 21600,
    "max_resume_run_attempts": 0,
    "poll_interval_seconds": 60,
}


# The embedded home's dagster.yaml, written once by `get_instance` from this mapping. Its
# python_logs block is `PYTHON_LOGS_CONFIG`, the one copy (infra/dagster/dagster.yaml is tested
# against it): JSON run logs on stdout when NBA_LOG_FORMAT=json, silent otherwise.
# freshness: evaluate the freshness policies of the daily-fed tables (shown in the UI).
EMBEDDED_INSTANCE_CONFIG = {
    "telemetry": {"enabled": False},
    "freshness": {"enabled": True},
    "python_logs": PYTHON_LOGS_CONFIG,
    "run_monitoring": RUN_MONITORING,
}
HEADER = "# Written by nba-platform (nba_platform/cli/runs.py EMBEDDED_INSTANCE_CONFIG) for a new embedded home.\n"
# Homes written before the event log went back to Dagster's default storage name this module.
REMOVED_STORAGE_MODULE = "nba_platform.dagster_storage"


def embedded_instance_yaml() -> str:
    return HEADER + yaml.safe_dump(EMBEDDED_INSTANCE_CONFIG, sort_keys=False)


def get_instance() -> dg.DagsterInstance:
    settings = load_settings()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DAGSTER_HOME", str(home))
    config = home / "dagster.yaml"
    if not config.exists() or REMOVED_STORAGE_MODULE in config.read_text():
        # Same files either way: Dagster's default SQLite storage reads the old home as it is.
        temporary = config.with_suffix(".yaml.tmp")
        temporary.write_text(embedded_instance_yaml())
        temporary.replace(config)
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


# Tag that lets the progress display find the run this invocation launches.
INVOCATION_TAG = "nba/cli_invocation"
# `nba-platform --verbose`: Dagster's raw event stream on the console instead of the progress display.
VERBOSE = {"on": False}


def partition_tags(seasons: list[str]) -> dict[str, str]:
    """The run's partition tags: a range of seasons (one or more); none for a job of unpartitioned
    assets (e.g. retrain_game_model)."""
    if not seasons:
        return {}
    return {RANGE_START_TAG: seasons[0], RANGE_END_TAG: seasons[-1]}


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    seasons: list[str]
    job_name: str = ""
    seconds: float = 0.0
    summary: list[str] = field(default_factory=list)


def run_job(
    job_name: str, seasons: list[str], instance: dg.DagsterInstance | None = None, tags: dict | None = None
) -> RunOutcome:
    """One in-process run of `job_name` covering `seasons` (a contiguous range in partition order),
    followed on the console by the progress display, then summarised."""
    instance = instance or get_instance()
    order = instance.get_dynamic_partitions(SEASON_PARTITIONS)
    positions = sorted(order.index(s) for s in seasons)
    covered = order[positions[0] : positions[-1] + 1] if positions else []
    run_tags = {**partition_tags(covered), **(tags or {})}
    outcome = run_requested_job(job_name, instance, run_tags)
    outcome.seasons = covered
    return outcome


# Seasons one CLI run covers at most: a run holds its seasons' frames in memory together (`ingest` of a
# 100 MB game log of 72 seasons peaked at 4.0 GB as one run); more seasons run as consecutive runs.
MAX_SEASONS_PER_RUN = 8


def season_chunks(instance: dg.DagsterInstance, seasons: list[str], size: int = MAX_SEASONS_PER_RUN) -> list[list[str]]:
    """`seasons` in partition order, cut into runs of at most `size` seasons."""
    order = instance.get_dynamic_partitions(SEASON_PARTITIONS)
    ordered = sorted(set(seasons), key=order.index)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def run_partition_job(
    job_name: str,
    partition_key: str,
    instance: dg.DagsterInstance | None = None,
    tags: dict | None = None,
    run_config: dict | None = None,
) -> RunOutcome:
    """One in-process run of `job_name` for one partition of a non-season partitioning (the
    forecast day of `daily_forecast`), with the same progress display and summary as `run_job`."""
    return run_requested_job(job_name, instance, {PARTITION_TAG: partition_key, **(tags or {})}, run_config)


def run_requested_job(
    job_name: str, instance: dg.DagsterInstance | None = None, tags: dict | None = None, run_config: dict | None = None
) -> RunOutcome:
    """One in-process run of an unpartitioned job (or one whose partitions are in `tags`, as a
    sensor's run request carries them), with the same progress display and summary as `run_job`."""
    from nba_platform.cli.progress import QUIET_RUN_CONFIG, quiet_libraries, step_progress, summary_lines
    from nba_platform.definitions import defs

    instance = instance or get_instance()
    invocation = uuid.uuid4().hex
    run_tags = {**cli_run_tags(), **(tags or {}), INVOCATION_TAG: invocation}

    def find_run() -> str | None:
        found = instance.get_run_records(dg.RunsFilter(tags={INVOCATION_TAG: invocation}), limit=1)
        return found[0].dagster_run.run_id if found else None

    verbose = VERBOSE["on"]
    config = {**(run_config or {}), **({} if verbose else QUIET_RUN_CONFIG)}
    start = time.perf_counter()
    with quiet_libraries(verbose):
        job = defs().resolve_job_def(job_name)
        with step_progress(instance, find_run, len(job.nodes_in_topological_order), job_name) as tally:
            result = job.execute_in_process(
                instance=instance, tags=run_tags, raise_on_error=False, run_config=config or None
            )
    seconds = time.perf_counter() - start
    summary = summary_lines(instance, result.run_id, job_name, result.success, seconds, tally)
    return RunOutcome(result.run_id, result.success, [], job_name, seconds, summary)
