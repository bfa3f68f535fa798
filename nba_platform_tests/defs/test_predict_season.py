"""`nba-platform predict-season` on a season the platform has never seen (held out: 2023-24),
through the same assets, as a user runs it."""

import gzip
import os
import subprocess
import sys

import pandas as pd

from nba_platform.lib.metrics import brier_score
from nba_platform_tests.built_home import HISTORY_FILES, copy_of_built_home, history_home


def run_cli(args, home):
    env = {**os.environ, "NBA_HOME": str(home), "NBA_INCLUDE_SAMPLE": "false"}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "nba_platform.cli", *args], env=env, capture_output=True, text=True, timeout=900
    )


def test_predict_unseen_season_from_a_gamelog_export(tmp_path, sample_path):
    # History the platform knows: 2018-19 .. 2022-23 (TeamGameLog + two LeagueGameLog seasons). No 2023-24.
    # `ingest --no-run` of those files, then `build`: the worker's shared history build (built_home.py),
    # copied (predict-season lands a file and runs).
    home = copy_of_built_home(tmp_path / "home", history_home())
    assert sorted(p.name for p in (home / "landing").iterdir() if p.is_file()) == sorted(p.name for p in HISTORY_FILES)

    # The held-out season as an upper-case LeagueGameLog export.
    text = gzip.decompress(
        sample_path("nba_api_league_gamelog_2021_2024/nba-gamelog-2023-24.csv.gz").read_bytes()
    ).decode()
    header, body = text.split("\n", 1)
    export = tmp_path / "LeagueGameLog_2023-24.csv"
    export.write_text(header.upper() + "\n" + body)
    out = tmp_path / "predictions.csv"
    proc = run_cli(["predict-season", "--gamelog", str(export), "--season", "2023-24", "--out", str(out)], home)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    preds = pd.read_csv(out, dtype={"game_id": str})
    assert list(preds.columns) == [
        "game_id",
        "game_date",
        "home_team_id",
        "away_team_id",
        "p_home_win",
        "model_version",
        "neutral",
        "p_home_win_is",
    ]
    assert not preds["neutral"].any() and (preds["p_home_win_is"] == "home team").all()  # no neutral site in 2023-24
    assert len(preds) == 1230 and preds["game_id"].is_unique and preds["game_id"].str.len().eq(10).all()
    assert preds["p_home_win"].between(0.01, 0.99).all()
    assert preds["model_version"].nunique() == 1 and preds["model_version"].iloc[0].startswith("nba_game_outcome/v")

    # Honest skill on games it never trained on: better than a coin flip, in Elo's neighbourhood.
    games = pd.read_csv(export, dtype={"GAME_ID": str})
    home_rows = games[games["MATCHUP"].str.contains(" vs. ")]
    outcome = home_rows.set_index("GAME_ID")["WL"].eq("W").astype(int)
    y = outcome.reindex(preds["game_id"]).to_numpy()
    assert brier_score(y, preds["p_home_win"].to_numpy()) < 0.235

    # A file for a different season than asked is refused, clearly, and lands nothing.
    wrong = run_cli(
        ["predict-season", "--gamelog", str(export), "--season", "2024-25", "--out", str(tmp_path / "x.csv")], home
    )
    assert wrong.returncode == 2 and "season_matches" in wrong.stdout
