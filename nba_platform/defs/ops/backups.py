"""Daily verified backups of the serving database, the Dagster storage database and a manifest of
the lake (`DatabaseBackups`, resource key `backups`). Disaster recovery: docs/operations/disaster-recovery.md."""

import datetime as dt

import dagster as dg

from nba_platform.operations.backups import run_backup
from nba_platform.resources.backups import DatabaseBackups

BACKUP_ASSET_KEY = dg.AssetKey(["ops", "database_backup"])
BACKUP_JOB_NAME = "database_backup"


def backup_date(context: dg.AssetExecutionContext) -> dt.date:
    """The schedule tick's date (UTC) for scheduled runs, so a late-starting run still files its
    backup under the day it was scheduled for; today (UTC) otherwise."""
    tick = context.run.tags.get("dagster/scheduled_execution_time")
    if tick:
        return dt.datetime.fromisoformat(tick).astimezone(dt.UTC).date()
    return dt.datetime.now(dt.UTC).date()


def _is_backup_run(context: dg.AssetExecutionContext) -> bool:
    """Back up only in a run that selects this asset alone: the database_backup job (schedule,
    `nba-platform backup`) or a UI "Materialize" of it. A run that selects every asset (build_all,
    tests materializing the whole graph) skips it instead of backing up mid-build."""
    return context.run.job_name == BACKUP_JOB_NAME or set(context.job_def.asset_layer.selected_asset_keys) == {
        BACKUP_ASSET_KEY
    }


@dg.asset(
    key=BACKUP_ASSET_KEY,
    group_name="ops",
    owners=["team:platform"],
    kinds={"postgres", "sqlite", "s3"},
    output_required=False,
    description="A verified backup of the serving database and the Dagster storage database (pg_dump --format=custom "
    "in prod; sqlite3 online-backup snapshots embedded) plus a manifest of every lake object, under "
    "daily/YYYY-MM-DD/ of NBA_BACKUP_URI. Every dump is downloaded back, restored into a scratch database and "
    "compared table by table (row counts and row digests) with the source snapshot; the run fails if anything "
    "differs. Then keeps 7 daily + 4 weekly (Sunday) backups and deletes the rest. Only backs up in a run that "
    "selects it alone (the database_backup job / schedule, `nba-platform backup`, or materialized alone): runs that "
    "select every asset (build_all) skip it. Restore: docs/operations/disaster-recovery.md.",
)
def database_backup(context: dg.AssetExecutionContext, backups: DatabaseBackups):
    if not _is_backup_run(context):
        context.log.info(
            f"ops/database_backup: skipped: run {context.run.job_name!r} selects other assets too; "
            f"backups run in the {BACKUP_JOB_NAME!r} job (schedule daily_database_backup)"
        )
        return
    report = run_backup(backups.plan(), day=backup_date(context), log=context.log.info)
    m = report.manifest
    yield dg.MaterializeResult(
        metadata={
            "backup_date": m.date.isoformat(),
            "location": backups.store().url(f"daily/{m.date.isoformat()}/"),
            "keys_written": dg.MetadataValue.json(sorted(report.written)),
            "bytes_written": dg.MetadataValue.json(report.written),
            "total_bytes": sum(report.written.values()),
            "verified": True,
            "rows_verified": dg.MetadataValue.json(
                {name: {"tables": v["tables"], "rows": v["rows"]} for name, v in report.verified.items()}
            ),
            "rows_verified_per_table": dg.MetadataValue.json(
                {name: v["per_table"] for name, v in report.verified.items()}
            ),
            "sources": dg.MetadataValue.json({a.database: a.source for a in m.artifacts}),
            "lake_objects": m.lake_objects,
            "lake_bytes": m.lake_bytes,
            "lake_changes_since_previous": dg.MetadataValue.json(
                None
                if report.lake_diff is None
                else {
                    "added": len(report.lake_diff.added),
                    "removed": len(report.lake_diff.removed),
                    "changed": len(report.lake_diff.changed),
                }
            ),
            "retention_kept": dg.MetadataValue.json([d.isoformat() for d in report.retention.keep]),
            "retention_deleted": dg.MetadataValue.json([d.isoformat() for d in report.retention.delete]),
            "retention_objects_deleted": report.deleted_keys,
            "seconds": round(report.seconds, 2),
        }
    )


database_backup_job = dg.define_asset_job(
    name=BACKUP_JOB_NAME,
    selection=dg.AssetSelection.assets(BACKUP_ASSET_KEY),
    description="Back up the serving and Dagster storage databases and the lake manifest, verify each dump by "
    "restoring it into a scratch database, then apply retention (ops/database_backup).",
    tags={"nba/purpose": "backup"},
)

daily_database_backup = dg.ScheduleDefinition(
    name="daily_database_backup",
    job=database_backup_job,
    cron_schedule="30 4 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 04:30 UTC (after the RDS automated-backup window 03:00-04:00): a verified backup of the serving and Dagster storage databases plus the lake "
    "manifest under daily/YYYY-MM-DD/ of NBA_BACKUP_URI; keeps 7 daily + 4 weekly (Sunday) backups. A failed "
    "verification fails the run (and alerts). Restore: docs/operations/disaster-recovery.md.",
)


def run_backup_now(instance: dg.DagsterInstance, tags: dict | None = None):
    """One backup run in-process against `instance` (what `nba-platform backup` does); returns
    (success, run_id, metadata of the materialization or None, error message or None)."""
    from nba_platform.definitions import defs

    job = defs().resolve_job_def(BACKUP_JOB_NAME)
    result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags or {})
    metadata = None
    for event in result.get_asset_materialization_events():
        metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    error = None
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
                err = event.step_failure_data.error
                while err.cause is not None:  # the user code's own error, not Dagster's wrapper
                    err = err.cause
                error = err.message.strip()
    return result.success, result.run_id, metadata, error
