import dagster as dg

# Everything a season partition feeds, from raw to deduplicated tables (what the landing
# sensor and `nba-platform ingest` run for each season a file touches before a model exists).
SEASON_TABLES_SELECTION = dg.AssetSelection.groups("ingestion", "tables") - dg.AssetSelection.assets(
    dg.AssetKey(["tables", "players"]), dg.AssetKey(["quarantine", "players_dedup"])
)
season_tables_job = dg.define_asset_job(
    name="season_tables",
    selection=SEASON_TABLES_SELECTION,
    description="Raw -> validated -> deduplicated tables for the season partition(s) of the run.",
)

# What the daily cycle re-reads each morning (the daily ingest schedule's subset of season_tables):
# the game results and the schedule, raw to deduplicated with their quarantines and checks. Player
# files feed only the player model, which the daily forecasts do not use: they reach their tables
# when they land (landing sensor, `nba-platform ingest`), as every file does.
DAILY_TABLES_SELECTION = SEASON_TABLES_SELECTION & (
    dg.AssetSelection.tag("entity", "team_game") | dg.AssetSelection.tag("entity", "schedule")
)
daily_tables_job = dg.define_asset_job(
    name="daily_tables",
    selection=DAILY_TABLES_SELECTION,
    description="The daily cycle's tables for the latest season: game results and the schedule, raw -> validated -> "
    "deduplicated (with their quarantines and blocking checks); run by daily_season_ingest, then daily_forecast.",
)
