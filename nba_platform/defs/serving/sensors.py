"""The forecast half of the daily cycle: when the daily ingest's run succeeds (the latest season's
results and schedule re-read into the tables, `daily_season_ingest`), one `daily_forecast` run for
that day's forecast partition: features -> forecasts (appended to the serving database) -> live
skill. One request per ingest run (run_key), however often the sensor is evaluated."""

import datetime as dt

import dagster as dg

from nba_platform.defs.ingestion.jobs import daily_tables_job, season_tables_job
from nba_platform.defs.pipelines.jobs import season_update_job
from nba_platform.defs.serving.jobs import daily_forecast_job

DAILY_TRIGGER = "daily_season_ingest"
SCHEDULED_TIME_TAG = "dagster/scheduled_execution_time"


def forecast_day_of(run: dg.DagsterRun, fallback: dt.date) -> str:
    """The forecast day of a daily ingest run: the day its tick was scheduled for (UTC)."""
    scheduled = run.tags.get(SCHEDULED_TIME_TAG)
    if scheduled:
        return dt.datetime.fromisoformat(scheduled).astimezone(dt.UTC).date().isoformat()
    return fallback.isoformat()


def forecast_request_for(run: dg.DagsterRun, today: dt.date) -> dg.RunRequest | None:
    if run.tags.get("nba/trigger") != DAILY_TRIGGER:
        return None
    day = forecast_day_of(run, today)
    return dg.RunRequest(
        run_key=f"forecast-after:{run.run_id}",
        job_name=daily_forecast_job.name,
        partition_key=day,
        tags={"nba/trigger": "after_daily_ingest", "nba/after_run": run.run_id},
    )


@dg.run_status_sensor(
    name="forecast_after_daily_ingest",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_tables_job, season_tables_job, season_update_job],
    request_job=daily_forecast_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When the daily ingest's run succeeds, requests `daily_forecast` for that day: features, the day's "
    "forecasts of the next 7 days' scheduled games (appended to the serving database), live skill.",
)
def forecast_after_daily_ingest(context: dg.RunStatusSensorContext):
    request = forecast_request_for(context.dagster_run, dt.datetime.now(dt.UTC).date())
    if request is None:
        return dg.SkipReason(f"run {context.dagster_run.run_id} is not the daily ingest's: no forecast day to run")
    return request
