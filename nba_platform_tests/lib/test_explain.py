"""SHAP explanations of both model kinds, trained on features built from the shipped data.

Models are fitted on 2010-11..2017-18: box-score features are observed in under 20% of those
rows, so both models drop them as too sparse (their SHAP must be 0), and the season-to-date
features are missing at every season start (the logistic model's missing indicators must be
attributed to them). Explained rows: the 1,312 played games of 2023-24.
"""

import io
import json
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.explain import (
    CALIBRATED_LOG_ODDS,
    LOG_ODDS,
    explain,
    explained_output,
    global_importance,
    summary_plot_png,
    top_factors,
)
from nba_platform.lib.features import FEATURE_COLUMNS, game_features, game_outcomes, team_game_features
from nba_platform.lib.models import GameModelParams, build_estimator, train_kind, training_frame
from nba_platform_tests.lib.test_models import BOX_SCORE_COLUMNS, real_team_games

pytestmark = pytest.mark.slow  # features over the full shipped history

KINDS = ["logistic", "hist_gradient_boosting"]
TRAIN_SEASONS = [f"{y}-{(y + 1) % 100:02d}" for y in range(2010, 2018)]
SMALL = GameModelParams(hgb_max_iter=40)
# Team-strength columns: Elo and the margin ratings' expected margin (issue 17).
STRENGTH_FEATURES = {
    "home_elo_pre", "away_elo_pre", "diff_elo_pre", "elo_p_home_win",
    "home_expected_margin", "away_expected_margin", "diff_expected_margin",
}  # fmt: skip


@pytest.fixture(scope="module")
def real():
    """(features, outcomes) of every shipped season, built as test_models builds them."""
    team_games = real_team_games()
    elo = pregame_elo(team_games)
    return game_features(team_game_features(team_games, elo=elo), elo), game_outcomes(team_games)


@pytest.fixture(scope="module")
def holdout(real):
    features, outcomes = real
    X, _, _ = training_frame(features, outcomes, ["2023-24"])
    assert len(X) == 1312
    return X


@pytest.fixture(scope="module")
def train_X(real):
    features, outcomes = real
    X, _, _ = training_frame(features, outcomes, TRAIN_SEASONS)
    return X


@pytest.fixture(scope="module")
def models(real):
    features, outcomes = real
    return {kind: train_kind(features, outcomes, TRAIN_SEASONS, kind, SMALL) for kind in KINDS}


@pytest.fixture(scope="module")
def explained(models, holdout):
    """Default explanations (calibrated log-odds, no background) and how long each took."""
    out = {}
    for kind in KINDS:
        started = time.perf_counter()
        explanation = explain(models[kind].estimator, holdout)
        out[kind] = (explanation, time.perf_counter() - started)
    return out


def _base_pipeline(estimator):
    (member,) = estimator.calibrated_classifiers_
    return member.estimator


def _logit(p):
    return np.log(p) - np.log1p(-p)


