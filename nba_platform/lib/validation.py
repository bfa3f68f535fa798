"""One season of one entity from raw frames to accepted and quarantined rows: normalise every
source shape, apply the landed corrections, then the row rules (so a corrected row can pass them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from nba_platform.lib.corrections import Applied, Correction, apply_corrections, mark_outcomes
from nba_platform.lib.landing import SHAPES
from nba_platform.lib.normalise import normalise_player_games, normalise_player_seasons, normalise_team_games
from nba_platform.lib.quality import RULES_BY_ENTITY, apply_rules
from nba_platform.lib.schema import (
    PLAYER_GAME_SCHEMA,
    PLAYER_SEASON_SCHEMA,
    QUARANTINE_COLUMNS,
    TEAM_GAME_SCHEMA,
    empty_frame,
)

NORMALISERS = {
    "team_game": normalise_team_games,
    "player_game": normalise_player_games,
    "player": normalise_player_seasons,
}
SCHEMAS = {"team_game": TEAM_GAME_SCHEMA, "player_game": PLAYER_GAME_SCHEMA, "player": PLAYER_SEASON_SCHEMA}


def shapes_of(entity: str) -> list[str]:
    """The landed source shapes that hold rows of `entity`."""
    return [s.name for s in SHAPES if s.entity == entity]


@dataclass
class SeasonValidation:
    accepted: pd.DataFrame
    quarantined: pd.DataFrame  # QUARANTINE_COLUMNS: the row, the failing rule and the reason
    counts_by_rule: dict[str, int]  # rows each rule quarantined
    rows_in: int  # normalised rows before the rules
    corrections: Applied  # the corrections applied to this season, with their audit


def validate_season(
    entity: str, season: str, raw_by_shape: dict[str, pd.DataFrame], corrections: Sequence[Correction] = ()
) -> SeasonValidation:
    """Normalise every source of one season, apply `corrections`, and split the rows into accepted
    and quarantined ones."""
    corrections = list(corrections)
    normalised = [
        NORMALISERS[entity](raw, shape).assign(season=season)  # raw is partitioned by this season
        for shape, raw in raw_by_shape.items()
        if len(raw)
    ]
    if not normalised:
        empty = empty_frame(SCHEMAS[entity])
        return SeasonValidation(
            empty, empty_frame(QUARANTINE_COLUMNS), {}, 0, apply_corrections(empty, entity, corrections, season)
        )
    frame = pd.concat(normalised, ignore_index=True)
    corrected = apply_corrections(frame, entity, corrections, season)
    split = apply_rules(corrected.frame, RULES_BY_ENTITY[entity], entity, SCHEMAS[entity])
    corrected.audit = mark_outcomes(corrected.audit, entity, split.accepted, split.quarantined)
    return SeasonValidation(split.accepted, split.quarantined, split.counts_by_rule, len(frame), corrected)
