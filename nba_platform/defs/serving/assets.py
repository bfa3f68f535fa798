"""Walk-forward predictions: season S is predicted by a model trained only on seasons before S,
from features that only use games before each game's date."""

import dataclasses
import json

import dagster as dg
import numpy as np
import pandas as pd

from nba_platform.defs.ingestion.partitions import season_partitions, single_run
from nba_platform.defs.models.assets import GameModelConfig, played_seasons
from nba_platform.lib import metrics
from nba_platform.lib.champion import champion_is_current, completed_seasons_of_games
from nba_platform.lib.features import FEATURE_COLUMNS
from nba_platform.resources.mlflow import BACKFILL_MODEL_NAME, MlflowTracking
from nba_platform.resources.model_registry import CHAMPION
from nba_platform.resources.serving_db import ServingDatabase

PREDICTION_COLUMNS = [
    "game_id",
    "game_date",
    "season",
    "season_type",
    "home_team_id",
    "away_team_id",
    "p_home_win",
    "elo_p_home_win",
    "model_name",  # registered model: nba_game_outcome (served live) or nba_game_outcome_backfill (walk-forward)
    "model_version",  # its integer version
    "top_factors",
]


def _model_inputs(model, game_features: pd.DataFrame) -> pd.DataFrame:
    columns = list(getattr(model, "feature_names_in_", FEATURE_COLUMNS))
    return game_features[columns].astype("float64").reset_index(drop=True)


def predict_home_win(model, game_features: pd.DataFrame, neutral=None):
    """P(home win) from a loaded sklearn classifier, with the columns it was fitted on. `neutral`
    (one bool per row): at a neutral site the first-listed team's chance with no home advantage,
    the mean of its chance as the home side and one minus the other team's as the home side."""
    from nba_platform.lib.features import swap_sides

    def p_home(frame: pd.DataFrame):
        return model.predict_proba(_model_inputs(model, frame))[:, list(model.classes_).index(1)]

    p = p_home(game_features)
    if neutral is None or not np.any(neutral):
        return p
    at_neutral = np.asarray(neutral, dtype=bool)
    p = p.copy()
    p[at_neutral] = (p[at_neutral] + 1.0 - p_home(swap_sides(game_features[at_neutral]))) / 2.0
    return p


def neutral_sites(game_features: pd.DataFrame):
    """Per row: played at a neutral site (game_features' `neutral`; None when a frame lacks it)."""
    return game_features["neutral"].to_numpy(dtype=bool) if "neutral" in game_features else None


def prediction_top_factors(model, game_features: pd.DataFrame, k: int = 3) -> list[str]:
    """Per game, the k features that moved its prediction most (exact SHAP on the served log-odds), as JSON."""
    from nba_platform.lib.explain import explain, top_factors  # imports scikit-learn and shap: only in a run

    X = _model_inputs(model, game_features)
    return top_factors(explain(model, X, feature_columns=list(X.columns)).values, X, k=k)


def empty_predictions() -> pd.DataFrame:
    def dtype(column: str) -> str:
        if column.startswith(("p_", "elo_")):
            return "float64"
        return "int64" if column == "model_version" else "object"

    return pd.DataFrame({c: pd.Series(dtype=dtype(c)) for c in PREDICTION_COLUMNS})


