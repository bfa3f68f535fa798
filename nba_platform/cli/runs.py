"""Launching the platform's jobs in-process against the configured Dagster instance
(used by the CLI; the UI and daemon launch the same jobs)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg
import yaml

from nba_platform.observability.run_logs import PYTHON_LOGS_CONFIG
from nba_platform.settings import load_settings

SEASON_PARTITIONS = "season"


# The embedded home's dagster.yaml, written once by `get_instance` from this mapping. Its
# python_logs block is `PYTHON_LOGS_CONFIG`, the one copy (infra/dagster/dagster.yaml is tested
# against it): JSON run logs on stdout when NBA_LOG_FORMAT=json, silent otherwise.
# freshness: evaluate the freshness policies of the daily-fed tables (shown in the UI).
EMBEDDED_INSTANCE_CONFIG = {
    "telemetry": {"enabled": False},
    "freshness": {"enabled": True},
    "python_logs": PYTHON_LOGS_CONFIG,
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
    return dg.DagsterInstance.get()


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
        **(tags or {}),
    }
    job = defs().resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance, tags=run_tags, raise_on_error=False)
    covered = order[positions[0] : positions[-1] + 1]
    return RunOutcome(result.run_id, result.success, covered)
