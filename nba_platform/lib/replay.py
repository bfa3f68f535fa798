"""Replay of a completed season, day by day: the pure half (no Dagster).

`nba-platform replay` (cli/replay.py) steps through a season's forecast days D. For each it lands
the game log cut to the results dated before D (`gamelog_cut`) and the season's schedule with
every game dated before D final and the rest scheduled (`derive_schedule`), then runs the daily
jobs. This module decides the days, cuts the log, derives the schedule and scores the latest
pre-game forecasts against a 538-style Elo on the same games.

Days (`replay_days`): the first forecast day is the day before the first game of the range, so
every game of the range has a forecast made before its date (`latest_pregame_forecast` wants
as_of < game_date); then every `step` days while D is before the last date of the range. With a
step of s days, a forecast day must cover s game days after itself: the forecast window is
max(7, s + 1) days (`window_days_for`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nba_platform.lib.metrics import accuracy, brier_score, log_loss
from nba_platform.lib.seasons import normalise_game_id, season_type_from_game_id
from nba_platform.lib.serving_db import GAME_FORECASTS

STEPS = {"1d": 1, "7d": 7}
FORECAST_LOG_COLUMNS = list(GAME_FORECASTS.columns)  # the serving table, as published
DEFAULT_WINDOW_DAYS = 7


class ReplayError(ValueError):
    """A game log or range a replay cannot run on."""


def step_days(step: str) -> int:
    if step not in STEPS:
        raise ReplayError(f"--step must be one of {', '.join(STEPS)}, got {step!r}")
    return STEPS[step]


def window_days_for(step: int) -> int:
    """Forecast window of a step: the days until the next forecast day must all be covered."""
    return max(DEFAULT_WINDOW_DAYS, step + 1)


def _games_frame(frame: pd.DataFrame, required: set[str], what: str) -> pd.DataFrame:
    """Lower-case columns, the required ones present, game ids normalised, dates parsed."""
    games = frame.rename(columns=str.lower).copy()
    missing = required - set(games.columns)
    if missing:
        raise ReplayError(f"{what} lacks column(s) {', '.join(sorted(missing))}")
    games["game_id"] = normalise_game_id(games["game_id"]).astype(object)
    games["game_date"] = pd.to_datetime(games["game_date"]).dt.normalize()
    return games


def read_gamelog(frame: pd.DataFrame) -> pd.DataFrame:
    """A LeagueGameLog (team) export with lower-case columns, game ids normalised, dates parsed."""
    return _games_frame(frame, {"game_id", "game_date", "team_id", "matchup"}, "the game log")


def regular_season_games(schedule: pd.DataFrame) -> pd.DataFrame:
    types = season_type_from_game_id(schedule["game_id"].astype("string"))
    return schedule[(types == "regular").fillna(False).to_numpy(dtype=bool)]


def derive_schedule(log: pd.DataFrame) -> pd.DataFrame:
    """One row per game from a team game log: game_id, game_date, home_team_id, away_team_id,
    neutral (False: a log carries no venue). The home side is the `vs.` row, the away side `@`."""
    home = log[log["matchup"].str.contains(" vs. ", regex=False)].drop_duplicates("game_id").set_index("game_id")
    away = log[log["matchup"].str.contains(" @ ", regex=False)].drop_duplicates("game_id").set_index("game_id")
    ids = home.index.intersection(away.index)
    if len(ids) == 0:
        raise ReplayError("the game log has no game with both a home (vs.) and an away (@) row")
    out = pd.DataFrame(
        {
            "game_id": ids,
            "game_date": home.loc[ids, "game_date"].to_numpy(),
            "home_team_id": home.loc[ids, "team_id"].astype("int64").to_numpy(),
            "away_team_id": away.loc[ids, "team_id"].astype("int64").to_numpy(),
            "neutral": False,
        }
    )
    return out.sort_values(["game_date", "game_id"], kind="mergesort", ignore_index=True)


def read_schedule_file(frame: pd.DataFrame) -> pd.DataFrame:
    """A plain schedule file (game_id, game_date, home_team_id, away_team_id, neutral optional)."""
    sched = _games_frame(frame, {"game_id", "game_date", "home_team_id", "away_team_id"}, "the schedule file")
    if "neutral" not in sched.columns:
        sched["neutral"] = False
    sched["neutral"] = sched["neutral"].map(lambda v: str(v).strip().lower() in {"true", "1", "t", "yes", "y"})
    out = sched[["game_id", "game_date", "home_team_id", "away_team_id", "neutral"]]
    return out.sort_values(["game_date", "game_id"], kind="mergesort", ignore_index=True)


def schedule_as_of(schedule: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The schedule file landed on forecast day `day`: games dated before it final, the rest scheduled."""
    out = schedule.copy()
    dates = pd.to_datetime(out["game_date"])
    out["status"] = np.where(dates < pd.Timestamp(day), "final", "scheduled")
    out["game_date"] = dates.dt.strftime("%Y-%m-%d")
    out["neutral"] = out["neutral"].astype(bool)
    return out[["game_id", "game_date", "home_team_id", "away_team_id", "neutral", "status"]]


