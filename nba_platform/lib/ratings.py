"""Point-in-time opponent-adjusted margin ratings (a recency-weighted ridge / SRS rating).

Model: home margin = home_edge + rating[home] - rating[away] (no home_edge at a neutral site).
Before each date, the ratings and the league's home edge are the ridge solution over every
earlier played game, each weighted 0.5 ** (age in days / half_life_days), with a penalty of
`prior_games` (in fully weighted games) pulling every rating towards the league average (0).
Why, next to Elo: Elo updates a rating from one game at a time in date order, so an early-season
result against a team later revealed to be strong is never re-read; the ridge refits every
rating jointly, so each result is re-weighted by what is now known of the opponent (the
opponent adjustment of SRS), and recency is explicit rather than a learning rate.

Point-in-time guarantee: games are processed one date at a time; a date's ratings are solved
before any result of that date is added, so a game never sees itself or a same-day game.
The normal equations are only ever decayed and added to in date order, so the ratings of a date
are bit-identical whatever later games the frame holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nba_platform.lib.elo import home_view

MARGIN_RATING_GAME_COLUMNS = ["game_id", "home_team_id", "away_team_id", "home_rating", "away_rating", "home_edge"]
TEAM_RATING_COLUMNS = ["game_id", "team_id", "margin_rating", "expected_margin"]


@dataclass(frozen=True)
class MarginRatingParams:
    # Chosen on 2014-15..2019-20 (ridge fitted from 2004-05), never on the evaluated 2021-24 seasons:
    # half-lives of 30/45/60/90/150 days gave Brier 0.2149/0.2133/0.2122/0.2114/0.2123 (Elo 0.2122).
    half_life_days: float = 90.0
    prior_games: float = 5.0  # ridge penalty: a team's rating behaves as if it had this many games at 0
    margin_cap: float = 30.0  # a 50-point blowout says little more than a 30-point one


def margin_ratings(team_games: pd.DataFrame, params: MarginRatingParams = MarginRatingParams()) -> pd.DataFrame:
    """Pre-game margin ratings of both teams and the league's home edge (points; 0 at a neutral
    site) for every regular, play-in and playoff game; one row per game (MARGIN_RATING_GAME_COLUMNS)."""

    games = home_view(team_games).sort_values(["game_date", "game_id"], kind="mergesort").reset_index(drop=True)
    n = len(games)
    # Codes by sorted team id, not by first appearance: removing later games must not renumber teams.
    team_ids = np.concatenate([games["home_team_id"].to_numpy(), games["away_team_id"].to_numpy()]).astype("int64")
    teams, team_codes = np.unique(team_ids, return_inverse=True)
    home_code, away_code = team_codes[:n], team_codes[n:]
    n_teams = len(teams)
    edge = n_teams  # index of the home-edge coefficient
    margin = np.clip(games["home_pts"].to_numpy() - games["away_pts"].to_numpy(), -params.margin_cap, params.margin_cap)
    played = ~np.isnan(margin)
    at_home = ~games["neutral"].to_numpy(dtype=bool)
    day = games["game_date"].to_numpy(dtype="datetime64[D]").astype("int64")

    normal = np.zeros((n_teams + 1, n_teams + 1))  # sum of w * x x^T, decayed to `last_day`
    target = np.zeros(n_teams + 1)  # sum of w * x * margin
    penalty = params.prior_games * np.eye(n_teams + 1)
    last_day = None
    home_rating, away_rating, home_edge = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)

    date_starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]]).tolist() if n else []
    seen = np.zeros(n_teams + 1, dtype=bool)
    seen[edge] = True
    for start, stop in zip(date_starts, date_starts[1:] + [n]):
        decay = 1.0 if last_day is None else 0.5 ** ((day[start] - last_day) / params.half_life_days)
        # Solved over the teams with an earlier result only (the others stay at 0): the system of a date
        # is then the same matrix whatever later games or teams the frame holds, so bit-identical.
        theta = np.zeros(n_teams + 1)
        idx = np.flatnonzero(seen)
        theta[idx] = np.linalg.solve((decay * normal + penalty)[np.ix_(idx, idx)], (decay * target)[idx])
        home_rating[start:stop] = theta[home_code[start:stop]]
        away_rating[start:stop] = theta[away_code[start:stop]]
        home_edge[start:stop] = theta[edge] * at_home[start:stop]  # none at a neutral site
        rows = np.arange(start, stop)[played[start:stop]]
        if len(rows) == 0:
            continue
        # Only then add the date's results: same-day games never see each other.
        # Element by element in game order, not a matrix product: same sums in the same order.
        normal = decay * normal
        target = decay * target
        for i in rows.tolist():
            h, a, e = home_code[i], away_code[i], 1.0 if at_home[i] else 0.0
            normal[h, h] += 1.0
            normal[a, a] += 1.0
            normal[h, a] -= 1.0
            normal[a, h] -= 1.0
            normal[h, edge] += e
            normal[edge, h] += e
            normal[a, edge] -= e
            normal[edge, a] -= e
            normal[edge, edge] += e
            target[h] += margin[i]
            target[a] -= margin[i]
            target[edge] += e * margin[i]
            seen[h] = seen[a] = True
        last_day = day[start]

    return pd.DataFrame(
        {
            "game_id": games["game_id"].to_numpy(),
            "home_team_id": games["home_team_id"].to_numpy(),
            "away_team_id": games["away_team_id"].to_numpy(),
            "home_rating": home_rating,
            "away_rating": away_rating,
            "home_edge": home_edge,
        }
    )[MARGIN_RATING_GAME_COLUMNS]


def team_margin_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """Long form of `margin_ratings` output, one row per (game_id, team_id): the team's
    `margin_rating` and `expected_margin`, its predicted margin in this game (the opponent's rating
    and the home edge, for the home side, or against it, for the away side, included)."""

    home_margin = ratings["home_edge"] + ratings["home_rating"] - ratings["away_rating"]
    home = pd.DataFrame(
        {
            "game_id": ratings["game_id"],
            "team_id": ratings["home_team_id"],
            "margin_rating": ratings["home_rating"],
            "expected_margin": home_margin,
        }
    )
    away = pd.DataFrame(
        {
            "game_id": ratings["game_id"],
            "team_id": ratings["away_team_id"],
            "margin_rating": ratings["away_rating"],
            "expected_margin": -home_margin,
        }
    )
    return pd.concat([home, away], ignore_index=True)[TEAM_RATING_COLUMNS]
