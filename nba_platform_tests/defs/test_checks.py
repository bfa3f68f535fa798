"""Each asset check fails on a crafted bad frame (called directly), and a failing blocking
check stops the downstream asset in a real run."""

import dagster as dg
import pandas as pd

from nba_platform.defs.tables import checks
from nba_platform.lib.schema import PLAYER_GAME_SCHEMA, PLAYER_SCHEMA, PLAYER_SEASON_SCHEMA, TEAM_GAME_SCHEMA, conform
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import check_results, materialize_seasons
from nba_platform_tests.lake_files import lake_path


def team_game(game_id="0022300001", team=1610612738, opp=1610612752, home=True, pts=110, opp_pts=100, **kw):
    row = dict(
        game_id=game_id,
        season="2023-24",
        season_type="regular",
        game_date=pd.Timestamp("2023-10-25"),
        team_id=team,
        opponent_id=opp,
        is_home=home,
        pts=pts,
        opp_pts=opp_pts,
        game_minutes=48.0,
        fgm=40,
        fga=85,
        fg3m=12,
        fg3a=35,
        ftm=18,
        fta=22,
        oreb=10,
        dreb=35,
        reb=45,
        ast=25,
        stl=7,
        blk=5,
        tov=12,
        pf=18,
        fg_pct=0.47,
        fg3_pct=0.343,
        ft_pct=0.818,
        plus_minus=float(pts - opp_pts),
        source="league_game_log",
        source_file="f.csv",
        source_row=1,
    )
    row.update(kw)
    return row


def good_game():
    return conform(
        pd.DataFrame(
            [team_game(), team_game(team=1610612752, opp=1610612738, home=False, pts=100, opp_pts=110, source_row=2)]
        ),
        TEAM_GAME_SCHEMA,
    )


def test_validated_contract_passes_on_good_and_fails_on_bad_frames():
    assert checks.team_games_validated_contract(team_games_validated={"2023-24": good_game()}).passed
    bad = good_game()
    bad.loc[0, "pts"] = 350  # impossible score
    bad.loc[1, "game_id"] = "22300001"  # id without its leading zeros
    result = checks.team_games_validated_contract(team_games_validated={"2023-24": bad})
    assert not result.passed
    assert "pts" in result.metadata["report"].value and "game_id" in result.metadata["report"].value


def test_dedup_contract_fails_on_duplicate_key_and_three_team_game():
    assert checks.team_games_contract(team_games={"2023-24": good_game()}).passed
    third = conform(
        pd.DataFrame([team_game(team=1610612747, opp=1610612738, home=False, source_row=3)]), TEAM_GAME_SCHEMA
    )
    three = pd.concat([good_game(), third], ignore_index=True)
    result = checks.team_games_contract(team_games={"2023-24": three})
    assert not result.passed and "_rows_in_game" in result.metadata["report"].value
    dup = pd.concat([good_game(), good_game()], ignore_index=True)
    result = checks.team_games_contract(team_games={"2023-24": dup})
    assert not result.passed and "compound_columns_to_be_unique" in result.metadata["report"].value


def test_nothing_lost_detects_a_dropped_row():
    raw = pd.DataFrame({"_source_file": ["f.csv", "f.csv", "f.csv"], "_source_row": [1, 2, 3]})
    accepted = good_game()
    quarantined = pd.DataFrame({"source_file": ["f.csv"], "source_row": [3]})
    ok = checks.team_games_nothing_lost(
        team_games_validated={"s": accepted},
        quarantine={"s": quarantined},
        team_game_logs={},
        league_game_log_slim={},
        team_game_log={},
        league_game_log={"s": raw},
        kaggle_games={},
    )
    assert ok.passed
    lost = checks.team_games_nothing_lost(
        team_games_validated={"s": accepted.iloc[:1]},
        quarantine={"s": quarantined},
        team_game_logs={},
        league_game_log_slim={},
        team_game_log={},
        league_game_log={"s": raw},
        kaggle_games={},
    )
    assert not lost.passed and lost.metadata["source_rows_missing"].value == 1


