"""Game-outcome models: selection, leakage, guards, and the real shipped data end to end."""

import pathlib
import time

import numpy as np
import pandas as pd
import pytest

import nba_platform
from nba_platform.lib.dedup import dedup_team_games
from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.features import (
    FEATURE_COLUMNS,
    GAME_KEY_COLUMNS,
    game_features,
    game_outcomes,
    team_game_features,
)
from nba_platform.lib.landing import detect_shape, read_landed_bytes, split_by_season
from nba_platform.lib.metrics import brier_score, compare_methods, markdown_comparison
from nba_platform.lib.models import (
    GameModelParams,
    TrainedGameModel,
    build_estimator,
    calibration_folds,
    elo_baseline,
    holdout_probabilities,
    home_base_rate,
    select_and_train,
    training_frame,
    walk_forward_train_seasons,
)
from nba_platform.lib.normalise import normalise_team_games
from nba_platform.lib.quality import RULES_BY_ENTITY, apply_rules
from nba_platform.lib.schema import TEAM_GAME_SCHEMA
from nba_platform.lib.team_ratings import pregame_margin_ratings

BOX_SCORE_MARKERS = ("off_rtg", "def_rtg", "efg_pct")  # NaN before 2018-19 in the real data
BOX_SCORE_COLUMNS = [c for c in FEATURE_COLUMNS if any(m in c for m in BOX_SCORE_MARKERS)]
FAST = GameModelParams(hgb_max_iter=40)


# ---------------------------------------------------------------------------
# A synthetic feature frame: P(home win) = sigmoid(0.3 + 1.2 * diff_elo_pre / 100)
# ---------------------------------------------------------------------------


def season_label(year: int) -> str:
    return f"{year}-{(year + 1) % 100:02d}"


