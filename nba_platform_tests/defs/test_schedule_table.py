"""`tables/schedule` in a real Dagster run: the league schedule fetched from the stats API stand-in
(which answers with the recorded 2024-25 scheduleleaguev2 response) plus a landed plain schedule
file, through the season's tables job; statuses kept, bad rows quarantined with their rule."""

import dagster as dg

from nba_platform.definitions import defs
from nba_platform.defs.ingestion.jobs import SEASON_TABLES_SELECTION
from nba_platform.resources.stats_api import StatsApi
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.lake_files import read_lake_arrow
from nba_platform_tests.stats_api_server import FakeStatsApi

SEASON = "2024-25"
BOS, NYK, LAL, DEN = 1610612738, 1610612752, 1610612747, 1610612743

PLAIN = f"""game_id,game_date,tipoff_utc,home_team_id,away_team_id,neutral,status
0022400061,2024-10-22,2024-10-22T23:30:00,{BOS},{NYK},false,
0022400062,2024-10-22,,{LAL},{DEN},,postponed
0022400063,2024-10-23,,{LAL},{LAL},,
"""


def metadata(result, key: dg.AssetKey) -> dict:
    [mat] = [m for m in result.get_asset_materialization_events() if m.asset_key == key]
    return {k: v.value for k, v in mat.materialization.metadata.items()}


def test_schedule_from_the_api_and_a_landed_file(tmp_path, instance):
    instance.add_dynamic_partitions("season", [SEASON])
    resources = embedded_resources(tmp_path, include_sample=False)
    resources["landing"].accept("schedule_2024-10-20.csv", PLAIN.encode())
    d = defs()
    with FakeStatsApi({}, {}, {}) as server:
        api = StatsApi(base_url=server.base_url, cache_uri=str(tmp_path / "cache"), requests_per_second=0)
        result = dg.materialize(
            [*d.assets, *(d.asset_checks or [])],
            resources={**resources, "stats_api": api},
            instance=instance,
            selection=SEASON_TABLES_SELECTION,
            partition_key=SEASON,
            run_config={"ops": {"raw__league_schedule": {"config": {"source": "stats_api"}}}},
        )
        [request] = [r for r in server.requests if r.endpoint == "scheduleleaguev2"]
    assert result.success and request.params == {"LeagueID": "00", "Season": SEASON}
    raw = metadata(result, dg.AssetKey(["raw", "league_schedule"]))
    assert (raw["source"], raw["rows"], raw["http_requests"]) == ("stats_api", 1, 1)

    schedule = read_lake_arrow(tmp_path / "lake", ["tables", "schedule"], SEASON).to_pandas()
    status = dict(zip(schedule["game_id"], schedule["status"]))
    # the recorded preseason game (final, neutral site in Abu Dhabi) and the plain file's two good rows
    assert status == {"0012400001": "final", "0022400061": "scheduled", "0022400062": "postponed"}
    abu_dhabi = schedule.set_index("game_id").loc["0012400001"]
    assert bool(abu_dhabi["neutral"]) and not bool(abu_dhabi["has_result"])  # no result landed for it
    meta = metadata(result, dg.AssetKey(["tables", "schedule"]))
    assert (meta["games"], meta["scheduled_games"], meta["postponed_games"]) == (3, 1, 1)

    quarantined = read_lake_arrow(tmp_path / "lake", ["quarantine", "schedule"], SEASON).to_pandas()
    assert list(zip(quarantined["game_id"], quarantined["rule"], quarantined["source_row"])) == [
        ("0022400063", "teams_differ", 3)
    ]
    # a scheduled game without points is no team-game defect: nothing reached team_games' quarantine
    team_games = metadata(result, dg.AssetKey(["tables", "team_games_validated"]))
    assert team_games["rows_quarantined"] == 0
