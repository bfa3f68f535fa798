"""Feedback loop: outcomes joined back to the predictions made before each game.

Skill of the current champion (and the challenger, scored in shadow) on played games it was
not trained on: Brier, log loss and accuracy over the last N games and over the latest season
to date, a calibration table and a rolling-Brier plot. The retraining sensor compares
`champion_brier_last_n` with `champion_validation_brier` (from the champion's MLflow tags).
"""

import io

import dagster as dg
import pandas as pd

from nba_platform.defs.models.assets import calibration_markdown, png_markdown
from nba_platform.lib import metrics
from nba_platform.lib.metadata import markdown_table
from nba_platform.lib.promotion import rolling_brier, skill_summary
from nba_platform.resources.lake import concat_partitions
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.model_registry import CHALLENGER, CHAMPION


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
    description="Live skill of the champion (and the shadow challenger) on played games neither was trained on: "
    "Brier, log loss, accuracy over the last N games and the latest season to date, calibration table, rolling-Brier plot.",
)
def live_skill(
    context: dg.AssetExecutionContext,
    config: LiveSkillConfig,
    mlflow: MlflowTracking,
    shadow: dict,
    outcomes: pd.DataFrame,
) -> dg.Output:
    champion, challenger = mlflow.version_by_alias(CHAMPION), mlflow.version_by_alias(CHALLENGER)
    scored = concat_partitions(shadow)
    meta: dict = {
        "champion": champion.label if champion else "none",
        "challenger": challenger.label if challenger else "none",
    }
    if champion is None or scored.empty:
        meta["status"] = "no champion yet" if champion is None else "no shadow-scored games yet"
        return dg.Output(pd.DataFrame(columns=["game_id", "home_win"]), metadata={**meta, "games": 0})
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
