"""The home-win model: chosen by validation skill, calibrated, tracked and registered in MLflow,
and evaluated on the latest season against Elo, the home base rate and a coin flip."""

import base64
import dataclasses
import json

import dagster as dg

# scikit-learn is imported inside the assets (lib.models), not at definitions load time.
from nba_platform.lib import metrics as M
from nba_platform.resources.frames import DataFrame
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.model_registry import register_trained_version

OWNERS = ["team:ml"]


class GameModelConfig(dg.Config):
    """Hyperparameters and the evaluation season (default: the latest season with played games)."""

    eval_season: str | None = None
    first_train_season: str | None = None
    candidates: list[str] = ["logistic", "hist_gradient_boosting"]
    logistic_c: float = 0.1
    hgb_max_iter: int = 200
    hgb_learning_rate: float = 0.05
    hgb_max_depth: int = 3
    hgb_min_samples_leaf: int = 40
    calibration: str = "sigmoid"
    min_train_seasons: int = 2

    def params(self, candidates: list[str] | None = None):
        from nba_platform.lib.models import GameModelParams

        return GameModelParams(
            candidates=tuple(candidates or self.candidates),
            logistic_c=self.logistic_c,
            hgb_max_iter=self.hgb_max_iter,
            hgb_learning_rate=self.hgb_learning_rate,
            hgb_max_depth=self.hgb_max_depth,
            hgb_min_samples_leaf=self.hgb_min_samples_leaf,
            calibration=self.calibration,
            min_train_seasons=self.min_train_seasons,
        )


class GameEvaluationConfig(dg.Config):
    """`ablation`: also refit the model's kind on the same training seasons without each added
    feature group (and with the original features only) and score those on the evaluation season
    (issue 17; about five extra fits). bench/game_skill_ablation.py does it over three seasons."""

    ablation: bool = True


def played_seasons(outcomes: DataFrame, features: DataFrame) -> list[str]:
    played = features.merge(outcomes[outcomes["home_win"].notna()][["game_id"]], on="game_id")
    return sorted(played["season"].unique())


def calibration_markdown(calib: DataFrame) -> str:
    lines = ["| predicted | games | mean predicted | observed home-win rate |", "|---|---|---|---|"]
    lines += [
        f"| {r.bin_lower:.1f}-{r.bin_upper:.1f} | {r.n} | {r.mean_predicted:.3f} | {r.observed_rate:.3f} |"
        for r in calib.itertuples()
    ]
    return "\n".join(lines)


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


@dg.asset(
    key=["models", "game_outcome_model"],
    ins={
        "features": dg.AssetIn(key=["features", "game_features"]),
        "outcomes": dg.AssetIn(key=["features", "game_outcomes"]),
    },
    group_name="models",
    kinds={"scikitlearn", "mlflow"},
    owners=OWNERS,
    description="Home-win probability model trained on every season before the evaluation season: the candidate "
    "(regularised logistic or gradient boosting) with the best Brier on the last training season wins, is refit on all "
    "training seasons and calibrated, then logged and registered in MLflow. Materializes a one-row model card.",
)
def game_outcome_model(
    context: dg.AssetExecutionContext,
    config: GameModelConfig,
    mlflow: MlflowTracking,
    features: DataFrame,
    outcomes: DataFrame,
) -> dg.Output:
    import pandas as pd

    from nba_platform.lib.models import select_and_train, training_frame

    seasons = played_seasons(outcomes, features)
    eval_season = config.eval_season or seasons[-1]
    train = [
        s for s in seasons if s < eval_season and (config.first_train_season is None or s >= config.first_train_season)
    ]
    trained = select_and_train(features, outcomes, train, config.params())
    context.log.info(f"selected {trained.kind} on {train[0]}..{train[-1]} ({trained.n_train_rows} games)")
    chosen = trained.validation.set_index("candidate").loc[trained.kind]
    X, _, _ = training_frame(
        features, outcomes, train[-1:], trained.params.get("season_types", ("regular", "playoffs", "play_in"))
    )
    logged = mlflow.log_sklearn_model(
        trained.estimator,
        X[trained.feature_columns].head(200),
        params={
            **trained.params,
            "kind": trained.kind,
            "train_seasons": f"{train[0]}..{train[-1]}",
            "eval_season": eval_season,
        },
        metrics={
            "validation_brier": chosen["brier"],
            "validation_log_loss": chosen["log_loss"],
            "validation_accuracy": chosen["accuracy"],
            "n_train_rows": trained.n_train_rows,
        },
        # The drift asset, shadow scoring and the retraining sensor read these tags off the champion.
        tags={
            "purpose": "evaluation",
            "eval_season": eval_season,
            "kind": trained.kind,
            "train_first_season": train[0],
            "train_last_season": train[-1],
            "validation_brier": f"{chosen['brier']:.6f}",
        },
        artifacts={
            "feature_columns.json": json.dumps(trained.feature_columns, indent=1),
            "validation.md": M.markdown_comparison(
                trained.validation.rename(columns={"candidate": "method"}).set_index("method")
            ),
        },
        run_name=f"game_outcome_model eval {eval_season}",
    )
    alias = register_trained_version(mlflow, logged.version)
    context.log.info(f"{logged.label} registered as {alias}")
    card = pd.DataFrame(
        [
            {
                "model_name": logged.name,
                "model_version": logged.version,
                "model_uri": logged.model_uri,
                "run_id": logged.run_id,
                "kind": trained.kind,
                "eval_season": eval_season,
                "train_first_season": train[0],
                "train_last_season": train[-1],
                "n_train_rows": trained.n_train_rows,
                "feature_columns": json.dumps(trained.feature_columns),
                "params": json.dumps(trained.params, default=str),
            }
        ]
    )
    return dg.Output(
        card,
        metadata={
            "model": logged.label,
            "alias": alias,
            "kind": trained.kind,
            "mlflow_run_id": logged.run_id,
            "train_seasons": f"{train[0]} .. {train[-1]}",
            "eval_season": eval_season,
            "n_train_rows": trained.n_train_rows,
            "validation (last training season)": dg.MetadataValue.md(
                M.markdown_comparison(trained.validation.rename(columns={"candidate": "method"}).set_index("method"))
            ),
        },
    )


