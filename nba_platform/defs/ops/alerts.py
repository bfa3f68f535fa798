"""Alerting: a run failure and a failed blocking check each reach the team by email and webhook
(`AlertNotifier`, resource key `alert_notifier`). Runbooks: docs/operations/runbooks.md."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from nba_platform.lib import alerts as msg
from nba_platform.resources.alerts import AlertNotifier

# ---------------------------------------------------------------- run failures


def _error_text(error) -> str:
    """A SerializableErrorInfo as its message chain (outer error, then its causes), no stack."""
    if error is None:
        return ""
    causes, seen, node = [], 0, error.cause or error.context
    while node is not None and seen < 5:
        causes.append(node.message)
        node, seen = node.cause or node.context, seen + 1
    return msg.error_chain(error.message, causes)


def run_failure_alert_for(context: dg.RunFailureSensorContext, notifier: AlertNotifier) -> msg.Alert:
    run = context.dagster_run
    steps = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        steps.append(msg.StepFailure(step_key=event.step_key or "?", error=_error_text(data.error if data else None)))
    failure = context.failure_event
    job_data = failure.job_failure_data if failure and failure.is_job_failure else None
    run_error = _error_text(job_data.error) if job_data and job_data.error else (failure.message if failure else None)
    return msg.run_failure(
        job_name=run.job_name,
        run_id=run.run_id,
        steps=steps,
        run_error=run_error,
        ui_base_url=notifier.ui_base_url,
        environment=notifier.environment,
        secrets=notifier.secret_values(),
    )


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Alerts on every failed run of any job in this code location (including ad-hoc asset "
    "materializations): email and webhook with the job, run id, failed steps, the error message "
    "(secrets scrubbed) and a link to the run in the UI. Runbook: docs/operations/runbooks.md#run-failure.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def run_failure_alert(context: dg.RunFailureSensorContext, alert_notifier: AlertNotifier) -> None:
    alert = run_failure_alert_for(context, alert_notifier)
    alert_notifier.send(alert, log=context.log)


# ---------------------------------------------------------------- failed blocking checks

# Execution records read per check on each tick that saw activity for it: more failures of one
# check between two ticks (30 s) than this would be alerted only up to this many.
HISTORY_PER_CHECK = 25
# Execution records come from the instance's event log storage; Dagster exports no public type for
# them, so they are read by attribute and their status compared by name (PLANNED/SUCCEEDED/FAILED).
PLANNED, SUCCEEDED, FAILED = "PLANNED", "SUCCEEDED", "FAILED"
COMPLETED = {SUCCEEDED, FAILED}
# An asset check execution record of the event log storage (id, key, run_id, status, partition, evaluation).
CheckExecutionRecord = Any


def _status(rec: CheckExecutionRecord) -> str:
    return rec.status.value


def blocking_check_keys(repository_def) -> list[dg.AssetCheckKey]:
    if repository_def is None:
        return []
    graph = repository_def.asset_graph
    return sorted(
        (k for k in graph.asset_check_keys if graph.get_check_spec(k).blocking),
        key=lambda k: (k.asset_key.to_user_string(), k.name),
    )


def _key_str(key: dg.AssetCheckKey) -> str:
    return f"{key.asset_key.to_user_string()}:{key.name}"


def new_failed_check_records(
    instance: dg.DagsterInstance, check_keys: list[dg.AssetCheckKey], cursor: str | None
) -> tuple[list[CheckExecutionRecord], str]:
    """The failed evaluations not alerted yet, and the next cursor.

    Cursor: `storage_id`, the highest check-event storage id seen (evaluations and plans; the
    cheap "anything new?" test per check), `record_id`, the highest check-execution record seen,
    and `pending`, records still PLANNED (their evaluation may come later, after newer records
    of the same check; checks with pending records are re-read every tick until they complete).
    With no cursor (first tick), only checks whose latest completed evaluation failed are alerted.
    """
    state = json.loads(cursor) if cursor else {}
    after_storage: int | None = state.get("storage_id")
    after_record: int | None = state.get("record_id")
    pending: dict[int, str] = {int(k): v for k, v in state.get("pending", {}).items()}

    storage = instance.event_log_storage
    infos = (
        storage.get_asset_check_partition_info(list(check_keys), after_storage_id=after_storage) if check_keys else []
    )
    # A check is re-read when its latest record has a newer event, or when it has a pending
    # (planned) record: an older record completing does not change the check's latest record.
    pending_names = set(pending.values())
    active = sorted(
        {i.check_key for i in infos if after_storage is None or (i.latest_check_event_storage_id or 0) > after_storage}
        | {k for k in check_keys if _key_str(k) in pending_names},
        key=_key_str,
    )
    next_storage = max([after_storage or 0, *(i.latest_check_event_storage_id or 0 for i in infos)])
    active_names = {_key_str(k) for k in active}
    next_pending = {rid: k for rid, k in pending.items() if k not in active_names}
    next_record = after_record or 0
    stale: set[int] = set(state.get("stale", []))
    next_stale: set[int] = set()
    found: list[CheckExecutionRecord] = []
    for key in active:
        history = storage.get_asset_check_execution_history(key, limit=HISTORY_PER_CHECK)
        latest_completed = next((r for r in history if _status(r) in COMPLETED), None)
        for rec in history:
            next_record = max(next_record, rec.id)
            unseen = after_record is None or rec.id > after_record or rec.id in pending
            if _status(rec) == PLANNED and unseen:
                # Still planned although its run has ended (crashed, cancelled, or the check was
                # skipped): nothing will come; dropped once seen so on two ticks in a row.
                run = instance.get_run_by_id(rec.run_id) if rec.run_id else None
                if run is None or run.is_finished:
                    if rec.id in stale:
                        continue
                    next_stale.add(rec.id)
                next_pending[rec.id] = _key_str(key)
            elif _status(rec) == FAILED and unseen and (after_record is not None or rec is latest_completed):
                found.append(rec)
    found.sort(key=lambda r: r.id)
    next_cursor = json.dumps(
        {
            "storage_id": next_storage,
            "record_id": next_record,
            "pending": {str(k): v for k, v in sorted(next_pending.items())},
            "stale": sorted(next_stale & set(next_pending)),
        },
        sort_keys=True,
    )
    return found, next_cursor


def _metadata_values(metadata) -> dict:
    out = {}
    for k, v in (metadata or {}).items():
        out[k] = getattr(v, "value", v)
    return out


def failed_check_alert_for(rec: CheckExecutionRecord, description: str | None, notifier: AlertNotifier) -> msg.Alert:
    evaluation = rec.evaluation
    severity = getattr(getattr(evaluation, "severity", None), "value", "ERROR")
    return msg.failed_check(
        asset_path=rec.key.asset_key.path,
        check_name=rec.key.name,
        run_id=rec.run_id or None,
        partition=rec.partition,
        metadata=_metadata_values(evaluation.metadata if evaluation else {}),
        description=(evaluation.description if evaluation and evaluation.description else description),
        ui_base_url=notifier.ui_base_url,
        severity=str(severity),
        environment=notifier.environment,
        secrets=notifier.secret_values(),
    )


@dg.sensor(
    name="failed_check_alert",
    description="Alerts once per failed evaluation of a blocking asset check (the evaluation that stopped "
    "downstream assets in its run): email and webhook naming the asset, the check, the run and the "
    "failing metadata. Reads the instance's asset check evaluations; cursor on the event storage id. "
    "Runbook: docs/operations/runbooks.md#failed-blocking-check.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def failed_check_alert(context: dg.SensorEvaluationContext, alert_notifier: AlertNotifier) -> dg.SensorResult:
    keys = blocking_check_keys(context.repository_def)
    if not keys:
        return dg.SensorResult(skip_reason="no blocking asset checks in this code location", cursor=context.cursor)
    if not context.instance.event_log_storage.supports_asset_checks:
        return dg.SensorResult(
            skip_reason="event storage has no asset check tables (run `dagster instance migrate`)",
            cursor=context.cursor,
        )
    records, cursor = new_failed_check_records(context.instance, keys, context.cursor)
    if not records:
        return dg.SensorResult(skip_reason="no new failed blocking check evaluations", cursor=cursor)
    graph = context.repository_def.asset_graph
    sent = 0
    for rec in records:
        description = graph.get_check_spec(rec.key).description if rec.key in graph.asset_check_keys else None
        report = alert_notifier.send(failed_check_alert_for(rec, description, alert_notifier), log=context.log)
        sent += report.delivered
    note = f"{len(records)} failed blocking check evaluation(s), {sent} alert(s) delivered"
    context.log.info(note)
    return dg.SensorResult(skip_reason=note, cursor=cursor)
