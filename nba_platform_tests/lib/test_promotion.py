import numpy as np
import pandas as pd
import pytest

from nba_platform.lib.promotion import PromotionRule, paired_bootstrap, promotion_decision, rolling_brier, skill_summary


def outcomes_and_forecasts(n=1200, seed=1):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.2, 0.8, n)
    y = (rng.uniform(size=n) < truth).astype(float)
    good = np.clip(truth + rng.normal(0, 0.03, n), 0.01, 0.99)
    flat = np.full(n, y.mean())
    return y, good, flat


def test_better_challenger_is_promoted_with_interval_below_zero():
    y, good, flat = outcomes_and_forecasts()
    d = promotion_decision(y, p_champion=flat, p_challenger=good)
    assert d.promote and d.games == 1200
    assert d.challenger_brier < d.champion_brier and d.ci_high < 0 and d.share_of_draws_better > 0.97
    assert "below 0" in d.reason


def test_worse_challenger_is_refused():
    y, good, flat = outcomes_and_forecasts()
    d = promotion_decision(y, p_champion=good, p_challenger=flat)
    assert not d.promote and d.mean_difference > 0 and "not lower" in d.reason


def test_marginal_improvement_inside_the_noise_is_refused():
    y, good, _ = outcomes_and_forecasts()
    rng = np.random.default_rng(7)
    nudged = np.clip(good + rng.normal(0, 0.02, len(good)), 0.01, 0.99)
    d = promotion_decision(y, p_champion=nudged, p_challenger=good, rule=PromotionRule(confidence=0.999, n_boot=500))
    if d.mean_difference < 0:
        assert d.ci_low < 0 < d.ci_high or d.promote
    assert d.promote == (d.mean_difference < 0 and d.ci_high < 0)


def test_too_few_games_is_refused_whatever_the_scores():
    y, good, flat = outcomes_and_forecasts(n=150)
    d = promotion_decision(y, p_champion=flat, p_challenger=good, rule=PromotionRule(min_games=200))
    assert not d.promote and d.games == 150 and "needs 200" in d.reason


def test_missing_probabilities_are_not_counted():
    y, good, flat = outcomes_and_forecasts(n=300)
    good = good.copy()
    good[:50] = np.nan
    d = promotion_decision(y, flat, good, PromotionRule(min_games=10))
    assert d.games == 250


def test_paired_bootstrap_is_deterministic_and_centred():
    a = np.array([0.2, 0.3, 0.25, 0.1] * 50)
    b = a - 0.01
    mean, low, high, share = paired_bootstrap(a, b, 500, 0.95, seed=3)
    assert (
        mean == pytest.approx(-0.01) and low == pytest.approx(-0.01) and high == pytest.approx(-0.01) and share == 1.0
    )
    assert paired_bootstrap(a, b, 500, 0.95, seed=3) == (mean, low, high, share)


def test_skill_summary_and_rolling_brier():
    y = np.array([1, 0, 1, 1, 0, 1], dtype=float)
    p = np.array([0.9, 0.1, 0.6, 0.4, 0.5, np.nan])
    s = skill_summary(y, p, last_n=2)
    assert s["games"] == 5
    assert s["brier_to_date"] == pytest.approx(np.mean((p[:5] - y[:5]) ** 2))
    assert s["brier_last_2"] == pytest.approx(np.mean([(0.4 - 1) ** 2, 0.25]))
    frame = pd.DataFrame({"p": [0.5, 1.0, 0.0], "home_win": [1, 1, 1]})
    assert rolling_brier(frame, "p", 2).round(3).tolist() == [0.25, 0.125, 0.5]
