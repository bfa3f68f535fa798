"""Walk-forward skill of the game model with and without each feature group (issue 17, "Better skill").

Reads `tables/team_games` of a built lake (`nba-platform build` on the shipped data), computes the
features exactly as the platform does (`lib.features`, `lib.elo`, `lib.team_ratings`,
`lib.travel`), and for every variant (a set of feature groups) predicts each evaluation season
with a model fitted on every earlier season only, as `serving/game_predictions` does: the kind
is the one `select_and_train` picks for the last evaluation season, each season is refit with
`train_kind`. Prints and writes (JSON + markdown) Brier, log loss and accuracy per season and on
average, and each group's gain: added alone to the original set, and dropped from the full set.

    NBA_HOME=/tmp/nba PYTHONPATH=. .venv/bin/python -m nba_platform.cli build   # once, if no lake yet
    PYTHONPATH=. .venv/bin/python bench/game_skill_ablation.py --lake /tmp/nba/lake --out bench/results/game_skill
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.features import feature_groups, game_features, game_outcomes, team_game_features
from nba_platform.lib.game_ablation import BASE_GROUP, ablation
from nba_platform.lib.metrics import markdown_comparison
from nba_platform.lib.models import GameModelParams, select_and_train
from nba_platform.lib.team_ratings import pregame_margin_ratings

EVAL_SEASONS = ("2021-22", "2022-23", "2023-24")


def read_table(lake: Path, table: str) -> pd.DataFrame:
    """Every Parquet file of a lake table (flat `<season>.parquet` or Hive `season=<s>/...`)."""
    files = sorted((lake / "tables" / table).rglob("*.parquet"))
    if not files:
        raise SystemExit(f"no Parquet files under {lake / 'tables' / table}: build the platform first")
    frames = []
    for path in files:
        frame = pd.read_parquet(path)
        if "season" not in frame.columns:
            hive = [p.split("=", 1)[1] for p in path.parts if p.startswith("season=")]
            frame["season"] = hive[0] if hive else path.stem
        if len(frame):
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, type=Path, help="lake root holding tables/team_games")
    parser.add_argument("--out", type=Path, default=Path("bench/results/game_skill"))
    parser.add_argument("--seasons", default=",".join(EVAL_SEASONS), help="comma-separated evaluation seasons")
    args = parser.parse_args()
    eval_seasons = tuple(s.strip() for s in args.seasons.split(","))

    started = time.time()
    team_games = read_table(args.lake, "team_games")
    elo = pregame_elo(team_games)
    ratings = pregame_margin_ratings(team_games)
    features = game_features(team_game_features(team_games, elo=elo, ratings=ratings), elo, ratings)
    outcomes = game_outcomes(team_games)
    print(f"features: {len(features)} games, {features['season'].nunique()} seasons ({time.time() - started:.1f} s)")

    seasons = sorted(features["season"].astype(str).unique())
    kinds = {}
    for name in ("before", "after"):
        groups = (BASE_GROUP,) if name == "before" else tuple(feature_groups())
        train = [s for s in seasons if s < eval_seasons[-1]]
        kinds[name] = select_and_train(features, outcomes, train, GameModelParams(feature_groups=groups)).kind
    print(f"kinds selected as the platform does: {kinds} ({time.time() - started:.1f} s)")
    # The ablation refits the full model's kind; "before" with its own kind if that differs.
    table = ablation(features, outcomes, eval_seasons, kinds["after"])
    if kinds["before"] != kinds["after"]:
        own = ablation(features, outcomes, eval_seasons, kinds["before"], added_alone=False)
        table = pd.concat(
            [table[table["variant"] != "before (original features)"], own[own["variant"].str.startswith("before")]]
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablation.json").write_text(
        json.dumps({"eval_seasons": eval_seasons, "kinds": kinds, "rows": table.to_dict(orient="records")}, indent=1)
    )
    wide = table.pivot_table(index="variant", columns="season", values="brier", sort=False).reset_index()
    wide.columns = ["variant", *[f"brier {c}" for c in wide.columns[1:]]]
    means = table[table["season"] == "mean"].set_index("variant")
    wide["log_loss mean"] = means.loc[wide["variant"], "log_loss"].to_numpy()
    wide["accuracy mean"] = means.loc[wide["variant"], "accuracy"].to_numpy()
    wide["brier gain vs before"] = means.loc[wide["variant"], "brier_gain_vs_before"].to_numpy()
    markdown = markdown_comparison(wide, decimals=5)
    (args.out / "ablation.md").write_text(markdown + "\n\n" + markdown_comparison(table, decimals=5) + "\n")
    print(markdown)
    print(f"done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
