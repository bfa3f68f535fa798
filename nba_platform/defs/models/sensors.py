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
It reads only the instance's event log (no MLflow, no data), so a tick stays well under a second.
The cursor keeps the last storage id read per asset and what already fired; one cause triggers
one run, and causes found in the same tick share one run whose tags list every reason.
"""

import json

import dagster as dg

from nba_platform.defs.models.promotion import retrain_game_model_job
from nba_platform.resources.retraining import RetrainingPolicy

DRIFT_KEY = dg.AssetKey(["monitoring", "feature_drift"])
SKILL_KEY = dg.AssetKey(["monitoring", "live_skill"])
OUTCOMES_KEY = dg.AssetKey(["features", "game_outcomes"])


def _value(metadata: dict, key: str, default=None):
    entry = metadata.get(key)
    return default if entry is None else getattr(entry, "value", entry)


def _new_records(instance: dg.DagsterInstance, key: dg.AssetKey, after: int | None, limit: int = 100):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=limit, ascending=True
    ).records
    return [r for r in records if r.asset_materialization is not None]


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
            share is not None
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
            if cause_id not in fired:
                fired.add(cause_id)
                causes.append({"reason": "new_season", "id": cause_id, "detail": f"season {latest} completed"})

    cursor["fired"] = sorted(fired)[-200:]
    return causes, cursor


@dg.sensor(
    name="retraining_sensor",
    job=retrain_game_model_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a `retrain_game_model` run (new MLflow challenger) when a new partition's feature drift "
    "crosses the threshold, when the champion's live Brier decays past its validation Brier by the margin, or when "
    "a new season completes. Run tags nba/retrain_reason and nba/retrain_detail say why.",
)
def retraining_sensor(context: dg.SensorEvaluationContext, retraining_policy: RetrainingPolicy) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {}
    causes, new_cursor = retraining_causes(context.instance, cursor, retraining_policy)
    if not causes:
        return dg.SensorResult(
            skip_reason=dg.SkipReason("no drift, skill decay or new complete season"), cursor=json.dumps(new_cursor)
        )
    for cause in causes:
        context.log.info(f"retraining: {cause['detail']}")
    request = dg.RunRequest(
        run_key="+".join(c["id"] for c in causes),
        tags={
            "nba/retrain_reason": ",".join(sorted({c["reason"] for c in causes})),
            "nba/retrain_detail": "; ".join(c["detail"] for c in causes)[:1000],
        },
    )
    return dg.SensorResult(run_requests=[request], cursor=json.dumps(new_cursor))
