"""Jobs that span every stage: the cold build and the update new data needs. Each stage's own
jobs live with it (ingestion: season_tables, monitoring: season_drift, serving: predict_season,
models: retrain_game_model, ops: the backup)."""

import dagster as dg

from nba_platform.defs.ingestion.jobs import SEASON_TABLES_SELECTION, season_tables_job
from nba_platform.defs.monitoring.jobs import FEATURE_DRIFT

# The whole data/ML graph over a range of seasons in one run (README command 1,
# `nba-platform build`). Operational assets (backups) run on their own schedule.
# Forecasts are partitioned by day, not season: they run in `daily_forecast` (defs/serving/jobs.py).
FORECASTS = dg.AssetSelection.assets(dg.AssetKey(["serving", "game_forecasts"]))
BUILD_ALL_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.groups("ops") - FEATURE_DRIFT - FORECASTS
build_all_job = dg.define_asset_job(
    name="build_all",
    selection=BUILD_ALL_SELECTION,
    description="Every asset, every season: a cold build in one in-process run (drift reports are for new partitions).",
)

# What new data for a season touches, once a model exists: its tables, the (unpartitioned) features,
# predictions by the champion, shadow scores, the publish, live skill and the promotion check.
# No retraining: the retraining sensor decides that. Drift follows in `season_drift`.
SEASON_UPDATE_SELECTION = (
    SEASON_TABLES_SELECTION
    | dg.AssetSelection.groups("features")
    | dg.AssetSelection.assets(
        *[
            dg.AssetKey(key.split("/"))
            for key in (
                "serving/game_predictions",
                "serving/shadow_predictions",
                "serving/published_predictions",
                "monitoring/live_skill",
                "models/champion_promotion",
            )
        ]
    )
)
season_update_job = dg.define_asset_job(
    name="season_update",
    selection=SEASON_UPDATE_SELECTION,
    description="New data for a season, end to end without retraining: tables, features, champion predictions "
    "(published), shadow scores, live skill, promotion check. The landing sensor runs it once a model exists; "
    "`season_drift` follows when it succeeds.",
)
MODEL_KEY = dg.AssetKey(["models", "game_outcome_model"])


def job_for_new_data(instance: dg.DagsterInstance) -> str:
    """season_update once a game model has been built (its card is what predictions read), else season_tables."""
    return (
        season_update_job.name
        if instance.get_latest_materialization_event(MODEL_KEY) is not None
        else season_tables_job.name
    )
