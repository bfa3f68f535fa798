"""Season labels and stats.nba.com game-id rules, shared by every source."""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

SEASON_RE = re.compile(r"^(\d{4})-(\d{2})$")
GAME_ID_RE = r"^00[1-5]\d{7}$"

# Character 3 of a GAME_ID (0-based index 2) is the game type.
SEASON_TYPE_BY_GAME_ID_DIGIT = {"1": "preseason", "2": "regular", "3": "all_star", "4": "playoffs", "5": "play_in"}
# The canonical season types (the `season_type` column), in game-id order.
SEASON_TYPES = tuple(SEASON_TYPE_BY_GAME_ID_DIGIT.values())


def season_label(start_year: int) -> str:
    """2021 -> '2021-22'."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def season_start_year(label: str) -> int:
    m = SEASON_RE.match(label)
    if not m:
        raise ValueError(f"not a season label (want 'YYYY-YY'): {label!r}")
    start = int(m.group(1))
    if (start + 1) % 100 != int(m.group(2)):
        raise ValueError(f"season label years are not consecutive: {label!r}")
    return start


def _once_per_distinct(fn):
    """For elementwise Series -> Series functions: compute each distinct value once and spread
    the results back (a game id repeats ~25 times in box scores, ~2 in game logs)."""

    @functools.wraps(fn)
    def per_distinct(values: pd.Series) -> pd.Series:
        codes, _ = pd.factorize(values, use_na_sentinel=False)  # NA is a value of its own
        first = np.unique(codes, return_index=True)[1]  # codes number values by first appearance
        out = fn(values.iloc[first].reset_index(drop=True)).iloc[codes]
        out.index = values.index
        return out

    return per_distinct


@_once_per_distinct
def normalise_game_id(values: pd.Series) -> pd.Series:
    """Game ids as 10-char strings; Kaggle drops the leading '00' and may carry '.0'."""
    s = values.astype("string[pyarrow]").str.strip()
    s = s.str.replace(r"\.0+$", "", regex=True)
    digits = s.str.fullmatch(r"\d{1,10}").fillna(False)
    out = s.where(digits).str.zfill(10)
    return out.where(out.str.fullmatch(GAME_ID_RE).fillna(False))


def _labels_from_start_years(start: pd.Series) -> pd.Series:
    start = start.astype("Int64")
    nxt = ((start + 1) % 100).astype("string[pyarrow]").str.zfill(2)
    return (start.astype("string[pyarrow]") + "-" + nxt).astype("string[pyarrow]")


@_once_per_distinct
def season_from_game_id(game_ids: pd.Series) -> pd.Series:
    """Season label from a normalised game id ('0022100001' -> '2021-22'); NA when malformed."""

    yy = pd.to_numeric(game_ids.astype("string[pyarrow]").str.slice(3, 5), errors="coerce").astype("float64")
    start = pd.Series(np.where(yy >= 46, 1900 + yy, 2000 + yy), index=game_ids.index)
    return _labels_from_start_years(start)


def season_type_from_game_id(game_ids: pd.Series) -> pd.Series:
    return game_ids.str.slice(2, 3).map(SEASON_TYPE_BY_GAME_ID_DIGIT).astype("string[pyarrow]")


# Seasons whose games ran past 1 September: the 2019-20 bubble playoffs ended on 11 Oct 2020 and
# 2020-21 opened on 22 Dec 2020, so September and October 2020 belong to 2019-20.
LATE_SEASON_ENDS = {2019: (2020, 10, 31)}


def season_from_date(dates: pd.Series) -> pd.Series:
    """Fallback when a row has no usable game id: seasons start in the autumn (1 September),
    except where a season ran late (LATE_SEASON_ENDS), as season_window allows."""
    import pandas as pd

    year = dates.dt.year
    start = year.where(dates.dt.month >= 9, year - 1)
    for season_start, end in LATE_SEASON_ENDS.items():
        late = (dates >= pd.Timestamp(season_start + 1, 9, 1)) & (dates <= pd.Timestamp(*end))
        start = start.mask(late.fillna(False), season_start)
    return _labels_from_start_years(start)


def season_window(label: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Dates a season's games may fall on: 1 Sep .. 31 Oct of the next year (the 2020 bubble
    finals ended 11 Oct 2020; the 2011 lockout season started on 25 Dec)."""

    start = season_start_year(label)
    return pd.Timestamp(start, 9, 1), pd.Timestamp(start + 1, 10, 31)


