"""The feature assets built by `build_feature_asset`: each equals its lib function on the same
inputs (season partitions concatenated) and carries its metadata and preview."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pandas.testing as pdt

from nba_platform.defs.features import assets as feature_assets
from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.features import game_features, game_outcomes, player_game_features, team_game_features
from nba_platform_tests.lib.test_features import synthetic_league


def by_season(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {season: part.reset_index(drop=True) for season, part in frame.groupby("season", sort=True)}


def test_feature_assets_equal_their_lib_functions_with_metadata():
    team_games, player_games = synthetic_league(n_seasons=2, unplayed_tail_dates=3)
    tables = {"team_games": by_season(team_games), "player_games": by_season(player_games)}

    @dg.asset(key=["tables", "team_games"])
    def team_games_source() -> dict:
        return tables["team_games"]

    @dg.asset(key=["tables", "player_games"])
    def player_games_source() -> dict:
        return tables["player_games"]

    @dg.asset(key=["tables", "schedule"])
    def schedule_source() -> dict:
        return {}  # no schedule landed: complete seasons come from the results

    result = dg.materialize(
        [
            team_games_source,
            player_games_source,
            schedule_source,
            *(feature_assets.build_feature_asset(spec) for spec in feature_assets.FEATURE_ASSETS),
        ],
        resources={"io_manager": dg.mem_io_manager},
    )
    assert result.success
    output = {
        key: result.output_for_node(f"features__{key}")
        for key in ("elo_ratings", "team_game_features", "game_features", "game_outcomes", "player_game_features")
    }

    all_team_games = pd.concat(tables["team_games"].values(), ignore_index=True)
    all_player_games = pd.concat(tables["player_games"].values(), ignore_index=True)
    elo = pregame_elo(all_team_games)
    team_features = team_game_features(all_team_games, elo=elo)
    pdt.assert_frame_equal(output["elo_ratings"], elo)
    pdt.assert_frame_equal(output["team_game_features"], team_features)
    pdt.assert_frame_equal(output["game_features"], game_features(team_features, elo))
    pdt.assert_frame_equal(output["game_outcomes"], game_outcomes(all_team_games))
    pdt.assert_frame_equal(output["player_game_features"], player_game_features(all_player_games))

    metadata = {
        event.asset_key.path[-1]: event.materialization.metadata for event in result.get_asset_materialization_events()
    }
    assert metadata["elo_ratings"]["games"].value == len(elo)
    assert metadata["elo_ratings"]["seasons"].value == 2
    assert metadata["elo_ratings"]["latest_game_date"].value == str(elo["game_date"].max().date())
    assert metadata["game_outcomes"]["played"].value == int(output["game_outcomes"]["home_win"].notna().sum())
    assert metadata["game_outcomes"]["played"].value < metadata["game_outcomes"]["games"].value  # the unplayed tail
    assert metadata["player_game_features"]["players"].value == output["player_game_features"]["player_id"].nunique()
    assert metadata["team_game_features"]["columns"].value == len(team_features.columns)
    for key in output:
        assert "|" in metadata[key]["preview"].value  # a markdown table


def test_complete_seasons_follow_the_schedule_where_one_is_landed():
    """13 April 2024, morning: every team has played 80 or 81 of its 82 games, so the results alone
    call 2023-24 complete (one missed game allowed); the schedule still lists the last two days'
    games as scheduled, so the retraining sensor must not refit on the season yet."""
    import datetime as dt

    from nba_platform.lib import replay as rp
    from nba_platform.resources.landing import sample_root
    from nba_platform_tests.real_features import real_team_games

    day = dt.date(2024, 4, 13)
    team_games = real_team_games()
    team_games = team_games[pd.to_datetime(team_games["game_date"]).dt.date < day]
    path = Path(sample_root()) / "nba_api_league_gamelog_2021_2024" / "nba-gamelog-2023-24.csv.gz"
    log = rp.read_gamelog(pd.read_csv(path, dtype={"game_id": str}, compression="gzip"))
    schedule = rp.schedule_as_of(rp.derive_schedule(log), day)
    outcomes = game_outcomes(team_games)

    def complete(schedule_frame: pd.DataFrame) -> list[str]:
        facts = feature_assets._outcome_facts(outcomes, {"team_games": team_games, "schedule": schedule_frame})
        return facts["complete_seasons"].value

    assert "2023-24" in complete(pd.DataFrame())  # results alone
    assert "2023-24" not in complete(schedule) and "2022-23" in complete(schedule)
    final = rp.schedule_as_of(rp.derive_schedule(log), dt.date(2024, 4, 15))  # every game played
    assert "2023-24" in complete(final)
