"""The retraining sensor: requests a `retrain_game_model` run when the world moved.

Causes (thresholds from the `retraining_policy` resource, i.e. settings):
  * drift: a new `monitoring/feature_drift` materialization whose `drift_share` reaches the
    threshold (once per champion version and season partition);
  * skill decay: a new `monitoring/live_skill` materialization where the champion's Brier over
    the last N games exceeds its validation Brier by more than the margin, over at least
    `min_live_games` games (once per champion version);
  * new season: `features/game_outcomes` reports a complete season newer than any seen before.
    The first evaluation only records the latest complete season: deploying onto history
    must not retrain.
  * stale champion (`stale_champion_cause`, lib/champion.champion_is_current): the champion was
    trained before the last completed season, so it must not forecast the next one (once per
    champion and completed season). `nba-platform ingest` and `predict-season` call the same
    function and run the same request (`retrain_request`): one path, daemon or CLI.
Drift is a trigger only when the policy says so (`drift_triggers_retraining`, off by default:
real consecutive seasons drift as much as the threshold, see lib/drift.py); it stays a report.
It reads only the instance's event log (no MLflow, no data), so a tick stays well under a second.
The cursor keeps the last storage id read per asset and what already fired; one cause triggers
one run, and causes found in the same tick share one run whose tags list every reason.
"""

import json

import dagster as dg

from nba_platform.defs.models.promotion import retrain_game_model_job
from nba_platform.lib.champion import champion_is_current, last_completed_before, next_season
from nba_platform.resources.retraining import RetrainingPolicy

DRIFT_KEY = dg.AssetKey(["monitoring", "feature_drift"])
SKILL_KEY = dg.AssetKey(["monitoring", "live_skill"])
OUTCOMES_KEY = dg.AssetKey(["features", "game_outcomes"])
MODEL_KEY = dg.AssetKey(["models", "game_outcome_model"])
PROMOTION_KEY = dg.AssetKey(["models", "champion_promotion"])
# Metadata the model and promotion assets write: the champion after them and its last training season.
CHAMPION_META, CHAMPION_LAST_META = "champion_after", "champion_train_last_season"


def _value(metadata: dict, key: str, default=None):
    entry = metadata.get(key)
    return default if entry is None else getattr(entry, "value", entry)


def _new_records(instance: dg.DagsterInstance, key: dg.AssetKey, after: int | None, limit: int = 100):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=limit, ascending=True
    ).records
    return [r for r in records if r.asset_materialization is not None]


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey):
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1, ascending=False).records
    return records[0] if records and records[0].asset_materialization is not None else None


def champion_mark(instance: dg.DagsterInstance) -> tuple[str, str] | None:
    """(champion label, its last training season) from the latest model or promotion
    materialization that names the champion; None before any."""
    marks = [r for r in (_latest(instance, MODEL_KEY), _latest(instance, PROMOTION_KEY)) if r is not None]
    marks = [r for r in marks if _value(r.asset_materialization.metadata, CHAMPION_LAST_META)]
    if not marks:
        return None
    latest = max(marks, key=lambda r: r.storage_id).asset_materialization.metadata
    return _value(latest, CHAMPION_META, "none"), _value(latest, CHAMPION_LAST_META)


def stale_champion_cause(instance: dg.DagsterInstance, target_season: str | None = None) -> dict | None:
    """The cause to refit when the champion missed the last completed season before `target_season`
    (default: the season after the latest completed one), from the event log only: the latest
    `features/game_outcomes` (complete_seasons) and the latest model or promotion materialization
    that names the champion. None when the champion is current or there is none yet."""
    outcomes = _latest(instance, OUTCOMES_KEY)
    complete = _value(outcomes.asset_materialization.metadata, "complete_seasons") or [] if outcomes else []
    mark = champion_mark(instance)
    if not complete or mark is None:
        return None
    champion, last = mark
    if champion_is_current(last, complete, target_season):
        return None
    target = target_season or next_season(max(complete))
    needed = last_completed_before(complete, target)
    return {
        "reason": "stale_champion",
        "id": f"stale:{champion}:{needed}",
        "detail": f"champion {champion} trained to {last} missed completed {needed} (before {target})",
    }


def retrain_request(causes: list[dict]) -> dg.RunRequest:
    """The retraining run for these causes: the sensor's request, and what the CLI runs."""
    return dg.RunRequest(
        run_key="+".join(c["id"] for c in causes),
        job_name=retrain_game_model_job.name,
        tags={
            "nba/retrain_reason": ",".join(sorted({c["reason"] for c in causes})),
            "nba/retrain_detail": "; ".join(c["detail"] for c in causes)[:1000],
        },
    )