@dg.asset(
    key=["serving", "game_predictions"],
    ins={
        "features": dg.AssetIn(key=["features", "game_features"]),
        "outcomes": dg.AssetIn(key=["features", "game_outcomes"]),
        "card": dg.AssetIn(key=["models", "game_outcome_model"]),
    },
    partitions_def=season_partitions,
    backfill_policy=single_run,
    group_name="serving",
    kinds={"parquet", "scikitlearn", "mlflow"},
    owners=["team:ml"],
    description="Pre-game home-win probability for every game of the season. Seasons after the champion's training "
    "data are served by the MLflow `champion` alias while it is current (trained through the last completed season "
    "before them, lib/champion.py); earlier seasons, and seasons a stale champion would serve, are backfilled "
    "walk-forward (the kind chosen by models/game_outcome_model refit on every season before that one, registered in MLflow as "
    "nba_game_outcome_backfill and refitted only when its training inputs change). Each game's features use only "
    "earlier games, including earlier games of the same season. Rows carry model_name and the integer model_version.",
)
def game_predictions(
    context: dg.AssetExecutionContext,
    config: GameModelConfig,
    mlflow: MlflowTracking,
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    card: pd.DataFrame,
) -> dg.Output:
    from nba_platform.lib.model_artifacts import FINGERPRINT_TAG
    from nba_platform.lib.models import (  # imports scikit-learn: only in a run
        train_kind,
        training_fingerprint,
        training_frame,
        walk_forward_train_seasons,
    )

    kind = card["kind"].iloc[0]
    params = config.params(candidates=[kind])
    champion = mlflow.version_by_alias(CHAMPION)
    champion_model = None
    out, briefs = {}, {}
    completed = completed_seasons_of_games(features, outcomes)
    game_columns = ["game_id", "game_date", "season", "season_type", "home_team_id", "away_team_id", "elo_p_home_win"]
    for season in context.partition_keys:
        stale = ""
        season_games = features[features["season"] == season]
        train = walk_forward_train_seasons(played_seasons(outcomes, features), season)
        champion_last = champion.tags.get("train_last_season", "9999") if champion is not None else None
        if len(season_games) and champion_last is not None and champion_last < season:
            if not champion_is_current(champion_last, completed, season):
                # A stale champion (missed the last completed season before this one) never serves: the
                # walk-forward refit on every earlier season below does, until the retraining sensor
                # (or the CLI, same request) refits and promotes a current champion (lib/champion.py).
                stale = f"champion {champion.label} stale (trained to {champion_last}); "
            else:
                # The live case: the champion never saw this season and saw every completed one before it.
                champion_model = champion_model or mlflow.load_sklearn_model(champion.model_uri)
                preds = season_games[game_columns].copy()
                preds["p_home_win"] = predict_home_win(champion_model, season_games, neutral_sites(season_games))
                preds["model_name"], preds["model_version"] = champion.name, int(champion.version)
                preds["top_factors"] = prediction_top_factors(champion_model, season_games)
                out[season] = preds[PREDICTION_COLUMNS].sort_values(["game_date", "game_id"], ignore_index=True)
                briefs[season] = (
                    f"{len(out[season])} games by champion {champion.label} (trained to {champion.tags.get('train_last_season')})"
                )
                context.log.info(f"{season}: {briefs[season]}")
                continue
        if len(season_games) == 0 or len(train) < params.min_train_seasons:
            out[season] = empty_predictions()
            briefs[season] = (
                f"not predicted: {len(train)} earlier season(s) with games (need {params.min_train_seasons})"
            )
            continue
        # Walk-forward backfill: a refit on every earlier season, registered under its own name. Refitted
        # only when its training inputs changed; otherwise the registered refit predicts again.
        fingerprint = training_fingerprint(features, outcomes, train, params, kind=kind, predicts_season=season)
        existing = mlflow.find_version(BACKFILL_MODEL_NAME, {FINGERPRINT_TAG: fingerprint})
        if existing is not None:
            model = mlflow.load_sklearn_model(existing.model_uri)
            n_train_rows, fresh = int(existing.tags.get("n_train_rows", 0)), False
        else:
            trained = train_kind(features, outcomes, train, kind, params)
            model, n_train_rows, fresh = trained.estimator, trained.n_train_rows, True
        preds = season_games[game_columns].copy()
        preds["p_home_win"] = predict_home_win(model, season_games, neutral_sites(season_games))
        preds["top_factors"] = prediction_top_factors(model, season_games)
        _, y, keys = training_frame(features, outcomes, [season], params.season_types)
        season_metrics, score = {}, "none played yet"
        if len(y):
            scored = (
                keys[["game_id"]].assign(y=y).merge(preds[["game_id", "p_home_win", "elo_p_home_win"]], on="game_id")
            )
            cmp = metrics.compare_methods(
                scored["y"].to_numpy(),
                {"model": scored["p_home_win"].to_numpy(), "elo": scored["elo_p_home_win"].to_numpy()},
            )
            by = cmp.set_index("method") if "method" in cmp.columns else cmp
            season_metrics = {
                f"eval_{m}_{k}": float(by.loc[m, k])
                for m in ("model", "elo")
                for k in ("brier", "log_loss", "accuracy")
            }
            season_metrics["n_eval_games"] = len(y)
            score = f"played {len(y)}: Brier model {by.loc['model', 'brier']:.4f} vs Elo {by.loc['elo', 'brier']:.4f}"
        if fresh:
            registered = mlflow.log_sklearn_model(
                model,
                season_games[list(FEATURE_COLUMNS)].head(200),
                params={**dataclasses.asdict(params), "kind": kind, "train_seasons": f"{train[0]}..{train[-1]}"},
                metrics={"n_train_rows": n_train_rows, **season_metrics},
                tags={
                    "purpose": "walk_forward",
                    "predicts_season": season,
                    "kind": kind,
                    "train_first_season": train[0],
                    "train_last_season": train[-1],
                    "n_train_rows": n_train_rows,
                    FINGERPRINT_TAG: fingerprint,
                },
                registered_name=BACKFILL_MODEL_NAME,
                artifacts={"feature_columns.json": json.dumps(list(FEATURE_COLUMNS))},
                run_name=f"walk-forward {season}",
            )
            label, version = registered.label, int(registered.version)
        else:
            label, version = existing.label, int(existing.version)
        preds["model_name"], preds["model_version"] = BACKFILL_MODEL_NAME, version
        out[season] = preds[PREDICTION_COLUMNS].sort_values(["game_date", "game_id"], ignore_index=True)
        briefs[season] = stale + (
            f"{len(out[season])} games by {label} ({'refitted' if fresh else 'inputs unchanged, reused'}; "
            f"trained {train[0]}..{train[-1]}); {score}"
        )
        context.log.info(f"{season}: {briefs[season]}")
    return dg.Output(
        out,
        metadata={
            "games": sum(len(f) for f in out.values()),
            "by_season": dg.MetadataValue.md("\n".join(f"- **{s}**: {b}" for s, b in sorted(briefs.items()))),
        },
    )


