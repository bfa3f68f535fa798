"""The league schedule: games known before they are played, with a status.

Two raw shapes carry it (lib/landing.py `SHAPES`):

* `league_schedule`: stats.nba.com `scheduleleaguev2` (`leagueSchedule.gameDates[].games[]`),
  flattened one game per row the way nba_api's `ScheduleLeagueV2` data frame names it
  (`gameId`, `gameStatus`, `gameDateEst`, `homeTeam_teamId`, ...; upper-cased like every raw
  column). A landed `.json` response and the API client give the same rows.
* `schedule_file`: a plain file `game_id, game_date, tipoff_utc (optional), home_team_id,
  away_team_id, neutral (optional), status (optional)` as CSV, JSON or Parquet.

Design (why a separate `tables/schedule`, not unplayed rows in `tables/team_games`): every
consumer of team_games (features, labels, models, drift, the published games) treats a row as a
game that happened, and a team-game without points is a defect there (`pts_present`). Pushing
unplayed rows through them would make each one filter them again, and one forgotten filter trains
on an unplayed game. So unplayed games live only in the schedule table (season-partitioned like
the others): schedule rows + the finals of team_games, one row per game with its `status`:

* `final`: team_games holds the game with points (whatever the schedule says), or the schedule
  says final (gameStatus 3) and the result is not landed yet (`has_result` False: the results
  source is behind; the missing points are a defect of that source, not of the schedule);
* `postponed`: gameStatusText PPD / Postponed (or a plain file's status column): its forecasts
  are retired (the forecast asset skips it);
* `scheduled`: anything else (gameStatus 1, or 2 = in progress).

A game keeps its id when its date moves: rows of one game from several files are one game, the
row of the file whose name sorts last wins (name schedule files by the day they were exported,
e.g. `schedule_2024-03-25.csv`), and a stats API fetch wins over landed files. Bad rows (no valid
game id or date, a team id that is no NBA franchise, the same team on both sides, an unreadable
neutral flag or status) are quarantined with their rule, file and row.

Forecasts read the schedule point in time (`forecast_team_games`): results dated before the
forecast day only, and the games of the window as unplayed rows, so nothing dated on or after the
forecast day can reach a forecast.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from nba_platform.lib.seasons import (
    normalise_game_id,
    season_from_game_id,
    season_type_from_game_id,
)

SCHEDULE_COLUMNS = [
    "game_id",
    "season",
    "season_type",
    "game_date",
    "tipoff_utc",
    "home_team_id",
    "away_team_id",
    "neutral",
    "status",
    "has_result",
    "source_file",
    "source_row",
]
STATUSES = ("scheduled", "final", "postponed")
POSTPONED_TEXT = frozenset({"PPD", "POSTPONED"})
TEAM_ID_MIN, TEAM_ID_MAX = 1610612737, 1610612766  # the 30 franchises (as lib/quality.py)
TEAM_GAMES_SOURCE = "tables/team_games"
FORECAST_SEASON_TYPES = ("regular", "play_in", "playoffs")
TRUE_TEXT = frozenset({"true", "1", "t", "yes", "y"})
FALSE_TEXT = frozenset({"false", "0", "f", "no", "n", ""})


class ScheduleError(ValueError):
    """A schedule document that is not a scheduleleaguev2 response."""


# --- scheduleleaguev2 -> one row per game ---------------------------------------------------


def is_league_schedule(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("leagueSchedule"), dict)


def flatten_league_schedule(doc: object, name: str = "response") -> list[dict]:
    """`leagueSchedule.gameDates[].games[]` as flat records: a game's scalar fields, its
    `homeTeam`/`awayTeam` objects as `homeTeam_<field>` (nba_api's naming), plus `gameDate`
    of its date entry and the `seasonYear`; lists (broadcasters, leaders) are not carried."""
    if not is_league_schedule(doc):
        raise ScheduleError(f"{name}: not a scheduleleaguev2 response (no leagueSchedule object)")
    league = doc["leagueSchedule"]
    dates = league.get("gameDates")
    if not isinstance(dates, list):
        raise ScheduleError(f"{name}: leagueSchedule has no gameDates list")
    rows = []
    for d, entry in enumerate(dates):
        games = entry.get("games") if isinstance(entry, dict) else None
        if not isinstance(games, list):
            raise ScheduleError(f"{name}: gameDates[{d}] has no games list")
        for g, game in enumerate(games):
            if not isinstance(game, dict):
                raise ScheduleError(f"{name}: gameDates[{d}].games[{g}] is not an object")
            row = {"seasonYear": league.get("seasonYear"), "gameDate": entry.get("gameDate")}
            for key, value in game.items():
                if isinstance(value, dict):
                    row.update(
                        {
                            f"{key}_{k}": v
                            for k, v in value.items()
                            if not isinstance(v, (dict, list)) and key.endswith("Team")
                        }
                    )
                elif not isinstance(value, list):
                    row[key] = value
            rows.append(row)
    if not rows:
        raise ScheduleError(f"{name}: the schedule holds no games")
    return rows


# --- raw rows -> schedule rows ---------------------------------------------------------------


def _text(raw: pd.DataFrame, column: str) -> pd.Series:
    if column not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype="string[pyarrow]")
    s = raw[column].astype("string[pyarrow]").str.strip()
    return s.mask(s == "")


def _date(text: pd.Series) -> pd.Series:
    """'2024-03-25', '2024-03-25T00:00:00Z', '03/25/2024 00:00:00' -> day (NaT if none)."""
    iso = pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    us = pd.to_datetime(text.str.slice(0, 10), format="%m/%d/%Y", errors="coerce")
    return iso.fillna(us).astype("datetime64[ns]")


def _timestamp(text: pd.Series) -> pd.Series:
    out = pd.to_datetime(text.str.replace("Z", "", regex=False), format="ISO8601", errors="coerce", utc=False)
    return out.astype("datetime64[ns]")


def _flag(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """-> (boolean, unreadable) from true/false/1/0 text; blank is False."""
    low = text.fillna("").str.lower()
    value = low.isin(TRUE_TEXT)
    bad = ~(value | low.isin(FALSE_TEXT))
    return pd.Series(value.to_numpy(dtype=bool), index=text.index), pd.Series(
        bad.to_numpy(dtype=bool), index=text.index
    )


def _team(text: pd.Series) -> pd.Series:
    return pd.to_numeric(text, errors="coerce").astype("Int64")


def normalise_schedule(raw: pd.DataFrame, shape: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw rows of `league_schedule` or `schedule_file` -> (schedule rows, quarantined rows).
    Quarantined rows carry `rule` and `reason` plus their source file and row."""
    if shape == "league_schedule":
        game_id, date_text = _text(raw, "GAMEID"), _text(raw, "GAMEDATEEST").fillna(_text(raw, "GAMEDATE"))
        tip, neutral_text = _text(raw, "GAMEDATETIMEUTC"), _text(raw, "ISNEUTRAL")
        home, away = _text(raw, "HOMETEAM_TEAMID"), _text(raw, "AWAYTEAM_TEAMID")
        code, status_text = _text(raw, "GAMESTATUS"), _text(raw, "GAMESTATUSTEXT").str.upper()
        status = pd.Series("scheduled", index=raw.index, dtype="object")
        status[(code == "3").fillna(False).to_numpy(dtype=bool)] = "final"
        status[status_text.isin(POSTPONED_TEXT).fillna(False).to_numpy(dtype=bool)] = "postponed"
        bad_status = ~code.isin(["1", "2", "3"]).fillna(False)
    elif shape == "schedule_file":
        game_id, date_text = _text(raw, "GAME_ID"), _text(raw, "GAME_DATE")
        tip, neutral_text = _text(raw, "TIPOFF_UTC"), _text(raw, "NEUTRAL")
        home, away = _text(raw, "HOME_TEAM_ID"), _text(raw, "AWAY_TEAM_ID")
        given = _text(raw, "STATUS").str.lower().fillna("scheduled")
        status = given.astype("object")
        bad_status = ~given.isin(STATUSES).fillna(False)
    else:
        raise ValueError(f"not a schedule shape: {shape}")
    ids = normalise_game_id(game_id)
    neutral, bad_neutral = _flag(neutral_text)
    frame = pd.DataFrame(
        {
            "game_id": ids.astype("object"),
            "season": season_from_game_id(ids).astype("object"),
            "season_type": season_type_from_game_id(ids).astype("object"),
            "game_date": _date(date_text),
            "tipoff_utc": _timestamp(tip),
            "home_team_id": _team(home),
            "away_team_id": _team(away),
            "neutral": neutral,
            "status": status,
            "has_result": False,
            "source_file": raw["_source_file"].astype("object") if "_source_file" in raw else "",
            "source_row": raw["_source_row"].astype("int64") if "_source_row" in raw else np.arange(1, len(raw) + 1),
        },
        index=raw.index,
    )

    def team_invalid(s: pd.Series) -> pd.Series:
        return (s.isna() | (s < TEAM_ID_MIN) | (s > TEAM_ID_MAX)).fillna(True).astype(bool)

    rules = [
        ("game_id_valid", "game id present and of the NBA's 10-digit form", frame["game_id"].isna()),
        ("game_date_valid", "game date present and parseable", frame["game_date"].isna()),
        ("team_id_valid", "home and away team ids are NBA franchise ids",
         team_invalid(frame["home_team_id"]) | team_invalid(frame["away_team_id"])),
        ("teams_differ", "home and away teams differ", (frame["home_team_id"] == frame["away_team_id"]).fillna(False)),
        ("neutral_valid", "neutral flag is true/false/1/0 or blank", bad_neutral),
        ("status_valid", f"status is one of {', '.join(STATUSES)} (gameStatus 1, 2 or 3)", bad_status),
    ]  # fmt: skip
    failed = pd.Series(pd.NA, index=frame.index, dtype="object")
    reasons = pd.Series(pd.NA, index=frame.index, dtype="object")
    for rule, reason, bad in rules:
        new = bad.to_numpy(dtype=bool) & failed.isna().to_numpy()
        failed[new], reasons[new] = rule, reason
    bad = failed.notna().to_numpy()
    quarantined = frame[bad].assign(rule=failed[bad], reason=reasons[bad], raw=_raw_json(raw[bad]))
    return frame[~bad].reset_index(drop=True), quarantined.reset_index(drop=True)


def _raw_json(raw: pd.DataFrame) -> list[str]:
    cols = [c for c in raw.columns if not c.startswith("_")]
    return [
        json.dumps({c: (None if pd.isna(v) else str(v)) for c, v in zip(cols, r)})
        for r in raw[cols].itertuples(index=False)
    ]


def empty_schedule() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "game_id": pd.Series(dtype="object"),
            "season": pd.Series(dtype="object"),
            "season_type": pd.Series(dtype="object"),
            "game_date": pd.Series(dtype="datetime64[ns]"),
            "tipoff_utc": pd.Series(dtype="datetime64[ns]"),
            "home_team_id": pd.Series(dtype="Int64"),
            "away_team_id": pd.Series(dtype="Int64"),
            "neutral": pd.Series(dtype="bool"),
            "status": pd.Series(dtype="object"),
            "has_result": pd.Series(dtype="bool"),
            "source_file": pd.Series(dtype="object"),
            "source_row": pd.Series(dtype="int64"),
        }
    )


