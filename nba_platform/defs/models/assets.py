"""The home-win model: chosen by validation skill, calibrated, tracked and registered in MLflow,
and evaluated on the latest season against Elo, the home base rate and a coin flip. The registered
(deployed) model is then refit on every season, the evaluation season included once complete."""

import base64
import dataclasses
import json

import dagster as dg
import pandas as pd

# scikit-learn is imported inside the assets (lib.models), not at definitions load time.
from nba_platform.lib import metrics
from nba_platform.lib.champion import completed_seasons_of_games, deploy_train_seasons
from nba_platform.lib.model_params import GameModelParams
from nba_platform.resources.mlflow import BACKFILL_MODEL_NAME, GAME_MODEL_NAME, MlflowTracking
from nba_platform.resources.model_registry import CHAMPION, champion_marks, publish_champion, register_trained_version
from nba_platform.resources.serving_db import ServingDatabase

OWNERS = ["team:ml"]


class GameModelConfig(dg.Config):
    """Hyperparameters (defaults: `GameModelParams`) and the evaluation season (default: the latest
    season with played games)."""

    eval_season: str | None = None
    first_train_season: str | None = None
    candidates: list[str] = list(GameModelParams.candidates)
    logistic_c: float = GameModelParams.logistic_c
    hgb_max_iter: int = GameModelParams.hgb_max_iter
    hgb_learning_rate: float = GameModelParams.hgb_learning_rate
    hgb_max_depth: int = GameModelParams.hgb_max_depth
    hgb_min_samples_leaf: int = GameModelParams.hgb_min_samples_leaf
    calibration: str = GameModelParams.calibration
    min_train_seasons: int = GameModelParams.min_train_seasons

    def params(self, candidates: list[str] | None = None) -> GameModelParams:
        tuned = self.model_dump(exclude={"eval_season", "first_train_season", "candidates"})
        return GameModelParams(candidates=tuple(candidates or self.candidates), **tuned)


def played_seasons(outcomes: pd.DataFrame, features: pd.DataFrame) -> list[str]:
    played = features.merge(outcomes[outcomes["home_win"].notna()][["game_id"]], on="game_id")
    return sorted(played["season"].unique())


def example_rows(features: pd.DataFrame, columns: list[str], season: str) -> pd.DataFrame:
    """Rows of the features table as stored (its dtypes: the signature a consumer scores against)."""
    rows = features[features["season"] == season]
    return (rows if len(rows) else features)[columns].head(200).reset_index(drop=True)


