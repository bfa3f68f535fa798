"""The player points model's pure functions on real player-games: the shipped 2019-20 and 2020-21
box scores (regular seasons), run through the pipeline's own normalise / rules / dedup functions."""

import functools
import pathlib

import numpy as np
import pandas as pd
import pytest

import nba_platform
from nba_platform.lib import player_model as P
from nba_platform.lib.dedup import dedup_player_games, dedup_team_games
from nba_platform.lib.features import PLAYER_POST_GAME_COLUMNS, player_game_features
from nba_platform.lib.landing import detect_shape, read_landed_bytes, split_by_season
from nba_platform.lib.normalise import normalise_player_games, normalise_team_games
from nba_platform.lib.quality import RULES_BY_ENTITY, apply_rules
from nba_platform.lib.schema import PLAYER_GAME_SCHEMA, TEAM_GAME_SCHEMA

LANDING = pathlib.Path(nba_platform.__file__).parent / "data" / "landing"
SEASONS = ("2019-20", "2020-21")
# Few, shallow trees: these tests check wiring and leakage, the shipped-data figures are the defs test's.
FAST = P.PlayerModelParams(max_iter=40, learning_rate=0.15)


def _landed(rel: str) -> tuple[dict[str, pd.DataFrame], str]:
    path = LANDING / rel
    raw = read_landed_bytes(path.read_bytes(), path.name)
    shape = detect_shape(raw.columns, path.name)
    return split_by_season(raw, shape), shape.name


@functools.lru_cache(maxsize=1)
def _real_player_games() -> pd.DataFrame:
    team_logs, team_shape = _landed("nba_api_teamgamelog_2018_2023/team_game_logs.csv.gz")
    tables = []
    for season in SEASONS:
        box, box_shape = _landed(f"nba_api_player_boxscores_2015_2021/boxscores_{season}.tar.gz")
        teams = apply_rules(
            normalise_team_games(team_logs[season], team_shape).assign(season=season),
            RULES_BY_ENTITY["team_game"],
            "team_game",
            TEAM_GAME_SCHEMA,
        )
        players = apply_rules(
            normalise_player_games(box[season], box_shape).assign(season=season),
            RULES_BY_ENTITY["player_game"],
            "player_game",
            PLAYER_GAME_SCHEMA,
        )
        tables.append(dedup_player_games(players.accepted, dedup_team_games(teams.accepted).table).table)
    return pd.concat(tables, ignore_index=True)


@pytest.fixture(scope="module")
def player_games() -> pd.DataFrame:
    return _real_player_games().copy()


@pytest.fixture(scope="module")
def features(player_games) -> pd.DataFrame:
    return player_game_features(player_games)


def _appearances(player_games: pd.DataFrame) -> pd.DataFrame:
    played = player_games[player_games["did_play"].fillna(False).astype(bool)]
    return played.assign(player_id=played["player_id"].astype("int64"), pts=played["pts"].astype("float64"))


def test_training_frame_is_the_played_rows_of_the_seasons_with_their_points(features, player_games):
    X, y, keys = P.training_frame(features, player_games, ["2019-20"])
    assert list(X.columns) == P.MODEL_FEATURE_COLUMNS and X.dtypes.eq("float64").all()
    assert set(keys["season"]) == {"2019-20"} and len(X) == len(y) == len(keys)
    played = _appearances(player_games)
    played = played[(played["season"] == "2019-20") & played["pts"].notna()]
    assert len(y) == len(played) > 20_000
    expected = played.astype({"game_id": str}).set_index(["game_id", "player_id"])["pts"]
    got = pd.Series(y, index=pd.MultiIndex.from_frame(keys[["game_id", "player_id"]].astype({"game_id": str})))
    pd.testing.assert_series_equal(got.sort_index(), expected.rename(None).sort_index(), check_names=False)
    assert keys["game_date"].is_monotonic_increasing