def retraining_causes(instance: dg.DagsterInstance, cursor: dict, policy: RetrainingPolicy) -> tuple[list[dict], dict]:
    """(causes, new cursor). Plain function so it can be reasoned about and tested on its own."""
    cursor = {"drift_id": None, "skill_id": None, "outcomes_id": None, "fired": [], "complete_season": None, **cursor}
    fired, causes = set(cursor["fired"]), []

    for record in _new_records(instance, DRIFT_KEY, cursor["drift_id"]):
        cursor["drift_id"] = record.storage_id
        meta = record.asset_materialization.metadata
        share, champion = _value(meta, "drift_share"), _value(meta, "champion_version", "none")
        cause_id = f"drift:{champion}:{record.partition_key}"
        if (
            policy.drift_triggers_retraining
            and share is not None
            and share == share
            and float(share) >= policy.drift_share_threshold
            and cause_id not in fired
        ):
            fired.add(cause_id)
            causes.append(
                {
                    "reason": "drift",
                    "id": cause_id,
                    "partition": record.partition_key,
                    "detail": f"drift share {float(share):.2f} >= {policy.drift_share_threshold} in {record.partition_key} vs {champion}",
                }
            )

    for record in _new_records(instance, SKILL_KEY, cursor["skill_id"]):
        cursor["skill_id"] = record.storage_id
        meta = record.asset_materialization.metadata
        live, validation = _value(meta, "champion_brier_last_n"), _value(meta, "champion_validation_brier")
        games, champion = int(_value(meta, "games", 0) or 0), _value(meta, "champion", "none")
        cause_id = f"skill:{champion}"
        if (
            live is not None
            and validation is not None
            and live == live
            and validation == validation
            and games >= policy.min_live_games
            and float(live) - float(validation) > policy.skill_decay_margin
            and cause_id not in fired
        ):
            fired.add(cause_id)
            causes.append(
                {
                    "reason": "skill_decay",
                    "id": cause_id,
                    "detail": f"{champion} live Brier {float(live):.4f} > validation {float(validation):.4f} + {policy.skill_decay_margin}",
                }
            )

    for record in _new_records(instance, OUTCOMES_KEY, cursor["outcomes_id"]):
        cursor["outcomes_id"] = record.storage_id
        complete = _value(record.asset_materialization.metadata, "complete_seasons") or []
        latest = max(complete) if complete else None
        if latest is None:
            continue
        if cursor["complete_season"] is None:
            cursor["complete_season"] = latest  # first sight: history, not news
        elif latest > cursor["complete_season"]:
            cursor["complete_season"] = latest
            cause_id = f"season:{latest}"
            mark = champion_mark(instance)
            if mark is not None and mark[1] >= latest:
                continue  # the champion already saw it (a CLI refit, or the deployed refit): nothing to do
            if cause_id not in fired:
                fired.add(cause_id)
                causes.append({"reason": "new_season", "id": cause_id, "detail": f"season {latest} completed"})

    stale = stale_champion_cause(instance)
    if stale is not None and stale["id"] not in fired:
        fired.add(stale["id"])
        causes.append(stale)

    cursor["fired"] = sorted(fired)[-200:]
    return causes, cursor


@dg.sensor(
    name="retraining_sensor",
    job=retrain_game_model_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a `retrain_game_model` run (new MLflow challenger, promotion check) when the champion's "
    "live Brier decays past its validation Brier by the margin, when a new season completes, when the champion "
    "missed the last completed season, or (if the policy enables it) when a partition's feature drift crosses the "
    "threshold. Run tags nba/retrain_reason and nba/retrain_detail say why.",
)
def retraining_sensor(context: dg.SensorEvaluationContext, retraining_policy: RetrainingPolicy) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {}
    causes, new_cursor = retraining_causes(context.instance, cursor, retraining_policy)
    if not causes:
        return dg.SensorResult(
            skip_reason=dg.SkipReason("no drift, skill decay, new complete season or stale champion"),
            cursor=json.dumps(new_cursor),
        )
    for cause in causes:
        context.log.info(f"retraining: {cause['detail']}")
    return dg.SensorResult(run_requests=[retrain_request(causes)], cursor=json.dumps(new_cursor))
