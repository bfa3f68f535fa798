"""Shadow scoring: the challenger predicts the same games as the champion, on the side.

Nothing here is published: `serving/published_predictions` only reads `serving/game_predictions`.
Only games of seasons that neither model was trained on are scored, so the comparison the
promotion asset makes is fair by construction.
"""

import dagster as dg
import pandas as pd

from nba_platform.defs.ingestion.partitions import season_partitions, single_run
from nba_platform.defs.serving.assets import predict_home_win
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.model_registry import CHALLENGER, CHAMPION

TEAM_GAMES = dg.AssetKey(["tables", "team_games"])
GAME_FEATURES = dg.AssetKey(["features", "game_features"])
# `features/game_features` is unpartitioned and rewritten whenever any season changes: under plain
# eager() every update re-scored every season (all 21 when one landed). Its updates are ignored;
# the season's own `tables/team_games` partition (same season partitions: identity mapping)
# says which season changed, and a new registered model re-scores every season (only seasons
# neither model trained on are scored, the others cost a lookup).
SHADOW_AUTOMATION = dg.AutomationCondition.eager().ignore(dg.AssetSelection.assets(GAME_FEATURES))

SHADOW_COLUMNS = [
    "game_id",
    "game_date",
    "season",
    "season_type",
    "p_champion",
    "champion_version",
    "p_challenger",
    "challenger_version",
]


def empty_shadow() -> pd.DataFrame:
    """Typed like a scored season (game_date a date), so a table whose every season is unscored (the
    champion saw them all) still has a DATE column in the lake."""

    def dtype(column: str) -> str:
        if column.startswith("p_"):
            return "float64"
        return "datetime64[ns]" if column == "game_date" else "object"

    return pd.DataFrame({c: pd.Series(dtype=dtype(c)) for c in SHADOW_COLUMNS})


@dg.asset(
    key=["serving", "shadow_predictions"],
    ins={"features": dg.AssetIn(key=["features", "game_features"])},
    # a new registered model (new challenger) re-scores the seasons; new games re-score their own season only
    deps=[dg.AssetKey(["models", "game_outcome_model"]), TEAM_GAMES],
    automation_condition=SHADOW_AUTOMATION,
    partitions_def=season_partitions,
    backfill_policy=single_run,
    group_name="serving",
    kinds={"parquet", "mlflow"},
    owners=["team:ml"],
    description="Champion and challenger (MLflow aliases) side by side on every game of the season that neither was "
    "trained on. Never published; feeds monitoring/live_skill and models/champion_promotion.",
)
def shadow_predictions(context: dg.AssetExecutionContext, mlflow: MlflowTracking, features: pd.DataFrame) -> dg.Output:
    champion, challenger = mlflow.version_by_alias(CHAMPION), mlflow.version_by_alias(CHALLENGER)
    models = {}
    out, briefs = {}, {}
    for season in context.partition_keys:
        if champion is None:
            out[season], briefs[season] = empty_shadow(), "no champion registered yet"
            continue
        scorers = [("champion", champion)] + ([("challenger", challenger)] if challenger is not None else [])
        seen = [v.label for _, v in scorers if v.tags.get("train_last_season", "9999") >= season]
        games = features[features["season"] == season]
        if seen or len(games) == 0:
            out[season] = empty_shadow()
            briefs[season] = f"not scored: trained on this season ({', '.join(seen)})" if seen else "no games"
            continue
        frame = games[["game_id", "game_date", "season", "season_type"]].copy()
        frame["p_challenger"], frame["challenger_version"] = float("nan"), None
        for role, version in scorers:
            models[version.version] = models.get(version.version) or mlflow.load_sklearn_model(version.model_uri)
            frame[f"p_{role}"] = predict_home_win(models[version.version], games)
            frame[f"{role}_version"] = version.label
        out[season] = frame[SHADOW_COLUMNS].sort_values(["game_date", "game_id"], ignore_index=True)
        briefs[season] = f"{len(frame)} games: {' vs '.join(v.label for _, v in scorers)}"
        context.log.info(f"{season}: {briefs[season]}")
    return dg.Output(
        out,
        metadata={
            "games": sum(len(f) for f in out.values()),
            "champion": champion.label if champion else "none",
            "challenger": challenger.label if challenger else "none",
            "by_season": dg.MetadataValue.md("\n".join(f"- **{s}**: {b}" for s, b in sorted(briefs.items()))),
        },
    )
