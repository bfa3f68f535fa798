"""Drift follows every successful `season_update`: one `season_drift` run for the same season
partition(s), so each new day's data gets its Evidently report without holding back the
update's published predictions."""

import dagster as dg

from nba_platform.defs.monitoring.jobs import season_drift_job
from nba_platform.defs.pipelines.jobs import season_update_job

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
PARTITION = "dagster/partition"
# On an update run, 'none': no drift report wanted for it (`ingest --no-drift`).
DRIFT_BY_TAG = "nba/drift_by"
AFTER_RUN_TAG = "nba/after_run"


def drift_request_for(run: dg.DagsterRun, instance: dg.DagsterInstance) -> dg.RunRequest | None:
    """The `season_drift` request covering the partition(s) `run` updated. None: an unpartitioned run,
    one that wants no report, or one whose report a run in the instance already made (`nba-platform
    ingest` runs this request itself right after its update; the sensor then finds that run)."""
    if run.tags.get(DRIFT_BY_TAG) == "none":
        return None
    if instance.get_run_records(dg.RunsFilter(tags={AFTER_RUN_TAG: run.run_id}), limit=1):
        return None
    tags = {"nba/trigger": "after_season_update", AFTER_RUN_TAG: run.run_id}
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
    request = drift_request_for(context.dagster_run, context.instance)
    if request is None:
        return dg.SkipReason(
            f"run {context.dagster_run.run_id}: no season partition, no report wanted, or its report was already run"
        )
    return request