# ---------------------------------------------------------------------------
# Additivity and attribution to the original features
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_base_plus_shap_is_the_served_log_odds(kind, models, holdout, explained):
    estimator = models[kind].estimator
    explanation, seconds = explained[kind]
    print(f"\nexplain {kind}: {len(holdout)} rows in {seconds:.2f}s (no background)")
    assert explanation.output == CALIBRATED_LOG_ODDS
    assert explanation.reference == ("training_mean" if kind == "logistic" else "tree_path_dependent")
    assert list(explanation.values.columns) == models[kind].feature_columns == FEATURE_COLUMNS
    assert explanation.values.index.equals(holdout.index)
    assert np.isfinite(explanation.values.to_numpy()).all()

    # sums to the logit of the probability the calibrated model serves ...
    served = estimator.predict_proba(holdout)[:, 1]
    np.testing.assert_allclose(explanation.log_odds, _logit(served), rtol=0, atol=1e-9)
    np.testing.assert_allclose(explanation.probability, served, rtol=0, atol=1e-12)
    np.testing.assert_allclose(explanation.log_odds, explained_output(estimator, holdout), rtol=0, atol=1e-9)
    # ... and, uncalibrated, to the log-odds of the model inside the calibrator
    raw = explain(estimator, holdout, calibrated=False)
    assert raw.output == LOG_ODDS
    raw_log_odds = _base_pipeline(estimator).decision_function(holdout)
    np.testing.assert_allclose(raw.log_odds, raw_log_odds, rtol=0, atol=1e-9)
    # sigmoid calibration is affine in the log-odds: the attributions differ by one factor
    factor = explanation.values.to_numpy() / np.where(raw.values == 0, np.nan, raw.values.to_numpy())
    assert np.nanstd(factor) < 1e-9 and np.nanmean(factor) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_every_used_feature_is_attributed_and_dropped_ones_get_zero(kind, models, holdout, explained):
    explanation, _ = explained[kind]
    keep = _base_pipeline(models[kind].estimator)[0].keep_
    kept = [c for c, k in zip(FEATURE_COLUMNS, keep) if k]
    dropped = [c for c, k in zip(FEATURE_COLUMNS, keep) if not k]
    assert set(dropped) == set(BOX_SCORE_COLUMNS)  # under 20% observed in these training seasons
    assert holdout[dropped].notna().mean().min() > 0.9  # ... though observed in the explained season
    assert (explanation.values[dropped] == 0).all().all()
    nonzero = set(explanation.values.columns[(explanation.values != 0).any()])
    if kind == "logistic":
        # every coefficient reaches its feature; the home side's distance from its own arena is 0 in
        # every game of these seasons (only the 2020 bubble differs), so it has nothing to explain
        assert nonzero == set(kept) - {"home_home_distance_km"}
    else:
        model = _base_pipeline(models[kind].estimator)[-1]
        split_on = {
            kept[f] for predictors in model._predictors for n in predictors[0].nodes if not n["is_leaf"]
            for f in [n["feature_idx"]]
        }  # fmt: skip
        assert nonzero == split_on


