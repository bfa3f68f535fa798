"""The feature assets built by `build_feature_asset`: each equals its lib function on the same
inputs (season partitions concatenated) and carries its metadata and preview."""

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

    result = dg.materialize(
        [
            team_games_source,
            player_games_source,
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
