"""Saying which team a game-level probability is for: the home team, or at a neutral site
(no home side) the first-listed team, which takes the home slot of game-level rows; and where a
game is played (arena coordinates and time zones), for the travel features."""

from __future__ import annotations

import numpy as np
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


# ---------------------------------------------------------------------------
# Where a game is played: arena coordinates and time zones, for travel features.
# ---------------------------------------------------------------------------

# team_id -> (latitude, longitude, standard UTC offset in hours) of its home arena in the current era.
ARENAS: dict[int, tuple[float, float, float]] = {
    1610612737: (33.757, -84.396, -5),  # Atlanta
    1610612738: (42.366, -71.062, -5),  # Boston
    1610612739: (41.496, -81.688, -5),  # Cleveland
    1610612740: (29.949, -90.082, -6),  # New Orleans
    1610612741: (41.881, -87.674, -6),  # Chicago
    1610612742: (32.790, -96.810, -6),  # Dallas
    1610612743: (39.749, -105.008, -7),  # Denver
    1610612744: (37.768, -122.388, -8),  # San Francisco (Oakland until 2019, 15 km away)
    1610612745: (29.751, -95.362, -6),  # Houston
    1610612746: (34.043, -118.267, -8),  # Los Angeles (Clippers)
    1610612747: (34.043, -118.267, -8),  # Los Angeles (Lakers)
    1610612748: (25.781, -80.188, -5),  # Miami
    1610612749: (43.045, -87.917, -6),  # Milwaukee
    1610612750: (44.979, -93.276, -6),  # Minneapolis
    1610612751: (40.683, -73.975, -5),  # Brooklyn (New Jersey until 2012, ~20 km away)
    1610612752: (40.751, -73.993, -5),  # New York
    1610612753: (28.539, -81.384, -5),  # Orlando
    1610612754: (39.764, -86.156, -5),  # Indianapolis
    1610612755: (39.901, -75.172, -5),  # Philadelphia
    1610612756: (33.446, -112.071, -7),  # Phoenix
    1610612757: (45.532, -122.667, -8),  # Portland
    1610612758: (38.580, -121.500, -8),  # Sacramento
    1610612759: (29.427, -98.438, -6),  # San Antonio
    1610612760: (35.463, -97.515, -6),  # Oklahoma City
    1610612761: (43.643, -79.379, -5),  # Toronto
    1610612762: (40.768, -111.901, -7),  # Salt Lake City
    1610612763: (35.138, -90.051, -6),  # Memphis
    1610612764: (38.898, -77.021, -5),  # Washington
    1610612765: (42.341, -83.055, -5),  # Detroit
    1610612766: (35.225, -80.839, -5),  # Charlotte
}
SEATTLE = (47.622, -122.354, -8)
OKLAHOMA_CITY = ARENAS[1610612760]
TAMPA = (27.943, -82.452, -5)
ORLANDO = ARENAS[1610612753]
# Seasons a team played its home games elsewhere: (team_id, season) -> arena.
SEASON_ARENAS: dict[tuple[int, str], tuple[float, float, float]] = {
    **{(1610612760, f"{y}-{(y + 1) % 100:02d}"): SEATTLE for y in range(1967, 2008)},  # SuperSonics
    (1610612740, "2005-06"): OKLAHOMA_CITY,  # Hornets after Hurricane Katrina
    (1610612740, "2006-07"): OKLAHOMA_CITY,
    (1610612761, "2020-21"): TAMPA,  # Raptors during the pandemic
}
BUBBLE_SEASON, BUBBLE_START = "2019-20", "2020-07-01"  # every restart game was played in Orlando


def game_venues(home_team_id, season, game_date) -> np.ndarray:
    """(n, 3) latitude, longitude and UTC offset of each game's venue: the home team's arena in that
    season (the 2020 restart bubble: Orlando); NaN for a team without a known arena."""
    home_team_id = np.asarray(home_team_id, dtype="int64")
    season = np.asarray(season).astype(str)
    bubble = (season == BUBBLE_SEASON) & (pd.to_datetime(np.asarray(game_date)) >= pd.Timestamp(BUBBLE_START))
    nowhere = (np.nan, np.nan, np.nan)
    venues = [
        ORLANDO if in_bubble else SEASON_ARENAS.get((team, s), ARENAS.get(team, nowhere))
        for team, s, in_bubble in zip(home_team_id.tolist(), season.tolist(), bubble.tolist())
    ]
    return np.asarray(venues, dtype="float64").reshape(len(venues), 3)


def great_circle_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Haversine distance in km (arrays; NaN in, NaN out)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype="float64")) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))
