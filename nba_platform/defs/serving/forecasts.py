"""Forecasts of games not yet played: `serving/game_forecasts`, one partition per forecast day D.

Partition D forecasts every scheduled game dated D .. D+window-1 (ForecastConfig.window_days,
default 7) that is not postponed, with the MLflow `champion`, and appends the rows to the serving
database's `game_forecasts` (key game_id, as_of, model_name, model_version): nothing is ever
overwritten, so that table is the record skill is judged on. The view `latest_pregame_forecast`
keeps, per game and model version, the last forecast made before the game's date. A game the
schedule marks postponed retires its earlier forecasts (a row in `game_forecast_retirements` at the
run's as_of; nothing is deleted): the view and live skill ignore them, and forecasts made once the
game is rescheduled (same id, new date) count again.

`as_of` is D at 00:00:00 UTC: the forecast knows every result dated before D and nothing dated D
or later. (The daily schedule runs at 10:00 UTC, once the night's US games are final.) Because the
view requires as_of < game_date, the games dated D itself are judged on the forecast of D-1; the
forecast of D is their latest update.

Point in time by construction (lib/schedule.py `forecast_team_games`): the features of a window's
games are computed from the results dated before D plus the window's games as unplayed rows, so
results dated D or later, even when in the lake (a backfill of past days, a replay), never reach
a forecast: re-materializing a partition after later results landed gives the same rows
(`forecast_digest` in the metadata). The one thing read as it is now is the schedule itself
(dates, postponements): a schedule is not versioned.

Daily partitions from 2003-10-01 (the first season shipped), so `dagster asset backfill` (or the
UI's backfill) of a season's days is a replay of its forecasts; a backfill runs as one run per
range (single-run backfill policy) and computes each day's point-in-time features in turn.
"""

import datetime as dt
import hashlib
import time

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from nba_platform.defs.serving.assets import predict_home_win, prediction_top_factors
from nba_platform.lib.champion import champion_is_current, last_completed_before
from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.features import game_features, team_game_features
from nba_platform.lib.metadata import markdown_table
from nba_platform.lib.schedule import forecast_team_games, forecast_window, forecasts_to_retire, listed_by_a_schedule
from nba_platform.lib.seasons import complete_seasons
from nba_platform.lib.serving_db import FORECAST_RETIREMENTS, GAME_FORECASTS
from nba_platform.resources.lake import concat_partitions
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.model_registry import CHAMPION
from nba_platform.resources.serving_db import ServingDatabase

FORECAST_START_DATE = "2003-10-01"
AS_OF_TIME = dt.time(0, 0, 0)  # UTC, on the forecast day
FORECAST_COLUMNS = list(GAME_FORECASTS.columns)  # what is appended to the serving table

# end_offset=1: today's partition exists today (a day's partition is otherwise added once it ends).
forecast_days = dg.DailyPartitionsDefinition(start_date=FORECAST_START_DATE, timezone="UTC", end_offset=1)


class ForecastConfig(dg.Config):
    window_days: int = Field(7, ge=1, le=60, description="Games dated D .. D+window_days-1 are forecast on day D.")


def as_of_for(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, AS_OF_TIME))


