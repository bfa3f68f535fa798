"""Real game features from the shipped landing files, computed with the pipeline's own pure
functions (split by season, normalise, rules, dedup, Elo, features).

Only the two box-score sources (TeamGameLog 2018-19..2022-23 and LeagueGameLog 2021-22..2023-24):
regular seasons 2018-19..2023-24 with every feature present, in ~2 s instead of the ~15 s the
full history takes. 2018-19 starts cold (no earlier games), so tests use 2019-20 onwards.
"""

from __future__ import annotations

import functools
import pathlib

import pandas as pd

import nba_platform
from nba_platform.lib.dedup import dedup_team_games
from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.features import FEATURE_COLUMNS, game_features, game_outcomes, team_game_features
from nba_platform.lib.landing import detect_shape, read_landed_bytes, split_by_season
from nba_platform.lib.normalise import normalise_team_games
from nba_platform.lib.quality import RULES_BY_ENTITY, apply_rules
from nba_platform.lib.schema import TEAM_GAME_SCHEMA

LANDING = pathlib.Path(nba_platform.__file__).parent / "data" / "landing"
BOX_SCORE_SOURCES = (
    "nba_api_teamgamelog_2018_2023/team_game_logs.csv.gz",
    "nba_api_league_gamelog_2021_2024/nba-gamelog-2021-22.csv.gz",
    "nba_api_league_gamelog_2021_2024/nba-gamelog-2022-23.csv.gz",
    "nba_api_league_gamelog_2021_2024/nba-gamelog-2023-24.csv.gz",
)

# A league-wide scoring jump: every team scores and concedes 15 more points (diffs unchanged),
# and offensive/defensive ratings (points per 100 possessions) scale by 1.3.
POINTS = [c for c in FEATURE_COLUMNS if c.startswith(("home_", "away_")) and ("_pts_for_" in c or "_pts_against_" in c)]
RATINGS = [c for c in FEATURE_COLUMNS if "_off_rtg_" in c or "_def_rtg_" in c]
SHIFTED = POINTS + RATINGS


def scoring_jump(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out[POINTS] = out[POINTS] + 15
    out[RATINGS] = out[RATINGS] * 1.3
    return out


@functools.lru_cache(maxsize=1)
def _real_team_games() -> pd.DataFrame:
    by_season: dict[str, list[pd.DataFrame]] = {}
    for rel in BOX_SCORE_SOURCES:
        path = LANDING / rel
        raw = read_landed_bytes(path.read_bytes(), path.name)
        shape = detect_shape(raw.columns, path.name)
        for season, rows in split_by_season(raw, shape).items():
            by_season.setdefault(season, []).append(normalise_team_games(rows, shape.name).assign(season=season))
    tables = []
    for _season, frames in sorted(by_season.items()):
        split = apply_rules(
            pd.concat(frames, ignore_index=True), RULES_BY_ENTITY["team_game"], "team_game", TEAM_GAME_SCHEMA
        )
        tables.append(dedup_team_games(split.accepted).table)
    return pd.concat(tables, ignore_index=True)


@functools.lru_cache(maxsize=1)
def _real_game_features() -> pd.DataFrame:
    team_games = _real_team_games()
    elo = pregame_elo(team_games)
    return game_features(team_game_features(team_games, elo=elo), elo)


def real_game_features() -> pd.DataFrame:
    """One row per game: keys + FEATURE_COLUMNS. A fresh copy each call (computed once)."""
    return _real_game_features().copy()


def real_game_outcomes() -> pd.DataFrame:
    """game_id, home_win, home_margin of the same games."""
    return game_outcomes(_real_team_games())


def real_team_games() -> pd.DataFrame:
    """The validated, deduplicated team-game table of the same sources. A fresh copy each call."""
    return _real_team_games().copy()
