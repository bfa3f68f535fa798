"""Point-in-time team strength in points and the league's current home edge.

Margin ratings (opponent-adjusted, recency-weighted): each team has a rating in points per game
against an average team on a neutral floor. Before a game the expected home margin is
    home_rating - away_rating + league home edge;
after it, both ratings move by `k` times the error (the home team up, the away team down), with
the margin capped at `margin_cap` so garbage-time blowouts count like a clear win. A rating is
therefore an exponentially weighted, opponent-adjusted average margin (recent games weigh most;
beating a strong team counts more than beating a weak one). Two speeds are kept: `fast` follows
form (injuries, trades show up within a few games), `slow` the underlying level. At a team's
first game of a season its ratings are regressed towards 0 (`season_carryover`).

League home edge: the mean home margin of the previous `home_edge_window` played games (any
venue). Home advantage fell from ~+3.5 points in the 2000s to ~+2 since 2020 (+0.1 in the
2020-21 no-crowd season); Elo's fixed 100 points and a model intercept fitted on 20 seasons
cannot follow that, this feature does.

Point-in-time guarantee, as in `elo.pregame_elo`: games are processed one date at a time; every
pre-game value of a date is read before any result of that date is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from nba_platform.lib.elo import home_view

RATING_SPEEDS = ("fast", "slow")
# Game-level columns of `pregame_margin_ratings` that are model inputs.
GAME_RATING_FEATURES = ["rating_expected_margin", "league_home_margin"]
MARGIN_RATING_COLUMNS = [
    "game_id",
    "game_date",
    "season",
    "season_type",
    "home_team_id",
    "away_team_id",
    *[f"{side}_rating_{speed}" for side in ("home", "away") for speed in RATING_SPEEDS],
    *GAME_RATING_FEATURES,
]


@dataclass(frozen=True)
class MarginRatingParams:
    k_fast: float = 0.10
    k_slow: float = 0.035
    margin_cap: float = 25.0
    season_carryover: float = 0.6
    home_edge_window: int = 1000  # played games, about 80% of a regular season
    initial_home_edge: float = 3.0  # before any game has been played


def pregame_margin_ratings(team_games: pd.DataFrame, params: MarginRatingParams = MarginRatingParams()) -> pd.DataFrame:
    """Pre-game margin ratings of both teams (fast and slow), the league home edge and the
    expected home margin (slow ratings + home edge) for every regular, play-in and playoff game.
    One row per game (MARGIN_RATING_COLUMNS), ordered by game_date, game_id."""
    import math

    import numpy as np
    import pandas as pd

    games = home_view(team_games).sort_values(["game_date", "game_id"], kind="mergesort").reset_index(drop=True)
    n = len(games)
    team_codes, _ = pd.factorize(pd.concat([games["home_team_id"], games["away_team_id"]], ignore_index=True))
    home_code, away_code = team_codes[:n].tolist(), team_codes[n:].tolist()
    season_code = pd.factorize(games["season"])[0].tolist()
    home_pts, away_pts = games["home_pts"].to_numpy(), games["away_pts"].to_numpy()
    played = (~np.isnan(home_pts) & ~np.isnan(away_pts)).tolist()
    margin = np.clip(home_pts - away_pts, -params.margin_cap, params.margin_cap).tolist()
    raw_margin = (home_pts - away_pts).tolist()

    n_teams = int(team_codes.max()) + 1 if n else 0
    speeds = {"fast": params.k_fast, "slow": params.k_slow}
    rating = {speed: [0.0] * n_teams for speed in speeds}
    rated_season = [-1] * n_teams
    pre = {f"{side}_rating_{speed}": [math.nan] * n for side in ("home", "away") for speed in speeds}
    home_edge = [math.nan] * n
    recent_margins: list[float] = []  # raw home margins of played games, oldest first
    recent_sum = 0.0

    day = games["game_date"].to_numpy(dtype="datetime64[D]")
    date_starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]]).tolist()
    keep = params.season_carryover
    for start, stop in zip(date_starts, date_starts[1:] + [n]):
        edge = recent_sum / len(recent_margins) if recent_margins else params.initial_home_edge
        for i in range(start, stop):
            for team in (home_code[i], away_code[i]):
                if rated_season[team] != season_code[i]:
                    if rated_season[team] != -1:
                        for speed in speeds:
                            rating[speed][team] *= keep
                    rated_season[team] = season_code[i]
            for speed in speeds:
                pre[f"home_rating_{speed}"][i] = rating[speed][home_code[i]]
                pre[f"away_rating_{speed}"][i] = rating[speed][away_code[i]]
            home_edge[i] = edge
        for i in range(start, stop):
            if not played[i]:
                continue
            for speed, k in speeds.items():
                expected = pre[f"home_rating_{speed}"][i] - pre[f"away_rating_{speed}"][i] + home_edge[i]
                shift = k * (margin[i] - expected)
                rating[speed][home_code[i]] += shift
                rating[speed][away_code[i]] -= shift
            recent_margins.append(raw_margin[i])
            recent_sum += raw_margin[i]
            if len(recent_margins) > params.home_edge_window:
                recent_sum -= recent_margins.pop(0)

    out = games[["game_id", "game_date", "season", "season_type", "home_team_id", "away_team_id"]].copy()
    for column, values in pre.items():
        out[column] = np.asarray(values, dtype="float64")
    out["league_home_margin"] = np.asarray(home_edge, dtype="float64")
    out["rating_expected_margin"] = out["home_rating_slow"] - out["away_rating_slow"] + out["league_home_margin"]
    return out[MARGIN_RATING_COLUMNS]


def team_pregame_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """Long form of `pregame_margin_ratings`: one row per (game_id, team_id) with
    rating_fast and rating_slow."""
    import pandas as pd

    sides = []
    for side in ("home", "away"):
        columns = ["game_id", f"{side}_team_id", *[f"{side}_rating_{speed}" for speed in RATING_SPEEDS]]
        sides.append(ratings[columns].set_axis(["game_id", "team_id", *[f"rating_{s}" for s in RATING_SPEEDS]], axis=1))
    return pd.concat(sides, ignore_index=True)
