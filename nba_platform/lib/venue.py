"""Saying which team a game-level probability is for: the home team, or at a neutral site
(no home side) the first-listed team, which takes the home slot of game-level rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

HOME = "home team"
FIRST_LISTED = "first-listed team (neutral site, no home advantage)"


def with_venue(predictions: pd.DataFrame, team_games: pd.DataFrame) -> pd.DataFrame:
    """Predictions (one row per game, `game_id`) plus `neutral` and `p_home_win_is`, the team
    whose probability `p_home_win` gives, from the team-game table's `neutral` flag."""
    if "neutral" in team_games:
        neutral_games = set(team_games.loc[team_games["neutral"].astype("boolean").fillna(False), "game_id"])
    else:
        neutral_games = set()
    out = predictions.copy()
    out["neutral"] = out["game_id"].isin(neutral_games)
    out["p_home_win_is"] = out["neutral"].map({True: FIRST_LISTED, False: HOME})
    return out