def combine_schedule(rows: list[pd.DataFrame], team_games: pd.DataFrame | None) -> tuple[pd.DataFrame, int]:
    """One row per game from the sources' schedule rows (in priority order, later wins) and
    the finals of team_games. -> (schedule, rows superseded by a later row of the same game)."""
    parts = [r for r in rows if len(r)]
    sched = pd.concat(parts, ignore_index=True) if parts else empty_schedule()
    before = len(sched)
    # later sources win; within a source the file that sorts last, then the last row
    sched["_order"] = np.arange(len(sched))
    sched = sched.sort_values(["_order"]).drop_duplicates("game_id", keep="last")
    superseded = before - len(sched)
    if team_games is not None and len(team_games):
        tg = team_games[team_games["is_home"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
        played = tg["pts"].notna() & tg["opp_pts"].notna()
        finals = pd.DataFrame(
            {
                "game_id": tg["game_id"].astype("object"),
                "season": tg["season"].astype("object"),
                "season_type": tg["season_type"].astype("object"),
                "game_date": pd.to_datetime(tg["game_date"]).astype("datetime64[ns]"),
                "tipoff_utc": pd.Series(pd.NaT, index=tg.index, dtype="datetime64[ns]"),
                "home_team_id": tg["team_id"].astype("Int64"),
                "away_team_id": tg["opponent_id"].astype("Int64"),
                "neutral": tg["neutral"].astype("boolean").fillna(False).astype(bool) if "neutral" in tg else False,
                "status": "final",
                "has_result": True,
                "source_file": TEAM_GAMES_SOURCE,
                "source_row": 0,
            }
        )[played.to_numpy(dtype=bool)]
        known = sched["game_id"].isin(finals["game_id"])
        # a played game is final whatever the schedule said; the result's date is the one it was played on
        sched.loc[known, "status"] = "final"
        sched.loc[known, "has_result"] = True
        played_dates = finals.set_index("game_id")["game_date"]
        sched.loc[known, "game_date"] = sched.loc[known, "game_id"].map(played_dates).to_numpy()
        sched = pd.concat([sched, finals[~finals["game_id"].isin(sched["game_id"])]], ignore_index=True)
    sched = sched.drop(columns="_order", errors="ignore")
    sched = sched.sort_values(["game_date", "game_id"], kind="mergesort", ignore_index=True)
    return sched[SCHEDULE_COLUMNS], superseded


# --- forecasts: the games of a window, point in time -----------------------------------------


def forecast_window(schedule: pd.DataFrame, day: dt.date, days: int) -> pd.DataFrame:
    """Games dated day .. day+days-1 that are not postponed, of the season types the game model
    knows. Status is not used otherwise: as of `day` every game dated on or after it is unplayed,
    so a backfilled day forecasts the same games whatever results landed since."""
    start = pd.Timestamp(day)
    end = start + pd.Timedelta(days=days)
    dates = pd.to_datetime(schedule["game_date"])
    in_window = (dates >= start) & (dates < end)
    wanted = in_window & (schedule["status"] != "postponed") & schedule["season_type"].isin(FORECAST_SEASON_TYPES)
    return schedule[wanted.to_numpy(dtype=bool)].sort_values(["game_date", "game_id"], ignore_index=True)


def forecast_team_games(team_games: pd.DataFrame, window: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """team_games as they stood before `day`: every row dated before it, plus a home and an away
    row without a result for each game of `window` (its rows dated on or after `day`, if any, are
    dropped first). Feeding this to lib.features gives each window game the teams' state after
    their last game before `day`, however many later results the lake holds."""
    start = pd.Timestamp(day)
    dates = pd.to_datetime(team_games["game_date"])
    before = team_games[
        (dates < start).to_numpy(dtype=bool) & ~team_games["game_id"].isin(window["game_id"]).to_numpy()
    ]
    n = len(window)
    sides = []
    for is_home in (True, False):
        own, other = ("home_team_id", "away_team_id") if is_home else ("away_team_id", "home_team_id")
        sides.append(
            pd.DataFrame(
                {
                    "game_id": window["game_id"].to_numpy(),
                    "team_id": window[own].astype("int64").to_numpy(),
                    "opponent_id": window[other].astype("int64").to_numpy(),
                    "is_home": np.full(n, is_home),
                    "game_date": window["game_date"].to_numpy(),
                    "season": window["season"].to_numpy(),
                    "season_type": window["season_type"].to_numpy(),
                    "neutral": window["neutral"].astype(bool).to_numpy(),
                }
            )
        )
    unplayed = pd.concat(sides, ignore_index=True)
    unplayed["game_date"] = pd.to_datetime(unplayed["game_date"]).astype("datetime64[ns]")
    if len(before):  # one date type for both (a parquet read may give datetime.date objects)
        before = before.assign(game_date=pd.to_datetime(before["game_date"]).astype("datetime64[ns]"))
    out = pd.concat([before, unplayed], ignore_index=True) if len(before) else unplayed
    return out.sort_values(["game_date", "game_id", "team_id"], kind="mergesort", ignore_index=True)


def forecasts_to_retire(postponed_ids, last_forecast_at: pd.Series, last_retired_at: pd.Series) -> list[str]:
    """Postponed games holding a forecast made after their last retirement (or never retired): each
    gets a new retirement (the view ignores forecasts made at or before one). `last_*_at`: game_id -> timestamp (any type pandas parses)."""
    forecast_at = pd.to_datetime(last_forecast_at.reindex(list(postponed_ids)))
    retired_at = pd.to_datetime(last_retired_at.reindex(list(postponed_ids)))
    due = forecast_at.notna() & (retired_at.isna() | (forecast_at > retired_at))
    return sorted(forecast_at.index[due.to_numpy(dtype=bool)])


def listed_by_a_schedule(schedule: pd.DataFrame) -> pd.DataFrame:
    """The rows a schedule source listed (not the finals added from tables/team_games): what says
    whether a season's regular season is over. A season no schedule source covers has none, so its
    completeness falls back to the results (lib/seasons.complete_seasons)."""
    if "source_file" not in schedule.columns:  # a plain schedule frame: every row is listed
        return schedule
    return schedule[(schedule["source_file"] != TEAM_GAMES_SOURCE).to_numpy(dtype=bool)]
