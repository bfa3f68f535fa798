"""Feedback loop: outcomes joined back to the forecasts made before each game.

What is scored is the record: for every finished game, the latest pre-game forecast published to
the serving database (view `latest_pregame_forecast`, forecasts of the champion's registered
model, as they were served; serving/game_forecasts) joined to its outcome (features/game_outcomes).
Until any forecast of a finished game exists (a home built from completed seasons only), the
champion's scores in `serving/shadow_predictions` are scored instead, and `scored_from` says which.
The challenger is scored in shadow on the same games.

Brier, log loss and accuracy over the last N games and over the latest season to date, a
calibration table and a rolling-Brier plot. The retraining sensor compares
`champion_brier_last_n` with `champion_validation_brier` (from the champion's MLflow tags).
"""

import io
import os

import dagster as dg
import pandas as pd

from nba_platform.defs.models.assets import calibration_markdown, png_markdown
from nba_platform.lib import metrics
from nba_platform.lib.metadata import markdown_table
from nba_platform.lib.promotion import rolling_brier, skill_summary
from nba_platform.lib.seasons import season_from_game_id
from nba_platform.resources.lake import concat_partitions
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.model_registry import CHALLENGER, CHAMPION
from nba_platform.resources.serving_db import ServingDatabase

SCORED_FROM_FORECASTS = "latest_pregame_forecast"
SCORED_FROM_SHADOW = "shadow_predictions"


def pregame_forecasts(serving_db: ServingDatabase, model_name: str) -> pd.DataFrame:
    """Per game, the latest forecast of `model_name` (any version) made before the game's date."""
    sql = (
        "SELECT game_id, game_date, as_of, p_home_win, model_version FROM latest_pregame_forecast "
        "WHERE model_name = %s" if serving_db.dialect == "postgres" else
        "SELECT game_id, game_date, as_of, p_home_win, model_version FROM latest_pregame_forecast WHERE model_name = ?"
    )  # fmt: skip
    empty = pd.DataFrame(columns=["game_id", "game_date", "as_of", "p_home_win", "model_version"])
    if serving_db.dialect == "sqlite" and not os.path.exists(serving_db.url[len("sqlite:///") :]):
        return empty  # nothing published yet (and a query would create the file)
    try:
        rows = serving_db.query(sql, (model_name,))
    except Exception as exc:  # the view is created with the first publish: none yet, nothing forecast
        if "latest_pregame_forecast" in str(exc):
            return empty
        raise
    rows = rows.sort_values(["game_id", "as_of", "model_version"], kind="mergesort")
    return rows.drop_duplicates("game_id", keep="last").reset_index(drop=True)


def forecast_scores(forecasts: pd.DataFrame, shadow: pd.DataFrame, champion_label: str) -> pd.DataFrame:
    """The shadow frame's columns (game_id, game_date, season, p_champion, p_challenger,
    champion_version, challenger_version) for the forecast games: p_champion is the forecast."""
    out = pd.DataFrame(
        {
            "game_id": forecasts["game_id"].astype("object"),
            "game_date": pd.to_datetime(forecasts["game_date"]),
            "season": season_from_game_id(forecasts["game_id"].astype("string[pyarrow]")).astype("object"),
            "p_champion": forecasts["p_home_win"].astype("float64"),
            "champion_version": champion_label,
            "forecast_model_version": forecasts["model_version"].astype("int64"),
            "forecast_as_of": forecasts["as_of"].astype("object"),
        }
    )
    if len(shadow) and "p_challenger" in shadow:
        challenger = shadow[["game_id", "p_challenger", "challenger_version"]].drop_duplicates("game_id")
        out = out.merge(challenger, on="game_id", how="left")
    else:
        out["p_challenger"], out["challenger_version"] = float("nan"), None
    return out


class LiveSkillConfig(dg.Config):
    last_n: int = 100  # games in the "recent" window the retraining sensor watches


def rolling_brier_png(scored: pd.DataFrame, last_n: int, validation_brier: float | None) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = range(len(scored))
    for role in ("champion", "challenger"):
        if scored[f"p_{role}"].notna().any():
            ax.plot(x, rolling_brier(scored, f"p_{role}", last_n), label=f"{role} (rolling {last_n})")
    if validation_brier is not None:
        ax.axhline(validation_brier, color="grey", linestyle="--", linewidth=1, label="champion validation Brier")
    ax.set_xlabel("played games, in date order")
    ax.set_ylabel("Brier")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


