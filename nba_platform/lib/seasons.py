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


def complete_seasons(team_games) -> list[str]:
    """Seasons that are over: every game has its points, there were playoff games, and either a
    later season has games or the season's last game was played in June..September (the Finals
    end in June; the 2020 bubble ran into October, but 2020-21 games then exist)."""

    if team_games is None or len(team_games) == 0:
        return []
    tg = team_games[["season", "season_type", "game_date", "pts"]]
    dates = pd.to_datetime(tg["game_date"])
    seasons = sorted(tg["season"].astype(str).unique())
    done = []
    for i, season in enumerate(seasons):
        rows = (tg["season"].astype(str) == season).to_numpy()
        if not (tg.loc[rows, "season_type"] == "playoffs").any() or tg.loc[rows, "pts"].isna().any():
            continue
        if i + 1 < len(seasons) or 6 <= dates[rows].max().month <= 9:
            done.append(season)
    return done
