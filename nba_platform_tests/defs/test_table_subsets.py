"""The table multi-assets can be subset: one output of team_games / player_games / a validated
table is materialized alone (what `dg launch --assets tables/team_games --partition 2023-24` runs)."""

import os

import dagster as dg

from nba_platform.definitions import defs
from nba_platform_tests.defs.helpers import materialize_seasons


def keys(*paths: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*[dg.AssetKey(p.split("/")) for p in paths])


def materialized(result) -> list[str]:
    return sorted(e.asset_key.to_user_string() for e in result.get_asset_materialization_events())


def test_each_table_output_materializes_alone(instance, local_resources, land, sample_path):
    land(sample_path("nba_api_league_gamelog_2021_2024/nba-gamelog-2023-24.csv.gz"))
    assert materialize_seasons(["2023-24"], local_resources, instance).success
    lake = local_resources["io_manager"].root
    before = (
        lake + "/quarantine/team_games_dedup/season=2023-24/data.parquet",
        lake + "/tables/team_games/season=2023-24/data.parquet",
    )
    mtime_conflicts = os.stat(before[0]).st_mtime_ns
    d = defs()
    for selection, expected in [
        (keys("tables/team_games"), ["tables/team_games"]),
        (keys("quarantine/player_games_dedup"), ["quarantine/player_games_dedup"]),
        (keys("tables/team_games_validated"), ["tables/team_games_validated"]),
        (keys("corrections/player_games"), ["corrections/player_games"]),
    ]:
        result = dg.materialize(
            [*d.assets, *(d.asset_checks or [])],
            resources=local_resources,
            instance=instance,
            selection=selection,
            partition_key="2023-24",
        )
        assert result.success
        assert materialized(result) == expected
    # the conflicts output of team_games was not selected: not rewritten
    assert os.stat(before[0]).st_mtime_ns == mtime_conflicts
