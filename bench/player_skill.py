"""Player points skill (issue 17): walk-forward MAE of the morning and starters variants against the
season-to-date average, plus two oracle bounds that use information NOT known before tip-off, to
show how far honest pre-game information can go:
  * season_median_oracle: the player's median points over his whole season (future games included);
  * minutes_oracle: the model refitted with the game's actual minutes played as an extra input.

    PYTHONPATH=. .venv/bin/python bench/player_skill.py --lake /tmp/nba/lake --out bench/results/player_skill
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from nba_platform.lib import player_model as P
from nba_platform.lib.features import player_game_features
from nba_platform.lib.metrics import markdown_comparison

sys.path.insert(0, str(Path(__file__).resolve().parent))
from game_skill_ablation import read_table


def oracle_rows(features: pd.DataFrame, player_games: pd.DataFrame, evaluation: pd.DataFrame) -> list[dict]:
    """MAE ratios of the two oracles on each evaluated season's evaluation rows."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    params = P.PlayerModelParams()
    minutes = player_games[["game_id", "player_id", "minutes"]].assign(
        game_id=lambda f: f["game_id"].astype(str), player_id=lambda f: f["player_id"].astype("int64")
    )
    rows = []
    for season in evaluation["eval_season"].unique():
        train_seasons = [s for s in P.seasons_with_played_rows(features, player_games) if s < season]
        X, y, keys = P.training_frame(features, player_games, [season], params.season_types)
        keep = P.evaluation_rows(X)
        reference = float(np.mean(np.abs(X.loc[keep, "season_pts_avg"].to_numpy() - y[keep])))
        median = pd.Series(y).groupby(keys["player_id"].to_numpy()).transform("median").to_numpy()
        rows.append({"eval_season": season, "method": "season_median_oracle",
                     "mae_ratio_vs_season_avg": float(np.mean(np.abs(median[keep] - y[keep]))) / reference})  # fmt: skip

        def with_minutes(seasons):
            X_, y_, keys_ = P.training_frame(features, player_games, seasons, params.season_types)
            joined = keys_[["game_id", "player_id"]].astype({"game_id": str}).merge(minutes, how="left")
            return X_.assign(minutes_played=joined["minutes"].to_numpy(dtype="float64")), y_

        X_train, y_train = with_minutes(train_seasons)
        X_eval, y_eval = with_minutes([season])
        with threadpool_limits(1):
            model = HistGradientBoostingRegressor(loss="absolute_error", max_depth=3, min_samples_leaf=100,
                                                  learning_rate=0.05, max_iter=200, early_stopping=False,
                                                  random_state=0).fit(X_train, y_train)  # fmt: skip
            pred = model.predict(X_eval)
        rows.append({"eval_season": season, "method": "minutes_oracle",
                     "mae_ratio_vs_season_avg": float(np.mean(np.abs(pred[keep] - y_eval[keep]))) / reference})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, type=Path, help="lake root holding tables/player_games")
    parser.add_argument("--out", type=Path, default=Path("bench/results/player_skill"))
    args = parser.parse_args()

    player_games = read_table(args.lake, "player_games")
    features = player_game_features(player_games)
    tables = []
    for variant in P.VARIANTS:
        evaluation, _ = P.walk_forward(features, player_games, P.PlayerModelParams(variant=variant))
        model = evaluation[evaluation["method"] == "model"]
        tables.append(
            pd.DataFrame(
                {
                    "eval_season": model["eval_season"],
                    "method": f"model ({variant})",
                    "mae_ratio_vs_season_avg": 1.0 - model["mae_improvement_vs_season_avg"],
                }
            )
        )
    tables.append(pd.DataFrame(oracle_rows(features, player_games, evaluation)))
    summary = pd.concat(tables, ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "player_skill.json").write_text(json.dumps(summary.to_dict(orient="records"), indent=1))
    markdown = markdown_comparison(summary, decimals=4)
    (args.out / "player_skill.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