def test_the_model_reads_no_post_game_column():
    assert not set(P.MODEL_FEATURE_COLUMNS) & PLAYER_POST_GAME_COLUMNS
    assert "minutes" not in P.MODEL_FEATURE_COLUMNS and "minutes_last5" in P.MODEL_FEATURE_COLUMNS


def test_baselines_are_means_of_the_players_earlier_appearances(features, player_games):
    X, y, keys = P.training_frame(features, player_games, ["2020-21"])
    rows = P.evaluation_rows(X)
    baselines = P.baseline_predictions(X)
    assert all(np.isfinite(b[rows]).all() for b in baselines.values())
    history = _appearances(player_games).sort_values("game_date")
    rng = np.random.default_rng(5)
    for i in rng.choice(np.flatnonzero(rows), size=40, replace=False):
        key = keys.iloc[i]
        before = history[(history["player_id"] == key["player_id"]) & (history["game_date"] < key["game_date"])]
        this_season = before[before["season"] == key["season"]]
        assert baselines["season_avg"][i] == pytest.approx(this_season["pts"].mean())
        assert baselines["last5"][i] == pytest.approx(before["pts"].tail(5).mean())
        assert baselines["last10"][i] == pytest.approx(before["pts"].tail(10).mean())
    # Rows left out are exactly those without an earlier appearance this season.
    assert (keys.loc[~rows, "player_id"].size > 0) and np.isnan(baselines["season_avg"][~rows]).all()


