"""Champion/challenger promotion by the rule in `lib/promotion.py` (paired bootstrap on the
same played games, minimum sample) or, at a season boundary (stale champion, current challenger),
by the season-boundary rule in `lib/champion.py`; plus the retraining job the sensor launches."""

import dagster as dg
import pandas as pd

from nba_platform.lib import metrics
from nba_platform.lib.champion import season_boundary_decision
from nba_platform.lib.promotion import PromotionRule, promotion_decision
from nba_platform.resources.lake import concat_partitions
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.model_registry import (
    CHALLENGER,
    CHAMPION,
    champion_history,
    champion_marks,
    promote,
    publish_champion,
)
from nba_platform.resources.serving_db import ServingDatabase


class PromotionConfig(dg.Config):
    min_games: int = 200
    confidence: float = 0.95
    n_boot: int = 2000
    # season-boundary rule (lib/champion.py): the current challenger's held-out Brier may exceed Elo's by this much
    season_boundary_elo_tolerance: float = 0.005


@dg.asset(
    key=["models", "champion_promotion"],
    ins={
        "shadow": dg.AssetIn(key=["serving", "shadow_predictions"], metadata={"allow_missing_partitions": True}),
        "outcomes": dg.AssetIn(key=["features", "game_outcomes"]),
    },
    # live skill reports on the champion that scored, before any promotion; in a retraining run the
    # check follows the new challenger's registration
    deps=[dg.AssetKey(["monitoring", "live_skill"]), dg.AssetKey(["models", "game_outcome_model"])],
    group_name="models",
    kinds={"mlflow"},
    owners=["team:ml"],
    automation_condition=dg.AutomationCondition.eager(),
    description="Promotes the MLflow `challenger` to `champion` only if it has the lower Brier on the same played games "
    "(scored in shadow, unseen by both) with at least `min_games` games and a paired-bootstrap interval of the "
    "difference below zero; otherwise keeps the champion and says why.",
)
def champion_promotion(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    mlflow: MlflowTracking,
    serving_db: ServingDatabase,
    shadow: dict,
    outcomes: pd.DataFrame,
) -> dg.Output:
    champion, challenger = mlflow.version_by_alias(CHAMPION), mlflow.version_by_alias(CHALLENGER)
    base = {
        "champion_before": champion.label if champion else "none",
        "challenger": challenger.label if challenger else "none",
    }
    if champion is None or challenger is None:
        reason = "no challenger to evaluate" if champion is not None else "no champion registered yet"
        return dg.Output(
            pd.DataFrame([{**base, "promote": False, "reason": reason}]),
            metadata={**base, "promoted": False, "reason": reason, **champion_marks(mlflow)},
        )
    completed_through = challenger.tags.get("completed_seasons_through", "none")
    boundary = season_boundary_decision(
        champion.tags.get("train_last_season"),
        challenger.tags.get("train_last_season"),
        [] if completed_through in ("", "none") else [completed_through],
        _float_tag(challenger.tags, "holdout_brier"),
        _float_tag(challenger.tags, "holdout_elo_brier"),
        config.season_boundary_elo_tolerance,
    )
    if boundary.applies:
        # No games are unseen by a challenger refit through the season that just ended: the paired
        # rule cannot decide before the next season is played, and the stale champion must not serve it.
        mlflow.set_version_tags(
            challenger.version,
            {"promotion_decision": ("promoted: " if boundary.promote else "refused: ") + boundary.reason},
        )
        if boundary.promote:
            promote(mlflow, challenger.version, boundary.reason)
            publish_champion(mlflow, serving_db)
        context.log.info(f"{challenger.label} vs {champion.label}: {boundary.reason}")
        return dg.Output(
            pd.DataFrame([{**base, "promote": boundary.promote, "reason": boundary.reason}]),
            metadata={
                **base,
                "promoted": boundary.promote,
                "reason": boundary.reason,
                "rule": "season boundary (lib/champion.py)",
                **champion_marks(mlflow),
            },
        )
    scored = concat_partitions(shadow)
    if not scored.empty:
        scored = scored[
            (scored["champion_version"] == champion.label) & (scored["challenger_version"] == challenger.label)
        ]
        scored = scored.merge(outcomes[["game_id", "home_win"]], on="game_id", how="inner")
    y = scored["home_win"].astype("float64") if len(scored) else pd.Series(dtype="float64")
    rule = PromotionRule(min_games=config.min_games, confidence=config.confidence, n_boot=config.n_boot)
    decision = promotion_decision(y, scored.get("p_champion", y), scored.get("p_challenger", y), rule)
    mlflow.set_version_tags(
        challenger.version,
        {"promotion_decision": ("promoted: " if decision.promote else "refused: ") + decision.reason},
    )
    if decision.promote:
        promote(mlflow, challenger.version, decision.reason)
        publish_champion(mlflow, serving_db)
    context.log.info(
        f"{challenger.label} vs {champion.label}: {'PROMOTED' if decision.promote else 'kept champion'} ({decision.reason})"
    )
    figures = pd.DataFrame(
        [
            {
                "games": decision.games,
                "champion_brier": decision.champion_brier,
                "challenger_brier": decision.challenger_brier,
                "difference": decision.mean_difference,
                "ci_low": decision.ci_low,
                "ci_high": decision.ci_high,
                "share_of_draws_challenger_better": decision.share_of_draws_better,
            }
        ]
    )
    history = champion_history(mlflow)
    return dg.Output(
        pd.DataFrame([{**base, **decision.as_dict()}]),
        metadata={
            **base,
            "promoted": decision.promote,
            "reason": decision.reason,
            "games": decision.games,
            **champion_marks(mlflow),
            "rule": f"min {rule.min_games} games, {int(rule.confidence * 100)}% paired bootstrap ({rule.n_boot} draws) of the Brier difference below 0",
            "comparison": dg.MetadataValue.md(metrics.markdown_comparison(figures)),
            "champion_history": dg.MetadataValue.md(
                "\n".join(f"- v{h['version']} at {h['at']}: {h['reason']}" for h in history[-10:])
            ),
        },
    )


def _float_tag(tags: dict, key: str) -> float | None:
    try:
        return float(tags[key])
    except (KeyError, TypeError, ValueError):
        return None


# The promotion check runs in the retraining run itself: at a season boundary the new challenger is
# promoted (or refused) before anything forecasts the next season; otherwise the paired rule waits
# for shadow scores (the eager automation re-runs it when they land).
RETRAIN_SELECTION = dg.AssetSelection.assets(
    dg.AssetKey(["models", "game_outcome_model"]),
    dg.AssetKey(["models", "game_model_evaluation"]),
    dg.AssetKey(["models", "champion_promotion"]),
)
retrain_game_model_job = dg.define_asset_job(
    name="retrain_game_model",
    selection=RETRAIN_SELECTION,
    description="Retrain the game model: evaluated with the latest played season held out, then refit on every "
    "season (the evaluation season too once complete) and registered as the MLflow challenger (launched by "
    "retraining_sensor and by the CLI through the same request; the run's nba/retrain_* tags say why).",
)
