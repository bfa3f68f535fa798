import numpy as np
import pandas as pd
import pytest

from nba_platform.lib.ratings import MarginRatingParams, margin_ratings, team_margin_ratings
from nba_platform.lib.venue import ARENAS, ORLANDO, SEATTLE, TAMPA, game_venues, great_circle_km
from nba_platform_tests.lib.test_elo import team_games_from_results

A, B, C = 1610612737, 1610612738, 1610612739
NO_DECAY = MarginRatingParams(half_life_days=1e12, prior_games=1.0, margin_cap=100.0)


def test_ratings_are_the_ridge_solution_over_earlier_games_only():
    tg = team_games_from_results(
        [
            (1, "2023-10-24", "2023-24", "regular", A, B, 110, 100),
            (2, "2023-10-24", "2023-24", "regular", C, B, 100, 90),  # same day: unseen by game 1
            (3, "2023-10-26", "2023-24", "regular", B, A, 95, 105),
            (4, "2023-10-28", "2023-24", "regular", A, C, None, None),  # unplayed
        ]
    )
    r = margin_ratings(tg, NO_DECAY).set_index("game_id")
    first_day = r.loc[["0022300001", "0022300002"]]
    assert (first_day[["home_rating", "away_rating", "home_edge"]] == 0).all().all()  # nothing earlier

    # Before game 3: ridge over games 1 and 2 (x = [A, B, C, edge]), penalty 1 on every coefficient.
    x = np.array([[1, -1, 0, 1], [0, -1, 1, 1]], dtype=float)
    theta = np.linalg.solve(x.T @ x + np.eye(4), x.T @ np.array([10.0, 10.0]))
    g3 = r.loc["0022300003"]
    assert g3["home_rating"] == pytest.approx(theta[1]) and g3["away_rating"] == pytest.approx(theta[0])
    assert g3["home_edge"] == pytest.approx(theta[3])
    assert r.loc["0022300004", "home_rating"] > r.loc["0022300004", "away_rating"]  # A beat both B games


def test_recency_weighting_and_margin_cap():
    tg = team_games_from_results(
        [
            (1, "2023-10-24", "2023-24", "regular", A, B, 130, 100),
            (2, "2023-12-24", "2023-24", "regular", A, B, None, None),
        ]
    )
    capped = margin_ratings(tg, MarginRatingParams(half_life_days=1e12, prior_games=1.0, margin_cap=10.0))
    uncapped = margin_ratings(tg, NO_DECAY)
    assert capped["home_rating"].iloc[1] == pytest.approx(uncapped["home_rating"].iloc[1] / 3)
    # 61 days later with a 61-day half-life, the one game weighs 1/2: the penalty pulls harder.
    decayed = margin_ratings(tg, MarginRatingParams(half_life_days=61.0, prior_games=1.0, margin_cap=100.0))
    assert 0 < decayed["home_rating"].iloc[1] < uncapped["home_rating"].iloc[1]


def test_ratings_of_a_date_ignore_its_results_and_later_games():
    rng = np.random.default_rng(3)
    teams = [A, B, C, 1610612740]
    games = []
    for i in range(60):
        home, away = rng.choice(teams, 2, replace=False).tolist()
        date = pd.Timestamp("2023-10-24") + pd.Timedelta(days=i // 2 * 2 + i % 2)
        games.append(
            (i + 1, date, "2023-24", "regular", home, away, int(rng.integers(90, 130)), int(rng.integers(90, 130)))
        )
    full = margin_ratings(team_games_from_results(games))
    cut = 40
    day = pd.Timestamp(games[cut][1])
    hidden = [g if pd.Timestamp(g[1]) < day else g[:6] + (None, None) for g in games[: cut + 1]]
    part = margin_ratings(team_games_from_results(hidden))
    pd.testing.assert_frame_equal(part.iloc[: cut + 1], full.iloc[: cut + 1], check_exact=True)


def test_team_margin_ratings_long_form():
    r = pd.DataFrame(
        {
            "game_id": ["g"],
            "home_team_id": [A],
            "away_team_id": [B],
            "home_rating": [2.0],
            "away_rating": [-1.0],
            "home_edge": [3.0],
        }
    )
    long = team_margin_ratings(r).set_index("team_id")
    assert long.loc[A, "margin_rating"] == 2.0 and long.loc[A, "expected_margin"] == 6.0
    assert long.loc[B, "margin_rating"] == -1.0 and long.loc[B, "expected_margin"] == -6.0


def test_venues_follow_relocations_and_the_bubble():
    okc, nop, tor = 1610612760, 1610612740, 1610612761
    venues = game_venues(
        [okc, okc, nop, tor, A, A, 99],
        ["2007-08", "2008-09", "2005-06", "2020-21", "2019-20", "2019-20", "2023-24"],
        pd.to_datetime(
            ["2008-01-01", "2009-01-01", "2006-01-01", "2021-01-01", "2020-03-01", "2020-08-01", "2024-01-01"]
        ),
    )
    assert tuple(venues[0]) == SEATTLE and tuple(venues[1]) == ARENAS[okc] and tuple(venues[2]) == ARENAS[okc]
    assert tuple(venues[3]) == TAMPA and tuple(venues[4]) == ARENAS[A] and tuple(venues[5]) == ORLANDO
    assert np.isnan(venues[6]).all()  # unknown team: no venue


def test_great_circle_km():
    new_york, los_angeles = ARENAS[1610612752], ARENAS[1610612747]
    assert great_circle_km(*new_york[:2], *los_angeles[:2]) == pytest.approx(3940, abs=20)
    assert great_circle_km(*new_york[:2], *new_york[:2]) == 0.0