@dg.asset(
    key=["models", "game_model_evaluation"],
    ins={
        "card": dg.AssetIn(key=["models", "game_outcome_model"]),
        "features": dg.AssetIn(key=["features", "game_features"]),
        "outcomes": dg.AssetIn(key=["features", "game_outcomes"]),
    },
    group_name="models",
    kinds={"scikitlearn", "mlflow"},
    owners=OWNERS,
    description="Brier, log loss, accuracy and calibration of the registered model on the evaluation season, side by "
    "side with the pure Elo probability, the home-team base rate and a coin flip on the same games.",
)
def game_model_evaluation(
    context: dg.AssetExecutionContext,
    config: GameEvaluationConfig,
    mlflow: MlflowTracking,
    card: DataFrame,
    features: DataFrame,
    outcomes: DataFrame,
) -> dg.Output:
    from nba_platform.lib.models import training_frame

    row = card.iloc[0]
    model = mlflow.load_sklearn_model(row["model_uri"])
    columns = json.loads(row["feature_columns"])
    eval_season = row["eval_season"]
    params = json.loads(row["params"])
    types = tuple(params.get("season_types", ("regular", "playoffs", "play_in")))
    X, y, keys = training_frame(features, outcomes, [eval_season], types)
    train_seasons = [
        s for s in played_seasons(outcomes, features) if row["train_first_season"] <= s <= row["train_last_season"]
    ]
    _, y_train, _ = training_frame(features, outcomes, train_seasons, types)
    probs = {
        "model": model.predict_proba(X[columns])[:, 1],
        "elo": X["elo_p_home_win"].to_numpy(dtype=float),
        "home_base_rate": [float(y_train.mean())] * len(y),
        "coin_flip": [0.5] * len(y),
    }
    comparison = M.compare_methods(y, probs)
    png = M.calibration_plot_png(y, {"model": probs["model"], "elo": probs["elo"]}, title=f"Calibration, {eval_season}")
    calib = M.calibration_table(y, probs["model"])
    # SHAP on the evaluation season: what drives the served log-odds, game by game and overall.
    from nba_platform.lib.explain import explain, global_importance, summary_plot_png

    shap_values = explain(model, X[columns].reset_index(drop=True), feature_columns=columns).values
    shap_png = summary_plot_png(shap_values, X[columns].reset_index(drop=True), title=f"SHAP summary, {eval_season}")
    importance = global_importance(shap_values).head(10)
    by_method = comparison.set_index("method") if "method" in comparison.columns else comparison
    mlflow.log_metrics(
        row["run_id"],
        {f"eval_{m}_{k}": by_method.loc[m, k] for m in by_method.index for k in ("brier", "log_loss", "accuracy")},
    )
    model_brier, elo_brier = float(by_method.loc["model", "brier"]), float(by_method.loc["elo", "brier"])
    ablation_metadata = {}
    if config.ablation:
        from nba_platform.lib.game_ablation import ablation
        from nba_platform.lib.models import GameModelParams

        known = {f.name for f in dataclasses.fields(GameModelParams)}
        model_params = GameModelParams(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in params.items() if k in known}
        )
        table = ablation(
            features, outcomes, [eval_season], row["kind"], model_params, added_alone=False,
            first_train_season=row["train_first_season"],
        )  # fmt: skip
        table = table[table["season"] == eval_season]
        gains = table.set_index("variant")["brier_gain_vs_before"]
        ablation_metadata = {
            "feature_ablation": dg.MetadataValue.md(M.markdown_comparison(table, decimals=5)),
            "brier_gain_vs_original_features": float(gains["after (all groups)"]),
        }
    context.log.info(f"{eval_season}: model Brier {model_brier:.4f} vs Elo {elo_brier:.4f} on {len(y)} games")
    return dg.Output(
        comparison.reset_index() if "method" not in comparison.columns else comparison,
        metadata={
            "eval_season": eval_season,
            "games": len(y),
            "model": f"{row['model_name']}/v{row['model_version']}",
            "model_brier": model_brier,
            "elo_brier": elo_brier,
            "beats_elo": model_brier < elo_brier,
            "comparison": dg.MetadataValue.md(M.markdown_comparison(by_method.reset_index())),
            "calibration_table": dg.MetadataValue.md(calibration_markdown(calib)),
            "calibration_plot": dg.MetadataValue.md(png_markdown(png, "calibration")),
            "shap_summary_plot": dg.MetadataValue.md(png_markdown(shap_png, "SHAP summary")),
            "shap_top_features": dg.MetadataValue.md(M.markdown_comparison(importance)),
            **ablation_metadata,
        },
    )