def gamelog_cut(raw: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The rows of the raw log (columns as given) of games dated before `day`."""
    dates = pd.to_datetime(raw[[c for c in raw.columns if c.lower() == "game_date"][0]])
    return raw[(dates < pd.Timestamp(day)).to_numpy()]


def replay_days(
    schedule: pd.DataFrame, step: int, start: dt.date | None = None, end: dt.date | None = None
) -> tuple[list[dt.date], dt.date, dt.date]:
    """(forecast days, first game date, last game date of the range) over the regular season."""
    regular = regular_season_games(schedule)
    if regular.empty:
        raise ReplayError("the game log holds no regular-season game")
    dates = pd.to_datetime(regular["game_date"]).dt.date
    first = max(start or dates.min(), dates.min())
    last = min(end or dates.max(), dates.max())
    in_range = dates[(dates >= first) & (dates <= last)]
    if in_range.empty:
        raise ReplayError(f"no regular-season game between {first} and {last}")
    first, last = in_range.min(), in_range.max()
    days, day = [], first - dt.timedelta(days=1)
    while day < last:
        days.append(day)
        day += dt.timedelta(days=step)
    return days, first, last


def home_wins(log: pd.DataFrame) -> pd.Series:
    """1 when the home (vs.) side won, by game id."""
    home = log[log["matchup"].str.contains(" vs. ", regex=False)].drop_duplicates("game_id").set_index("game_id")
    if "wl" in home.columns:
        return home["wl"].astype(str).str.upper().eq("W").astype(int)
    if "plus_minus" in home.columns:
        return (pd.to_numeric(home["plus_minus"]) > 0).astype(int)
    raise ReplayError("the game log has neither wl nor plus_minus: no outcomes to score")


@dataclass
class Score:
    games: int
    brier: float
    log_loss: float
    accuracy: float
    elo_brier: float
    elo_log_loss: float
    elo_accuracy: float


def score_pregame(pregame: pd.DataFrame, won: pd.Series, elo: pd.Series) -> Score:
    """The latest pre-game forecasts (`game_id`, `p_home_win`) of the finished games against the
    outcomes (`won` by game id) and the Elo probability of the same games (`elo` by game id)."""
    games = pregame[pregame["game_id"].isin(won.index) & pregame["game_id"].isin(elo.dropna().index)]
    y = won.reindex(games["game_id"]).to_numpy()
    p = games["p_home_win"].to_numpy(dtype=float)
    e = elo.reindex(games["game_id"]).to_numpy(dtype=float)
    if len(games) == 0:
        nan = math.nan
        return Score(0, nan, nan, nan, nan, nan, nan)
    return Score(
        len(games), brier_score(y, p), log_loss(y, p), accuracy(y, p), brier_score(y, e), log_loss(y, e), accuracy(y, e)
    )


def latest_pregame(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Per game, the last forecast made before its date (the serving view's rule), from the log."""
    f = forecasts.copy()
    f["_as_of"], f["_date"] = pd.to_datetime(f["as_of"]), pd.to_datetime(f["game_date"])
    f = f[f["_as_of"] < f["_date"]].sort_values(["game_id", "_as_of", "model_version"], kind="mergesort")
    return f.drop_duplicates("game_id", keep="last").drop(columns=["_as_of", "_date"]).reset_index(drop=True)


@dataclass
class DayTiming:
    day: dt.date
    seconds: float
    forecasts: int = 0


@dataclass
class ReplaySummary:
    season: str
    step: int
    first: dt.date
    last: dt.date
    score: Score
    timings: list[DayTiming]
    events: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def median_day_seconds(self) -> float:
        return float(np.median([t.seconds for t in self.timings])) if self.timings else 0.0

    @property
    def total_seconds(self) -> float:
        return float(sum(t.seconds for t in self.timings))

    def lines(self) -> list[str]:
        s = self.score
        out = [
            f"replay {self.season} {self.first} .. {self.last}, step {self.step}d: {len(self.timings)} forecast day(s)",
            f"latest pre-game forecasts of {s.games} regular-season games: Brier {s.brier:.4f}, "
            f"log loss {s.log_loss:.4f}, accuracy {s.accuracy:.4f}",
            f"538-style Elo on the same games: Brier {s.elo_brier:.4f}, log loss {s.elo_log_loss:.4f}, "
            f"accuracy {s.elo_accuracy:.4f}",
            f"timings: median day {self.median_day_seconds:.2f} s, total {self.total_seconds:.1f} s",
        ]
        if self.missing:
            out.append(f"WARNING: {len(self.missing)} game(s) without a pre-game forecast, e.g. {self.missing[:5]}")
        out += [f"  {e}" for e in self.events] or ["  no retrain and no promotion"]
        return out


def missing_pregame(schedule: pd.DataFrame, pregame: pd.DataFrame, first: dt.date, last: dt.date) -> list[str]:
    """Regular-season games of the range without a forecast made before their date."""
    regular = regular_season_games(schedule)
    dates = pd.to_datetime(regular["game_date"]).dt.date
    wanted = regular.loc[(dates >= first) & (dates <= last), "game_id"]
    return sorted(set(wanted) - set(pregame["game_id"]))