def synthetic(years=range(2014, 2020), games_per_season=500, seed=3, box_from=2017, unplayed_tail=0):
    """(features, outcomes): game keys + every FEATURE_COLUMN (noise except diff_elo_pre, the signal,
    and elo_p_home_win, a noisy read of it); box-score columns NaN before `box_from`; the last
    `unplayed_tail` games of the last season have no result."""
    rng = np.random.default_rng(seed)
    frames = []
    for year in years:
        n = games_per_season
        dates = pd.Timestamp(year, 10, 20) + pd.to_timedelta(np.sort(rng.integers(0, 170, size=n)), unit="D")
        keys = pd.DataFrame(
            {
                "game_id": [f"002{year % 100:02d}{i:05d}" for i in range(n)],
                "game_date": dates,
                "season": season_label(year),
                "season_type": np.where(np.arange(n) < n - 20, "regular", "playoffs"),
                "home_team_id": rng.integers(1, 31, size=n),
                "away_team_id": rng.integers(31, 61, size=n),
            }
        )
        values = pd.DataFrame(rng.normal(size=(n, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
        strength = rng.normal(scale=100.0, size=n)
        values["diff_elo_pre"] = strength
        values["elo_p_home_win"] = 1 / (1 + np.exp(-(0.3 + 1.2 * (strength + rng.normal(scale=80, size=n)) / 100)))
        if year < box_from:
            values[BOX_SCORE_COLUMNS] = np.nan
        p = 1 / (1 + np.exp(-(0.3 + 1.2 * strength / 100)))
        win = (rng.uniform(size=n) < p).astype("int64")
        frame = pd.concat([keys, values], axis=1)
        frame["home_win"] = pd.array(win, dtype="Int64")
        frames.append(frame)
    games = pd.concat(frames, ignore_index=True)
    if unplayed_tail:
        games.loc[games.index[-unplayed_tail:], "home_win"] = pd.NA
    outcomes = games[["game_id", "home_win"]].assign(home_margin=pd.array([pd.NA] * len(games), dtype="Int64"))
    return games[GAME_KEY_COLUMNS + FEATURE_COLUMNS], outcomes


@pytest.fixture(scope="module")
def league():
    return synthetic()


@pytest.fixture(scope="module")
def trained(league):
    features, outcomes = league
    return select_and_train(features, outcomes, ["2014-15", "2015-16", "2016-17", "2017-18"], FAST)


# ---------------------------------------------------------------------------
# Helpers and data
# ---------------------------------------------------------------------------


def test_walk_forward_train_seasons():
    seasons = ["2021-22", "2003-04", "2022-23", "2023-24", "2022-23"]
    assert walk_forward_train_seasons(seasons, "2023-24") == ["2003-04", "2021-22", "2022-23"]
    assert walk_forward_train_seasons(seasons, "2003-04") == []
    assert walk_forward_train_seasons(seasons, "2030-31") == ["2003-04", "2021-22", "2022-23", "2023-24"]


def test_baselines():
    frame = pd.DataFrame({"elo_p_home_win": [0.6, 0.4]})
    assert elo_baseline(frame).tolist() == [0.6, 0.4]
    assert home_base_rate(np.array([1, 0, 1, 1])) == 0.75
    with pytest.raises(ValueError):
        home_base_rate(np.array([]))


def test_training_frame_played_games_of_the_asked_seasons_and_types():
    features, outcomes = synthetic(years=[2014, 2015], games_per_season=50, unplayed_tail=5)
    X, y, keys = training_frame(features, outcomes, ["2015-16"], ("regular", "playoffs"))
    assert list(X.columns) == FEATURE_COLUMNS and list(keys.columns) == GAME_KEY_COLUMNS
    assert len(X) == len(y) == len(keys) == 45  # 50 games, the last 5 unplayed
    assert set(keys["season"]) == {"2015-16"}
    assert keys["game_date"].is_monotonic_increasing
    assert set(np.unique(y)) <= {0, 1} and y.dtype == np.int64
    played = outcomes.set_index("game_id")["home_win"]
    assert (played.loc[keys["game_id"]].to_numpy() == y).all()
    X, y, keys = training_frame(features, outcomes, ["2014-15", "2015-16"], ("playoffs",))
    assert len(X) == 20 + 15 and set(keys["season_type"]) == {"playoffs"}
    with pytest.raises(ValueError, match="lack"):
        training_frame(features.drop(columns="elo_p_home_win"), outcomes, ["2014-15"])


def test_build_estimator_kinds():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    logistic = build_estimator("logistic", GameModelParams(calibration="none", logistic_c=0.3))
    assert isinstance(logistic, Pipeline) and isinstance(logistic[-1], LogisticRegression)
    assert logistic[-1].C == 0.3 and logistic["impute"].add_indicator and logistic["impute"].keep_empty_features
    assert logistic["drop_sparse"].min_coverage == 0.2
    hgb = build_estimator("hist_gradient_boosting", GameModelParams(calibration="none"))
    assert isinstance(hgb[-1], HistGradientBoostingClassifier) and hgb[-1].early_stopping is False
    calibrated = build_estimator("logistic", GameModelParams(calibration="isotonic"))
    assert isinstance(calibrated, CalibratedClassifierCV) and calibrated.method == "isotonic"
    assert calibrated.ensemble is False
    with pytest.raises(ValueError):
        build_estimator("random_forest")
    with pytest.raises(ValueError):
        GameModelParams(calibration="platt")
    with pytest.raises(ValueError):
        GameModelParams(candidates=())


def test_calibration_folds_leave_whole_seasons_out():
    seasons = np.array(["a"] * 3 + ["b"] * 2 + ["c"] * 2 + ["d"] * 1)
    folds = calibration_folds(seasons)
    assert len(folds) == 3
    tests = [set(seasons[test]) for _, test in folds]
    assert tests == [{"a", "d"}, {"b"}, {"c"}]  # round-robin in season order
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(len(seasons)))  # a partition
    for train, test in folds:
        assert not set(seasons[train]) & set(seasons[test])
    assert len(calibration_folds(np.array(["a", "a", "b"]))) == 2


@pytest.mark.parametrize("kind", ["logistic", "hist_gradient_boosting"])
@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic", "none"])
def test_estimators_fit_with_columns_empty_in_training(kind, calibration):
    """Box-score features are NaN in every pre-2018-19 row: a model fitted on those seasons
    must still fit, and predict on rows that do have them."""
    features, outcomes = synthetic(years=[2014, 2015, 2016, 2017], games_per_season=150, box_from=2017)
    X, y, keys = training_frame(features, outcomes, ["2014-15", "2015-16", "2016-17"])
    assert X[BOX_SCORE_COLUMNS].isna().all().all()
    params = GameModelParams(calibration=calibration, hgb_max_iter=20)
    model = build_estimator(kind, params, keys["season"]).fit(X, y)
    X_new, _, _ = training_frame(features, outcomes, ["2017-18"])
    p = model.predict_proba(X_new)[:, 1]
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()  # isotonic may reach 0 or 1


# ---------------------------------------------------------------------------
# Selection and training
# ---------------------------------------------------------------------------


def test_select_and_train_learns_the_signal(league, trained):
    features, outcomes = league
    assert isinstance(trained, TrainedGameModel)
    assert trained.kind in FAST.candidates
    assert trained.train_seasons == ["2014-15", "2015-16", "2016-17", "2017-18"]
    assert trained.validation_season == "2017-18" and trained.fit_seasons == ["2014-15", "2015-16", "2016-17"]
    assert trained.n_train_rows == 4 * 500
    assert trained.feature_columns == FEATURE_COLUMNS
    assert trained.params["hgb_max_iter"] == 40

    v = trained.validation
    assert list(v.columns) == ["candidate", "brier", "log_loss", "accuracy", "n", "selected"]
    assert v["candidate"].tolist() == list(FAST.candidates) and (v["n"] == 500).all()
    assert v.loc[v["selected"], "candidate"].item() == trained.kind
    assert v.loc[v["selected"], "brier"].item() == v["brier"].min()

    held_out = features[features["season"] == "2018-19"]
    y = outcomes.set_index("game_id").loc[held_out["game_id"], "home_win"].astype(int).to_numpy()
    p = trained.predict_proba_home(held_out)
    assert p.shape == (500,) and ((p > 0) & (p < 1)).all()
    assert brier_score(y, p) < 0.22 < brier_score(y, np.full(len(y), 0.5))
    # and it reads the signal the right way round
    assert np.corrcoef(p, held_out["diff_elo_pre"])[0, 1] > 0.8


def test_min_train_seasons_enforced(league):
    features, outcomes = league
    with pytest.raises(ValueError, match="need at least 2"):
        select_and_train(features, outcomes, ["2014-15"], FAST)
    with pytest.raises(ValueError, match="need at least 3"):
        select_and_train(features, outcomes, ["2014-15", "2015-16"], GameModelParams(min_train_seasons=3))
    # a season whose games are all unplayed does not count
    unplayed = outcomes.copy()
    unplayed.loc[features["season"].eq("2015-16").to_numpy(), "home_win"] = pd.NA
    with pytest.raises(ValueError, match="1 training season"):
        select_and_train(features, unplayed, ["2014-15", "2015-16"], FAST)
    with pytest.raises(ValueError, match="0 training season"):
        select_and_train(features, outcomes, ["1999-00", "2000-01"], FAST)


def test_model_sees_only_its_training_seasons(league, trained):
    """A later season with deliberately inverted labels, present in the frames, changes nothing;
    the same season inside the training set does (so the check has teeth)."""
    features, outcomes = league
    inverted = outcomes.copy()
    later = features["season"].isin(["2018-19", "2019-20"]).to_numpy()
    inverted.loc[later, "home_win"] = 1 - inverted.loc[later, "home_win"]
    train = trained.train_seasons

    with_later = select_and_train(features, inverted, train, FAST)
    keep = ~later
    without_later = select_and_train(features[keep], outcomes[keep], train, FAST)

    probe = features[features["season"] == "2018-19"]
    p_with, p_without = with_later.predict_proba_home(probe), without_later.predict_proba_home(probe)
    np.testing.assert_array_equal(p_with, p_without)
    np.testing.assert_array_equal(p_with, trained.predict_proba_home(probe))
    pd.testing.assert_frame_equal(with_later.validation, without_later.validation)
    assert with_later.kind == without_later.kind
    assert with_later.n_train_rows == without_later.n_train_rows
    assert with_later.train_home_win_rate == without_later.train_home_win_rate

    leaky = select_and_train(features, inverted, train + ["2018-19"], FAST)
    assert not np.allclose(leaky.predict_proba_home(probe), p_without)


def test_select_and_train_is_deterministic_and_order_free(league, trained):
    features, outcomes = league
    shuffled = features.sample(frac=1.0, random_state=1)
    again = select_and_train(shuffled, outcomes.sample(frac=1.0, random_state=2), trained.train_seasons[::-1], FAST)
    probe = features[features["season"] == "2019-20"]
    np.testing.assert_array_equal(again.predict_proba_home(probe), trained.predict_proba_home(probe))


def test_single_candidate_and_holdout_probabilities(league):
    features, outcomes = league
    model = select_and_train(
        features,
        outcomes,
        ["2015-16", "2016-17", "2017-18"],
        GameModelParams(candidates=("logistic",), calibration="none"),
    )
    assert model.kind == "logistic" and model.validation["candidate"].tolist() == ["logistic"]
    y, probs, keys = holdout_probabilities(model, features, outcomes, ["2018-19"])
    assert set(probs) == {"model", "elo", "home_base_rate", "coin_flip"} and len(y) == len(keys) == 500
    assert (probs["home_base_rate"] == model.train_home_win_rate).all()
    table = compare_methods(y, probs)
    assert table["method"].iloc[0] in {"model", "elo"}
    with pytest.raises(ValueError, match="used for training"):
        holdout_probabilities(model, features, outcomes, ["2017-18"])
    with pytest.raises(ValueError, match="lack"):
        model.predict_proba_home(features.drop(columns=["diff_elo_pre"]))


# ---------------------------------------------------------------------------
# The real shipped data: train 2004-05..2022-23, evaluate on 2023-24
# ---------------------------------------------------------------------------

LANDING = pathlib.Path(nba_platform.__file__).parent / "data" / "landing"


def real_team_games() -> pd.DataFrame:
    """The deduplicated team-game table from the shipped files, computed as the pipeline does
    (split rows by season, normalise, apply the rules, dedup per season) with the pure lib
    functions: faster than a full `nba-platform build` (~20 s against ~60 s) and independent of
    whatever lake a developer has lying around."""
    by_season: dict[str, list[pd.DataFrame]] = {}
    for path in sorted(p for p in LANDING.rglob("*") if p.is_file() and not p.name.endswith(".tar.gz")):
        raw = read_landed_bytes(path.read_bytes(), path.name)
        shape = detect_shape(raw.columns, path.name)
        if shape.entity != "team_game":
            continue
        for season, rows in split_by_season(raw, shape).items():
            by_season.setdefault(season, []).append(normalise_team_games(rows, shape.name).assign(season=season))
    tables = []
    for _season, frames in sorted(by_season.items()):
        split = apply_rules(
            pd.concat(frames, ignore_index=True), RULES_BY_ENTITY["team_game"], "team_game", TEAM_GAME_SCHEMA
        )
        tables.append(dedup_team_games(split.accepted).table)
    return pd.concat(tables, ignore_index=True)


def test_real_data_model_beats_elo_beats_coin_flip_on_2023_24():
    team_games = real_team_games()
    elo = pregame_elo(team_games)
    ratings = pregame_margin_ratings(team_games)
    features = game_features(team_game_features(team_games, elo=elo, ratings=ratings), elo, ratings)
    outcomes = game_outcomes(team_games)
    seasons = sorted(features["season"].unique())
    assert seasons[0] == "2003-04" and seasons[-1] == "2023-24"
    train = [s for s in walk_forward_train_seasons(seasons, "2023-24") if s >= "2004-05"]
    assert train[0] == "2004-05" and train[-1] == "2022-23" and len(train) == 19

    started = time.perf_counter()
    model = select_and_train(features, outcomes, train, GameModelParams())
    seconds = time.perf_counter() - started
    y, probs, keys = holdout_probabilities(model, features, outcomes, ["2023-24"])
    table = compare_methods(y, probs)
    print(f"\nselect_and_train: {seconds:.1f}s, kind={model.kind}, {model.n_train_rows} training games")
    print(f"validation on {model.validation_season}:\n{markdown_comparison(model.validation)}")
    print(f"2023-24 holdout:\n{markdown_comparison(table)}")

    assert model.train_seasons == train
    assert len(y) == 1312 and set(keys["season"]) == {"2023-24"}  # 1230 regular + 82 playoff games
    brier = table.set_index("method")["brier"]
    assert brier["model"] < brier["elo"] < brier["coin_flip"] == 0.25
    assert brier["home_base_rate"] < brier["coin_flip"]


def test_sparse_features_are_dropped_so_they_cannot_explode_predictions():
    """A feature observed in 5% of training rows (box scores before 2018-19 exist only for
    playoff games) must not be learned: when it is suddenly common, predictions stay sane."""
    from nba_platform.lib.models import DropAllMissingColumns

    X = np.full((100, 2), np.nan)
    X[:, 0] = np.arange(100)
    X[:5, 1] = 1.0
    drop = DropAllMissingColumns(min_coverage=0.2).fit(X)
    assert drop.keep_.tolist() == [True, False]
    assert drop.transform(X).shape == (100, 1)
    assert DropAllMissingColumns().fit(X).keep_.tolist() == [True, True]  # default: only all-missing columns go


def test_mlflow_resource_leaves_no_tracking_uri_in_the_environment(tmp_path, monkeypatch):
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI (a prod URI holds the DB password); the
    resource must leave the process environment as it found it."""
    import os

    from nba_platform.resources.mlflow import MlflowTracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    tracking = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert tracking.version_by_alias("champion") is None
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ


def test_feature_group_ablation_measures_each_groups_gain(league):
    from nba_platform.lib.game_ablation import ABLATION_COLUMNS, ablation, ablation_variants

    features, outcomes = league
    # Make the travel group informative (a test-only leak of the label) so its gain must show.
    informative = features.merge(outcomes[["game_id", "home_win"]], on="game_id", how="left")
    noise = np.random.default_rng(3).normal(scale=0.5, size=len(informative))
    features = features.assign(diff_travel_km=informative["home_win"].astype("float64").fillna(0.5).to_numpy() + noise)
    table = ablation(features, outcomes, ["2017-18"], "logistic", FAST)
    assert list(table.columns) == ABLATION_COLUMNS
    assert list(table.loc[table["season"] == "2017-18", "variant"]) == list(ablation_variants())
    by = table[table["season"] == "mean"].set_index("variant")
    assert by.loc["before (original features)", "brier_gain_vs_before"] == 0.0
    assert (
        by.loc["+ travel", "brier_gain_vs_before"] > 0.02
        and by.loc["after (all groups)", "brier_gain_vs_before"] > 0.02
    )
    assert by.loc["all - travel", "brier"] > by.loc["after (all groups)", "brier"] + 0.02
    with pytest.raises(ValueError, match="feature_groups"):
        GameModelParams(feature_groups=("injuries",))