def test_regression_metrics_hand_checked():
    m = P.regression_metrics([10, 20, 0], [12, 14, 0])
    assert m == {"mae": pytest.approx(8 / 3), "rmse": pytest.approx(np.sqrt(40 / 3)), "n": 3}
    table = P.compare_methods(
        np.array([10.0, 20.0]), {"model": np.array([11.0, 19.0]), "season_avg": np.array([14.0, 16.0])}
    )
    assert list(table.columns) == P.COMPARISON_COLUMNS
    by = table.set_index("method")
    assert by.loc["model", "mae"] == 1.0 and by.loc["season_avg", "mae"] == 4.0
    assert by.loc["model", "mae_improvement_vs_season_avg"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="finite"):
        P.regression_metrics([1.0, 2.0], [1.0, np.nan])  # a missing forecast is never dropped
    with pytest.raises(ValueError, match="same length"):
        P.regression_metrics([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="no rows"):
        P.regression_metrics([], [])


def test_walk_forward_fits_on_earlier_seasons_and_scores_all_methods_on_the_same_rows(features, player_games):
    evaluation, models = P.walk_forward(features, player_games, FAST)
    assert list(models) == ["2020-21"] and models["2020-21"].train_seasons == ["2019-20"]
    assert list(evaluation.columns) == P.EVALUATION_COLUMNS
    assert list(evaluation["method"]) == list(P.METHODS)
    assert evaluation["n"].nunique() == 1
    X, _, _ = P.training_frame(features, player_games, ["2020-21"])
    assert evaluation["n"].iloc[0] == P.evaluation_rows(X).sum()
    by = evaluation.set_index("method")
    assert by.loc["model", "mae"] < by.loc["season_avg", "mae"]
    with pytest.raises(ValueError, match="used for training"):
        P.evaluate(models["2020-21"], features, player_games, "2019-20")


def test_one_season_of_box_scores_trains_nothing(features, player_games):
    one = player_games[player_games["season"] == "2019-20"]
    evaluation, models = P.walk_forward(player_game_features(one), one, FAST)
    assert models == {} and evaluation.empty and list(evaluation.columns) == P.EVALUATION_COLUMNS
    assert P.walk_forward(pd.DataFrame(), one.iloc[:0], FAST)[1] == {}


def test_evaluated_seasons_labels_and_own_results_reach_no_prediction(features, player_games):
    model = P.train(features, player_games, ["2019-20"], FAST)
    X, _, keys = P.training_frame(features, player_games, ["2020-21"])
    baseline = model.predict(X)

    # Scrambled 2020-21 labels: the model fitted on 2019-20 is unchanged.
    scrambled = player_games.copy()
    later = (scrambled["season"] == "2020-21").to_numpy()
    scrambled.loc[later, "pts"] = scrambled.loc[later, "pts"].sample(frac=1.0, random_state=3).to_numpy()
    refit = P.train(features, scrambled, ["2019-20"], FAST)
    np.testing.assert_array_equal(refit.predict(X), baseline)

    # One game's own box score (points, minutes, shots, who played): its rows' inputs are unchanged.
    game_id = keys["game_id"].iloc[len(keys) // 2]
    own = (player_games["game_id"] == game_id).to_numpy()
    edited = player_games.copy()
    for col in ("pts", "fga", "fta", "tov", "reb", "ast"):
        edited.loc[own, col] = edited.loc[own, col] + 9
    edited.loc[own, "minutes"] = edited.loc[own, "minutes"] + 7.5
    X_edited, _, keys_edited = P.training_frame(player_game_features(edited), edited, ["2020-21"])
    rows = (keys["game_id"] == game_id).to_numpy()
    assert rows.sum() >= 10 and (keys_edited["game_id"] == game_id).sum() == rows.sum()
    pd.testing.assert_frame_equal(
        X_edited[(keys_edited["game_id"] == game_id).to_numpy()].reset_index(drop=True), X[rows].reset_index(drop=True)
    )
    np.testing.assert_array_equal(
        model.predict(X_edited[(keys_edited["game_id"] == game_id).to_numpy()]), baseline[rows]
    )


def test_starters_variant_reads_the_lineup_and_nothing_else_of_the_game(features, player_games):
    columns = P.PlayerModelParams(variant="starters").feature_columns()
    assert columns == P.MODEL_FEATURE_COLUMNS + [P.STARTER_FEATURE]
    X, _, keys = P.training_frame(features, player_games, ["2020-21"], feature_columns=columns)
    labels = player_games.assign(game_id=player_games["game_id"].astype(str))
    joined = keys[["game_id", "player_id"]].merge(labels[["game_id", "player_id", "start_position"]], how="left")
    expected = (joined["start_position"].fillna("").str.strip() != "").to_numpy(dtype="float64")
    np.testing.assert_array_equal(X[P.STARTER_FEATURE].to_numpy(), expected)
    assert 0.3 < expected.mean() < 0.6  # five starters of ~10-12 who play

    # The game's own box score (points, minutes) changes no input of its rows; its lineup does.
    game_id = keys["game_id"].iloc[len(keys) // 3]
    own = (player_games["game_id"] == game_id).to_numpy()
    edited = player_games.copy()
    edited.loc[own, "pts"] = edited.loc[own, "pts"] + 9
    edited.loc[own, "minutes"] = edited.loc[own, "minutes"] + 7.5
    X_edited, _, keys_edited = P.training_frame(
        player_game_features(edited), edited, ["2020-21"], feature_columns=columns
    )
    rows, rows_edited = (keys["game_id"] == game_id).to_numpy(), (keys_edited["game_id"] == game_id).to_numpy()
    assert rows.sum() >= 10
    pd.testing.assert_frame_equal(X_edited[rows_edited].reset_index(drop=True), X[rows].reset_index(drop=True))
    # ... while a changed lineup changes exactly that input.
    edited.loc[own, "start_position"] = edited.loc[own, "start_position"].fillna("").map(lambda p: "" if p else "G")
    X_lineup, _, _ = P.training_frame(features, edited, ["2020-21"], feature_columns=columns)
    np.testing.assert_array_equal(X_lineup.loc[rows, P.STARTER_FEATURE], 1.0 - X.loc[rows, P.STARTER_FEATURE])
    pd.testing.assert_frame_equal(X_lineup.drop(columns=P.STARTER_FEATURE), X.drop(columns=P.STARTER_FEATURE))
    with pytest.raises(ValueError, match="variant must be one of"):
        P.PlayerModelParams(variant="oracle")
