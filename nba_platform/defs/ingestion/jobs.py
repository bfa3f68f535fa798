import dagster as dg

# Everything a season partition feeds, from raw to deduplicated tables (what the landing
# sensor and `nba-platform ingest` run for each season a file touches before a model exists,
# and what the daily ingest schedule runs).
SEASON_TABLES_SELECTION = dg.AssetSelection.groups("ingestion", "tables") - dg.AssetSelection.assets(
    dg.AssetKey(["tables", "players"]), dg.AssetKey(["quarantine", "players_dedup"])
)
season_tables_job = dg.define_asset_job(
    name="season_tables",
    selection=SEASON_TABLES_SELECTION,
    description="Raw -> validated -> deduplicated tables for the season partition(s) of the run.",
)
