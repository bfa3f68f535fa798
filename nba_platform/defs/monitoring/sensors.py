"""Drift follows every successful `season_update`: one `season_drift` run for the same season
partition(s), so each new day's data gets its Evidently report without holding back the
update's published predictions."""

import dagster as dg

from nba_platform.defs.ingestion.jobs import season_drift_job, season_update_job

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
PARTITION = "dagster/partition"
# On an update run: who reports its drift. 'invoker': the CLI runs `season_drift` itself right after
# (no daemon needed); 'none': nobody (`ingest --no-drift`). Absent: this sensor.
DRIFT_BY_TAG = "nba/drift_by"


def drift_request_for(run: dg.DagsterRun) -> dg.RunRequest | None:
    """The `season_drift` request covering the partition(s) `run` updated (None: an unpartitioned run,
    or one whose drift its invoker reports)."""
    if run.tags.get(DRIFT_BY_TAG, "sensor") != "sensor":
        return None
    tags = {"nba/trigger": "after_season_update", "nba/after_run": run.run_id}
    if RANGE_START in run.tags and RANGE_END in run.tags:
        partitions = {RANGE_START: run.tags[RANGE_START], RANGE_END: run.tags[RANGE_END]}
    elif PARTITION in run.tags:
        partitions = {PARTITION: run.tags[PARTITION]}
    else:
        return None
    # run_key: one drift run per update run, however often the sensor is evaluated.
    return dg.RunRequest(
        run_key=f"drift-after:{run.run_id}", job_name=season_drift_job.name, tags={**tags, **partitions}
    )


@dg.run_status_sensor(
    name="drift_after_season_update",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[season_update_job],
    request_job=season_drift_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a `season_update` run succeeds, requests a `season_drift` run for the same season "
    "partition(s): the drift report of the new data, whose `drift_share` the retraining sensor reads.",
)
def drift_after_season_update(context: dg.RunStatusSensorContext):
    request = drift_request_for(context.dagster_run)
    if request is None:
        return dg.SkipReason(f"run {context.dagster_run.run_id}: no season partition, or its invoker reports drift")
    return request
