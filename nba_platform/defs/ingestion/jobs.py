import dagster as dg

# Everything a season partition feeds, from raw to deduplicated tables (what the landing
# sensor and `nba-platform ingest` run for each season a file touches).
SEASON_TABLES_SELECTION = dg.AssetSelection.groups("ingestion", "tables") - dg.AssetSelection.keys(
    dg.AssetKey(["tables", "players"]), dg.AssetKey(["quarantine", "players_dedup"])
)
season_tables_job = dg.define_asset_job(
    name="season_tables",
    selection=SEASON_TABLES_SELECTION,
    description="Raw -> validated -> deduplicated tables for the season partition(s) of the run.",
)

# The whole data/ML graph over a range of seasons in one run (README command 1,
# `nba-platform build`). Operational assets (backups) run on their own schedule.
build_all_job = dg.define_asset_job(
    name="build_all",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("ops"),
    description="Every asset, every season: a cold build in one in-process run.",
)
