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

# The forecast half of the daily cycle, for one forecast day (partition = that day): the features
# the game model reads (unpartitioned, so they run in this day's run, and a retrain the same day
# reads them current; the player features feed only the player model and refresh with its
# inputs), the day's forecasts appended to the serving database, and live skill on the finished
# games' pre-game forecasts. Requested after the daily ingest (defs/serving/sensors.py) and by
# `nba-platform forecast`.
GAME_MODEL_FEATURES = dg.AssetSelection.groups("features") & (
    dg.AssetSelection.assets(dg.AssetKey(["models", "game_outcome_model"])).upstream()
)
DAILY_FORECAST_SELECTION = GAME_MODEL_FEATURES | dg.AssetSelection.assets(
    dg.AssetKey(["serving", "game_forecasts"]), dg.AssetKey(["monitoring", "live_skill"])
)
daily_forecast_job = dg.define_asset_job(
    name="daily_forecast",
    selection=DAILY_FORECAST_SELECTION,
    description="Features, the forecast day's forecasts (every scheduled game of the next 7 days, appended to the "
    "serving database) and live skill of the pre-game forecasts of finished games. Partition: the forecast day.",
)
