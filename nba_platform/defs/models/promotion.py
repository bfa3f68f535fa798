"""Champion/challenger promotion by the rule in `lib/promotion.py` (paired bootstrap on the
same played games, minimum sample), plus the retraining job the sensor launches."""

import dagster as dg
import pandas as pd

from nba_platform.lib import metrics
from nba_platform.lib.promotion import PromotionRule, promotion_decision
from nba_platform.resources.lake import concat_partitions
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.model_registry import CHALLENGER, CHAMPION, champion_history, promote, publish_champion
from nba_platform.resources.serving_db import ServingDatabase


class PromotionConfig(dg.Config):
    min_games: int = 200
    confidence: float = 0.95
    n_boot: int = 2000


@dg.asset(
    key=["models", "champion_promotion"],
    ins={
        "shadow": dg.AssetIn(key=["serving", "shadow_predictions"], metadata={"allow_missing_partitions": True}),
        "outcomes": dg.AssetIn(key=["features", "game_outcomes"]),
    },
    deps=[
        dg.AssetKey(["monitoring", "live_skill"])
    ],  # live skill reports on the champion that scored, before any promotion
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
            metadata={**base, "promoted": False, "reason": reason},
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
            "champion_after": (mlflow.version_by_alias(CHAMPION) or champion).label,
            "rule": f"min {rule.min_games} games, {int(rule.confidence * 100)}% paired bootstrap ({rule.n_boot} draws) of the Brier difference below 0",
            "comparison": dg.MetadataValue.md(metrics.markdown_comparison(figures)),
            "champion_history": dg.MetadataValue.md(
                "\n".join(f"- v{h['version']} at {h['at']}: {h['reason']}" for h in history[-10:])
            ),
        },
    )


RETRAIN_SELECTION = dg.AssetSelection.assets(
    dg.AssetKey(["models", "game_outcome_model"]),
    dg.AssetKey(["models", "game_model_evaluation"]),
)
retrain_game_model_job = dg.define_asset_job(
    name="retrain_game_model",
    selection=RETRAIN_SELECTION,
    description="Retrain the game model on every played season but the latest and register it as the MLflow challenger "
    "(launched by retraining_sensor; the run's nba/retrain_* tags say why).",
)
