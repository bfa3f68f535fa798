"""The player points model: walk-forward evaluation against season-to-date and last-N averages,
tracked and registered in MLflow. Logic lives in `lib.player_model`."""

import json

import dagster as dg
import pandas as pd

# scikit-learn is imported inside lib.player_model's functions, not at definitions load time.
from nba_platform.lib import player_model
from nba_platform.lib.metrics import markdown_comparison
from nba_platform.lib.model_artifacts import FINGERPRINT_TAG, MODEL_FORMAT, frame_fingerprint
from nba_platform.resources.lake import concat_partitions
from nba_platform.resources.mlflow import MlflowTracking

OWNERS = ["team:ml"]


class PlayerPointsModelConfig(dg.Config):
    learning_rate: float = player_model.PlayerModelParams.learning_rate
    max_iter: int = player_model.PlayerModelParams.max_iter
    max_depth: int = player_model.PlayerModelParams.max_depth
    min_samples_leaf: int = player_model.PlayerModelParams.min_samples_leaf
    loss: str = player_model.PlayerModelParams.loss

    def params(self) -> player_model.PlayerModelParams:
        return player_model.PlayerModelParams(
            loss=self.loss,
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
        )


def comparison_markdown(table: pd.DataFrame) -> str:
    view = table[["method", "mae", "rmse", "n"]].copy()
    view["MAE improvement vs season avg"] = [f"{100 * v:+.1f}%" for v in table["mae_improvement_vs_season_avg"]]
    return markdown_comparison(view, decimals=3)


@dg.asset(
    key=["models", "player_points_model"],
    ins={
        "features": dg.AssetIn(key=["features", "player_game_features"]),
        "player_games": dg.AssetIn(key=["tables", "player_games"]),
    },
    group_name="models",
    kinds={"scikitlearn", "mlflow"},
    owners=OWNERS,
    description="Points a player scores in a game he plays (gradient boosting, absolute-error loss, on his point-in-time "
    "rolling, season-to-date and rest features). Walk-forward: each season is predicted by a model fitted on earlier "
    "seasons only and scored (MAE, RMSE) against the season-to-date average and last-5/10-game averages on the same "
    "player-games; the latest season's model is logged and registered in MLflow as nba_player_points. "
    "Materializes one row per evaluated season and method.",
)
def player_points_model(
    context: dg.AssetExecutionContext,
    config: PlayerPointsModelConfig,
    mlflow: MlflowTracking,
    features: pd.DataFrame,
    player_games: dict,
) -> dg.Output:
    labels = concat_partitions(player_games)
    params = config.params()
    evaluation, models = player_model.walk_forward(features, labels, params)
    if not models:
        seasons = player_model.seasons_with_played_rows(features, labels, params.season_types)
        status = f"not trained: needs 2 seasons of box scores, found {len(seasons)} ({', '.join(seasons) or 'none'})"
        context.log.warning(status)
        return dg.Output(evaluation.assign(model_version=pd.Series(dtype="string")), metadata={"status": status})

    eval_season = max(models)
    model = models[eval_season]
    latest = evaluation[evaluation["eval_season"] == eval_season].set_index("method")
    X_train, y_train, keys_train = player_model.training_frame(
        features, labels, model.train_seasons, params.season_types
    )
    # Rows of the features table as stored: the signature a consumer scores those rows against.
    table_rows = features[features["season"].astype(str) == str(model.train_seasons[-1])][model.feature_columns]
    example = table_rows.dropna().head(200) if len(table_rows.dropna()) else table_rows.head(200)
    train_seasons = f"{model.train_seasons[0]}..{model.train_seasons[-1]}"
    metrics = {f"eval_{m}_{k}": latest.loc[m, k] for m in latest.index for k in ("mae", "rmse")}
    improvement = float(latest.loc["model", "mae_improvement_vs_season_avg"])
    # Registered again only when what the model learns from changed (rows, labels, parameters).
    fingerprint = frame_fingerprint(keys_train, X_train, y_train, model.params, {"format": MODEL_FORMAT})
    logged = mlflow.find_version(player_model.PLAYER_POINTS_MODEL_NAME, {FINGERPRINT_TAG: fingerprint})
    if logged is None:
        logged = mlflow.log_sklearn_model(
            model.estimator,
            example,
            params={
                **model.params,
                "kind": player_model.MODEL_KIND,
                "train_seasons": train_seasons,
                "eval_season": eval_season,
            },
            metrics={
                **metrics,
                "mae_improvement_vs_season_avg": improvement,
                "n_eval_rows": latest.loc["model", "n"],
                "n_train_rows": model.n_train_rows,
            },
            tags={
                "purpose": "evaluation",
                "eval_season": eval_season,
                "kind": player_model.MODEL_KIND,
                "target": "pts",
                FINGERPRINT_TAG: fingerprint,
            },
            registered_name=player_model.PLAYER_POINTS_MODEL_NAME,
            artifacts={
                "feature_columns.json": json.dumps(model.feature_columns, indent=1),
                "walk_forward.md": markdown_comparison(evaluation, decimals=4),
            },
            run_name=f"player_points_model eval {eval_season}",
            output_column="points",
        )
    else:
        context.log.info(f"training inputs unchanged: {logged.label} is this model, not registered again")
    context.log.info(
        f"{eval_season}: model MAE {latest.loc['model', 'mae']:.3f} vs season average "
        f"{latest.loc['season_avg', 'mae']:.3f} ({100 * improvement:+.1f}%) on {latest.loc['model', 'n']} player-games"
    )
    evaluation["model_version"] = [logged.label if s == eval_season else None for s in evaluation["eval_season"]]
    return dg.Output(
        evaluation,
        metadata={
            "model": logged.label,
            "model_version": logged.version,
            "mlflow_run_id": logged.run_id,
            "eval_season": eval_season,
            "train_seasons": train_seasons,
            "n_train_rows": model.n_train_rows,
            "n_eval_rows": int(latest.loc["model", "n"]),
            "model_mae": float(latest.loc["model", "mae"]),
            "season_avg_mae": float(latest.loc["season_avg", "mae"]),
            "mae_improvement_vs_season_avg_pct": round(100 * improvement, 2),
            "comparison": dg.MetadataValue.md(comparison_markdown(latest.reset_index())),
            "walk_forward": dg.MetadataValue.md(
                markdown_comparison(evaluation.drop(columns="model_version"), decimals=4)
            ),
        },
    )