# Regular-season games per team (82 unless listed). 1998-99 (lockout): 50; 2011-12 (lockout): 66;
# 2020-21 (pandemic): 72. 2019-20 stopped on 11 Mar 2020 with teams at 63-67 games; the 22 bubble
# teams then played 8 seeding games (71-75), the other 8 never played again (64-67), so the count
# cannot tell a March cut from the finished season: REGULAR_SEASON_LAST_DAY says when it ended.
REGULAR_SEASON_GAMES = {"1998-99": 50, "2011-12": 66, "2019-20": 63, "2020-21": 72}
FULL_REGULAR_SEASON = 82
REGULAR_SEASON_LAST_DAY = {"2019-20": pd.Timestamp(2020, 8, 14)}
# A game cancelled and never made up (2012-13: BOS-IND after the Boston Marathon bombing) leaves
# two teams one game short: a team may miss this many games and its season still count as played.
MISSED_GAMES_ALLOWED = 1
SCHEDULE_STATUSES = ("scheduled", "final", "postponed")


def regular_season_length(season: str) -> int:
    return REGULAR_SEASON_GAMES.get(season, FULL_REGULAR_SEASON)


def _played_out(rows: pd.DataFrame, season: str) -> bool:
    """The results-only rule: every team of the season has played the season's regular-season
    length (less MISSED_GAMES_ALLOWED), and the season reached its known last day if it has one."""
    games = rows.groupby("team_id")["game_id"].nunique()
    if games.empty or games.min() < regular_season_length(season) - MISSED_GAMES_ALLOWED:
        return False
    last_day = REGULAR_SEASON_LAST_DAY.get(season)
    return last_day is None or pd.to_datetime(rows["game_date"]).max() >= last_day


def complete_seasons(team_games, schedule: pd.DataFrame | None = None) -> list[str]:
    """Seasons whose regular season is over, playoffs or not (a regular-season-only log completes
    its season). A season with a regular-season game that has no points yet is never complete.

    With a schedule (`game_id`, `status` in SCHEDULE_STATUSES; `season`/`season_type` derived from
    the game id when absent): a season is complete when it has final regular-season games and none
    left `scheduled` (postponed games that left the schedule do not hold it open). Seasons the
    schedule does not cover fall back to the results alone: complete when playoff or play-in games
    exist, or a later season has games, or every team has played the season's regular-season
    length (`regular_season_length`: 82, 1998-99 50, 2011-12 66, 2020-21 72, 2019-20 63 and
    played through 14 Aug 2020, the last seeding day), less MISSED_GAMES_ALLOWED."""

    if team_games is None or len(team_games) == 0:
        return []
    tg = team_games[["game_id", "season", "season_type", "game_date", "team_id", "pts"]].copy()
    tg["season"] = tg["season"].astype(str)
    by_schedule: dict[str, bool] = {}
    if schedule is not None and len(schedule):
        sched = schedule.copy()
        ids = normalise_game_id(sched["game_id"].astype(str))
        if "season" not in sched.columns:
            sched["season"] = season_from_game_id(ids)
        if "season_type" not in sched.columns:
            sched["season_type"] = season_type_from_game_id(ids)
        status = sched["status"].astype(str).str.lower()
        unknown = sorted(set(status) - set(SCHEDULE_STATUSES))
        if unknown:
            raise ValueError(f"schedule status must be one of {SCHEDULE_STATUSES}, got {unknown}")
        regular = (sched["season_type"] == "regular").to_numpy()
        for season, st in status[regular].groupby(sched["season"].astype(str)[regular]):
            by_schedule[season] = bool((st == "final").any() and not (st == "scheduled").any())
    seasons = sorted(set(tg["season"].unique()) | set(by_schedule))
    done = []
    for i, season in enumerate(seasons):
        rows = tg[tg["season"] == season]
        regular = rows[rows["season_type"] == "regular"]
        if regular["pts"].isna().any():
            continue  # a regular-season game without its points: not played yet (or a defect)
        if season in by_schedule:
            complete = by_schedule[season]
        else:
            later = i + 1 < len(seasons)
            post = rows["season_type"].isin(["playoffs", "play_in"]).any()
            complete = later or post or _played_out(regular, season)
        if complete:
            done.append(season)
    return done