def test_keys_accounted_detects_a_lost_key_and_duplicates():
    table = good_game()
    empty_q = pd.DataFrame({"record": pd.Series(dtype=str)})
    check = next(c for c in checks.keys_checks if "team_games_keys_accounted" in str(c.check_keys))
    assert check(deduplicated={"s": table}, validated={"s": table}, quarantined={"s": empty_q}).passed
    assert not check(deduplicated={"s": table.iloc[:1]}, validated={"s": table}, quarantined={"s": empty_q}).passed
    dup = pd.concat([table, table.iloc[:1]])
    assert not check(deduplicated={"s": dup}, validated={"s": table}, quarantined={"s": empty_q}).passed


LIN = dict(source="player_bios", source_file="bios.csv", source_row=1)


def test_player_and_players_contracts_fail_on_bad_frames():
    pg = conform(
        pd.DataFrame(
            [
                dict(
                    game_id="0022000001",
                    season="2020-21",
                    season_type="regular",
                    team_id=1610612744,
                    player_id=1,
                    did_play=True,
                    minutes=95.0,
                    pts=10,
                    game_date=pd.Timestamp("2020-12-22"),
                    source="box",
                    source_file="b",
                    source_row=1,
                )
            ]
        ),
        {**PLAYER_GAME_SCHEMA, "game_date": "datetime64[ns]"},
    )
    assert not checks.player_games_contract(player_games={"s": pg}).passed  # 95 minutes
    players = conform(
        pd.DataFrame(
            [
                dict(
                    player_id=1,
                    full_name="A",
                    birth_date=pd.Timestamp("1990-01-01"),
                    height_inches=80,
                    weight_lbs=220,
                    **LIN,
                ),
                dict(
                    player_id=1,
                    full_name="B",
                    birth_date=pd.Timestamp("1991-01-01"),
                    height_inches=80,
                    weight_lbs=220,
                    **LIN,
                ),
            ]
        ),
        PLAYER_SCHEMA,
    )
    assert not checks.players_contract(players=players).passed
    ps = conform(
        pd.DataFrame(
            [
                dict(
                    player_id=2,
                    season="2020-21",
                    team_id=1610612744,
                    full_name=None,
                    birth_date=pd.Timestamp("1990-01-01"),
                    height_inches=50,
                    weight_lbs=220,
                    **LIN,
                )
            ]
        ),
        PLAYER_SEASON_SCHEMA,
    )
    assert not checks.player_seasons_validated_contract(player_seasons_validated={"s": ps}).passed


def test_failing_blocking_check_stops_downstream(tmp_path, instance):
    """A bad validated partition (as if written by a buggy earlier run) is caught by the
    blocking contract; tables/team_games is not materialized from it."""
    resources = embedded_resources(tmp_path, include_sample=False)
    lake = resources["io_manager"]
    bad = good_game()
    bad.loc[0, "team_id"] = 42  # not an NBA franchise
    from nba_platform_tests.lake_files import write_lake

    write_lake(lake.root, "tables/team_games_validated", bad, season="2023-24")
    selection = dg.AssetSelection.checks(
        dg.AssetCheckKey(dg.AssetKey(["tables", "team_games_validated"]), "team_games_validated_contract")
    ) | dg.AssetSelection.assets(dg.AssetKey(["tables", "team_games"]), dg.AssetKey(["quarantine", "team_games_dedup"]))
    result = materialize_seasons(["2023-24"], resources, instance, selection=selection, raise_on_error=False)
    assert check_results(result) == {"team_games_validated_contract": False}
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "tables/team_games" not in materialized
    assert not lake_path(tmp_path / "lake", "tables/team_games", "2023-24").exists()
    assert not (tmp_path / "lake" / "tables" / "team_games").exists()
