import numpy as np
import pandas as pd
import pytest

from nba_platform.lib.elo import (
    ELO_GAME_COLUMNS,
    EloParams,
    elo_shift,
    elo_win_probability,
    mov_multiplier,
    pregame_elo,
    team_pregame_elo,
)

TYPE_CODES = {"preseason": "1", "regular": "2", "all_star": "3", "playoffs": "4", "play_in": "5"}


def team_games_from_results(games) -> pd.DataFrame:
    """Canonical team-game rows (both sides) from (game_no, date, season, season_type, home, away,
    home_pts, away_pts) tuples; None points = unplayed. Nullable dtypes as in the canonical schema."""
    rows = []
    for game_no, date, season, season_type, home, away, home_pts, away_pts in games:
        game_id = f"00{TYPE_CODES[season_type]}{season[2:4]}{game_no:05d}"
        sides = ((home, away, home_pts, away_pts, True), (away, home, away_pts, home_pts, False))
        for team, opp, pts, opp_pts, is_home in sides:
            rows.append(
                {
                    "game_id": game_id,
                    "season": season,
                    "season_type": season_type,
                    "game_date": pd.Timestamp(date),
                    "team_id": team,
                    "opponent_id": opp,
                    "is_home": is_home,
                    "pts": pts,
                    "opp_pts": opp_pts,
                    "plus_minus": None if pts is None else float(pts - opp_pts),
                    "source": "test",
                }
            )
    frame = pd.DataFrame(rows)
    return frame.astype(
        {
            "game_id": "string",
            "season": "string",
            "season_type": "string",
            "team_id": "Int64",
            "opponent_id": "Int64",
            "is_home": "boolean",
            "pts": "Int64",
            "opp_pts": "Int64",
            "plus_minus": "Float64",
        }
    )


def ratings(elo: pd.DataFrame, game_no: int) -> tuple[float, float]:
    row = elo.loc[elo["game_id"].str.endswith(f"{game_no:05d}")].iloc[0]
    return row["home_elo_pre"], row["away_elo_pre"]


def test_win_probability_values_and_vectorised():
    assert elo_win_probability(0) == 0.5
    # 100 points (home court alone) = 1 / (1 + 10 ** -0.25)
    assert elo_win_probability(100) == pytest.approx(0.6400650, abs=1e-7)
    p = elo_win_probability(np.array([-200.0, 0.0, 200.0]))
    assert isinstance(p, np.ndarray)
    np.testing.assert_allclose(p, [0.2402531, 0.5, 0.7597469], atol=1e-7)
    assert p[0] + p[2] == pytest.approx(1.0)


def test_mov_multiplier_matches_538_formula():
    # (10 + 3) ** 0.8 = 7.783137; 7.5 + 0.006 * 100 = 8.1
    assert mov_multiplier(10, 100) == pytest.approx(7.783137 / 8.1, abs=1e-6)
    # Upset winners (negative edge) get a larger multiplier than favourites with the same margin.
    assert mov_multiplier(10, -100) > mov_multiplier(10, 100)
    np.testing.assert_allclose(mov_multiplier(np.array([1, 10]), np.array([0, 0])), [4**0.8 / 7.5, 13**0.8 / 7.5])