def forecast_features(team_games: pd.DataFrame, window: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Model inputs of the window's games as of `day` (point in time: see the module docstring)."""
    tg = forecast_team_games(team_games, window, day)
    elo = pregame_elo(tg)
    games = game_features(team_game_features(tg, elo=elo), elo)
    rows = games[games["game_id"].isin(window["game_id"])]
    return rows.sort_values(["game_date", "game_id"], kind="mergesort", ignore_index=True)


def forecast_frame(
    model, name: str, version: int, features: pd.DataFrame, window: pd.DataFrame, day: dt.date
) -> pd.DataFrame:
    """The published rows: one per window game, as of `day`."""
    neutral = features["game_id"].map(window.set_index("game_id")["neutral"]).astype(bool).to_numpy()
    out = pd.DataFrame(
        {
            "game_id": features["game_id"].astype("object").to_numpy(),
            "game_date": pd.to_datetime(features["game_date"]).dt.date.to_numpy(),
            "as_of": as_of_for(day),
            "home_team_id": features["home_team_id"].astype("int64").to_numpy(),
            "away_team_id": features["away_team_id"].astype("int64").to_numpy(),
            "neutral": neutral,
            # at a neutral site: the first-listed team's chance, no home advantage
            "p_home_win": predict_home_win(model, features, neutral),
            "model_name": name,
            "model_version": int(version),
            "top_factors": prediction_top_factors(model, features),
        }
    )
    return out[FORECAST_COLUMNS]


def forecast_digest(frame: pd.DataFrame) -> str:
    """sha256 of the rows as CSV text (floats at full precision): equal digests = identical forecasts."""
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def retire_postponed(serving_db: ServingDatabase, schedule: pd.DataFrame, at: pd.Timestamp) -> list[str]:
    """Record a retirement (at `at`) for every postponed game with a forecast not yet retired: the
    view latest_pregame_forecast then ignores them, and skill is never judged on a game that left the
    schedule. The schedule is read as it is now (not versioned)."""
    postponed = schedule.loc[schedule["status"] == "postponed", "game_id"] if len(schedule) else []
    if not len(postponed):
        return []
    serving_db.ensure_append_only()
    forecast = serving_db.query("SELECT game_id, max(as_of) AS at FROM game_forecasts GROUP BY game_id")
    retired = serving_db.query("SELECT game_id, max(retired_at) AS at FROM game_forecast_retirements GROUP BY game_id")
    games = forecasts_to_retire(postponed, forecast.set_index("game_id")["at"], retired.set_index("game_id")["at"])
    if games:
        rows = pd.DataFrame({"game_id": games, "retired_at": at, "reason": "postponed"})
        serving_db.append(FORECAST_RETIREMENTS.name, rows)
    return games


ALL_SEASONS = {"allow_missing_partitions": True}


@dg.asset(
    key=["serving", "game_forecasts"],
    ins={
        "schedule": dg.AssetIn(
            key=["tables", "schedule"], partition_mapping=dg.AllPartitionMapping(), metadata=ALL_SEASONS
        ),
        "team_games": dg.AssetIn(
            key=["tables", "team_games"], partition_mapping=dg.AllPartitionMapping(), metadata=ALL_SEASONS
        ),
    },
    partitions_def=forecast_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="serving",
    kinds={"postgres", "sqlite", "mlflow"},
    owners=["team:ml"],
    description="Forecasts made on day D (as_of D 00:00 UTC) by the MLflow champion for every scheduled, not postponed "
    "game dated D..D+6 (window configurable), from results dated before D only. Appended to the serving database's "
    "game_forecasts (never overwritten); latest_pregame_forecast is the last one before each game's date.",
)
def game_forecasts(
    context: dg.AssetExecutionContext,
    config: ForecastConfig,
    mlflow: MlflowTracking,
    serving_db: ServingDatabase,
    schedule: dict,
    team_games: dict,
) -> dg.MaterializeResult:
    champion = mlflow.version_by_alias(CHAMPION)
    sched, results = concat_partitions(schedule), concat_partitions(team_games)
    days = [dt.date.fromisoformat(k) for k in context.partition_keys]
    if champion is None:
        context.log.warning("no champion game model yet: nothing forecast (build the game model first)")
        return dg.MaterializeResult(metadata={"status": "no champion model yet", "forecasts": 0, "days": len(days)})
    model = mlflow.load_sklearn_model(champion.model_uri)
    trained_to = champion.tags.get("train_last_season", "")
    # Freshness (lib/champion.py): a champion that missed the last completed season before the
    # forecast season never forecasts it; the retraining sensor (cause stale_champion) or
    # `nba-platform ingest` refits it first. Those days are reported, not forecast.
    completed = complete_seasons(results, schedule=listed_by_a_schedule(sched))
    frames, briefs, saw_future, stale_days, seconds = [], {}, [], [], []
    for day in days:
        started = time.perf_counter()
        window = forecast_window(sched, day, config.window_days) if len(sched) else sched
        if len(window) == 0:
            briefs[str(day)] = "no scheduled games in the window"
            continue
        target = min(window["season"])
        if not champion_is_current(trained_to or None, completed, target):
            stale_days.append(str(day))
            briefs[str(day)] = (
                f"not forecast: champion {champion.label} (trained through {trained_to or 'unknown'}) missed the "
                f"completed season {last_completed_before(completed, target)}; a refit must be promoted first"
            )
            continue
        features = forecast_features(results, window, day)
        frame = forecast_frame(model, champion.name, int(champion.version), features, window, day)
        frames.append(frame)
        seasons = sorted(set(window["season"]))
        if trained_to and trained_to >= seasons[0]:
            saw_future.append(str(day))
        seconds.append(time.perf_counter() - started)
        briefs[str(day)] = (
            f"{len(frame)} games ({frame['game_date'].min()} .. {frame['game_date'].max()}) in {seconds[-1]:.2f} s"
        )
    published = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FORECAST_COLUMNS)
    inserted = serving_db.append("game_forecasts", published) if len(published) else 0
    retired = retire_postponed(serving_db, sched, as_of_for(max(days)))
    if stale_days:
        context.log.warning(
            f"champion {champion.label} is stale for {len(stale_days)} day(s) (e.g. {stale_days[0]}): not forecast; "
            "the retraining sensor requests the refit (cause stale_champion)"
        )
    if saw_future:
        context.log.warning(
            f"champion {champion.label} was trained through {trained_to}, which includes the season forecast on "
            f"{len(saw_future)} day(s) (e.g. {saw_future[0]}): those forecasts are not out of sample"
        )
    for day, brief in briefs.items():
        context.log.info(f"{day}: {brief}")
    return dg.MaterializeResult(
        metadata={
            "forecasts": len(published),
            "forecasts_inserted": inserted,
            # same key already in game_forecasts (a re-run): kept as first published, never overwritten
            "forecasts_already_published": len(published) - inserted,
            # postponed games whose earlier forecasts were retired by this run (game_forecast_retirements)
            "games_retired_postponed": len(retired),
            "days": len(days),
            "window_days": config.window_days,
            "as_of_time_utc": AS_OF_TIME.isoformat(),
            "model": champion.label,
            "model_trained_through": trained_to or "unknown",
            "days_forecast_by_a_model_that_saw_the_season": len(saw_future),
            "days_not_forecast_stale_champion": len(stale_days),
            "forecast_digest": forecast_digest(published),
            "median_day_seconds": float(np.median(seconds)) if seconds else 0.0,
            "by_day": dg.MetadataValue.md("\n".join(f"- **{d}**: {b}" for d, b in briefs.items())),
            "database": serving_db.describe(),
            "preview": dg.MetadataValue.md(markdown_table(published.drop(columns="top_factors").head(10))),
        }
    )
