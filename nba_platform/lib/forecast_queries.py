"""The read queries behind the forecast API and the MCP server, over the serving database.

Plain functions of a DB-API connection (sqlite3 locally, psycopg 3 in prod) and checked
arguments; every value reaches the SQL as a bound parameter, never as text. SQL is written with
`:name` placeholders, turned into the driver's style by `bind`. Results are lists of plain dicts
(JSON-ready: dates as ISO text, booleans as bool) so the API and MCP tools return the same shapes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from nba_platform.lib.schema import TEAM_ID_MAX, TEAM_ID_MIN

MAX_PAGE = 200
GAME_ID_PATTERN = re.compile(r"^\d{10}$")

FORECAST_COLUMNS = (
    "f.game_id, f.game_date, f.as_of, f.home_team_id, f.away_team_id, f.neutral, f.p_home_win, "
    "f.model_name, f.model_version, f.top_factors"
)
RESULT_COLUMNS = "g.home_pts, g.away_pts"


class InvalidQuery(ValueError):
    """An argument a query cannot take; the message says which and why (the API answers 422)."""


def check_team_id(team_id: int | str) -> int:
    try:
        value = int(str(team_id).strip())
    except ValueError:
        raise InvalidQuery(f"team_id must be an NBA team id (an integer), got {team_id!r}") from None
    if not TEAM_ID_MIN <= value <= TEAM_ID_MAX:
        raise InvalidQuery(f"team_id {value} is not an NBA team id ({TEAM_ID_MIN}..{TEAM_ID_MAX})")
    return value


def check_game_id(game_id: str) -> str:
    if not isinstance(game_id, str) or not GAME_ID_PATTERN.match(game_id):
        raise InvalidQuery(f"game_id must be 10 digits (e.g. 0022300001), got {game_id!r}")
    return game_id


def check_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidQuery(f"date must be YYYY-MM-DD, got {value!r}") from None


def check_page(limit: int, offset: int) -> tuple[int, int]:
    if not 1 <= int(limit) <= MAX_PAGE:
        raise InvalidQuery(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    if int(offset) < 0:
        raise InvalidQuery(f"offset must be 0 or more, got {offset}")
    return int(limit), int(offset)


def dialect_of(connection) -> str:
    import sqlite3

    return "sqlite" if isinstance(connection, sqlite3.Connection) else "postgres"


_PLACEHOLDER = re.compile(r"(?<![:\w]):([a-z_]+)")


def bind(sql: str, params: dict, dialect: str) -> tuple[str, dict]:
    """`:name` placeholders in the driver's style; dates as ISO text for SQLite (it has no date type)."""
    if dialect == "sqlite":
        return sql, {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in params.items()}
    return _PLACEHOLDER.sub(r"%(\1)s", sql), params


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def fetch(connection, sql: str, params: dict | None = None) -> list[dict]:
    statement, values = bind(sql, params or {}, dialect_of(connection))
    cur = connection.cursor()
    try:
        cur.execute(statement, values)
        names = [d[0] for d in cur.description]
        return [{n: _jsonable(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]
    finally:
        cur.close()


def _result(row: dict) -> dict | None:
    home, away = row.pop("home_pts", None), row.pop("away_pts", None)
    if home is None or away is None:
        return None
    return {"home_pts": int(home), "away_pts": int(away), "home_win": int(home) > int(away)}


def _forecast(row: dict) -> dict:
    row["neutral"] = bool(row["neutral"]) if row.get("neutral") is not None else False
    row["model_version"] = int(row["model_version"])
    row["top_factors"] = json.loads(row["top_factors"]) if row.get("top_factors") else []
    row["result"] = _result(row)
    return row


def upcoming_forecasts(connection, date: dt.date | str, limit: int = 50, offset: int = 0) -> list[dict]:
    """The games of `date` with each model's last forecast made before that day (and the result
    once the game is played)."""
    day = check_date(date)
    limit, offset = check_page(limit, offset)
    rows = fetch(
        connection,
        f"SELECT {FORECAST_COLUMNS}, {RESULT_COLUMNS} FROM latest_pregame_forecast f "
        "LEFT JOIN games g ON g.game_id = f.game_id WHERE f.game_date = :day "
        "ORDER BY f.game_id, f.model_name, f.model_version LIMIT :limit OFFSET :offset",
        {"day": day, "limit": limit, "offset": offset},
    )
    return [_forecast(r) for r in rows]


def team_forecasts(connection, team_id: int | str, limit: int = 20, offset: int = 0) -> list[dict]:
    """A team's forecast games, newest first (`limit`/`offset` count games), each with every
    model's latest pre-game forecast and the result once played."""
    team = check_team_id(team_id)
    limit, offset = check_page(limit, offset)
    # The page of games first, from the two (team, date) indexes, so the view's latest-forecast
    # lookup runs for `limit` games only, not for every forecast the team ever had.
    rows = fetch(
        connection,
        f"SELECT {FORECAST_COLUMNS}, {RESULT_COLUMNS} FROM latest_pregame_forecast f "
        "LEFT JOIN games g ON g.game_id = f.game_id WHERE f.game_id IN ("
        "SELECT game_id FROM (SELECT game_id, game_date FROM game_forecasts WHERE home_team_id = :team "
        "UNION SELECT game_id, game_date FROM game_forecasts WHERE away_team_id = :team) AS team_games "
        "ORDER BY game_date DESC, game_id LIMIT :limit OFFSET :offset) "
        "ORDER BY f.game_date DESC, f.game_id, f.model_name, f.model_version",
        {"team": team, "limit": limit, "offset": offset},
    )
    return [_forecast(r) for r in rows]


def team_results(connection, team_id: int | str, last: int = 10) -> dict:
    """The team's last `last` played games (from the team's side: won, points for and against)."""
    team = check_team_id(team_id)
    last, _ = check_page(last, 0)
    rows = fetch(
        connection,
        "SELECT * FROM (SELECT g.game_id, g.game_date, g.home_team_id, g.away_team_id, g.home_pts, g.away_pts "
        "FROM games g WHERE g.home_team_id = :team AND g.home_pts IS NOT NULL AND g.away_pts IS NOT NULL "
        "UNION ALL SELECT g.game_id, g.game_date, g.home_team_id, g.away_team_id, g.home_pts, g.away_pts "
        "FROM games g WHERE g.away_team_id = :team AND g.home_pts IS NOT NULL AND g.away_pts IS NOT NULL) AS t "
        "ORDER BY game_date DESC, game_id LIMIT :last",
        {"team": team, "last": last},
    )
    games = []
    for r in rows:
        at_home = int(r["home_team_id"]) == team
        scored, allowed = (r["home_pts"], r["away_pts"]) if at_home else (r["away_pts"], r["home_pts"])
        games.append(
            {
                "game_id": r["game_id"],
                "game_date": r["game_date"],
                "opponent_id": int(r["away_team_id"] if at_home else r["home_team_id"]),
                "home": at_home,
                "points_for": int(scored),
                "points_against": int(allowed),
                "won": int(scored) > int(allowed),
            }
        )
    wins = sum(g["won"] for g in games)
    return {"team_id": team, "wins": wins, "losses": len(games) - wins, "games": games}


def team_form(connection, team_id: int | str, limit: int = 20, offset: int = 0, last: int = 10) -> dict:
    team = check_team_id(team_id)
    return {
        "team_id": team,
        "forecasts": team_forecasts(connection, team, limit, offset),
        "recent_results": team_results(connection, team, last),
    }


def game(connection, game_id: str) -> dict | None:
    """One game: teams, date, result, every forecast made of it (oldest first) and the backtest /
    live predictions published for it. None when the serving database knows nothing of it."""
    gid = check_game_id(game_id)
    found = fetch(
        connection,
        "SELECT g.game_id, g.season, g.season_type, g.game_date, g.home_team_id, g.away_team_id, "
        "g.home_pts, g.away_pts FROM games g WHERE g.game_id = :gid",
        {"gid": gid},
    )
    history = fetch(
        connection,
        f"SELECT {FORECAST_COLUMNS} FROM game_forecasts f WHERE f.game_id = :gid "
        "ORDER BY f.as_of, f.model_name, f.model_version",
        {"gid": gid},
    )
    predictions = fetch(
        connection,
        "SELECT p.model_name, p.model_version, p.p_home_win, p.elo_p_home_win, p.published_at "
        "FROM game_predictions p WHERE p.game_id = :gid ORDER BY p.model_name, p.model_version",
        {"gid": gid},
    )
    if not (found or history or predictions):
        return None
    if found:
        out = found[0]
        out["result"] = _result(out)
    else:  # forecast of a game the games table does not hold yet (not played, not published)
        first = history[0]
        out = {
            "game_id": gid,
            "season": None,
            "season_type": None,
            "game_date": first["game_date"],
            "home_team_id": first["home_team_id"],
            "away_team_id": first["away_team_id"],
            "result": None,
        }
    for row in history:
        _forecast(row)
        row.pop("result")
    out["forecasts"] = history
    out["predictions"] = predictions
    return out


def skill(rows: list[dict]) -> dict:
    """Brier, log loss and accuracy of p_home_win against played results (rows with home_pts/away_pts)."""
    pairs = [
        (float(r["p_home_win"]), 1.0 if int(r["home_pts"]) > int(r["away_pts"]) else 0.0)
        for r in rows
        if r.get("p_home_win") is not None and r.get("home_pts") is not None and r.get("away_pts") is not None
    ]
    if not pairs:
        return {"games": 0, "brier": None, "log_loss": None, "accuracy": None}
    eps = 1e-15
    brier = sum((p - y) ** 2 for p, y in pairs) / len(pairs)
    log_loss = -sum(
        y * math.log(min(max(p, eps), 1 - eps)) + (1 - y) * math.log(1 - min(max(p, eps), 1 - eps)) for p, y in pairs
    ) / len(pairs)
    accuracy = sum((p >= 0.5) == (y == 1.0) for p, y in pairs) / len(pairs)
    return {"games": len(pairs), "brier": brier, "log_loss": log_loss, "accuracy": accuracy}


def champion_model(connection, model_name: str | None = None) -> dict | None:
    """The current champion (the last champion change published), its trained seasons and
    validation Brier, and its live skill: on the played games it predicted (game_predictions of
    its version) and on its pre-game forecasts. None when no champion was published."""
    where, params = ("WHERE c.model_name = :name", {"name": model_name}) if model_name else ("", {})
    found = fetch(
        connection,
        "SELECT c.model_name, c.model_version, c.promoted_at, c.train_first_season, c.train_last_season, "
        f"c.validation_brier, c.reason FROM model_champions c {where} "
        "ORDER BY c.promoted_at DESC, c.model_version DESC LIMIT 1",
        params,
    )
    if not found:
        return None
    champ = found[0]
    champ["model_version"] = int(champ["model_version"])
    label = f"{champ['model_name']}/v{champ['model_version']}"
    predicted = fetch(
        connection,
        "SELECT p.p_home_win, g.home_pts, g.away_pts FROM game_predictions p JOIN games g ON g.game_id = p.game_id "
        "WHERE p.model_name = :name AND p.model_version = :version "
        "AND g.home_pts IS NOT NULL AND g.away_pts IS NOT NULL",
        {"name": champ["model_name"], "version": champ["model_version"]},
    )
    forecast = fetch(
        connection,
        "SELECT f.p_home_win, g.home_pts, g.away_pts FROM latest_pregame_forecast f "
        "JOIN games g ON g.game_id = f.game_id WHERE f.model_name = :name AND f.model_version = :version "
        "AND g.home_pts IS NOT NULL AND g.away_pts IS NOT NULL",
        {"name": champ["model_name"], "version": champ["model_version"]},
    )
    champ["model"] = label
    champ["trained_seasons"] = [champ.pop("train_first_season"), champ.pop("train_last_season")]
    champ["live_skill"] = {"predictions": skill(predicted), "forecasts": skill(forecast)}
    return champ


def ping(connection) -> bool:
    """The database answers and holds the tables the API reads."""
    fetch(connection, "SELECT count(*) AS n FROM games WHERE game_id = :gid", {"gid": "0000000000"})
    return True
