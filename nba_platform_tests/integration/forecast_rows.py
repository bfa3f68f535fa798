"""Forecast rows for the API / MCP tests and bench/api_load.py, made from a built serving
database's real games: nothing in the platform produces forecasts yet (issue 15 will), so each
published prediction of the champion becomes three forecasts of its game, appended through the
serving resource's append-only path (ServingDatabase.append):

  * two days before the game (p - 0.03, clipped), the day before (p itself: the latest pre-game
    forecast), and one on game day at 19:00 (p = 0.99: after the view's cut-off, never served as
    pre-game);
plus one forecast of a game the games table does not hold (an unplayed game).
"""

from __future__ import annotations

import pandas as pd

UNPLAYED_GAME_ID = "0022499999"
UNPLAYED = {"game_date": "2024-10-22", "home_team_id": 1610612738, "away_team_id": 1610612752}


def forecast_frame(predictions: pd.DataFrame) -> pd.DataFrame:
    """predictions: game_predictions rows (game_id, game_date, home/away_team_id, p_home_win,
    model_version 'name/vN', top_factors)."""
    name_version = predictions["model_version"].str.extract(r"^(?P<model_name>.+)/v(?P<version>\d+)$")
    base = predictions.assign(
        game_date=pd.to_datetime(predictions["game_date"]),
        model_name=name_version["model_name"],
        model_version=name_version["version"].astype("int64"),
        neutral=False,
    )
    day = pd.Timedelta(days=1)
    rows = [
        base.assign(
            as_of=base["game_date"] - 2 * day + pd.Timedelta(hours=12),
            p_home_win=(base["p_home_win"] - 0.03).clip(0.01, 0.99),
        ),
        base.assign(as_of=base["game_date"] - day + pd.Timedelta(hours=18)),
        base.assign(as_of=base["game_date"] + pd.Timedelta(hours=19), p_home_win=0.99),
    ]
    columns = [
        "game_id", "game_date", "as_of", "home_team_id", "away_team_id", "neutral",
        "p_home_win", "model_name", "model_version", "top_factors",
    ]  # fmt: skip
    out = pd.concat([r[columns] for r in rows], ignore_index=True)
    first = out.iloc[0]
    unplayed = pd.DataFrame(
        [
            {
                "game_id": UNPLAYED_GAME_ID,
                "game_date": pd.Timestamp(UNPLAYED["game_date"]),
                "as_of": pd.Timestamp(UNPLAYED["game_date"]) - pd.Timedelta(hours=6),
                "home_team_id": UNPLAYED["home_team_id"],
                "away_team_id": UNPLAYED["away_team_id"],
                "neutral": False,
                "p_home_win": 0.64,
                "model_name": first["model_name"],
                "model_version": int(first["model_version"]),
                "top_factors": None,
            }
        ]
    )
    return pd.concat([out, unplayed], ignore_index=True)


def champion_predictions(serving_db) -> pd.DataFrame:
    """The published predictions of the champion model (the latest model_champions row)."""
    champ = serving_db.query(
        "SELECT model_name, model_version FROM model_champions ORDER BY promoted_at DESC, model_version DESC LIMIT 1"
    )
    label = f"{champ['model_name'].item()}/v{int(champ['model_version'].item())}"
    return serving_db.query(
        "SELECT game_id, game_date, home_team_id, away_team_id, p_home_win, model_version, top_factors "
        "FROM game_predictions WHERE model_version = %s ORDER BY game_date, game_id"
        if serving_db.dialect == "postgres"
        else "SELECT game_id, game_date, home_team_id, away_team_id, p_home_win, model_version, top_factors "
        "FROM game_predictions WHERE model_version = ? ORDER BY game_date, game_id",
        (label,),
    )


def append_forecasts(serving_db) -> pd.DataFrame:
    frame = forecast_frame(champion_predictions(serving_db))
    serving_db.append("game_forecasts", frame)
    return frame