def test_hand_computed_two_games():
    tg = team_games_from_results(
        [
            (1, "2021-10-20", "2021-22", "regular", 1, 2, 110, 100),  # home favourite wins by 10
            (2, "2021-10-22", "2021-22", "regular", 2, 1, 100, 105),  # away team wins by 5
            (3, "2021-10-24", "2021-22", "regular", 1, 2, None, None),  # only to read ratings
        ]
    )
    elo = pregame_elo(tg)
    assert list(elo.columns) == ELO_GAME_COLUMNS
    assert len(elo) == 3

    # Game 1: both 1500; home edge = 100 -> expected 0.640065; MOV multiplier
    # 13 ** 0.8 / (7.5 + 0.006 * 100) = 7.783137 / 8.1 = 0.960881; shift = 20 * 0.960881 * (1 - 0.640065) = 6.917095.
    assert ratings(elo, 1) == (1500.0, 1500.0)
    assert elo.loc[0, "elo_p_home_win"] == pytest.approx(0.640065, abs=1e-6)
    assert elo_shift(1500, 1500, 110, 100) == pytest.approx(6.917095, abs=1e-6)

    # Game 2: team 2 (home) 1493.082905 vs team 1 (away) 1506.917095; home edge = 86.165810,
    # expected home = 0.621521. The winner is away, so its edge is -86.165810:
    # multiplier = 8 ** 0.8 / (7.5 - 0.006 * 86.165810) = 5.278032 / 6.983005 = 0.755840;
    # home shift = 20 * 0.755840 * (0 - 0.621521) = -9.395408.
    home_pre, away_pre = ratings(elo, 2)
    assert home_pre == pytest.approx(1493.082905, abs=1e-6)
    assert away_pre == pytest.approx(1506.917095, abs=1e-6)
    assert elo.loc[1, "elo_p_home_win"] == pytest.approx(0.621521, abs=1e-6)

    home_pre, away_pre = ratings(elo, 3)
    assert home_pre == pytest.approx(1516.312502, abs=1e-6)  # team 1: 1506.917095 + 9.395408
    assert away_pre == pytest.approx(1483.687498, abs=1e-6)  # team 2
    assert home_pre + away_pre == pytest.approx(3000.0)  # zero-sum


def test_season_regression_and_new_teams():
    tg = team_games_from_results(
        [
            (1, "2021-10-20", "2021-22", "regular", 1, 2, 110, 100),
            (1, "2022-10-20", "2022-23", "regular", 1, 3, 100, 90),  # team 3 first seen this season
        ]
    )
    elo = pregame_elo(tg)
    team1_end = 1500 + 6.917095
    home_pre, away_pre = ratings(elo.iloc[[1]], 1)
    assert home_pre == pytest.approx(0.75 * team1_end + 0.25 * 1505, abs=1e-6)  # 1508.437821
    assert away_pre == 1500.0  # new team: initial rating, no regression

    custom = pregame_elo(tg, EloParams(season_carryover=1.0, home_advantage=0.0))
    gain = elo_shift(1500, 1500, 110, 100, EloParams(home_advantage=0.0))
    assert custom.loc[1, "home_elo_pre"] == pytest.approx(1500 + gain)


def test_regression_applies_once_per_new_season_even_with_playoffs():
    tg = team_games_from_results(
        [
            (1, "2021-10-20", "2021-22", "regular", 1, 2, 110, 100),
            (1, "2022-04-20", "2021-22", "playoffs", 1, 2, 90, 100),  # same season: no regression
            (1, "2022-10-20", "2022-23", "regular", 1, 2, None, None),
        ]
    )
    elo = pregame_elo(tg)
    after_first = 1500 + elo_shift(1500, 1500, 110, 100)
    assert elo.loc[1, "home_elo_pre"] == pytest.approx(after_first)
    after_playoff = after_first + elo_shift(after_first, 3000 - after_first, 90, 100)
    assert elo.loc[2, "home_elo_pre"] == pytest.approx(0.75 * after_playoff + 0.25 * 1505)


def test_same_date_games_do_not_see_each_other():
    base = [
        (1, "2021-10-20", "2021-22", "regular", 1, 2, 110, 100),
        (2, "2021-10-22", "2021-22", "regular", 1, 3, 120, 90),
        (3, "2021-10-22", "2021-22", "regular", 2, 4, 95, 100),
    ]
    elo = pregame_elo(team_games_from_results(base))
    # Changing or removing one game of 22 Oct leaves the other game of that date untouched.
    reversed_result = (2, "2021-10-22", "2021-22", "regular", 1, 3, 60, 140)
    changed = pregame_elo(team_games_from_results([base[0], reversed_result, base[2]]))
    removed = pregame_elo(team_games_from_results([base[0], base[2]]))
    game3 = elo["game_id"].str.endswith("00003")
    pd.testing.assert_frame_equal(elo.loc[game3].reset_index(drop=True), changed.loc[game3].reset_index(drop=True))
    removed_game3 = removed["game_id"].str.endswith("00003")
    pd.testing.assert_frame_equal(
        elo.loc[game3].reset_index(drop=True), removed.loc[removed_game3].reset_index(drop=True)
    )

    # Explicit batch semantics: a team listed twice on one date reads the same pre-game
    # rating in both games; the results are applied together afterwards.
    doubled = team_games_from_results(
        [
            (1, "2021-10-20", "2021-22", "regular", 1, 2, 110, 100),
            (2, "2021-10-20", "2021-22", "regular", 3, 1, 110, 100),
            (3, "2021-10-21", "2021-22", "regular", 1, 4, None, None),
        ]
    )
    elo = pregame_elo(doubled)
    assert elo.loc[0, "home_elo_pre"] == elo.loc[1, "away_elo_pre"] == 1500.0
    gain = elo_shift(1500, 1500, 110, 100)
    assert elo.loc[2, "home_elo_pre"] == pytest.approx(1500 + gain - gain)


