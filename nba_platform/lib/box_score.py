"""stats.nba.com `boxscoretraditionalv3`: the nested box score, flattened to the columns of the
V2 player table (`box_score_traditional`), so both versions are one raw shape and normalise
alike. V2 is not published from 2025-26 on (nba_api warns so); V3 covers every season.

A V3 response: `{"meta": ..., "boxScoreTraditional": {"gameId", "homeTeamId", "awayTeamId",
"homeTeam": {"teamId", "teamCity", "teamName", "teamTricode", "players": [{"personId",
"firstName", "familyName", "nameI", "position", "comment", "jerseyNum", "statistics": {...}}],
"statistics": {...}}, "awayTeam": {...}}}`. One row per listed player; team totals
(`statistics`, `starters`, `bench`) are not rows.

Differences from V2, kept visible rather than smoothed over in raw:
- `minutes` is "34:12" (or ISO "PT34M12.00S" in some recordings), "" for a player who did not
  play; lib/normalise.py `parse_minutes` reads both forms.
- A player who did not play has zeros where V2 has nulls; normalise treats a row without minutes
  whose counts are all zero as having no stats (as V2 writes it).
- A player entry without a `statistics` object gets `STATISTICS = "missing"` and blank stats:
  validation quarantines it (rule `statistics_present`) instead of taking it for a DNP.
"""

from __future__ import annotations

BOX_SCORE_V3 = "boxScoreTraditional"  # the response's top-level object (no resultSets)
SIDES = ("homeTeam", "awayTeam")

# V3 statistics field -> V2 PlayerStats column.
V3_STATISTICS = {
    "minutes": "MIN",
    "fieldGoalsMade": "FGM",
    "fieldGoalsAttempted": "FGA",
    "fieldGoalsPercentage": "FG_PCT",
    "threePointersMade": "FG3M",
    "threePointersAttempted": "FG3A",
    "threePointersPercentage": "FG3_PCT",
    "freeThrowsMade": "FTM",
    "freeThrowsAttempted": "FTA",
    "freeThrowsPercentage": "FT_PCT",
    "reboundsOffensive": "OREB",
    "reboundsDefensive": "DREB",
    "reboundsTotal": "REB",
    "assists": "AST",
    "steals": "STL",
    "blocks": "BLK",
    "turnovers": "TO",
    "foulsPersonal": "PF",
    "points": "PTS",
    "plusMinusPoints": "PLUS_MINUS",
}
STATISTICS_MISSING = "missing"  # the STATISTICS column of a player entry that has none


class BoxScoreError(ValueError):
    """A document that claims to be a V3 box score but has not its structure."""


def is_box_score_v3(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get(BOX_SCORE_V3), dict)


def flatten_box_score_v3(doc: object, name: str = "response") -> list[dict]:
    """One record per listed player, named as the V2 PlayerStats columns (home team first)."""
    if not is_box_score_v3(doc):
        raise BoxScoreError(f"{name}: not a boxscoretraditionalv3 response (no {BOX_SCORE_V3} object)")
    box = doc[BOX_SCORE_V3]
    rows = []
    for side in SIDES:
        team = box.get(side)
        if not isinstance(team, dict):
            raise BoxScoreError(f"{name}: {BOX_SCORE_V3}.{side} is missing or not an object")
        players = team.get("players")
        if not isinstance(players, list):
            raise BoxScoreError(f"{name}: {BOX_SCORE_V3}.{side} has no players list")
        for index, player in enumerate(players):
            if not isinstance(player, dict):
                raise BoxScoreError(f"{name}: {BOX_SCORE_V3}.{side}.players[{index}] is not an object")
            names = [player.get("firstName"), player.get("familyName")]
            row = {
                "GAME_ID": box.get("gameId"),
                "TEAM_ID": team.get("teamId", box.get(f"{side}Id")),  # homeTeamId / awayTeamId
                "TEAM_ABBREVIATION": team.get("teamTricode"),
                "TEAM_CITY": team.get("teamCity"),
                "PLAYER_ID": player.get("personId"),
                "PLAYER_NAME": " ".join(str(n) for n in names if n) or None,
                "START_POSITION": player.get("position"),
                "COMMENT": player.get("comment"),
                **dict.fromkeys(V3_STATISTICS.values()),
                "STATISTICS": None,
            }
            statistics = player.get("statistics")
            if isinstance(statistics, dict):
                row.update({column: statistics.get(field) for field, column in V3_STATISTICS.items()})
            else:
                row["STATISTICS"] = STATISTICS_MISSING
            rows.append(row)
    if not rows:
        raise BoxScoreError(f"{name}: the box score lists no players")
    return rows
