import numpy as np
import pandas as pd
import pytest

from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.features import (
    FEATURE_COLUMNS,
    GAME_KEY_COLUMNS,
    PLAYER_KEY_COLUMNS,
    PLAYER_POST_GAME_COLUMNS,
    POST_GAME_COLUMNS,
    TEAM_KEY_COLUMNS,
    TEAM_POST_GAME_COLUMNS,
    game_feature_columns,
    game_features,
    game_outcomes,
    player_feature_columns,
    player_game_features,
    team_feature_columns,
    team_game_features,
)
from nba_platform_tests.lib.test_elo import team_games_from_results

TEAM_IDS = list(range(1610612737, 1610612767))
ALL_STAR_IDS = (1610616833, 1610616834)
TYPE_CODES = {"preseason": "1", "regular": "2", "all_star": "3", "playoffs": "4", "play_in": "5"}
TEAM_COUNTS = ["fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "reb", "ast", "stl", "blk", "tov", "pf"]
TEAM_BOX_DTYPES = {
    **dict.fromkeys(TEAM_COUNTS, "Int64"),
    **dict.fromkeys(["fg_pct", "fg3_pct", "ft_pct"], "Float64"),
}
PLAYER_BOX = TEAM_COUNTS + ["pts"]


# ---------------------------------------------------------------------------
# A seeded synthetic league: 30 teams, preseason / regular / All-Star / play-in / playoffs,
# a first season with points and percentages only, rosters that change between seasons,
# DNPs, and optionally an unplayed tail (a future schedule).
# ---------------------------------------------------------------------------


def _schedule(n_seasons: int, rng: np.random.Generator) -> list[tuple]:
    games = []  # (game_id, date, season, season_type, home, away)

    def add(season_year, season_type, date, pairs, seq):
        season = f"{season_year}-{(season_year + 1) % 100:02d}"
        for home, away in pairs:
            seq[season_type] += 1
            game_id = f"00{TYPE_CODES[season_type]}{season_year % 100:02d}{seq[season_type]:05d}"
            games.append((game_id, date, season, season_type, home, away))

    def random_pairs(n_games, pool):
        teams = rng.choice(pool, size=2 * n_games, replace=False)
        return list(zip(teams[::2].tolist(), teams[1::2].tolist()))

    for s in range(n_seasons):
        year = 2019 + s
        seq = dict.fromkeys(TYPE_CODES, 0)
        date = pd.Timestamp(year, 10, 1)
        for _ in range(4):
            add(year, "preseason", date, random_pairs(6, TEAM_IDS), seq)
            date += pd.Timedelta(days=2)
        date = pd.Timestamp(year, 10, 22)
        for day_no in range(70):
            add(year, "regular", date, random_pairs(int(rng.integers(4, 13)), TEAM_IDS), seq)
            if day_no == 35:
                add(year, "all_star", date + pd.Timedelta(days=1), [ALL_STAR_IDS], seq)
                date += pd.Timedelta(days=4)
            date += pd.Timedelta(days=int(rng.choice([1, 1, 2])))
        top = rng.choice(TEAM_IDS, size=12, replace=False).tolist()
        add(year, "play_in", date, [(top[8], top[9]), (top[10], top[11])], seq)
        date += pd.Timedelta(days=2)
        for _ in range(8):
            add(year, "playoffs", date, random_pairs(4, top[:8]), seq)
            date += pd.Timedelta(days=2)
    return games


def synthetic_league(n_seasons: int = 3, seed: int = 11, unplayed_tail_dates: int = 0, with_players: bool = True):
    rng = np.random.default_rng(seed)
    schedule = _schedule(n_seasons, rng)
    strength = dict(zip(TEAM_IDS + list(ALL_STAR_IDS), rng.normal(0, 5, 32)))
    first_season = schedule[0][2]
    last_dates = sorted({g[1] for g in schedule})[-unplayed_tail_dates:] if unplayed_tail_dates else []

    rosters = {t: [200000 + i * 20 + k for k in range(8)] for i, t in enumerate(TEAM_IDS)}
    roster_season = first_season
    team_rows, player_rows = [], []
    for game_id, date, season, season_type, home, away in schedule:
        if season != roster_season:  # off-season trades: swap five random pairs of players
            for _ in range(5):
                a, b = rng.choice(TEAM_IDS, size=2, replace=False)
                i, j = rng.integers(0, 8, size=2)
                rosters[a][i], rosters[b][j] = rosters[b][j], rosters[a][i]
            roster_season = season
        played = date not in last_dates
        edge = strength[home] - strength[away] + 3
        scores = {home: round(110 + edge / 2 + rng.normal(0, 11)), away: round(110 - edge / 2 + rng.normal(0, 11))}
        if scores[home] == scores[away]:
            scores[home] += 1
        has_box = season != first_season
        minutes = float(rng.choice([48.0, 48.0, 48.0, 53.0]))
        for team, opp in ((home, away), (away, home)):
            row = {
                "game_id": game_id, "season": season, "season_type": season_type, "game_date": date,
                "team_id": team, "opponent_id": opp, "is_home": team == home,
                "pts": scores[team] if played else None, "opp_pts": scores[opp] if played else None,
                "game_minutes": minutes if played else None,
                "plus_minus": float(scores[team] - scores[opp]) if played else None,
            }  # fmt: skip
            box = dict.fromkeys(TEAM_BOX_DTYPES)
            if played:
                box["fg_pct"] = round(float(rng.uniform(0.40, 0.52)), 3)
            if played and has_box:
                fga, fg3a, fta = int(rng.integers(78, 95)), int(rng.integers(25, 42)), int(rng.integers(14, 32))
                fgm, fg3m, ftm = int(rng.integers(34, 48)), int(rng.integers(8, 17)), int(round(0.77 * fta))
                oreb, dreb = int(rng.integers(6, 15)), int(rng.integers(30, 42))
                box.update(
                    fga=fga, fgm=fgm, fg3a=fg3a, fg3m=fg3m, fta=fta, ftm=ftm, oreb=oreb, dreb=dreb, reb=oreb + dreb,
                    ast=int(rng.integers(18, 31)), stl=int(rng.integers(4, 11)), blk=int(rng.integers(2, 9)),
                    tov=int(rng.integers(9, 19)), pf=int(rng.integers(15, 26)),
                    fg_pct=fgm / fga, fg3_pct=fg3m / fg3a, ft_pct=ftm / fta,
                )  # fmt: skip
            team_rows.append({**row, **box, "source": "synthetic", "source_file": "x", "source_row": len(team_rows)})

            if not with_players or not played or season_type == "all_star":
                continue
            did_play = rng.random(8) < 0.85
            starters = np.flatnonzero(did_play)[:5]
            for k, player_id in enumerate(rosters[team]):
                stats = dict.fromkeys(PLAYER_BOX)
                if did_play[k]:
                    stats.update({c: int(rng.integers(0, 12)) for c in PLAYER_BOX})
                    stats["pts"] = int(rng.integers(0, 35))
                    if not has_box:  # the oldest season: points only
                        stats.update(dict.fromkeys(set(PLAYER_BOX) - {"pts"}))
                player_rows.append(
                    {
                        "game_id": game_id, "season": season, "season_type": season_type, "game_date": date,
                        "team_id": team, "opponent_id": opp, "is_home": team == home,
                        "player_id": player_id, "player_name": f"Player {player_id}",
                        "start_position": ("F" if k in starters else "") if did_play[k] else "",
                        "did_play": bool(did_play[k]),
                        "minutes": round(float(rng.uniform(4, 42)), 3) if did_play[k] else None,
                        **stats,
                        "plus_minus": float(rng.integers(-20, 21)) if did_play[k] else None,
                    }
                )  # fmt: skip

    team_games = pd.DataFrame(team_rows).astype(
        {
            "game_id": "string", "season": "string", "season_type": "string", "team_id": "Int64",
            "opponent_id": "Int64", "is_home": "boolean", "pts": "Int64", "opp_pts": "Int64",
            "game_minutes": "Float64", "plus_minus": "Float64", **TEAM_BOX_DTYPES,
        }
    )  # fmt: skip
    if not with_players:
        return team_games, None
    player_games = pd.DataFrame(player_rows).astype(
        {
            "game_id": "string", "season": "string", "season_type": "string", "team_id": "Int64",
            "opponent_id": "Int64", "is_home": "boolean", "player_id": "Int64", "player_name": "string",
            "start_position": "string", "did_play": "boolean", "minutes": "Float64", "plus_minus": "Float64",
            **dict.fromkeys(PLAYER_BOX, "Int64"),
        }
    )  # fmt: skip
    return team_games, player_games


@pytest.fixture(scope="module")
def league():
    return synthetic_league(n_seasons=3, unplayed_tail_dates=6)


@pytest.fixture(scope="module")
def full_features(league):
    team_games, player_games = league
    elo = pregame_elo(team_games)
    team_features = team_game_features(team_games, elo=elo)
    return team_features, game_features(team_features, elo), player_game_features(player_games)


def with_results_hidden(frame: pd.DataFrame, game_id: str, post_game_columns) -> pd.DataFrame:
    """What is known on the morning of `game_id`: earlier dates, plus the game's own rows with
    every result column NA. Later games and other games of the same date are removed."""
    date = frame.loc[frame["game_id"] == game_id, "game_date"].iloc[0]
    own = (frame["game_id"] == game_id).to_numpy()
    view = frame.loc[(frame["game_date"] < date).to_numpy() | own].copy()
    own = (view["game_id"] == game_id).to_numpy()
    for col in sorted(set(post_game_columns) & set(view.columns)):
        view[col] = view[col].mask(own)
    return view


def rows_of(frame: pd.DataFrame, game_id: str, sort_by: str) -> pd.DataFrame:
    return frame.loc[frame["game_id"] == game_id].sort_values(sort_by).reset_index(drop=True)


# ---------------------------------------------------------------------------
# Hand-checked values on a tiny schedule
# ---------------------------------------------------------------------------

# (game_no, date, season, season_type, home, away, home_pts, away_pts)
TINY = [
    (1, "2021-10-05", "2021-22", "preseason", 1, 2, 150, 60),  # excluded everywhere
    (1, "2021-10-20", "2021-22", "regular", 1, 2, 100, 90),
    (2, "2021-10-20", "2021-22", "regular", 3, 4, 95, 105),
    (3, "2021-10-21", "2021-22", "regular", 1, 3, 110, 100),
    (4, "2021-10-23", "2021-22", "regular", 2, 1, 120, 100),
    (5, "2021-10-25", "2021-22", "regular", 4, 1, 101, 99),
    (6, "2021-10-27", "2021-22", "regular", 1, 4, None, None),  # unplayed
    (7, "2021-10-29", "2021-22", "regular", 1, 2, None, None),  # unplayed
    (1, "2022-10-20", "2022-23", "regular", 3, 1, None, None),  # next season
]


def tiny_team_games() -> pd.DataFrame:
    tg = team_games_from_results(TINY)
    for col in TEAM_BOX_DTYPES:
        tg[col] = pd.array([pd.NA] * len(tg), dtype=TEAM_BOX_DTYPES[col])
    # Box score of team 1 and team 2 in game 1, chosen so possessions = 85 - 10 + 14 + 0.44 * 25 = 100.
    game1 = tg["game_id"] == "0022100001"
    tg.loc[game1, ["fga", "oreb", "tov", "fta", "fgm", "fg3m"]] = [85, 10, 14, 25, 40, 10]
    return tg


def team_row(features: pd.DataFrame, game_no: int, team_id: int, season_prefix: str = "00221") -> pd.Series:
    rows = features.loc[(features["game_id"] == f"{season_prefix}{game_no:05d}") & (features["team_id"] == team_id)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_team_features_hand_checked():
    features = team_game_features(tiny_team_games(), windows=(2, 5))
    assert list(features.columns) == TEAM_KEY_COLUMNS + team_feature_columns((2, 5))
    assert (features["season_type"] == "regular").all()  # preseason excluded
    assert len(features) == 16

    first = team_row(features, 1, 1)  # team 1's first game ever: no history
    assert np.isnan(first["margin_last5"]) and np.isnan(first["rest_days"]) and np.isnan(first["season_win_pct"])
    assert first["season_games_played"] == 0 and first["back_to_back"] == 0 and first["games_last_7_days"] == 0
    assert first["elo_pre"] == 1500.0
    assert first["expected_margin"] == 0.0  # no earlier game: every rating and the home edge at 0
    assert np.isnan(first["travel_km"]) and np.isnan(first["home_distance_km"])  # team 1 has no known arena

    g3 = team_row(features, 3, 1)  # day after game 1 (+10): a back-to-back
    assert g3["margin_last5"] == 10.0 and g3["pts_for_last5"] == 100.0 and g3["pts_against_last5"] == 90.0
    assert g3["off_rtg_last5"] == pytest.approx(100.0)  # 100 points on 100 possessions
    assert g3["def_rtg_last5"] == pytest.approx(90.0)  # opponent: same box, 90 points
    assert g3["efg_pct_last5"] == pytest.approx((40 + 0.5 * 10) / 85)
    assert g3["rest_days"] == 1 and g3["back_to_back"] == 1 and g3["games_last_7_days"] == 1
    assert g3["season_games_played"] == 1 and g3["season_wins"] == 1 and g3["season_win_pct"] == 1.0

    g5 = team_row(features, 5, 1)  # after +10, +10, -20
    assert g5["margin_last5"] == pytest.approx(0.0)
    assert g5["margin_last2"] == pytest.approx(-5.0)  # window of 2 drops game 1
    assert g5["pts_for_last2"] == pytest.approx(105.0) and g5["pts_against_last2"] == pytest.approx(110.0)
    assert g5["win_pct_last5"] == pytest.approx(2 / 3) and g5["win_pct_last2"] == pytest.approx(0.5)
    assert g5["off_rtg_last5"] == pytest.approx(100.0)  # only game 1 has a box score
    assert np.isnan(g5["off_rtg_last2"])
    assert g5["season_wins"] == 2 and g5["season_win_pct"] == pytest.approx(2 / 3)
    assert g5["season_margin_avg"] == pytest.approx(0.0)
    assert g5["rest_days"] == 2 and g5["games_last_7_days"] == 3  # 20, 21, 23 Oct all within 7 days of 25 Oct

    g7 = team_row(features, 7, 1)  # the previous game (6) is unplayed: no new history, but it is rest
    g6 = team_row(features, 6, 1)
    assert g6["margin_last5"] == pytest.approx(-2 / 4)  # +10, +10, -20, -2
    assert g7["margin_last5"] == g6["margin_last5"] and g7["season_games_played"] == 4
    assert g7["rest_days"] == 2 and g7["games_last_7_days"] == 3  # 23, 25, 27 Oct
    assert g7["elo_pre"] == g6["elo_pre"]

    next_season = team_row(features, 1, 1, season_prefix="00222")
    assert next_season["season_games_played"] == 0 and np.isnan(next_season["season_win_pct"])
    assert next_season["margin_last5"] == g7["margin_last5"]  # rolling windows cross seasons
    assert next_season["rest_days"] == 10  # capped
    assert next_season["elo_pre"] == pytest.approx(0.75 * g7["elo_pre"] + 0.25 * 1505)


def test_game_features_and_outcomes_hand_checked():
    tg = tiny_team_games()
    elo = pregame_elo(tg)
    team_features = team_game_features(tg, elo=elo)
    games = game_features(team_features, elo)
    assert list(games.columns) == GAME_KEY_COLUMNS + FEATURE_COLUMNS + ["neutral"]  # neutral: no model input
    assert len(games) == 8 and not games["neutral"].any()

    g4 = games.loc[games["game_id"] == "0022100004"].iloc[0]  # team 2 hosts team 1
    assert (g4["home_team_id"], g4["away_team_id"]) == (2, 1)
    assert g4["home_margin_last5"] == -10.0 and g4["away_margin_last5"] == 10.0 and g4["diff_margin_last5"] == -20.0
    assert g4["home_rest_days"] == 3 and g4["away_rest_days"] == 2 and g4["diff_rest_days"] == 1
    assert g4["diff_elo_pre"] == pytest.approx(g4["home_elo_pre"] - g4["away_elo_pre"])
    assert g4["elo_p_home_win"] == pytest.approx(elo.set_index("game_id").loc["0022100004", "elo_p_home_win"])

    outcomes = game_outcomes(tg).set_index("game_id")
    assert list(outcomes.columns) == ["home_win", "home_margin"]
    assert "0012100001" not in outcomes.index  # preseason
    assert outcomes.loc["0022100001", "home_win"] == 1 and outcomes.loc["0022100004", "home_margin"] == 20
    assert outcomes.loc["0022100002", "home_win"] == 0
    assert pd.isna(outcomes.loc["0022100006", "home_win"]) and pd.isna(outcomes.loc["0022100006", "home_margin"])
    assert not set(outcomes.columns) & set(games.columns)


def test_expected_margin_and_travel():
    from nba_platform.lib.ratings import margin_ratings
    from nba_platform.lib.venue import ARENAS, great_circle_km

    atl, bos, lal = 1610612737, 1610612738, 1610612747
    tg = team_games_from_results(
        [
            (1, "2023-10-24", "2023-24", "regular", atl, bos, 120, 100),
            (2, "2023-10-26", "2023-24", "regular", bos, atl, 100, 110),
            (3, "2023-10-29", "2023-24", "regular", lal, atl, 90, 100),
            (4, "2024-10-23", "2024-25", "regular", bos, atl, None, None),  # next season, unplayed
        ]
    )
    features = team_game_features(tg)
    row = features.set_index(["game_id", "team_id"]).loc
    ratings = margin_ratings(tg).set_index("game_id")
    expected = ratings.loc["0022300003"]
    home_margin = expected["home_edge"] + expected["home_rating"] - expected["away_rating"]
    assert row["0022300003", lal]["expected_margin"] == pytest.approx(home_margin)
    assert row["0022300003", atl]["expected_margin"] == pytest.approx(-home_margin)
    assert row["0022300003", atl]["expected_margin"] > 0  # ATL won both earlier games

    boston, atlanta, los_angeles = (ARENAS[t][:2] for t in (bos, atl, lal))
    assert row["0022300001", atl][["travel_km", "tz_shift_hours", "home_distance_km"]].tolist() == [0, 0, 0]
    assert row["0022300001", bos]["travel_km"] == pytest.approx(great_circle_km(*boston, *atlanta))
    assert row["0022300002", atl]["travel_km"] == pytest.approx(great_circle_km(*atlanta, *boston))
    g3 = row["0022300003", atl]
    assert g3["travel_km"] == pytest.approx(great_circle_km(*boston, *los_angeles))  # from the previous venue
    assert g3["tz_shift_hours"] == -3 and g3["home_distance_km"] == pytest.approx(
        great_circle_km(*atlanta, *los_angeles)
    )
    # a season's first game: travel from the team's own arena, not from last season's last venue
    assert row["0022400004", atl]["travel_km"] == pytest.approx(great_circle_km(*atlanta, *boston))
    assert row["0022400004", bos]["travel_km"] == 0.0


def test_feature_column_lists():
    assert game_feature_columns((5, 10, 20)) == FEATURE_COLUMNS
    assert "elo_p_home_win" in FEATURE_COLUMNS and "diff_elo_pre" in FEATURE_COLUMNS
    assert "home_margin_last20" in FEATURE_COLUMNS and "away_games_last_7_days" in FEATURE_COLUMNS
    assert {"diff_expected_margin", "home_travel_km", "away_tz_shift_hours", "diff_home_distance_km"} <= set(
        FEATURE_COLUMNS
    )
    assert len(FEATURE_COLUMNS) == 3 * 36 + 1
    assert not set(FEATURE_COLUMNS) & POST_GAME_COLUMNS
    assert len(FEATURE_COLUMNS) == len(set(FEATURE_COLUMNS))


def test_same_team_twice_on_a_date_is_rejected():
    tg = team_games_from_results(
        [(1, "2021-10-20", "2021-22", "regular", 1, 2, 100, 90), (2, "2021-10-20", "2021-22", "regular", 1, 3, 100, 90)]
    )
    with pytest.raises(ValueError, match="share a date"):
        team_game_features(tg)


def tiny_player_games() -> pd.DataFrame:
    rows = [
        # game_no, date, did_play, start_position, minutes, pts, fga, fta, tov, reb, ast
        (1, "2021-10-20", True, "G", 30.0, 20, 15, 5, 2, 4, 6),
        (3, "2021-10-21", False, "", None, None, None, None, None, None, None),  # DNP
        (4, "2021-10-23", True, "", 20.0, 10, 8, 0, 1, 2, 2),
        (5, "2021-10-25", True, "G", 25.5, 12, 10, 2, 0, 3, 1),
        (1, "2022-10-20", True, "G", 33.0, 30, 20, 10, 3, 5, 5),
    ]
    frame = pd.DataFrame(
        [
            {
                "game_id": f"0022{'1' if date < '2022' else '2'}{game_no:05d}",
                "season": "2021-22" if date < "2022" else "2022-23",
                "season_type": "regular",
                "game_date": pd.Timestamp(date),
                "team_id": 1,
                "opponent_id": 2,
                "is_home": game_no % 2 == 1,
                "player_id": 77,
                "player_name": "Hand Checked",
                "start_position": start,
                "did_play": played,
                "minutes": minutes,
                "pts": pts,
                "fga": fga,
                "fta": fta,
                "tov": tov,
                "reb": reb,
                "ast": ast,
                "plus_minus": 0.0,
            }  # fmt: skip
            for game_no, date, played, start, minutes, pts, fga, fta, tov, reb, ast in rows
        ]
    )
    return frame.astype(
        {
            "did_play": "boolean",
            "minutes": "Float64",
            **dict.fromkeys(["pts", "fga", "fta", "tov", "reb", "ast"], "Int64"),
        }
    )


def test_player_features_hand_checked():
    features = player_game_features(tiny_player_games(), windows=(2,))
    assert list(features.columns) == PLAYER_KEY_COLUMNS + player_feature_columns((2,))
    assert len(features) == 5  # the DNP row gets features too
    by_game = features.set_index("game_id")

    first = by_game.loc["0022100001"]
    assert np.isnan(first["pts_last2"]) and np.isnan(first["rest_days"]) and np.isnan(first["prev_game_started"])
    assert first["season_games_played"] == 0

    dnp = by_game.loc["0022100003"]
    assert dnp["pts_last2"] == 20 and dnp["rest_days"] == 1 and dnp["prev_game_started"] == 1.0

    g4 = by_game.loc["0022100004"]  # the DNP does not count as an appearance
    assert g4["pts_last2"] == 20 and g4["rest_days"] == 3 and g4["season_games_played"] == 1
    assert g4["usage_last2"] == pytest.approx((15 + 0.44 * 5 + 2) / 30)

    g5 = by_game.loc["0022100005"]
    assert g5["pts_last2"] == 15 and g5["minutes_last2"] == 25 and g5["reb_last2"] == 3 and g5["ast_last2"] == 4
    assert g5["usage_last2"] == pytest.approx((15 + 2.2 + 2 + 8 + 0 + 1) / 50)  # ratio of window sums
    assert g5["season_pts_avg"] == 15 and g5["season_games_played"] == 2
    assert g5["prev_game_started"] == 0.0 and bool(g5["is_home"])

    next_season = by_game.loc["0022200001"]
    assert next_season["pts_last2"] == 11  # last two appearances: 10 and 12
    assert next_season["season_games_played"] == 0 and np.isnan(next_season["season_pts_avg"])
    assert next_season["rest_days"] == 30  # capped
    assert next_season["prev_game_started"] == 1.0


# ---------------------------------------------------------------------------
# Leakage
# ---------------------------------------------------------------------------


def _sample_game_ids(team_features: pd.DataFrame, n: int, seed: int) -> list[str]:
    games = team_features.drop_duplicates("game_id").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    picked = set(rng.choice(games["game_id"].to_numpy(), size=n, replace=False).tolist())
    # Edge cases: very first game, first game of each season, play-in, playoffs, the unplayed tail.
    picked |= set(games.groupby("season")["game_id"].first())
    picked |= set(games.groupby("season_type")["game_id"].last())
    picked.add(games["game_id"].iloc[-1])
    return sorted(picked)


def test_no_output_carries_a_result_column(full_features):
    team_features, games, player_features = full_features
    for frame in (team_features, games, player_features):
        assert not set(frame.columns) & POST_GAME_COLUMNS


def test_features_identical_when_results_and_future_are_hidden(league, full_features):
    team_games, player_games = league
    full_team, full_games, full_players = full_features
    game_ids = _sample_game_ids(full_team, n=50, seed=5)
    assert len(game_ids) >= 50
    checked_players = 0
    for game_id in game_ids:
        tg = with_results_hidden(team_games, game_id, TEAM_POST_GAME_COLUMNS)
        assert tg.loc[tg["game_id"] == game_id, "pts"].isna().all()
        elo = pregame_elo(tg)
        team_features = team_game_features(tg, elo=elo)
        pd.testing.assert_frame_equal(
            rows_of(team_features, game_id, "team_id"), rows_of(full_team, game_id, "team_id"), check_exact=True
        )
        pd.testing.assert_frame_equal(
            rows_of(game_features(team_features, elo), game_id, "game_id"),
            rows_of(full_games, game_id, "game_id"),
            check_exact=True,
        )

        if (player_games["game_id"] == game_id).any():
            pg = with_results_hidden(player_games, game_id, PLAYER_POST_GAME_COLUMNS)
            expected = rows_of(full_players, game_id, "player_id")
            pd.testing.assert_frame_equal(
                rows_of(player_game_features(pg), game_id, "player_id"), expected, check_exact=True
            )
            checked_players += len(expected)
    assert checked_players > 500


def test_changing_a_games_results_changes_none_of_its_features(league, full_features):
    team_games, player_games = league
    full_team, full_games, full_players = full_features
    season2 = full_team.loc[(full_team["season"] == "2020-21") & (full_team["season_type"] == "regular")]
    game_id = season2["game_id"].iloc[len(season2) // 2]
    date = season2.loc[season2["game_id"] == game_id, "game_date"].iloc[0]

    tg = team_games.copy()
    own = (tg["game_id"] == game_id).to_numpy()
    tg.loc[own, "pts"] = tg.loc[own, "pts"] + np.where(tg.loc[own, "is_home"], 40, -30)
    tg.loc[own, "opp_pts"] = tg.loc[own, "opp_pts"] + np.where(tg.loc[own, "is_home"], -30, 40)
    for col in sorted(TEAM_POST_GAME_COLUMNS - {"pts", "opp_pts"}):
        tg.loc[own, col] = tg.loc[own, col] * 2
    pg = player_games.copy()
    own_players = (pg["game_id"] == game_id).to_numpy()
    for col in ["pts", "fga", "fta", "tov", "reb", "ast", "minutes", "plus_minus"]:
        pg.loc[own_players, col] = pg.loc[own_players, col] + 7
    pg.loc[own_players, "did_play"] = ~pg.loc[own_players, "did_play"]
    pg.loc[own_players, "start_position"] = "C"

    elo = pregame_elo(tg)
    team_features = team_game_features(tg, elo=elo)
    games = game_features(team_features, elo)
    players = player_game_features(pg)

    same_day = full_team.loc[full_team["game_date"] == date, "game_id"].unique()
    for gid in same_day:  # the game itself and every other game of its date
        for mutated, full, key in ((team_features, full_team, "team_id"), (games, full_games, "game_id"),
                                   (players, full_players, "player_id")):  # fmt: skip
            pd.testing.assert_frame_equal(rows_of(mutated, gid, key), rows_of(full, gid, key), check_exact=True)

    # ... while later games do see the changed result (the mutation was not a no-op).
    later = full_team["game_date"] > date
    feature_cols = team_feature_columns()
    assert not np.allclose(
        team_features.loc[later, feature_cols].to_numpy(dtype=float),
        full_team.loc[later, feature_cols].to_numpy(dtype=float),
        equal_nan=True,
    )
    later_players = full_players["game_date"] > date
    player_cols = player_feature_columns()
    assert not np.allclose(
        players.loc[later_players, player_cols].to_numpy(dtype=float),
        full_players.loc[later_players, player_cols].to_numpy(dtype=float),
        equal_nan=True,
    )


def test_swap_sides_exchanges_home_and_away_and_is_its_own_inverse():
    from nba_platform.lib.features import swap_sides

    games = pd.DataFrame(
        {"game_id": ["g"], "home_elo_pre": [1600.0], "away_elo_pre": [1450.0], "diff_elo_pre": [150.0]}
    ).assign(elo_p_home_win=[0.7])
    swapped = swap_sides(games)
    assert swapped.iloc[0].to_dict() == {
        "game_id": "g",
        "home_elo_pre": 1450.0,
        "away_elo_pre": 1600.0,
        "diff_elo_pre": -150.0,
        "elo_p_home_win": pytest.approx(0.3),
    }
    assert swap_sides(swapped).equals(games)


def test_a_neutral_site_prediction_carries_no_home_advantage():
    from sklearn.linear_model import LogisticRegression

    from nba_platform.defs.serving.assets import predict_home_win

    # a model that learned a home advantage: equal teams, the home side wins 60 % of the time
    rng = np.random.default_rng(7)
    diff = rng.normal(0, 100, 4000)
    home_won = (rng.random(4000) < 1 / (1 + np.exp(-(0.4 + diff / 100)))).astype(int)
    X = pd.DataFrame({"home_elo_pre": 1500 + diff / 2, "away_elo_pre": 1500 - diff / 2, "diff_elo_pre": diff})
    model = LogisticRegression().fit(X, home_won)
    equal = pd.DataFrame({"home_elo_pre": [1500.0, 1500.0], "away_elo_pre": [1500.0, 1500.0], "diff_elo_pre": [0, 0]})
    at_home, neutral = predict_home_win(model, equal, neutral=[False, True])
    assert at_home > 0.55 and neutral == pytest.approx(0.5)
    stronger = pd.DataFrame({"home_elo_pre": [1600.0], "away_elo_pre": [1400.0], "diff_elo_pre": [200.0]})
    (p_neutral,) = predict_home_win(model, stronger, neutral=[True])
    (p_home,) = predict_home_win(model, stronger)
    assert 0.5 < p_neutral < p_home  # the first-listed stronger team, without the home edge