def test_preseason_and_all_star_excluded():
    regular = [
        (1, "2021-10-20", "2021-22", "regular", 1, 2, 110, 100),
        (2, "2021-10-22", "2021-22", "regular", 2, 1, 100, 105),
    ]
    extra = [
        (1, "2021-10-05", "2021-22", "preseason", 1, 2, 150, 80),
        (1, "2022-02-20", "2021-22", "all_star", 1610616833, 1610616834, 163, 160),
    ]
    with_extra = pregame_elo(team_games_from_results(regular + extra))
    without = pregame_elo(team_games_from_results(regular))
    assert set(with_extra["game_id"].str[2]) == {"2"}
    pd.testing.assert_frame_equal(with_extra, without)


def test_play_in_and_playoffs_update():
    tg = team_games_from_results(
        [
            (1, "2022-04-12", "2021-22", "play_in", 1, 2, 110, 100),
            (1, "2022-04-16", "2021-22", "playoffs", 1, 2, 110, 100),
            (2, "2022-04-18", "2021-22", "playoffs", 1, 2, None, None),
        ]
    )
    elo = pregame_elo(tg)
    assert elo.loc[1, "home_elo_pre"] == pytest.approx(1500 + elo_shift(1500, 1500, 110, 100))
    assert elo.loc[2, "home_elo_pre"] > elo.loc[1, "home_elo_pre"]


def test_unplayed_games_get_ratings_but_no_update():
    played_only = [
        (1, "2024-10-22", "2024-25", "regular", 1, 2, 110, 100),
        (3, "2024-10-26", "2024-25", "regular", 2, 1, None, None),
    ]
    with_unplayed = played_only + [(2, "2024-10-24", "2024-25", "regular", 1, 2, None, None)]
    elo = pregame_elo(team_games_from_results(with_unplayed))
    assert len(elo) == 3
    assert elo[["home_elo_pre", "away_elo_pre", "elo_p_home_win"]].notna().all().all()
    gain = elo_shift(1500, 1500, 110, 100)
    # Game 2 (unplayed) and game 3 both see only game 1's result.
    assert ratings(elo, 2) == pytest.approx((1500 + gain, 1500 - gain))
    assert ratings(elo, 3) == pytest.approx((1500 - gain, 1500 + gain))


def test_chronological_order_not_input_order():
    games = [
        (1, "2021-10-20", "2021-22", "regular", 1, 2, 110, 100),
        (2, "2021-10-22", "2021-22", "regular", 2, 1, 100, 105),
        (3, "2021-10-24", "2021-22", "regular", 1, 2, 99, 101),
    ]
    ordered = pregame_elo(team_games_from_results(games))
    shuffled = pregame_elo(team_games_from_results(games).sample(frac=1.0, random_state=3))
    pd.testing.assert_frame_equal(ordered, shuffled)


def test_missing_side_raises():
    tg = team_games_from_results([(1, "2021-10-20", "2021-22", "regular", 1, 2, 110, 100)])
    with pytest.raises(ValueError, match="one home and one away"):
        pregame_elo(tg.loc[tg["is_home"]])


def test_team_pregame_elo_long_form():
    tg = team_games_from_results(
        [
            (1, "2021-10-20", "2021-22", "regular", 1, 2, 110, 100),
            (2, "2021-10-21", "2021-22", "regular", 2, 1, 100, 90),
        ]
    )
    long = team_pregame_elo(pregame_elo(tg)).sort_values(["game_id", "team_id"]).reset_index(drop=True)
    assert list(long.columns) == ["game_id", "team_id", "elo_pre"]
    gain = elo_shift(1500, 1500, 110, 100)
    np.testing.assert_allclose(long["elo_pre"], [1500, 1500, 1500 + gain, 1500 - gain])
