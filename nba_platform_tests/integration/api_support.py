"""Forecast rows for the API / MCP tests and bench/api_load.py, made from a built serving
database's real games: each published prediction of the latest season (served walk-forward: the
champion of a build is refit on every completed season, that one included, see lib/champion.py)
becomes three forecasts of its game attributed to the champion, appended through the serving
resource's append-only path (ServingDatabase.append). Fixed rows, so the tests know every value;
the platform's own forecasts (serving/game_forecasts) are tested in defs/test_game_forecasts.py.

  * two days before the game (p - 0.03, clipped), the day before (p itself: the latest pre-game
    forecast), and one on game day at 19:00 (p = 0.99: after the view's cut-off, never served as
    pre-game);
plus one forecast of a game the games table does not hold (an unplayed game).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from nba_platform_tests.built_home import built_home

UNPLAYED_GAME_ID = "0022499999"
UNPLAYED = {"game_date": "2024-10-22", "home_team_id": 1610612738, "away_team_id": 1610612752}


def forecast_frame(predictions: pd.DataFrame) -> pd.DataFrame:
    """predictions: game_predictions rows (game_id, game_date, home/away_team_id, p_home_win,
    model_name, integer model_version, top_factors)."""
    base = predictions.assign(
        game_date=pd.to_datetime(predictions["game_date"]),
        model_version=predictions["model_version"].astype("int64"),
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
    """The published predictions of the latest season, labelled with the champion model (the
    latest model_champions row) that the forecasts are attributed to."""
    champ = serving_db.query(
        "SELECT model_name, model_version FROM model_champions ORDER BY promoted_at DESC, model_version DESC LIMIT 1"
    )
    predictions = serving_db.query(
        "SELECT game_id, game_date, home_team_id, away_team_id, p_home_win, top_factors FROM game_predictions "
        "WHERE season = (SELECT max(season) FROM game_predictions) ORDER BY game_date, game_id"
    )
    return predictions.assign(model_name=champ["model_name"].item(), model_version=int(champ["model_version"].item()))


def append_forecasts(serving_db) -> pd.DataFrame:
    frame = forecast_frame(champion_predictions(serving_db))
    serving_db.append("game_forecasts", frame)
    return frame


_BUILT: dict[str, Path] = {}  # bench/api_load.py points "db" at an existing home's database


def built_serving_db() -> Path:
    """The serving database of the shared three-season `nba-platform build` (built_home.py);
    callers copy the file so their appends do not touch each other."""
    return _BUILT.get("db") or built_home().home / "serving" / "serving.db"


def serving_copy(dest_dir: Path) -> Path:
    """A copy of the built serving database in dest_dir/serving/serving.db, with the forecasts appended."""
    from nba_platform.resources.secrets import Secrets
    from nba_platform.resources.serving_db import ServingDatabase

    target = dest_dir / "serving" / "serving.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built_serving_db(), target)
    append_forecasts(ServingDatabase(url=f"sqlite:///{target}", secrets=Secrets(source="env")))
    return target


class ServedProcess:
    """`nba-platform serve-api` / `serve-mcp --transport http` as a real subprocess on a free port;
    its stderr (where the JSON access log goes) is kept in a file the tests read."""

    def __init__(self, command: list[str], env: dict, log_path: Path, port: int, ready_path: str = "/healthz"):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 (closed in stop)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "MLFLOW_", "DAGSTER_"))}
        full_env.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nba_platform.cli.app", *command, "--port", str(port)],
            env=full_env,
            cwd=log_path.parent,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(ready_path)

    def _wait_ready(self, path: str, timeout: float = 90.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise AssertionError(f"server not answering on {self.url}{path} after {timeout:.0f}s:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