@dg.asset(
    key=["monitoring", "live_skill"],
    ins={
        "shadow": dg.AssetIn(key=["serving", "shadow_predictions"], metadata={"allow_missing_partitions": True}),
        "outcomes": dg.AssetIn(key=["features", "game_outcomes"]),
    },
    group_name="monitoring",
    kinds={"pandas", "mlflow"},
    owners=["team:ml"],
    automation_condition=dg.AutomationCondition.eager(),
    description="Live skill of the champion's latest pre-game forecasts (serving database, latest_pregame_forecast) "
    "on finished games, and of the shadow challenger on the same games; before any forecast of a finished game, of "
    "the champion's shadow scores. Brier, log loss, accuracy over the last N games and the latest season to date, "
    "calibration table, rolling-Brier plot.",
)
def live_skill(
    context: dg.AssetExecutionContext,
    config: LiveSkillConfig,
    mlflow: MlflowTracking,
    serving_db: ServingDatabase,
    shadow: dict,
    outcomes: pd.DataFrame,
) -> dg.Output:
    champion, challenger = mlflow.version_by_alias(CHAMPION), mlflow.version_by_alias(CHALLENGER)
    scored = concat_partitions(shadow)
    meta: dict = {
        "champion": champion.label if champion else "none",
        "challenger": challenger.label if challenger else "none",
    }
    if champion is not None:
        forecasts = pregame_forecasts(serving_db, champion.name)
        finished = outcomes.loc[outcomes["home_win"].notna(), "game_id"]
        forecasts = forecasts[forecasts["game_id"].isin(finished)]
        if len(forecasts):
            scored = forecast_scores(forecasts, scored, champion.label)
            meta["scored_from"] = SCORED_FROM_FORECASTS
            meta["forecast_model_versions"] = dg.MetadataValue.json(
                sorted(int(v) for v in scored["forecast_model_version"].unique())
            )
        else:
            meta["scored_from"] = SCORED_FROM_SHADOW
            context.log.info("no pre-game forecast of a finished game yet: scoring the champion's shadow predictions")
    if champion is None or scored.empty:
        meta["status"] = "no champion yet" if champion is None else "no shadow-scored games yet"
        return dg.Output(pd.DataFrame(columns=["game_id", "home_win"]), metadata={**meta, "games": 0})
    if meta.get("scored_from") != SCORED_FROM_FORECASTS:
        scored = scored[scored["champion_version"] == champion.label]
    if challenger is not None:
        scored.loc[scored["challenger_version"] != challenger.label, "p_challenger"] = float("nan")
    scored = scored.merge(outcomes[["game_id", "home_win"]], on="game_id", how="inner")
    scored = scored[scored["home_win"].notna()].sort_values(["game_date", "game_id"], ignore_index=True)
    if scored.empty:
        return dg.Output(scored, metadata={**meta, "status": "no played games scored by this champion yet", "games": 0})
    latest = scored["season"].max()
    this_season = scored[scored["season"] == latest]
    validation_brier = float(champion.tags["validation_brier"]) if "validation_brier" in champion.tags else None
    rows, summary = [], {}
    for role in ("champion", "challenger"):
        if scored[f"p_{role}"].notna().any():
            all_games = skill_summary(scored["home_win"], scored[f"p_{role}"], config.last_n)
            season = skill_summary(this_season["home_win"], this_season[f"p_{role}"], config.last_n)
            summary[role] = all_games
            rows.append(
                {
                    "model": role,
                    "games": all_games["games"],
                    f"brier_last_{config.last_n}": all_games[f"brier_last_{config.last_n}"],
                    "brier_season_to_date": season["brier_to_date"],
                    "log_loss_season_to_date": season["log_loss_to_date"],
                    "accuracy_season_to_date": season["accuracy_to_date"],
                    "brier_all_scored": all_games["brier_to_date"],
                }
            )
    table = pd.DataFrame(rows).set_index("model")
    calib = metrics.calibration_table(scored["home_win"].astype(float), scored["p_champion"])
    champion_last_n = summary["champion"][f"brier_last_{config.last_n}"]
    meta.update(
        {
            "games": len(scored),
            "latest_season": latest,
            "last_n": config.last_n,
            "champion_brier_last_n": champion_last_n,
            "champion_brier_season_to_date": float(table.loc["champion", "brier_season_to_date"]),
            "champion_validation_brier": validation_brier if validation_brier is not None else float("nan"),
            "skill": dg.MetadataValue.md(metrics.markdown_comparison(table.reset_index())),
            "calibration_table": dg.MetadataValue.md(calibration_markdown(calib)),
            "rolling_brier_plot": dg.MetadataValue.md(
                png_markdown(rolling_brier_png(scored, config.last_n, validation_brier), "rolling Brier")
            ),
            "latest_games": dg.MetadataValue.md(markdown_table(scored.tail(5))),
        }
    )
    if "challenger" in summary:
        meta["challenger_brier_last_n"] = summary["challenger"][f"brier_last_{config.last_n}"]
    context.log.info(
        f"live skill of {champion.label}: Brier last {config.last_n} = {champion_last_n:.4f} (validation {validation_brier})"
    )
    return dg.Output(scored, metadata=meta)
