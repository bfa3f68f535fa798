"""The champion-freshness rule, the deployed model's seasons and the season-boundary rule (lib/champion.py)."""

import pandas as pd

from nba_platform.lib.champion import (
    champion_is_current,
    completed_seasons_of_games,
    deploy_train_seasons,
    season_boundary_decision,
)
from nba_platform_tests.real_features import real_game_features, real_game_outcomes

COMPLETED = ["2021-22", "2022-23", "2023-24"]


def test_champion_must_have_seen_the_last_completed_season_before_the_target():
    assert champion_is_current("2023-24", COMPLETED, "2024-25")
    assert not champion_is_current("2022-23", COMPLETED, "2024-25")  # the v1: missed 2023-24
    assert champion_is_current("2022-23", COMPLETED, "2023-24")  # re-predicting 2023-24: it saw 2022-23
    assert champion_is_current("2023-24", COMPLETED)  # default target: the season after the latest completed
    assert not champion_is_current("2022-23", COMPLETED)
    assert not champion_is_current(None, COMPLETED, "2024-25")  # no champion
    assert champion_is_current("2021-22", [], "2024-25")  # nothing completed yet: nothing to miss
    assert champion_is_current("2023-24", ["2021-22", "2022-23"], "2025-26")  # 2024-25 not complete yet


def test_deployed_model_adds_the_evaluation_season_once_complete():
    train = ["2021-22", "2022-23"]
    assert deploy_train_seasons(train, "2023-24", COMPLETED) == COMPLETED
    assert deploy_train_seasons(train, "2024-25", COMPLETED) == train  # in progress: shadow scores it


def test_completed_seasons_from_game_features_and_outcomes():
    features, outcomes = real_game_features(), real_game_outcomes()
    assert completed_seasons_of_games(features, outcomes)[-2:] == ["2022-23", "2023-24"]
    march = features[pd.to_datetime(features["game_date"]) < pd.Timestamp("2024-03-15")]
    assert completed_seasons_of_games(march, outcomes)[-1] == "2022-23"
    assert completed_seasons_of_games(features.head(0), outcomes) == []


def test_season_boundary_promotes_a_current_challenger_over_a_stale_champion():
    d = season_boundary_decision("2022-23", "2023-24", COMPLETED, 0.215, 0.214)
    assert d.applies and d.promote and "missed completed 2023-24" in d.reason
    worse = season_boundary_decision("2022-23", "2023-24", COMPLETED, 0.230, 0.214)
    assert worse.applies and not worse.promote and "worse than Elo" in worse.reason
    unchecked = season_boundary_decision("2022-23", "2023-24", COMPLETED, None, None)
    assert unchecked.applies and not unchecked.promote
    # a current champion: not a boundary, the paired rule decides
    assert not season_boundary_decision("2023-24", "2023-24", COMPLETED, 0.2, 0.3).applies
    # a challenger as stale as the champion does not replace it at the boundary
    both = season_boundary_decision("2021-22", "2022-23", COMPLETED, 0.2, 0.3)
    assert not both.applies and not both.promote
