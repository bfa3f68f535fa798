"""Point-in-time features for game prediction.

Every feature of a game is computed from games on strictly earlier dates: per-team
(per-player) rows are ordered by date, a team (player) plays at most once per date
(checked), and each row only reads the latest *earlier* event of its own team
(player). The game's own result columns (POST_GAME_COLUMNS) are never read for its
own row, and no output carries a column of that name. Labels come from
`game_outcomes`, a separate frame, so they cannot leak into the feature frame.

Choices:
  * Only regular, play-in and playoff games are featured and form history
    (preseason / All-Star games are different competitions).
  * Rolling windows run over the last N *played* games and cross season
    boundaries, so early-season games still have form features; the
    within-season signal is in the season_* features (and Elo regresses between seasons).
    A window is averaged over whatever values it holds (min 1), so it is shorter at the
    start of history and box-score ratings average over games that have box scores.
  * Season-to-date features count every featured game type of the same season.
  * Unplayed games (no final score) get features; they add no history except to the
    schedule features (rest, back-to-back, density), since the schedule is known in advance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_platform.lib.elo import ELO_SEASON_TYPES, EloParams, home_view, pregame_elo, team_pregame_elo
from nba_platform.lib.ratings import MarginRatingParams, margin_ratings, team_margin_ratings
from nba_platform.lib.venue import game_venues, great_circle_km

FEATURED_SEASON_TYPES = ELO_SEASON_TYPES

DEFAULT_TEAM_WINDOWS = (5, 10, 20)
DEFAULT_PLAYER_WINDOWS = (5, 10)
TEAM_REST_CAP_DAYS = 10
PLAYER_REST_CAP_DAYS = 30  # longer: a player's absence (injury) is itself informative
SCHEDULE_DENSITY_DAYS = 7
FREE_THROW_POSSESSION_WEIGHT = 0.44

BOX_STAT_COLUMNS = (
    "fgm", "fga", "fg_pct", "fg3m", "fg3a", "fg3_pct", "ftm", "fta", "ft_pct",
    "oreb", "dreb", "reb", "ast", "stl", "blk", "tov", "pf",
)  # fmt: skip
# Result columns: known only once the game is over.
TEAM_POST_GAME_COLUMNS = frozenset({"pts", "opp_pts", "plus_minus", "game_minutes", *BOX_STAT_COLUMNS})
PLAYER_POST_GAME_COLUMNS = frozenset(
    {"pts", "plus_minus", "minutes", "did_play", "start_position", "comment", *BOX_STAT_COLUMNS}
)
POST_GAME_COLUMNS = TEAM_POST_GAME_COLUMNS | PLAYER_POST_GAME_COLUMNS

TEAM_KEY_COLUMNS = ["game_id", "team_id", "opponent_id", "is_home", "game_date", "season", "season_type"]
PLAYER_KEY_COLUMNS = [
    "game_id", "player_id", "player_name", "team_id", "opponent_id", "is_home", "game_date", "season", "season_type",
]  # fmt: skip
GAME_KEY_COLUMNS = ["game_id", "game_date", "season", "season_type", "home_team_id", "away_team_id"]

TEAM_ROLLING_METRICS = ("margin", "pts_for", "pts_against", "win_pct", "off_rtg", "def_rtg", "efg_pct", "opp_efg_pct")
TEAM_SEASON_FEATURES = ["season_games_played", "season_wins", "season_win_pct", "season_margin_avg"]
TEAM_SCHEDULE_FEATURES = ["rest_days", "back_to_back", "games_last_7_days"]
# The team's expected margin in this game from the opponent-adjusted, recency-weighted margin ratings
# and the league's current home edge (lib/ratings.py). The bare ratings and the season's schedule
# strength from them added nothing to it (bench/skill.py), so they are not features.
TEAM_RATING_FEATURES = ["expected_margin"]
# Travel (lib/venue.py arenas): km and time-zone hours (east positive) since the previous game's venue
# (the team's own arena at a season's first game), and how far the venue is from the team's arena.
TEAM_TRAVEL_FEATURES = ["travel_km", "tz_shift_hours", "home_distance_km"]

PLAYER_ROLLING_METRICS = ("pts", "minutes", "usage", "reb", "ast")
PLAYER_SEASON_FEATURES = [f"season_{m}_avg" for m in PLAYER_ROLLING_METRICS] + ["season_games_played"]
PLAYER_OTHER_FEATURES = ["rest_days", "prev_game_started"]


def team_feature_columns(windows=DEFAULT_TEAM_WINDOWS) -> list[str]:
    """Feature columns of `team_game_features` (keys excluded)."""
    rolling = [f"{metric}_last{w}" for w in windows for metric in TEAM_ROLLING_METRICS]
    return (
        rolling
        + TEAM_SEASON_FEATURES
        + TEAM_SCHEDULE_FEATURES
        + ["elo_pre"]
        + TEAM_RATING_FEATURES
        + TEAM_TRAVEL_FEATURES
    )


def game_feature_columns(windows=DEFAULT_TEAM_WINDOWS) -> list[str]:
    """Model feature columns of `game_features` (keys excluded)."""
    team_cols = team_feature_columns(windows)
    return (
        [f"home_{c}" for c in team_cols]
        + [f"away_{c}" for c in team_cols]
        + [f"diff_{c}" for c in team_cols]
        + ["elo_p_home_win"]
    )


def player_feature_columns(windows=DEFAULT_PLAYER_WINDOWS) -> list[str]:
    """Feature columns of `player_game_features` (keys excluded)."""
    rolling = [f"{metric}_last{w}" for w in windows for metric in PLAYER_ROLLING_METRICS]
    return rolling + PLAYER_SEASON_FEATURES + PLAYER_OTHER_FEATURES


FEATURE_COLUMNS = game_feature_columns(DEFAULT_TEAM_WINDOWS)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _featured(frame: pd.DataFrame, columns: list[str], sort_by: list[str]) -> pd.DataFrame:
    """Featured game types only, just the columns used (absent optional ones skipped), sorted."""
    rows = frame["season_type"].isin(list(FEATURED_SEASON_TYPES)).to_numpy()
    present = [c for c in columns if c in frame.columns]
    return frame.loc[rows, present].sort_values(sort_by, kind="mergesort").reset_index(drop=True)


def _float_col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Column as float64 with NaN for NA; all-NaN if the column is absent (older sources)."""

    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _bool_col(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _day_number(dates: pd.Series) -> np.ndarray:
    return dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype("int64")


def _require_one_game_per_date(entity: np.ndarray, day: np.ndarray, what: str) -> None:
    """Rows sorted by entity then date. 'Strictly before the date' relies on this: with one game
    per date, the entity's previous row is always an earlier date."""

    dup = (entity[1:] == entity[:-1]) & (day[1:] == day[:-1])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ValueError(
            f"{int(dup.sum())} {what} rows share a date with another game of the same {what}, e.g. "
            f"{what}={entity[i]} on day {np.datetime64(int(day[i]), 'D')}"
        )


def _prior_event_position(group: np.ndarray, is_event: np.ndarray) -> np.ndarray:
    """Rows sorted by group then date. For each row: position, among the event rows
    (`frame[is_event]`), of the latest event of the same group strictly before the row; -1 if none."""

    events_before = np.cumsum(is_event) - is_event
    pos = events_before - 1
    event_group = group[is_event]
    has_prior = pos >= 0
    has_prior[has_prior] = event_group[pos[has_prior]] == group[has_prior]
    return np.where(has_prior, pos, -1)


def _take(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """values[pos] as float, NaN where pos == -1."""

    values = np.asarray(values, dtype="float64")
    if len(values) == 0:
        return np.full(len(pos), np.nan)
    out = values[np.maximum(pos, 0)]
    out[pos < 0] = np.nan
    return out


def _running_totals(
    events: pd.DataFrame, group: str, cols: list[str], window: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per group (events sorted by group then date): NaN-skipping sums and non-NA counts of `cols`
    over the trailing `window` events, or all events so far when `window` is None, the current
    event included. Callers read them at the *previous* event, which makes them strictly prior.

    Cumulative sums are taken per group, never across the frame, so a group's numbers are
    bit-identical whatever other teams/players or later games the frame holds; a window is
    the difference of two cumulative sums (pandas' groupby-rolling loops per group in Python).
    """

    by = events[group]
    sums = events[cols].fillna(0.0).groupby(by, sort=False).cumsum().to_numpy(dtype="float64")
    counts = events[cols].notna().astype("int64").groupby(by, sort=False).cumsum().to_numpy(dtype="float64")
    if window is not None:
        position_in_group = events.groupby(group, sort=False).cumcount().to_numpy()
        full = np.flatnonzero(position_in_group >= window)  # rows whose window drops older events
        sums[full] = sums[full] - sums[full - window]
        counts[full] = counts[full] - counts[full - window]
    return pd.DataFrame(sums, columns=cols), pd.DataFrame(counts, columns=cols)


def _prior_ratio(num: pd.Series, den: pd.Series, prior: np.ndarray) -> np.ndarray:
    """num / den read at each row's prior event; NaN without a prior event or with den 0."""
    return _ratio(_take(num.to_numpy(), prior), _take(den.to_numpy(), prior))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _games_in_previous_days(entity_code: np.ndarray, day: np.ndarray, days: int) -> np.ndarray:
    """Per row, the entity's games dated in [day - days, day) (rows sorted by entity then day)."""

    key = entity_code.astype("int64") * 10_000_000 + (day - day.min())
    return np.searchsorted(key, key, side="left") - np.searchsorted(key, key - days, side="left")


# ---------------------------------------------------------------------------
# Team features
# ---------------------------------------------------------------------------


def _team_game_metrics(tg: pd.DataFrame) -> pd.DataFrame:
    """Per team-game result metrics (NaN if unplayed): margin, points, win, ratings, eFG%."""

    pts, opp_pts = _float_col(tg, "pts"), _float_col(tg, "opp_pts")
    played = ~np.isnan(pts) & ~np.isnan(opp_pts)
    fga, fgm, fg3m = _float_col(tg, "fga"), _float_col(tg, "fgm"), _float_col(tg, "fg3m")
    fta, oreb, tov = _float_col(tg, "fta"), _float_col(tg, "oreb"), _float_col(tg, "tov")
    possessions = fga - oreb + tov + FREE_THROW_POSSESSION_WEIGHT * fta
    shooting = pd.DataFrame(
        {
            "game_id": tg["game_id"].to_numpy(),
            "team_id": tg["team_id"].to_numpy(dtype="int64"),
            "possessions": possessions,
            "efg_pct": _ratio(fgm + 0.5 * fg3m, fga),
        }
    )
    # The opponent's possessions / eFG% come from the other row of the same game.
    opponent_keys = pd.DataFrame({"game_id": shooting["game_id"], "team_id": tg["opponent_id"].to_numpy(dtype="int64")})
    opponent = opponent_keys.merge(shooting, on=["game_id", "team_id"], how="left", validate="many_to_one")
    metrics = pd.DataFrame(
        {
            "margin": pts - opp_pts,
            "pts_for": pts,
            "pts_against": opp_pts,
            "win_pct": (pts > opp_pts).astype("float64"),
            "off_rtg": 100.0 * _ratio(pts, possessions),
            "def_rtg": 100.0 * _ratio(opp_pts, opponent["possessions"].to_numpy()),
            "efg_pct": shooting["efg_pct"].to_numpy(),
            "opp_efg_pct": opponent["efg_pct"].to_numpy(),
        }
    )
    metrics[~played] = np.nan
    metrics["played"] = played
    return metrics


def team_game_features(
    team_games: pd.DataFrame,
    windows=DEFAULT_TEAM_WINDOWS,
    elo: pd.DataFrame | None = None,
    elo_params: EloParams = EloParams(),
    rating_params: MarginRatingParams = MarginRatingParams(),
) -> pd.DataFrame:
    """Point-in-time features per (game_id, team_id) of regular, play-in and playoff games.

    Columns: TEAM_KEY_COLUMNS + team_feature_columns(windows). `elo` is `pregame_elo` output;
    computed here (with `elo_params`) when not given. Margin ratings use `rating_params`.
    """

    used = TEAM_KEY_COLUMNS + ["pts", "opp_pts", "fga", "fgm", "fg3m", "oreb", "tov", "fta"]
    tg = _featured(team_games, used, ["team_id", "game_date", "game_id"])
    team = tg["team_id"].to_numpy(dtype="int64")
    day = _day_number(tg["game_date"])
    _require_one_game_per_date(team, day, "team_id")
    team_code = pd.factorize(team)[0]
    team_season_code = tg.groupby(["team_id", "season"], sort=False).ngroup().to_numpy()

    metrics = _team_game_metrics(tg)
    played = metrics.pop("played").to_numpy()
    events = metrics.loc[played].assign(team=team_code[played], team_season=team_season_code[played])
    events = events.reset_index(drop=True)
    prior = _prior_event_position(team_code, played)
    prior_in_season = _prior_event_position(team_season_code, played)

    out = {c: tg[c].to_numpy() for c in ["game_id", "game_date", "season", "season_type"]}
    out["team_id"] = team
    out["opponent_id"] = tg["opponent_id"].to_numpy(dtype="int64")
    out["is_home"] = _bool_col(tg, "is_home")

    metric_cols = list(TEAM_ROLLING_METRICS)
    for window in windows:
        sums, counts = _running_totals(events, "team", metric_cols, window)
        for metric in metric_cols:
            out[f"{metric}_last{window}"] = _prior_ratio(sums[metric], counts[metric], prior)

    season_sums, season_counts = _running_totals(events, "team_season", ["win_pct", "margin"])
    games_played = np.nan_to_num(_take(season_counts["win_pct"].to_numpy(), prior_in_season)).astype("int64")
    wins = np.nan_to_num(_take(season_sums["win_pct"].to_numpy(), prior_in_season)).astype("int64")
    out["season_games_played"] = games_played
    out["season_wins"] = wins
    out["season_win_pct"] = _ratio(wins.astype("float64"), games_played)
    out["season_margin_avg"] = _ratio(_take(season_sums["margin"].to_numpy(), prior_in_season), games_played)

    # Schedule features use every scheduled game, played or not: the schedule is known in advance.
    same_team_as_previous = np.r_[False, team[1:] == team[:-1]]
    rest = np.where(same_team_as_previous, day - np.r_[day[:1], day[:-1]], np.nan)
    out["rest_days"] = np.minimum(rest, TEAM_REST_CAP_DAYS)
    out["back_to_back"] = (rest == 1).astype("int64")
    out["games_last_7_days"] = _games_in_previous_days(team_code, day, SCHEDULE_DENSITY_DAYS).astype("int64")
    out.update(_travel(tg, team, same_team_as_previous))

    features = pd.DataFrame(out)
    ratings = team_margin_ratings(margin_ratings(team_games, rating_params))[["game_id", "team_id", "expected_margin"]]
    features = features.merge(ratings, on=["game_id", "team_id"], how="left", validate="one_to_one")
    if elo is None:
        elo = pregame_elo(team_games, elo_params)
    features = features.merge(team_pregame_elo(elo), on=["game_id", "team_id"], how="left", validate="one_to_one")
    columns = TEAM_KEY_COLUMNS + team_feature_columns(windows)
    return features[columns].sort_values(["game_date", "game_id", "team_id"], kind="mergesort").reset_index(drop=True)


def _travel(tg: pd.DataFrame, team: np.ndarray, same_team_as_previous: np.ndarray) -> dict[str, np.ndarray]:
    """TEAM_TRAVEL_FEATURES of rows sorted by team then date; from the schedule only (known in advance)."""
    is_home = _bool_col(tg, "is_home")
    home_team = np.where(is_home, team, tg["opponent_id"].to_numpy(dtype="int64"))
    season = tg["season"].astype(str).to_numpy()
    venue = game_venues(home_team, season, tg["game_date"])
    own_arena = game_venues(team, season, np.full(len(tg), np.datetime64("1900-01-01")))  # its arena, no bubble
    same_season = same_team_as_previous & np.r_[False, season[1:] == season[:-1]]
    previous = np.where(same_season[:, None], np.r_[venue[:1], venue[:-1]], own_arena)
    return {
        "travel_km": great_circle_km(previous[:, 0], previous[:, 1], venue[:, 0], venue[:, 1]),
        "tz_shift_hours": venue[:, 2] - previous[:, 2],
        "home_distance_km": great_circle_km(own_arena[:, 0], own_arena[:, 1], venue[:, 0], venue[:, 1]),
    }


def game_features(team_features: pd.DataFrame, elo: pd.DataFrame) -> pd.DataFrame:
    """One row per game from the home side: GAME_KEY_COLUMNS + home_*, away_*, diff_* (home minus
    away) of every team feature + elo_p_home_win, and `neutral` (from `elo`; not a model input: a
    neutral-site game is predicted without home advantage, serving/assets.predict_home_win). Model
    inputs are game_feature_columns(windows) (FEATURE_COLUMNS for the default windows)."""

    feature_cols = [c for c in team_features.columns if c not in TEAM_KEY_COLUMNS]
    is_home = team_features["is_home"].astype(bool).to_numpy()
    home_cols = ["game_id", "game_date", "season", "season_type", "team_id", "opponent_id", *feature_cols]
    home = team_features.loc[is_home, home_cols]
    away = team_features.loc[~is_home, ["game_id", "team_id", *feature_cols]]
    games = home.merge(away, on="game_id", how="inner", suffixes=("_home", "_away"), validate="one_to_one")
    if len(games) != team_features["game_id"].nunique() or not (games["opponent_id"] == games["team_id_away"]).all():
        raise ValueError("team_features must hold exactly one home and one matching away row per game")

    out = {c: games[c].to_numpy() for c in ["game_id", "game_date", "season", "season_type"]}
    out["home_team_id"] = games["team_id_home"].to_numpy()
    out["away_team_id"] = games["team_id_away"].to_numpy()
    home_values = {c: games[f"{c}_home"].to_numpy(dtype="float64") for c in feature_cols}
    away_values = {c: games[f"{c}_away"].to_numpy(dtype="float64") for c in feature_cols}
    out.update({f"home_{c}": games[f"{c}_home"].to_numpy() for c in feature_cols})
    out.update({f"away_{c}": games[f"{c}_away"].to_numpy() for c in feature_cols})
    out.update({f"diff_{c}": home_values[c] - away_values[c] for c in feature_cols})
    frame = pd.DataFrame(out)

    elo_cols = [c for c in ("game_id", "home_team_id", "elo_p_home_win", "neutral") if c in elo.columns]
    frame = frame.merge(
        elo[elo_cols].rename(columns={"home_team_id": "elo_home_team_id"}),
        on="game_id",
        how="left",
        validate="one_to_one",
    )
    frame["neutral"] = frame["neutral"].astype("boolean").fillna(False).astype(bool) if "neutral" in frame else False
    matched = frame["elo_home_team_id"].isna() | (frame["elo_home_team_id"] == frame["home_team_id"])
    if not matched.all():
        raise ValueError("elo and team_features disagree on the home team of some games")
    frame = frame.drop(columns="elo_home_team_id")
    return frame.sort_values(["game_date", "game_id"], kind="mergesort").reset_index(drop=True)


def swap_sides(games: pd.DataFrame) -> pd.DataFrame:
    """The same games seen from the other side: home_* and away_* exchanged, diff_* negated,
    elo_p_home_win -> 1 - elo_p_home_win. A model's P(home win) on this frame is the away team's
    chance as if it were at home: averaging it with the original cancels the home advantage the
    model learned (neutral-site games)."""
    out = games.copy()
    for column in games.columns:
        if column.startswith("home_") and f"away_{column[5:]}" in games.columns:
            out[column], out[f"away_{column[5:]}"] = games[f"away_{column[5:]}"], games[column]
        elif column.startswith("diff_"):
            out[column] = -games[column]
    if "elo_p_home_win" in games.columns:
        out["elo_p_home_win"] = 1.0 - games["elo_p_home_win"]
    return out


def game_outcomes(team_games: pd.DataFrame) -> pd.DataFrame:
    """Labels, kept apart from features: game_id, home_win (Int64 0/1), home_margin (Int64);
    NA for unplayed games. Regular, play-in and playoff games only."""

    games = home_view(team_games, FEATURED_SEASON_TYPES)
    played = games["home_pts"].notna() & games["away_pts"].notna()
    margin = (games["home_pts"] - games["away_pts"]).where(played)
    return pd.DataFrame(
        {
            "game_id": games["game_id"],
            "home_win": (margin > 0).astype("Int64").where(played, pd.NA),
            "home_margin": margin.round().astype("Int64"),
        }
    )


# ---------------------------------------------------------------------------
# Player features
# ---------------------------------------------------------------------------


def player_game_features(player_games: pd.DataFrame, windows=DEFAULT_PLAYER_WINDOWS) -> pd.DataFrame:
    """Point-in-time features per (game_id, player_id) row of regular, play-in and playoff games
    (DNP rows included: they are rows of games the player's team played).

    History = the player's prior appearances (did_play). Rolling means over the last N
    appearances of points, minutes, rebounds, assists, and usage = sum(fga + 0.44*fta + tov) /
    sum(minutes) over the window (a ratio of sums, so garbage-time cameos don't dominate);
    season-to-date averages of the same; season_games_played; rest_days since the previous
    appearance (capped); prev_game_started (started the previous appearance).
    Columns: PLAYER_KEY_COLUMNS + player_feature_columns(windows).
    """

    used = PLAYER_KEY_COLUMNS + ["did_play", "start_position", "minutes", "pts", "reb", "ast", "fga", "fta", "tov"]
    pg = _featured(player_games, used, ["player_id", "game_date", "game_id"])
    player = pg["player_id"].to_numpy(dtype="int64")
    day = _day_number(pg["game_date"])
    _require_one_game_per_date(player, day, "player_id")
    player_code = pd.factorize(player)[0]
    player_season_code = pg.groupby(["player_id", "season"], sort=False).ngroup().to_numpy()

    appeared = _bool_col(pg, "did_play")
    minutes = _float_col(pg, "minutes")
    usage_actions = _float_col(pg, "fga") + FREE_THROW_POSSESSION_WEIGHT * _float_col(pg, "fta") + _float_col(pg, "tov")
    usage_known = ~np.isnan(usage_actions) & (minutes > 0)
    position_code, positions = pd.factorize(pg["start_position"])  # a handful of distinct values; NA -> -1
    started = np.array([str(p).strip() != "" for p in positions] + [False], dtype=bool)[position_code]
    events = pd.DataFrame(
        {
            "pts": _float_col(pg, "pts"),
            "minutes": minutes,
            "reb": _float_col(pg, "reb"),
            "ast": _float_col(pg, "ast"),
            "usage_actions": np.where(usage_known, usage_actions, np.nan),
            "usage_minutes": np.where(usage_known, minutes, np.nan),
            "started": started.astype("float64"),
            "day": day.astype("float64"),
            "player": player_code,
            "player_season": player_season_code,
        }
    )
    events = events.loc[appeared].reset_index(drop=True)
    prior = _prior_event_position(player_code, appeared)
    prior_in_season = _prior_event_position(player_season_code, appeared)

    out = {c: pg[c].to_numpy() for c in ["game_id", "player_name", "game_date", "season", "season_type"]}
    out["player_id"] = player
    out["team_id"] = pg["team_id"].to_numpy(dtype="int64")
    out["opponent_id"] = pg["opponent_id"].to_numpy(dtype="int64")
    out["is_home"] = _bool_col(pg, "is_home")

    averaged = ["pts", "minutes", "reb", "ast"]
    summed = ["usage_actions", "usage_minutes"]
    for window in windows:
        sums, counts = _running_totals(events, "player", averaged + summed, window)
        for metric in averaged:
            out[f"{metric}_last{window}"] = _prior_ratio(sums[metric], counts[metric], prior)
        out[f"usage_last{window}"] = _prior_ratio(sums["usage_actions"], sums["usage_minutes"], prior)

    sums, counts = _running_totals(events, "player_season", averaged + summed + ["day"])
    for metric in averaged:
        out[f"season_{metric}_avg"] = _prior_ratio(sums[metric], counts[metric], prior_in_season)
    out["season_usage_avg"] = _prior_ratio(sums["usage_actions"], sums["usage_minutes"], prior_in_season)
    out["season_games_played"] = np.nan_to_num(_take(counts["day"].to_numpy(), prior_in_season)).astype("int64")
    out["rest_days"] = np.minimum(day - _take(events["day"].to_numpy(), prior), PLAYER_REST_CAP_DAYS)
    out["prev_game_started"] = _take(events["started"].to_numpy(), prior)

    features = pd.DataFrame(out)[PLAYER_KEY_COLUMNS + player_feature_columns(windows)]
    return features.sort_values(["game_date", "game_id", "player_id"], kind="mergesort").reset_index(drop=True)
