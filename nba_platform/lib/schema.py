"""Canonical schemas: one per entity, whatever the source shape.

Column order here is the column order of every validated and deduplicated table.
"""

from __future__ import annotations

import pandas as pd

TEAM_ID_MIN, TEAM_ID_MAX = 1610612737, 1610612766

# Lineage carried from raw through every table.
LINEAGE_COLUMNS = {"source": "string[pyarrow]", "source_file": "string[pyarrow]", "source_row": "int64"}

TEAM_GAME_BOX = ["fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "reb", "ast", "stl", "blk", "tov", "pf"]
TEAM_GAME_PCT = ["fg_pct", "fg3_pct", "ft_pct"]

TEAM_GAME_SCHEMA: dict[str, str] = {
    "game_id": "string[pyarrow]",
    "season": "string[pyarrow]",
    "season_type": "string[pyarrow]",
    "game_date": "datetime64[ns]",
    "team_id": "Int64",
    "opponent_id": "Int64",
    "is_home": "boolean",
    # A neutral-site game (stats.nba.com lists it with '@' on both rows: Paris, Mexico City, the
    # in-season tournament's knockout games): no home side. `is_home` then marks the first-listed
    # team (its row comes first in the source), which takes the home slot of game-level rows.
    "neutral": "boolean",
    "team_abbreviation": "string[pyarrow]",
    "pts": "Int64",
    "opp_pts": "Int64",
    "game_minutes": "Float64",
    **dict.fromkeys(TEAM_GAME_BOX, "Int64"),
    **dict.fromkeys(TEAM_GAME_PCT, "Float64"),
    "plus_minus": "Float64",
    **LINEAGE_COLUMNS,
}
TEAM_GAME_KEY = ["game_id", "team_id"]

PLAYER_GAME_BOX = [
    "fgm",
    "fga",
    "fg3m",
    "fg3a",
    "ftm",
    "fta",
    "oreb",
    "dreb",
    "reb",
    "ast",
    "stl",
    "blk",
    "tov",
    "pf",
    "pts",
]
PLAYER_GAME_SCHEMA: dict[str, str] = {
    "game_id": "string[pyarrow]",
    "season": "string[pyarrow]",
    "season_type": "string[pyarrow]",
    "team_id": "Int64",
    "player_id": "Int64",
    "player_name": "string[pyarrow]",
    "start_position": "string[pyarrow]",
    "comment": "string[pyarrow]",
    "did_play": "boolean",
    "minutes": "Float64",
    **dict.fromkeys(PLAYER_GAME_BOX, "Int64"),
    "plus_minus": "Float64",
    **LINEAGE_COLUMNS,
}
PLAYER_GAME_KEY = ["game_id", "player_id"]
# Added at dedup from the team-game table (box scores carry no date or opponent).
PLAYER_GAME_CONTEXT = {"game_date": "datetime64[ns]", "opponent_id": "Int64", "is_home": "boolean"}

PLAYER_SEASON_SCHEMA: dict[str, str] = {
    "player_id": "Int64",
    "season": "string[pyarrow]",
    "team_id": "Int64",
    "full_name": "string[pyarrow]",
    "position": "string[pyarrow]",
    "height_inches": "Float64",
    "weight_lbs": "Float64",
    "birth_date": "datetime64[ns]",
    "experience_years": "Int64",
    "school": "string[pyarrow]",
    **LINEAGE_COLUMNS,
}
PLAYER_SEASON_KEY = ["player_id", "season", "team_id"]

PLAYER_SCHEMA: dict[str, str] = {
    "player_id": "Int64",
    "full_name": "string[pyarrow]",
    "position": "string[pyarrow]",
    "height_inches": "Float64",
    "weight_lbs": "Float64",
    "birth_date": "datetime64[ns]",
    "school": "string[pyarrow]",
    "first_season": "string[pyarrow]",
    "last_season": "string[pyarrow]",
    "last_team_id": "Int64",
    "seasons_on_record": "Int64",
    **LINEAGE_COLUMNS,
}
PLAYER_KEY = ["player_id"]

# Quarantine rows: the canonical columns that could be parsed, plus why and where from.
QUARANTINE_COLUMNS = {
    "entity": "string[pyarrow]",
    "stage": "string[pyarrow]",  # validation | dedup
    "rule": "string[pyarrow]",  # first failing rule
    "failed_rules": "string[pyarrow]",  # every failing rule, comma separated
    "reason": "string[pyarrow]",
    "season": "string[pyarrow]",
    "source": "string[pyarrow]",
    "source_file": "string[pyarrow]",
    "source_row": "int64",
    "record": "string[pyarrow]",  # the canonical row as JSON, so nothing about it is lost
}


def empty_frame(schema: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in schema.items()})


def conform(frame: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    """Exactly the schema's columns, in order, with its dtypes (missing columns become NA)."""

    out = pd.DataFrame(index=frame.index)
    for col, dtype in schema.items():
        out[col] = (
            frame[col].astype(dtype) if col in frame.columns else pd.Series(pd.NA, index=frame.index).astype(dtype)
        )
    return out.reset_index(drop=True)
