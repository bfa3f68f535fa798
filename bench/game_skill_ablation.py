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
from nba_platform.lib.metrics import compare_methods, markdown_comparison
from nba_platform.lib.models import GameModelParams, select_and_train, train_kind, training_frame
from nba_platform.lib.team_ratings import pregame_margin_ratings

EVAL_SEASONS = ("2021-22", "2022-23", "2023-24")
BASE_GROUP = "form_elo_schedule"


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


def variants() -> dict[str, tuple[str, ...]]:
    groups = list(feature_groups())
    added = [g for g in groups if g != BASE_GROUP]
    out = {"before (original features)": (BASE_GROUP,)}
    out.update({f"+ {g}": (BASE_GROUP, g) for g in added})
    out["after (all groups)"] = tuple(groups)
    out.update({f"all - {g}": tuple(x for x in groups if x != g) for g in added})
    return out


def walk_forward(features, outcomes, groups, eval_seasons, kind=None) -> tuple[str, pd.DataFrame]:
    """Per-season and mean skill of a variant; `kind` None = chosen by `select_and_train` as the
    platform does (both candidates fitted), else that kind."""
    params = GameModelParams(feature_groups=groups)
    seasons = sorted(features["season"].astype(str).unique())
    last = eval_seasons[-1]
    if kind is None:
        kind = select_and_train(features, outcomes, [s for s in seasons if s < last], params).kind
    rows = []
    for season in eval_seasons:
        train = [s for s in seasons if s < season]
        model = train_kind(features, outcomes, train, kind, params)
        X, y, _ = training_frame(features, outcomes, [season], params.season_types)
        table = compare_methods(y, {"model": model.predict_proba_home(X)})
        table = table.set_index("method") if "method" in table.columns else table
        rows.append({"season": season, "games": len(y), **table.loc["model", ["brier", "log_loss", "accuracy"]]})
    per_season = pd.DataFrame(rows)
    mean = {"season": "mean", "games": int(per_season["games"].sum())}
    mean.update(per_season[["brier", "log_loss", "accuracy"]].mean().to_dict())
    return kind, pd.concat([per_season, pd.DataFrame([mean])], ignore_index=True)


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

    results, summary = {}, []
    after_kind = None
    for name, groups in sorted(variants().items(), key=lambda item: not item[0].startswith(("before", "after"))):
        t0 = time.time()
        # before/after pick their kind as the platform does; the ablations reuse the full model's kind.
        selects = name.startswith(("before", "after"))
        kind, table = walk_forward(features, outcomes, groups, eval_seasons, None if selects else after_kind)
        if name.startswith("after"):
            after_kind = kind
        results[name] = {"groups": list(groups), "kind": kind, "seasons": table.to_dict(orient="records")}
        mean = table.iloc[-1]
        summary.append(
            {"variant": name, "kind": kind, **{f"brier {s}": b for s, b in zip(table["season"], table["brier"])}}
        )
        summary[-1].update({"log_loss mean": mean["log_loss"], "accuracy mean": mean["accuracy"]})
        print(f"{name:32s} {kind:24s} Brier mean {mean['brier']:.5f}  ({time.time() - t0:.1f} s)")

    summary = pd.DataFrame(summary)
    before = summary.loc[summary["variant"].str.startswith("before"), "brier mean"].iloc[0]
    after = summary.loc[summary["variant"].str.startswith("after"), "brier mean"].iloc[0]
    summary["brier gain vs before"] = before - summary["brier mean"]
    summary["brier gain vs after"] = after - summary["brier mean"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablation.json").write_text(json.dumps({"eval_seasons": eval_seasons, "variants": results}, indent=1))
    markdown = markdown_comparison(summary, decimals=5)
    (args.out / "ablation.md").write_text(markdown + "\n")
    print(markdown)
    print(f"Brier mean before {before:.5f} -> after {after:.5f}: gain {before - after:+.5f}")


if __name__ == "__main__":
    main()
