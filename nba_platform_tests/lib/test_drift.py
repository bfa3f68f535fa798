"""Feature drift with real Evidently on real game features (shipped box-score seasons)."""

import numpy as np
import pandas as pd
import pytest

from nba_platform.lib.drift import (
    TABLE_COLUMNS,
    DriftRefused,
    align_to_season_progress,
    drift_markdown,
    empty_drift_table,
    feature_drift,
    reference_seasons,
)
from nba_platform.lib.features import FEATURE_COLUMNS
from nba_platform_tests.real_features import SHIFTED, real_game_features, scoring_jump

pytestmark = pytest.mark.slow  # features over the full shipped history

# Season-phase features: they grow or settle through a season.
PHASE = [
    f"{side}_{c}"
    for side in ("home", "away")
    for c in ("season_games_played", "season_wins", "season_win_pct", "season_margin_avg", "games_last_7_days")
]


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return real_game_features()


@pytest.fixture(scope="module")
def iid_split(features):
    """Three recent seasons shuffled and cut in two: the same distribution on both sides."""
    pool = features[features["season"].isin(["2021-22", "2022-23", "2023-24"])].sample(frac=1.0, random_state=7)
    return pool.iloc[:2400], pool.iloc[2400:]


@pytest.fixture(scope="module")
def same(iid_split):
    reference, current = iid_split
    return feature_drift(reference, current, FEATURE_COLUMNS)


@pytest.fixture(scope="module")
def shifted(iid_split):
    reference, current = iid_split
    return feature_drift(reference, scoring_jump(current), FEATURE_COLUMNS)


def test_same_distribution_has_a_low_drift_share(iid_split, same):
    reference, current = iid_split
    assert len(SHIFTED) == 30 and len(FEATURE_COLUMNS) == 109
    assert (same.n_reference, same.n_current) == (2400, len(current)) and len(current) > 1200
    assert same.dropped == {} and same.n_features == 109
    assert list(same.table.columns) == TABLE_COLUMNS
    assert set(same.table["feature"]) == set(FEATURE_COLUMNS)
    # KS at p < 0.05 flags about 5% of features on identical distributions.
    assert same.share_drifted <= 0.15, same.top_drifted(20)
    assert same.share_drifted == pytest.approx(same.n_drifted / 109)
    assert same.table["drifted"].sum() == same.n_drifted
    assert (same.table["stattest"] == "ks").all() and (same.table["threshold"] == 0.05).all()
    assert same.table["drift_score"].between(0, 1).all()
    # a p-value test: drifted exactly when p < threshold; most drifted (smallest p) first
    assert (same.table["drifted"] == (same.table["drift_score"] < 0.05)).all()
    drifted = same.table[same.table["drifted"]]
    assert (
        drifted["drift_score"].is_monotonic_increasing
        and same.table.index[: len(drifted)].tolist() == drifted.index.tolist()
    )


def test_shifted_features_are_flagged_and_the_rest_unchanged(same, shifted):
    flagged = set(shifted.table.loc[shifted.table["drifted"], "feature"])
    assert set(SHIFTED) <= flagged, sorted(set(SHIFTED) - flagged)
    assert shifted.share_drifted >= len(SHIFTED) / 109 and shifted.share_drifted >= same.share_drifted + 0.25
    # the untouched features are the same data on both runs, so the same verdicts
    before = same.table.set_index("feature")["drifted"]
    after = shifted.table.set_index("feature")["drifted"]
    untouched = [c for c in FEATURE_COLUMNS if c not in SHIFTED]
    assert (before[untouched] == after[untouched]).all()
    # the most drifted features are shifted ones, and the table says how they moved
    assert set(shifted.top_drifted(10)["feature"]) <= set(SHIFTED)
    row = shifted.table.set_index("feature").loc["home_pts_for_last10"]
    assert row["current_mean"] - row["reference_mean"] == pytest.approx(15, abs=1.0)
    assert row["drift_score"] < 1e-10
    md = drift_markdown(shifted.top_drifted(5))
    assert md.count("\n") == 6 and "| feature |" in md


def test_html_is_the_evidently_report(same, shifted):
    for result in (same, shifted):
        html = result.html
        assert html.lstrip().startswith("<!DOCTYPE html>") and len(html) > 100_000
        assert "Dataset Drift" in html
        pct = f"{100 * result.n_drifted / 109:.3f}".rstrip("0").rstrip(".")
        assert f"Drift is detected for {pct}% of columns ({result.n_drifted} out of 109)" in html
        for feature in ("home_pts_for_last10", "diff_elo_pre", "elo_p_home_win"):
            assert f"Value Drift for column {feature}" in html


