import dagster as dg

# Everything a season partition feeds, from raw to deduplicated tables (what the landing
# sensor and `nba-platform ingest` run for each season a file touches).
SEASON_TABLES_SELECTION = dg.AssetSelection.groups("ingestion", "tables") - dg.AssetSelection.assets(
    dg.AssetKey(["tables", "players"]), dg.AssetKey(["quarantine", "players_dedup"])
)
season_tables_job = dg.define_asset_job(
    name="season_tables",
    selection=SEASON_TABLES_SELECTION,
    description="Raw -> validated -> deduplicated tables for the season partition(s) of the run.",
)


def _keys(*keys: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*[dg.AssetKey(k.split("/")) for k in keys])


# Per-partition drift is for *new* data (landing sensor, ingest), not for a cold rebuild of history:
# each report is a full Evidently run (~10 s and ~10 MB of HTML per season).
FEATURE_DRIFT = _keys("monitoring/feature_drift")

# Drift runs after a season's update, in its own run (monitoring/sensors.py requests it when
# `season_update` succeeds): fresh predictions don't wait for Evidently's import and report
# (~20 s of a ~30 s update), and a failed report doesn't hold back what was published.
season_drift_job = dg.define_asset_job(
    name="season_drift",
    selection=FEATURE_DRIFT,
    description="Evidently drift report of the run's season partition(s) against the champion's training data; "
    "requested after every successful `season_update` (its metadata feeds the retraining sensor).",
)

# The whole data/ML graph over a range of seasons in one run (README command 1,
# `nba-platform build`). Operational assets (backups) run on their own schedule.
BUILD_ALL_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.groups("ops") - FEATURE_DRIFT
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
    | _keys(
        "serving/game_predictions",
        "serving/shadow_predictions",
        "serving/published_predictions",
        "monitoring/live_skill",
        "models/champion_promotion",
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