def calibration_markdown(calib: pd.DataFrame) -> str:
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
    description="Home-win probability model. Evaluation holds the latest played season out: the candidate "
    "(regularised logistic or gradient boosting) with the best Brier on the last training season wins and is refit "
    "on every season before the evaluation season. The model that is registered (champion or challenger) is then "
    "refit with that kind on every season, the evaluation season included once it is complete (lib/champion.py), "
    "so the deployed model never misses the last completed season. Materializes a one-row model card.",
)
def game_outcome_model(
    context: dg.AssetExecutionContext,
    config: GameModelConfig,
    mlflow: MlflowTracking,
    serving_db: ServingDatabase,
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
) -> dg.Output:
    from nba_platform.lib.model_artifacts import FINGERPRINT_TAG
    from nba_platform.lib.models import (  # imports scikit-learn: only in a run
        FEATURE_COLUMNS,
        holdout_probabilities,
        select_and_train,
        train_kind,
        training_fingerprint,
    )

    seasons = played_seasons(outcomes, features)
    eval_season = config.eval_season or seasons[-1]
    train = [
        s for s in seasons if s < eval_season and (config.first_train_season is None or s >= config.first_train_season)
    ]
    completed = completed_seasons_of_games(features, outcomes)
    deploy = deploy_train_seasons(train, eval_season, completed)
    params = config.params()
    fingerprint = training_fingerprint(features, outcomes, deploy, params, eval_season=eval_season)
    reused = mlflow.find_version(GAME_MODEL_NAME, {FINGERPRINT_TAG: fingerprint})
    if reused is not None:
        # Same training rows, labels and parameters as a registered version: the same model. Re-registering
        # it would only add a version (and, as challenger, re-run a promotion already decided).
        alias = ", ".join(reused.aliases) if reused.aliases else register_trained_version(mlflow, reused.version)
        context.log.info(f"training inputs unchanged: reusing {reused.label} ({alias})")
        card = pd.DataFrame(
            [
                {
                    "model_name": reused.name,
                    "model_version": reused.version,
                    "model_uri": reused.model_uri,
                    "eval_model_uri": reused.tags.get("eval_model_uri", reused.model_uri),
                    "run_id": reused.run_id,
                    "kind": reused.tags["kind"],
                    "eval_season": reused.tags["eval_season"],
                    "train_first_season": reused.tags["train_first_season"],
                    "train_last_season": reused.tags["train_last_season"],
                    "n_train_rows": int(reused.tags["n_train_rows"]),
                    "feature_columns": json.dumps(list(FEATURE_COLUMNS)),
                    "params": json.dumps(dataclasses.asdict(params), default=str),
                }
            ]
        )
        return dg.Output(
            card,
            metadata={
                "model": reused.label,
                "alias": alias,
                "reused": True,
                "input_fingerprint": fingerprint,
                "kind": reused.tags["kind"],
                "mlflow_run_id": reused.run_id,
                "train_seasons": f"{reused.tags['train_first_season']} .. {reused.tags['train_last_season']}",
                "eval_season": eval_season,
                "n_train_rows": int(reused.tags["n_train_rows"]),
                "completed_seasons_through": completed[-1] if completed else "none",
                **champion_marks(mlflow),
            },
        )
    trained = select_and_train(features, outcomes, train, params)
    context.log.info(f"selected {trained.kind} on {train[0]}..{train[-1]} ({trained.n_train_rows} games)")
    chosen = trained.validation.set_index("candidate").loc[trained.kind]
    # The evaluation model on the held-out season: what the season-boundary promotion rule reads.
    y_hold, p_hold, _ = holdout_probabilities(trained, features, outcomes, [eval_season])
    holdout = (
        {
            "holdout_brier": metrics.brier_score(y_hold, p_hold["model"]),
            "holdout_elo_brier": metrics.brier_score(y_hold, p_hold["elo"]),
        }
        if len(y_hold)
        else {}
    )
    eval_model_uri = None
    if deploy != train:
        # The evaluation model is kept (it alone may be scored on the evaluation season) as what it is:
        # the walk-forward model of the evaluation season (same kind, every earlier season), with the
        # fingerprint and tags serving/game_predictions looks up, so that season's backfill reuses it.
        wf_params = config.params(candidates=[trained.kind])
        wf_fingerprint = training_fingerprint(
            features, outcomes, train, wf_params, kind=trained.kind, predicts_season=eval_season
        )
        twin = mlflow.find_version(BACKFILL_MODEL_NAME, {FINGERPRINT_TAG: wf_fingerprint})
        if twin is None:
            by = metrics.compare_methods(y_hold, {"model": p_hold["model"], "elo": p_hold["elo"]})
            by = by.set_index("method") if "method" in by.columns else by
            twin = mlflow.log_sklearn_model(
                trained.estimator,
                example_rows(features, trained.feature_columns, train[-1]),
                params={
                    **dataclasses.asdict(wf_params),
                    "kind": trained.kind,
                    "train_seasons": f"{train[0]}..{train[-1]}",
                },
                metrics={
                    "n_train_rows": trained.n_train_rows,
                    "n_eval_games": len(y_hold),
                    **{
                        f"eval_{m}_{k}": float(by.loc[m, k])
                        for m in ("model", "elo")
                        for k in ("brier", "log_loss", "accuracy")
                    },
                },
                tags={
                    "purpose": "walk_forward",
                    "predicts_season": eval_season,
                    "kind": trained.kind,
                    "train_first_season": train[0],
                    "train_last_season": train[-1],
                    "n_train_rows": trained.n_train_rows,
                    FINGERPRINT_TAG: wf_fingerprint,
                },
                registered_name=BACKFILL_MODEL_NAME,
                artifacts={"feature_columns.json": json.dumps(list(FEATURE_COLUMNS))},
                run_name=f"walk-forward {eval_season}",
            )
        eval_model_uri = twin.model_uri
        deployed = train_kind(features, outcomes, deploy, trained.kind, params)
        estimator, n_train_rows = deployed.estimator, deployed.n_train_rows
        context.log.info(f"deployed model: {trained.kind} refit on {deploy[0]}..{deploy[-1]} ({n_train_rows} games)")
    else:
        estimator, n_train_rows = trained.estimator, trained.n_train_rows
    logged = mlflow.log_sklearn_model(
        estimator,
        example_rows(features, trained.feature_columns, deploy[-1]),
        params={
            **trained.params,
            "kind": trained.kind,
            "train_seasons": f"{deploy[0]}..{deploy[-1]}",
            "eval_season": eval_season,
        },
        metrics={
            "validation_brier": chosen["brier"],
            "validation_log_loss": chosen["log_loss"],
            "validation_accuracy": chosen["accuracy"],
            "n_train_rows": n_train_rows,
            **holdout,
        },
        # The drift asset, shadow scoring, promotion and the retraining sensor read these tags off the champion.
        tags={
            "purpose": "deployed",
            "eval_season": eval_season,
            "kind": trained.kind,
            "train_first_season": deploy[0],
            "train_last_season": deploy[-1],
            "validation_brier": f"{chosen['brier']:.6f}",
            "n_train_rows": n_train_rows,
            "completed_seasons_through": completed[-1] if completed else "none",
            **{k: f"{v:.6f}" for k, v in holdout.items()},
            **({"eval_model_uri": eval_model_uri} if eval_model_uri else {}),
            FINGERPRINT_TAG: fingerprint,
        },
        artifacts={
            "feature_columns.json": json.dumps(trained.feature_columns, indent=1),
            "validation.md": metrics.markdown_comparison(
                trained.validation.rename(columns={"candidate": "method"}).set_index("method")
            ),
        },
        run_name=f"game_outcome_model eval {eval_season}",
    )
    alias = register_trained_version(mlflow, logged.version)
    if alias == CHAMPION:  # the forecast API serves the champion's card
        publish_champion(mlflow, serving_db)
    context.log.info(f"{logged.label} registered as {alias}")
    card = pd.DataFrame(
        [
            {
                "model_name": logged.name,
                "model_version": logged.version,
                "model_uri": logged.model_uri,
                "eval_model_uri": eval_model_uri or logged.model_uri,
                "run_id": logged.run_id,
                "kind": trained.kind,
                "eval_season": eval_season,
                "train_first_season": deploy[0],
                "train_last_season": deploy[-1],
                "n_train_rows": n_train_rows,
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
            "validation_brier": float(chosen["brier"]),  # the platform exporter's alert baseline
            "kind": trained.kind,
            "mlflow_run_id": logged.run_id,
            "train_seasons": f"{deploy[0]} .. {deploy[-1]}",
            "evaluation_model_train_seasons": f"{train[0]} .. {train[-1]}",
            "eval_season": eval_season,
            "n_train_rows": n_train_rows,
            "completed_seasons_through": completed[-1] if completed else "none",
            **champion_marks(mlflow),
            **holdout,
            "validation (last training season)": dg.MetadataValue.md(
                metrics.markdown_comparison(
                    trained.validation.rename(columns={"candidate": "method"}).set_index("method")
                )
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
    mlflow: MlflowTracking,
    card: pd.DataFrame,
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
) -> dg.Output:
    from nba_platform.lib.explain import (  # imports scikit-learn and shap: only in a run
        explain,
        global_importance,
        summary_plot_png,
    )
    from nba_platform.lib.models import training_frame  # imports scikit-learn: only in a run

    row = card.iloc[0]
    # The evaluation model (trained before the evaluation season), not the deployed refit that saw it.
    model = mlflow.load_sklearn_model(row.get("eval_model_uri") or row["model_uri"])
    columns = json.loads(row["feature_columns"])
    eval_season = row["eval_season"]
    params = json.loads(row["params"])
    types = tuple(params.get("season_types", ("regular", "playoffs", "play_in")))
    X, y, keys = training_frame(features, outcomes, [eval_season], types)
    train_seasons = [
        s
        for s in played_seasons(outcomes, features)
        if row["train_first_season"] <= s <= row["train_last_season"] and s < eval_season
    ]
    _, y_train, _ = training_frame(features, outcomes, train_seasons, types)
    probs = {
        "model": model.predict_proba(X[columns])[:, 1],
        "elo": X["elo_p_home_win"].to_numpy(dtype=float),
        "home_base_rate": [float(y_train.mean())] * len(y),
        "coin_flip": [0.5] * len(y),
    }
    comparison = metrics.compare_methods(y, probs)
    png = metrics.calibration_plot_png(
        y, {"model": probs["model"], "elo": probs["elo"]}, title=f"Calibration, {eval_season}"
    )
    calib = metrics.calibration_table(y, probs["model"])
    # SHAP on the evaluation season: what drives the served log-odds, game by game and overall.

    shap_values = explain(model, X[columns].reset_index(drop=True), feature_columns=columns).values
    shap_png = summary_plot_png(shap_values, X[columns].reset_index(drop=True), title=f"SHAP summary, {eval_season}")
    importance = global_importance(shap_values).head(10)
    by_method = comparison.set_index("method") if "method" in comparison.columns else comparison
    mlflow.log_metrics(
        row["run_id"],
        {f"eval_{m}_{k}": by_method.loc[m, k] for m in by_method.index for k in ("brier", "log_loss", "accuracy")},
    )
    model_brier, elo_brier = float(by_method.loc["model", "brier"]), float(by_method.loc["elo", "brier"])
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
            "comparison": dg.MetadataValue.md(metrics.markdown_comparison(by_method.reset_index())),
            "calibration_table": dg.MetadataValue.md(calibration_markdown(calib)),
            "calibration_plot": dg.MetadataValue.md(png_markdown(png, "calibration")),
            "shap_summary_plot": dg.MetadataValue.md(png_markdown(shap_png, "SHAP summary")),
            "shap_top_features": dg.MetadataValue.md(metrics.markdown_comparison(importance)),
        },
    )