def test_too_few_games_is_refused_with_the_reason(features):
    reference = features[features["season"].isin(["2020-21", "2021-22", "2022-23"])]
    opening = features[features["season"] == "2023-24"].sort_values("game_date").head(30)
    with pytest.raises(DriftRefused, match="only 30 current games; drift needs at least 50"):
        feature_drift(reference, opening, FEATURE_COLUMNS)
    with pytest.raises(DriftRefused, match="only 30 reference games"):
        feature_drift(opening, reference, FEATURE_COLUMNS)
    # the minimum is configurable
    result = feature_drift(reference, opening, ["home_elo_pre", "away_elo_pre"], min_current_rows=20)
    assert result.n_current == 30 and result.n_features == 2


def test_features_missing_on_one_side_are_dropped_and_reported(features):
    columns = ["home_off_rtg_last5", "away_off_rtg_last5", "home_elo_pre", "diff_elo_pre"]
    reference = features[features["season"].isin(["2021-22", "2022-23"])].copy()
    current = features[features["season"] == "2023-24"].copy()
    reference["home_off_rtg_last5"] = np.nan  # e.g. seasons before box scores were collected
    current["away_off_rtg_last5"] = np.inf  # non-finite counts as missing
    result = feature_drift(reference, current, columns)
    assert result.dropped == {
        "home_off_rtg_last5": "no value in the reference",
        "away_off_rtg_last5": "no value in the current data",
    }
    assert set(result.table["feature"]) == {"home_elo_pre", "diff_elo_pre"} and result.n_features == 2
    with pytest.raises(DriftRefused, match="none of the 2 features"):
        feature_drift(reference, current, columns[:2])
    with pytest.raises(KeyError, match="not_a_feature"):
        feature_drift(reference, current, ["not_a_feature"])


def test_reference_seasons_are_the_latest_training_seasons():
    available = ["2019-20", "2020-21", "2021-22", "2022-23", "2023-24"]
    assert reference_seasons(available, "2003-04", "2022-23") == ["2020-21", "2021-22", "2022-23"]
    assert reference_seasons(available, "2003-04", "2022-23", n=1) == ["2022-23"]
    assert reference_seasons(available, "2021-22", "2022-23", n=5) == ["2021-22", "2022-23"]
    # the season under test is never its own reference
    assert reference_seasons(available, "2003-04", "2023-24", exclude=["2023-24"]) == ["2020-21", "2021-22", "2022-23"]
    assert reference_seasons(available, "2003-04", "2010-11") == []
    with pytest.raises(ValueError):
        reference_seasons(available, "2003-04", "2022-23", n=0)


def test_partial_season_is_compared_with_the_same_days_of_the_reference(features):
    reference = features[features["season"].isin(["2020-21", "2021-22", "2022-23"])]
    season = features[features["season"] == "2023-24"]
    opening = season[season["game_date"] <= season["game_date"].min() + pd.Timedelta(days=20)]
    aligned = align_to_season_progress(reference, opening)
    starts = reference.groupby("season")["game_date"].min()
    days = (aligned["game_date"] - aligned["season"].map(starts)).dt.days
    assert days.max() == 20 and set(aligned["season"]) == set(starts.index)
    assert 300 < len(aligned) < len(reference) / 5
    assert len(align_to_season_progress(reference, season)) == len(reference)  # a full season keeps everything
    assert align_to_season_progress(reference, season.iloc[:0]).equals(reference)

    # Season-to-date and schedule features of an opening month look drifted against full seasons
    # (season_games_played is small, the schedule is dense) only because of the season's phase.
    unaligned = feature_drift(reference, opening, PHASE)
    same_days = feature_drift(aligned, opening, PHASE)
    assert unaligned.share_drifted >= 0.5
    assert same_days.share_drifted <= 0.2 and same_days.share_drifted < unaligned.share_drifted
    assert "home_season_games_played" in set(unaligned.top_drifted()["feature"])


def test_empty_table_has_the_result_schema(same):
    empty = empty_drift_table()
    assert list(empty.columns) == TABLE_COLUMNS and empty.empty
    assert empty.dtypes.to_dict() == same.table.dtypes.to_dict()
