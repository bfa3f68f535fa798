"""`nba-platform replay` end to end on real shipped data, kept short for CI: a live home built on
2020-21 (the slim log), 2021-22 and 2022-23 (the game model needs two training seasons), then 2023-24 replayed from 1 March to 14 April 2024 every 7 days, starting
from a copy of the live home (--history-home). Every regular-season game of the range gets a
forecast made before its date; the forecasts are the materializations of serving/game_forecasts
partitions D; the printed figures equal a recomputation from the CSV; the live home is untouched."""

import datetime as dt
import gzip
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from nba_platform.lib import replay as rp
from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.metrics import accuracy, brier_score, log_loss
from nba_platform.resources.landing import sample_root

GAMELOGS = Path(sample_root()) / "nba_api_league_gamelog_2021_2024"
SLIM = Path(sample_root()) / "nba_api_league_gamelog_slim_2016_2024" / "league_game_logs.csv.gz"
FIRST, LAST = dt.date(2024, 3, 1), dt.date(2024, 4, 14)


def run_cli(args, live: Path, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = {**os.environ, "NBA_HOME": str(live), "NBA_INCLUDE_SAMPLE": "false", "NBA_PLATFORM_ENV": "local"}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "nba_platform.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout


def gamelog(tmp: Path, season: str) -> Path:
    path = tmp / f"gamelog-{season}.csv"
    path.write_bytes(gzip.decompress((GAMELOGS / f"nba-gamelog-{season}.csv.gz").read_bytes()))
    return path


def slim_season(tmp: Path, season_id: int) -> Path:
    path = tmp / f"slim-{season_id}.csv"
    log = pd.read_csv(SLIM, dtype={"GAME_ID": str})
    log[log["SEASON_ID"] == season_id].to_csv(path, index=False)
    return path


def snapshot(home: Path) -> dict[str, str]:
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay")
    live = tmp / "live"
    history = [slim_season(tmp, 22020), gamelog(tmp, "2021-22"), gamelog(tmp, "2022-23")]
    ok(run_cli(["ingest", "--no-run", *map(str, history)], live))
    ok(run_cli(["build"], live))
    before = snapshot(live)
    out, home = tmp / "forecasts.csv", tmp / "replay-home"
    log_path = gamelog(tmp, "2023-24")
    args = ["replay", "--gamelog", str(log_path), "--season", "2023-24", "--step", "7d"]
    args += ["--from", FIRST.isoformat(), "--to", LAST.isoformat(), "--history-home", str(live)]
    proc = run_cli([*args, "--home", str(home), "--out", str(out)], live)
    stdout = ok(proc)
    print(stdout)
    refused = run_cli([*args, "--home", str(live), "--out", str(tmp / "x.csv")], live)
    return {
        "stdout": stdout,
        "stderr": proc.stderr,
        "csv": pd.read_csv(out, dtype={"game_id": str}),
        "home": home,
        "live": live,
        "before": before,
        "after": snapshot(live),
        "log": pd.read_csv(log_path, dtype={"game_id": str}),
        "refused": refused,
        "tmp": tmp,
    }


def figure(stdout: str, label: str) -> list[float]:
    line = next(line for line in stdout.splitlines() if label in line)
    return [float(x) for x in re.findall(r"(?:Brier|log loss|accuracy) (\d+\.\d+)", line)]


def test_every_regular_season_game_of_the_range_has_a_forecast_made_before_its_date(replayed):
    log = replayed["csv"]
    assert list(log.columns) == rp.FORECAST_LOG_COLUMNS
    schedule = rp.derive_schedule(rp.read_gamelog(replayed["log"]))
    dates = pd.to_datetime(schedule["game_date"]).dt.date
    wanted = set(schedule.loc[(dates >= FIRST) & (dates <= LAST), "game_id"])
    assert len(wanted) == 345  # 1 March .. 14 April 2024
    made_before = log[pd.to_datetime(log["as_of"]) < pd.to_datetime(log["game_date"])]
    assert wanted <= set(made_before["game_id"])
    assert log["p_home_win"].between(0.02, 0.98).all() and log["top_factors"].str.startswith("[").all()
    # as_of: the step days, 29 February then every 7 days, at 00:00 UTC
    as_of = sorted(pd.to_datetime(log["as_of"]).dt.date.unique())
    assert as_of[0] == dt.date(2024, 2, 29) and all((b - a).days == 7 for a, b in zip(as_of, as_of[1:]))


def test_forecasts_are_the_materializations_of_the_forecast_partitions(replayed, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(replayed["home"] / "dagster"))
    days = sorted({d[:10] for d in replayed["csv"]["as_of"]})
    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(dg.AssetKey(["serving", "game_forecasts"]), limit=100).records
        runs = {r.dagster_run.job_name for r in instance.get_run_records()}
    assert sorted(r.partition_key for r in records) == days
    assert {"daily_tables", "daily_forecast"} <= runs


def test_summary_figures_equal_a_recomputation_from_the_csv(replayed):
    log, stdout = replayed["csv"], replayed["stdout"]
    in_range = log[pd.to_datetime(log["game_date"]).dt.date.between(FIRST, LAST)]
    pregame = rp.latest_pregame(in_range)
    won = rp.home_wins(rp.read_gamelog(replayed["log"]))
    y, p = won.reindex(pregame["game_id"]).to_numpy(), pregame["p_home_win"].to_numpy()
    brier, loss, acc = figure(stdout, "latest pre-game forecasts of")
    assert f"forecasts of {len(pregame)} regular-season games" in stdout
    assert brier == pytest.approx(brier_score(y, p), abs=6e-5)
    assert loss == pytest.approx(log_loss(y, p), abs=6e-5)
    assert acc == pytest.approx(accuracy(y, p), abs=6e-5)
    # Elo from the replay home's tables: results before each game only
    lake = replayed["home"] / "lake" / "tables" / "team_games"
    team_games = pd.concat(
        pd.read_parquet(lake / f"season={s}" / "data.parquet").assign(season=s)
        for s in ("2020-21", "2021-22", "2022-23", "2023-24")
    )
    elo = pregame_elo(team_games).set_index("game_id")["elo_p_home_win"].reindex(pregame["game_id"])
    elo_brier, _, _ = figure(stdout, "Elo on the same games")
    assert elo_brier == pytest.approx(brier_score(y, elo.to_numpy()), abs=6e-5)
    assert 0.15 < brier < 0.26 and 0.15 < elo_brier < 0.26
    print(f"\nreplay 2023-24 {FIRST}..{LAST} step 7d: Brier {brier:.4f} (Elo {elo_brier:.4f}) on {len(pregame)} games")
    median = re.search(r"median day (\d+\.\d+) s, total (\d+\.\d+) s", stdout)
    assert median and float(median.group(1)) > 0
    assert "no retrain and no promotion" in stdout or "retrain (" in stdout or "champion " in stdout


def test_the_live_home_is_untouched_and_cannot_be_the_replay_home(replayed):
    assert replayed["after"] == replayed["before"]
    assert replayed["refused"].returncode == 2 and "live home" in replayed["refused"].stdout


def test_the_console_shows_progress_and_figures_not_library_noise(replayed):
    # MLflow's download bars and registry notices (one per forecast day) stay out of the output
    for noise in ("Downloading artifacts", "Registered model", "Created version", "DEBUG"):
        assert noise not in replayed["stdout"] + replayed["stderr"], noise
    assert "forecast(s), champion nba_game_outcome/v" in replayed["stdout"]
