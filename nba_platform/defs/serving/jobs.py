import dagster as dg

from nba_platform.defs.ingestion.jobs import SEASON_TABLES_SELECTION

# A landed season's tables, the (unpartitioned) features over all history, and that season's
# walk-forward predictions. Used by `nba-platform predict-season`.
predict_season_job = dg.define_asset_job(
    name="predict_season",
    selection=SEASON_TABLES_SELECTION
    | dg.AssetSelection.groups("features")
    | dg.AssetSelection.assets(dg.AssetKey(["serving", "game_predictions"])),
    description="Tables, features and walk-forward predictions for the season partition of the run.",
)
