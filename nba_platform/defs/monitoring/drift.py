"""Feature drift per season: the season's games against the champion model's training data.

Reference: `features/game_features` rows of the most recent `reference_seasons` (default 3) of
the champion's training range (MLflow version tags `train_first_season`..`train_last_season`),
never the season under test: the era the model last learned, not two decades of a changing
league. A partial season is compared with the reference games at the same point of their
seasons (lib/drift.py explains why and the KS test choice).

Per season partition, the materialization carries its own metadata (`drift_share`,
`champion_version`, ... read by the retraining sensor) and the Evidently HTML report is written
to `<reports>/drift/<season>.html` (replaced on re-materialization). No champion yet, or too few
games, still materializes: `drift_share` is NaN and `status` says why.
"""

import dagster as dg
import pandas as pd

from nba_platform.defs.ingestion.partitions import season_partitions, single_run
from nba_platform.lib import drift
from nba_platform.lib.features import FEATURE_COLUMNS
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.model_registry import CHAMPION
from nba_platform.resources.reports import ReportStore


class FeatureDriftConfig(dg.Config):
    reference_seasons: int = drift.DEFAULT_REFERENCE_SEASONS  # latest N training seasons of the champion
    method: str = drift.DEFAULT_METHOD  # an Evidently stat test name, the same for every feature
    threshold: float | None = None  # None: the method's Evidently default (KS: p < 0.05)
    min_current_games: int = drift.DEFAULT_MIN_CURRENT_ROWS
    align_season_progress: bool = True  # compare a partial season with the same days of the reference seasons
    top_n: int = 10  # drifted features listed in the metadata


def report_path(season: str) -> str:
    return f"drift/{season}.html"


def _not_computed(status: str, champion_label: str) -> dict:
    return {"status": status, "drift_share": float("nan"), "champion_version": champion_label}


@dg.asset(
    key=["monitoring", "feature_drift"],
    ins={"features": dg.AssetIn(key=["features", "game_features"])},
    partitions_def=season_partitions,
    backfill_policy=single_run,
    group_name="monitoring",
    kinds={"evidently", "pandas"},
    owners=["team:ml"],
    description="Evidently data drift of a season's game features against the champion model's latest training "
    "seasons (KS test per feature, partial seasons aligned by days into the season): per-feature scores, share of "
    "drifted features (`drift_share`, read by the retraining sensor) and the HTML report under <lake>/_reports/drift/.",
)
def feature_drift(
    context: dg.AssetExecutionContext,
    config: FeatureDriftConfig,
    mlflow: MlflowTracking,
    reports: ReportStore,
    features: pd.DataFrame,
) -> dg.Output:
    seasons = list(context.partition_keys)
    champion = mlflow.version_by_alias(CHAMPION)
    label = champion.label if champion else "none"
    first = champion.tags.get("train_first_season") if champion else None
    last = champion.tags.get("train_last_season") if champion else None

    out: dict[str, pd.DataFrame] = {}
    shares: dict[str, float] = {}
    for season in seasons:
        table = None
        if champion is None:
            meta = _not_computed("no champion model yet: nothing to compare with", label)
        elif not (first and last):
            meta = _not_computed(f"champion {label} has no train_first_season/train_last_season tags", label)
        else:
            table, meta = _season_drift(config, reports, features, season, first, last, label)
        table = (
            (drift.empty_drift_table() if table is None else table).assign(season=season).astype({"season": "string"})
        )
        out[season] = table[["season", *drift.TABLE_COLUMNS]]
        shares[season] = meta["drift_share"]
        context.add_asset_metadata(meta, partition_key=season)
        context.log.info(f"{season}: {meta['status']}")

    run_meta: dict = {"champion_trained_on": f"{first}..{last}" if first and last else "none"}
    if len(seasons) > 1:
        computed = {s: v for s, v in shares.items() if v == v}
        run_meta["drift_share_by_season"] = dg.MetadataValue.json(
            {s: (v if v == v else None) for s, v in shares.items()}
        )
        run_meta["drift_share_max"] = max(computed.values()) if computed else float("nan")
    return dg.Output(out, metadata=run_meta)


def _season_drift(
    config: FeatureDriftConfig,
    reports: ReportStore,
    features: pd.DataFrame,
    season: str,
    first: str,
    last: str,
    label: str,
) -> "tuple[pd.DataFrame | None, dict]":
    """(per-feature table or None when not computed, the season's materialization metadata)."""

    ref_seasons = drift.reference_seasons(
        features["season"].unique(), first, last, config.reference_seasons, exclude=[season]
    )
    base = {"champion_version": label, "reference_seasons": ", ".join(ref_seasons) or "none"}
    if not ref_seasons:
        return None, {
            **_not_computed(f"no game features for the champion's training seasons {first}..{last}", label),
            **base,
        }
    current = features[features["season"] == season]
    reference = features[features["season"].isin(ref_seasons)]
    if config.align_season_progress:
        reference = drift.align_to_season_progress(reference, current)
    try:
        result = drift.feature_drift(
            reference,
            current,
            FEATURE_COLUMNS,
            method=config.method,
            threshold=config.threshold,
            min_current_rows=config.min_current_games,
        )
    except drift.DriftRefused as refused:
        return None, {
            **_not_computed(f"not computed: {refused}", label),
            **base,
            "current_games": len(current),
            "reference_games": len(reference),
        }
    reports.write_text(report_path(season), result.html)
    latest = pd.to_datetime(current["game_date"]).max()
    return result.table, {
        "status": "ok",
        **base,
        "drift_share": result.share_drifted,
        "drifted_features": result.n_drifted,
        "features_compared": result.n_features,
        "current_games": result.n_current,
        "current_through": str(latest.date()),
        "reference_games": result.n_reference,
        "stattest": f"{result.table['stattest'].iloc[0]} (threshold {result.table['threshold'].iloc[0]:g})",
        "top_drifted": dg.MetadataValue.md(drift.drift_markdown(result.top_drifted(config.top_n))),
        "dropped_features": dg.MetadataValue.json(result.dropped),
        "report": reports.metadata_value(report_path(season)),
    }