def test_logistic_missing_indicators_add_to_their_feature(models, holdout, train_X):
    """Cross-check against shap.LinearExplainer on the transformed matrix, summed by hand over
    each feature's value column and its missing-indicator column."""
    import shap

    pipeline = _base_pipeline(models["logistic"].estimator)
    kept = [c for c, k in zip(FEATURE_COLUMNS, pipeline["drop_sparse"].keep_) if k]
    indicated = [kept[i] for i in pipeline["impute"].indicator_.features_]
    assert {"diff_season_win_pct", "home_season_margin_avg"} <= set(indicated)
    owner = kept + indicated  # imputed values, then missing indicators
    background = train_X.iloc[::60]
    assert len(background) < 200  # under max_background: every row is used
    transformed = pipeline[:-1]
    reference = transformed.transform(background)
    linear = shap.LinearExplainer(pipeline[-1], shap.maskers.Independent(reference, max_samples=len(reference)))
    per_column = pd.DataFrame(linear.shap_values(transformed.transform(holdout)), index=holdout.index)
    expected = per_column.T.groupby(np.array(owner)).sum().T.reindex(columns=FEATURE_COLUMNS, fill_value=0.0)

    explanation = explain(models["logistic"].estimator, holdout, background=background, calibrated=False)
    assert explanation.reference == "background" and explanation.n_background == len(background)
    np.testing.assert_allclose(explanation.values.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(explanation.base_value, float(np.ravel(linear.expected_value)[0]), atol=1e-9)
    season_openers = holdout["diff_season_win_pct"].isna()
    assert season_openers.sum() > 0
    assert (explanation.values.loc[season_openers, "diff_season_win_pct"] != 0).all()


def test_tree_explanation_matches_shap_on_the_raw_model(models, holdout, explained):
    """The rank-space trees route exactly as the classifier does: path-dependent SHAP agrees
    with shap.TreeExplainer on the HistGradientBoostingClassifier itself."""
    import shap

    pipeline = _base_pipeline(models["hist_gradient_boosting"].estimator)
    direct = shap.TreeExplainer(pipeline[-1], feature_perturbation="tree_path_dependent", model_output="raw")
    expected = direct.shap_values(pipeline[0].transform(holdout))
    ours = explain(models["hist_gradient_boosting"].estimator, holdout, calibrated=False)
    kept = pipeline[0].keep_
    np.testing.assert_allclose(ours.values.to_numpy()[:, kept], expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.base_value, float(np.ravel(direct.expected_value)[0]), atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_background_reference_is_interventional_and_additive(kind, models, holdout, train_X):
    """With a background, the base value is the mean explained output over the background rows
    and additivity still holds. (For trees this failed by ~0.08 log-odds before the rank-space
    rewrite: shap's interventional code compares against float32 thresholds.)"""
    estimator = models[kind].estimator
    background = train_X.iloc[::60]
    assert len(background) < 200
    started = time.perf_counter()
    explanation = explain(estimator, holdout, background=background, feature_columns=models[kind].feature_columns)
    seconds = time.perf_counter() - started
    print(f"\nexplain {kind}: {len(holdout)} rows against {len(background)} background rows in {seconds:.2f}s")
    assert explanation.reference == "background" and explanation.n_background == len(background)
    np.testing.assert_allclose(explanation.log_odds, explained_output(estimator, holdout), rtol=0, atol=1e-6)
    assert explanation.base_value == pytest.approx(explained_output(estimator, background).mean(), abs=1e-6)

    capped = explain(estimator, holdout.iloc[:50], background=train_X, max_background=120)
    assert capped.n_background == 120
    np.testing.assert_allclose(capped.log_odds, explained_output(estimator, holdout.iloc[:50]), rtol=0, atol=1e-6)


@pytest.mark.parametrize("calibration", ["isotonic", "none"])
def test_non_sigmoid_models_are_explained_in_uncalibrated_log_odds(calibration, real, holdout):
    features, outcomes = real
    model = train_kind(features, outcomes, TRAIN_SEASONS, "logistic", GameModelParams(calibration=calibration))
    explanation = explain(model.estimator, holdout)
    assert explanation.output == LOG_ODDS
    pipeline = model.estimator if calibration == "none" else _base_pipeline(model.estimator)
    np.testing.assert_allclose(explanation.log_odds, pipeline.decision_function(holdout), rtol=0, atol=1e-9)
    if calibration == "none":
        np.testing.assert_allclose(explanation.probability, model.estimator.predict_proba(holdout)[:, 1], atol=1e-12)


def test_rejects_what_it_cannot_explain_exactly(train_X, real):
    from sklearn.calibration import CalibratedClassifierCV

    features, outcomes = real
    X, y, _ = training_frame(features, outcomes, TRAIN_SEASONS[-2:])
    ensemble = CalibratedClassifierCV(
        build_estimator("logistic", GameModelParams(calibration="none")), cv=2, ensemble=True
    ).fit(X, y)
    with pytest.raises(ValueError, match="ensemble"):
        explain(ensemble, X)
    single = build_estimator("logistic", GameModelParams()).fit(X, y)
    with pytest.raises(ValueError, match="lacks"):
        explain(single, X.drop(columns="diff_elo_pre"))
    with pytest.raises(ValueError, match="fitted on 109 columns"):
        explain(single, X, feature_columns=FEATURE_COLUMNS[:-1])
    with pytest.raises(ValueError, match="background lacks"):
        explain(single, X, background=X.drop(columns="diff_elo_pre"))


# ---------------------------------------------------------------------------
# Per-game factors, global importance, summary plot
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_top_factor_of_a_lopsided_game_is_elo(kind, holdout, explained):
    explanation, _ = explained[kind]
    row = holdout["diff_elo_pre"].abs().idxmax()
    assert abs(holdout.loc[row, "diff_elo_pre"]) > 400
    (factors,) = top_factors(explanation.values.loc[[row]], holdout.loc[[row]], k=3)
    top = json.loads(factors)[0]
    assert top["feature"] in STRENGTH_FEATURES
    assert top["shap"] == pytest.approx(explanation.values.loc[row, top["feature"]], abs=1e-4)
    assert np.sign(top["shap"]) == np.sign(holdout.loc[row, "diff_elo_pre"])  # the stronger side is favoured


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_factors_json(k, holdout, explained):
    explanation, _ = explained["logistic"]
    factors = top_factors(explanation.values, holdout, k=k)
    assert len(factors) == len(holdout)
    for (index, shap_row), text in zip(explanation.values.iterrows(), factors):
        entries = json.loads(text)
        assert len(entries) == k and [set(e) for e in entries] == [{"feature", "value", "shap"}] * k
        magnitudes = [abs(e["shap"]) for e in entries]
        assert magnitudes == sorted(magnitudes, reverse=True)
        assert magnitudes[-1] >= shap_row.abs().nlargest(k).iloc[-1] - 1e-4  # none larger left out
        for e in entries:
            value = holdout.loc[index, e["feature"]]
            assert e["value"] is None if pd.isna(value) else e["value"] == pytest.approx(value, abs=1e-4)
    # a season opener: its season-to-date features are missing and serialise as null, not NaN
    opener = holdout.index[holdout["diff_season_win_pct"].isna()][0]
    (text,) = top_factors(explanation.values.loc[[opener]], holdout.loc[[opener]], k=len(FEATURE_COLUMNS))
    assert "NaN" not in text and any(e["value"] is None for e in json.loads(text))
    with pytest.raises(ValueError, match="same rows"):
        top_factors(explanation.values, holdout.iloc[::-1])


def test_global_importance(explained):
    explanation, _ = explained["hist_gradient_boosting"]
    table = global_importance(explanation.values)
    assert list(table.columns) == ["feature", "mean_abs_shap", "mean_shap"]
    assert sorted(table["feature"]) == sorted(FEATURE_COLUMNS)
    assert table["mean_abs_shap"].is_monotonic_decreasing
    expected = explanation.values.abs().mean()
    assert table.set_index("feature")["mean_abs_shap"].to_dict() == pytest.approx(expected.to_dict())
    assert table["feature"].iloc[0] in STRENGTH_FEATURES


@pytest.mark.parametrize("kind", KINDS)
def test_summary_plot_png(kind, holdout, explained):
    explanation, _ = explained[kind]
    started = time.perf_counter()
    png = summary_plot_png(explanation.values, holdout, max_display=15, title=f"{kind}, 2023-24")
    seconds = time.perf_counter() - started
    print(f"\nsummary_plot_png {kind}: {len(png) / 1024:.0f} KB in {seconds:.2f}s")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) < 150 * 1024
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG" and image.size[0] >= 600 and image.size[1] >= 400
    few = summary_plot_png(explanation.values, holdout, max_display=3, title="top 3")
    assert Image.open(io.BytesIO(few)).size[1] < image.size[1]  # three rows of dots, not fifteen
    with pytest.raises(ValueError, match="no rows"):
        summary_plot_png(explanation.values.iloc[:0], holdout.iloc[:0])


@pytest.mark.parametrize("kind", KINDS)
def test_the_registered_self_contained_estimator_explains_and_serves_the_same(kind, models, holdout, explained):
    """What is registered (`portable_estimator`: scikit-learn / numpy objects only) serves the same
    probabilities and gets the same SHAP attributions as the estimator that was fitted."""
    import pickle

    from nba_platform.lib.model_artifacts import portable_estimator

    portable = pickle.loads(pickle.dumps(portable_estimator(models[kind].estimator)))
    served = models[kind].estimator.predict_proba(holdout)[:, 1]
    np.testing.assert_allclose(portable.predict_proba(holdout)[:, 1], served, rtol=0, atol=1e-12)
    explanation, _ = explained[kind]
    again = explain(portable, holdout)
    np.testing.assert_allclose(again.values.to_numpy(), explanation.values.to_numpy(), rtol=0, atol=1e-9)
    assert again.base_value == pytest.approx(explanation.base_value, abs=1e-9)
