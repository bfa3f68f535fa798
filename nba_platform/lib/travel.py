"""Travel and time-zone features from the schedule (known in advance, so every game has them).

A game is played at the home team's arena, except where the NBA moved games: the 2020 bubble
(2019-20 restart from 30 Jul 2020, Lake Buena Vista) and Toronto's 2020-21 home games (Tampa).
Arena locations are the franchise's home city in that season (Seattle until 2007-08, the Hornets'
Oklahoma City seasons 2005-06 and 2006-07, the Nets in New Jersey until 2011-12 and the Pistons
in Auburn Hills until 2016-17 and the Warriors in Oakland until 2018-19 are close enough to their
later homes to share them). Time zones are standard-time UTC offsets in hours (Phoenix: -7).
International regular-season games (London, Mexico City, Paris) are rare and treated as home.

Per team-game (rows of one team sorted by date, the team's previous game of the same season or,
for its first game, its home arena, is where it comes from):
  * travel_km: great-circle distance from the previous venue;
  * tz_shift_hours: venue offset minus previous venue offset (eastward travel > 0);
  * tz_from_home_hours: venue offset minus the team's home offset (a West team in the East > 0);
  * road_trip_game: 0 at home, else 1 + the number of consecutive road games just before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

TRAVEL_FEATURES = ["travel_km", "tz_shift_hours", "tz_from_home_hours", "road_trip_game"]

# team_id -> (latitude, longitude, UTC offset in standard time)
ARENAS = {
    1610612737: (33.757, -84.396, -5),  # Atlanta
    1610612738: (42.366, -71.062, -5),  # Boston
    1610612739: (41.496, -81.688, -5),  # Cleveland
    1610612740: (29.949, -90.082, -6),  # New Orleans
    1610612741: (41.881, -87.674, -6),  # Chicago
    1610612742: (32.790, -96.810, -6),  # Dallas
    1610612743: (39.749, -105.008, -7),  # Denver
    1610612744: (37.768, -122.388, -8),  # San Francisco / Oakland
    1610612745: (29.751, -95.362, -6),  # Houston
    1610612746: (34.043, -118.267, -8),  # Los Angeles (Clippers)
    1610612747: (34.043, -118.267, -8),  # Los Angeles (Lakers)
    1610612748: (25.781, -80.188, -5),  # Miami
    1610612749: (43.045, -87.917, -6),  # Milwaukee
    1610612750: (44.979, -93.276, -6),  # Minneapolis
    1610612751: (40.683, -73.976, -5),  # Brooklyn / New Jersey
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
# (team_id, season) -> home city when it differs from ARENAS
SEASON_HOMES = {
    **{(1610612760, f"{y}-{(y + 1) % 100:02d}"): SEATTLE for y in range(1990, 2008)},
    (1610612740, "2005-06"): OKLAHOMA_CITY,
    (1610612740, "2006-07"): OKLAHOMA_CITY,
    (1610612761, "2020-21"): (27.943, -82.452, -5),  # Tampa
}
BUBBLE = (28.370, -81.560, -5)
BUBBLE_SEASON, BUBBLE_START = "2019-20", "2020-07-30"
EARTH_RADIUS_KM = 6371.0


def home_city(team_id: int, season: str) -> tuple[float, float, int]:
    """(latitude, longitude, UTC offset) of a team's home arena in a season; NaNs for a team
    outside the table (e.g. an exhibition club)."""
    location = SEASON_HOMES.get((int(team_id), str(season))) or ARENAS.get(int(team_id))
    return location if location is not None else (float("nan"), float("nan"), float("nan"))


def great_circle_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    import numpy as np

    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype="float64")) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def travel_features(tg: pd.DataFrame) -> pd.DataFrame:
    """TRAVEL_FEATURES for team-game rows sorted by team then date, with team_id, opponent_id,
    is_home, season and game_date columns; returned aligned with `tg` (same order, fresh index)."""
    import numpy as np
    import pandas as pd

    team = tg["team_id"].to_numpy(dtype="int64")
    opponent = tg["opponent_id"].to_numpy(dtype="int64")
    is_home = tg["is_home"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    season = tg["season"].astype(str).to_numpy()
    host = np.where(is_home, team, opponent)
    keys = pd.DataFrame({"team": np.r_[host, team], "season": np.r_[season, season]}).drop_duplicates()
    cities = {(t, s): home_city(t, s) for t, s in keys.itertuples(index=False)}
    venue = np.array([cities[(h, s)] for h, s in zip(host, season)], dtype="float64").reshape(-1, 3)
    home = np.array([cities[(t, s)] for t, s in zip(team, season)], dtype="float64").reshape(-1, 3)
    in_bubble = (season == BUBBLE_SEASON) & (tg["game_date"].to_numpy() >= np.datetime64(BUBBLE_START))
    venue[in_bubble] = BUBBLE

    same_stint = np.r_[False, (team[1:] == team[:-1]) & (season[1:] == season[:-1])]
    previous = np.where(same_stint[:, None], np.roll(venue, 1, axis=0), home)
    travel_km = great_circle_km(previous[:, 0], previous[:, 1], venue[:, 0], venue[:, 1])

    # Consecutive road games so far: position within the current run of away games.
    run_start = is_home | ~same_stint
    run_id = np.cumsum(run_start | np.r_[True, is_home[:-1]])
    road_trip = np.where(is_home, 0, pd.Series(run_id).groupby(run_id).cumcount().to_numpy() + 1)
    return pd.DataFrame(
        {
            "travel_km": travel_km,
            "tz_shift_hours": venue[:, 2] - previous[:, 2],
            "tz_from_home_hours": venue[:, 2] - home[:, 2],
            "road_trip_game": road_trip.astype("float64"),
        }
    )