GAME_ROW_SOURCE = [
    "game_id",
    "season",
    "season_type",
    "game_date",
    "team_id",
    "opponent_id",
    "pts",
    "opp_pts",
]  # published as games


@dg.asset(
    key=["serving", "published_predictions"],
    ins={
        "predictions": dg.AssetIn(key=["serving", "game_predictions"]),
        "games": dg.AssetIn(key=["tables", "team_games"]),
    },
    partitions_def=season_partitions,
    backfill_policy=single_run,
    group_name="serving",
    kinds={"postgres", "sqlite"},
    owners=["team:ml"],
    description="The season's games and predictions (with the model version that made them) published to the serving "
    "database: RDS Postgres in prod (the season's rows replaced in one transaction: delete, then COPY), embedded SQLite locally.",
)
def published_predictions(
    context: dg.AssetExecutionContext, serving_db: ServingDatabase, predictions: dict, games: dict
) -> dg.MaterializeResult:
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    # Every season of the run in one publish (one transaction) per table, not one per season and
    # table: 2 publish transactions on a cold build instead of 42. Rows keep season order.
    seasons = [games[s][[*GAME_ROW_SOURCE, "is_home"]] for s in context.partition_keys]
    tg = pd.concat(seasons, ignore_index=True) if seasons else pd.DataFrame(columns=[*GAME_ROW_SOURCE, "is_home"])
    home = tg[tg["is_home"] == True]  # noqa: E712 (nullable boolean)
    game_rows = pd.DataFrame(
        {
            "game_id": home["game_id"],
            "season": home["season"],
            "season_type": home["season_type"],
            "game_date": home["game_date"],
            "home_team_id": home["team_id"],
            "away_team_id": home["opponent_id"],
            "home_pts": home["pts"],
            "away_pts": home["opp_pts"],
        }
    )
    prediction_rows = [predictions[s] for s in context.partition_keys if len(predictions[s])]
    preds = pd.concat(prediction_rows, ignore_index=True) if prediction_rows else None
    if preds is not None:
        preds["published_at"] = now  # on the concatenated copy: the inputs are not modified
    published = {
        "games": serving_db.publish("games", game_rows) if len(seasons) else 0,
        "game_predictions": serving_db.publish("game_predictions", preds) if preds is not None else 0,
    }
    return dg.MaterializeResult(
        metadata={
            "database": serving_db.describe(),
            "games_upserted": published["games"],
            "predictions_upserted": published["game_predictions"],
        }
    )
