"""The daily ingest: once a day the latest season's results and schedule are rebuilt from the landing
zone, so rows appended to an already-landed file (in-season game logs) reach the tables even when the
sensor saw no new file. Player files reach their tables when they land (landing sensor, `ingest`)."""

from collections.abc import Iterable
from datetime import timedelta

import dagster as dg

from nba_platform.defs.ingestion.jobs import daily_tables_job
from nba_platform.defs.ingestion.partitions import season_partitions
from nba_platform.lib.seasons import season_start_year
from nba_platform.settings import load_settings

# NBA_DAILY_INGEST_SOURCE=stats_api: the day's results and schedule come from the API (the shapes
# it can fetch for a day's cycle); everything else is still read from the landing zone.
DAILY_API_SHAPES = ("league_game_log", "league_schedule")

DAILY_INGEST_CRON = "0 10 * * *"  # 10:00 UTC: after the overnight US games are final and exported

# What the tables this schedule feeds promise in the UI: materialized since 10:00 UTC by 12:00 UTC
# each day (the run itself takes seconds to a few minutes). definitions.py attaches it to every
# asset of the daily_tables job.
SEASON_TABLES_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 12 * * *", lower_bound_delta=timedelta(hours=2), timezone="UTC"
)


def latest_season(partition_keys: Iterable[str]) -> str | None:
    """The most recent season by start year (partitions are kept in the order they were added,
    which is not chronological when an older season is landed later)."""
    keys = list(partition_keys)
    return max(keys, key=season_start_year) if keys else None


@dg.schedule(
    name="daily_season_ingest",
    job=daily_tables_job,
    cron_schedule=DAILY_INGEST_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 10:00 UTC: a daily_tables run (game results and the schedule, raw -> validated -> "
    "deduplicated) for the latest season partition, re-reading every landed results and schedule file of that season (or, with "
    "NBA_DAILY_INGEST_SOURCE=stats_api, fetching its league game log and schedule), so rows appended to an existing "
    "game log are picked up; its success starts the day's daily_forecast run (forecast_after_daily_ingest). "
    "Skips while no season partition exists. The tables it feeds carry a freshness policy: materialized "
    "since 10:00 UTC by 12:00 UTC.",
)
def daily_season_ingest(context: dg.ScheduleEvaluationContext):
    season = latest_season(context.instance.get_dynamic_partitions(season_partitions.name))
    if season is None:
        return dg.SkipReason(
            "no season partitions yet: land a file (landing_zone_sensor or `nba-platform ingest`) first"
        )
    run_config = daily_run_config(load_settings().daily_ingest_source)
    return dg.RunRequest(partition_key=season, tags={"nba/trigger": "daily_season_ingest"}, run_config=run_config)


def daily_run_config(source: str) -> dict:
    if source != "stats_api":
        return {}
    return {"ops": {f"raw__{shape}": {"config": {"source": "stats_api"}} for shape in DAILY_API_SHAPES}}
