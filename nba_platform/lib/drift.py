"""Feature drift of a season's games against the data a model was trained on, with Evidently.

Choices, measured on the shipped seasons (each season against the three before it):
  * One test for every feature: two-sample Kolmogorov-Smirnov, drift when p < 0.05
    (`DEFAULT_METHOD`). Its false-positive rate stays near 5% whatever the number of current
    games (i.i.d. splits of 50 to 1,000 games: 0-12% of features flagged), so a partial season
    is comparable with a full one. Evidently's default for large references, normed
    Wasserstein >= 0.1, is dominated by sampling noise below a few hundred games (50 i.i.d.
    games from the reference's own distribution: 90-99% of features flagged), and Evidently's
    automatic choice switches test with the reference size, so shares would not compare.
  * Real seasons do drift: league scoring and pace move every year, so full seasons against
    their three predecessors flag 10-71% of features (2023-24: 71%). Thresholds on the share
    belong to whoever acts on it (the retraining sensor).
  * Season progress (`align_to_season_progress`): rolling, season-to-date and schedule
    features depend on how far into its season a game is, so a partial season is compared with
    the reference games at the same point of their seasons. Without it the first 10 days of a
    season flag about half the features against full reference seasons; with it, 7-27%.
  * Features with no value on one side cannot be compared: they are dropped and reported.
  * Fewer current (or reference) games than a minimum is refused with the reason
    (`DriftRefused`), not computed from noise: a new season's first days.

Evidently is imported inside `feature_drift` only: it costs seconds to import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DEFAULT_METHOD = "ks"
DEFAULT_MIN_CURRENT_ROWS = 50
DEFAULT_MIN_REFERENCE_ROWS = 50
DEFAULT_REFERENCE_SEASONS = 3
# Evidently stat tests whose score is a p-value (drift when the score is BELOW the threshold);
# the others are distances (drift when the score reaches it).
P_VALUE_METHODS = frozenset(
    {"ks", "chisquare", "z", "anderson", "cramer_von_mises", "es", "fisher_exact", "g_test", "mannw", "t_test"}
)
TABLE_COLUMNS = ["feature", "drift_score", "stattest", "threshold", "drifted", "reference_mean", "current_mean"]


class DriftRefused(ValueError):
    """Drift was not computed; the message says why (too few games, nothing comparable)."""


@dataclass(frozen=True)
class DriftResult:
    table: pd.DataFrame  # TABLE_COLUMNS, one row per compared feature, most drifted first
    share_drifted: float
    n_drifted: int
    n_reference: int
    n_current: int
    method: str
    dropped: dict[str, str] = field(default_factory=dict)  # feature -> why it was not compared
    html: str = ""  # the Evidently report, a standalone HTML page

    @property
    def n_features(self) -> int:
        return len(self.table)

    def top_drifted(self, n: int = 10) -> pd.DataFrame:
        return self.table[self.table["drifted"]].head(n)


def empty_drift_table() -> pd.DataFrame:
    """The table of a season whose drift was not computed: same columns and types, no rows."""

    return pd.DataFrame(
        {
            "feature": pd.Series(dtype="string"),
            "drift_score": pd.Series(dtype="float64"),
            "stattest": pd.Series(dtype="string"),
            "threshold": pd.Series(dtype="float64"),
            "drifted": pd.Series(dtype="bool"),
            "reference_mean": pd.Series(dtype="float64"),
            "current_mean": pd.Series(dtype="float64"),
        }
    )


def reference_seasons(available, first: str, last: str, n: int = DEFAULT_REFERENCE_SEASONS, exclude=()) -> list[str]:
    """The most recent `n` seasons of a model's training range [first, last] that have data,
    oldest first: the era the model last learned. `exclude` (the season under test) never counts."""
    if n < 1:
        raise ValueError(f"need at least one reference season, got n={n}")
    trained = sorted(s for s in set(available) if first <= s <= last and s not in set(exclude))
    return trained[-n:]


def align_to_season_progress(
    reference: pd.DataFrame, current: pd.DataFrame, date_column: str = "game_date", season_column: str = "season"
) -> pd.DataFrame:
    """Reference games no further into their season than the current data's latest game is into
    its own (days since each season's first game in the frame). A complete current season keeps
    the whole reference."""

    if reference.empty or current.empty:
        return reference

    def day_of_season(frame: pd.DataFrame) -> pd.Series:
        dates = pd.to_datetime(frame[date_column])
        return (dates - dates.groupby(frame[season_column]).transform("min")).dt.days

    return reference[day_of_season(reference) <= day_of_season(current).max()]


def _numeric(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """float64 columns, NaN for NA and +-inf (booleans and nullable ints included)."""

    out = pd.DataFrame(
        {c: pd.to_numeric(frame[c], errors="coerce").astype("float64") for c in columns}, index=frame.index
    )
    return out.replace([np.inf, -np.inf], np.nan)


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns,
    method: str = DEFAULT_METHOD,
    threshold: float | None = None,
    min_current_rows: int = DEFAULT_MIN_CURRENT_ROWS,
    min_reference_rows: int = DEFAULT_MIN_REFERENCE_ROWS,
) -> DriftResult:
    """Evidently DataDriftPreset over `columns` (all numeric) of `current` against `reference`.

    `threshold` None means the method's Evidently default (p < 0.05 for KS). Raises DriftRefused
    when there are too few rows or no comparable feature."""
    columns = list(dict.fromkeys(columns))
    absent = [c for c in columns if c not in reference.columns or c not in current.columns]
    if absent:
        raise KeyError(f"feature columns missing from the frames: {absent[:10]}")
    if len(current) < min_current_rows:
        raise DriftRefused(
            f"only {len(current)} current games; drift needs at least {min_current_rows} "
            "(too early in the season to tell drift from noise)"
        )
    if len(reference) < min_reference_rows:
        raise DriftRefused(f"only {len(reference)} reference games; drift needs at least {min_reference_rows}")

    ref, cur = _numeric(reference, columns), _numeric(current, columns)
    dropped = {}
    for c in columns:
        if ref[c].isna().all():
            dropped[c] = "no value in the reference"
        elif cur[c].isna().all():
            dropped[c] = "no value in the current data"
    compared = [c for c in columns if c not in dropped]
    if not compared:
        raise DriftRefused(f"none of the {len(columns)} features has values on both sides")

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=compared)
    report = Report([DataDriftPreset(columns=compared, method=method, threshold=threshold)], include_tests=True)
    snapshot = report.run(
        current_data=Dataset.from_pandas(cur[compared].reset_index(drop=True), data_definition=definition),
        reference_data=Dataset.from_pandas(ref[compared].reset_index(drop=True), data_definition=definition),
    )
    table, share, n_drifted = _parse_snapshot(snapshot.dict(), compared, method)
    table["reference_mean"] = [float(ref[c].mean()) for c in table["feature"]]
    table["current_mean"] = [float(cur[c].mean()) for c in table["feature"]]
    # Not save_html(file-like): Evidently 0.7.23 silently writes nothing unless given a path.
    html = snapshot.get_html_str(as_iframe=False)
    return DriftResult(
        table=table,
        share_drifted=share,
        n_drifted=n_drifted,
        n_reference=len(reference),
        n_current=len(current),
        method=method,
        dropped=dropped,
        html=html,
    )


def _parse_snapshot(result: dict, compared: list[str], method: str) -> tuple[pd.DataFrame, float, int]:
    """(per-feature table, share drifted, count drifted) from `Snapshot.dict()` (Evidently 0.7):
    metrics hold DriftedColumnsCount {count, share} and one ValueDrift per column (score, resolved
    method and threshold); tests hold each column's drift verdict (status FAIL = drift)."""

    counts, rows = None, {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":DriftedColumnsCount"):
            counts = metric["value"]
        elif config["type"].endswith(":ValueDrift"):
            rows[config["column"]] = {
                "feature": config["column"],
                "drift_score": float(metric["value"]),
                "stattest": config.get("method"),
                "threshold": float(config["threshold"]),
            }
    verdicts = {
        test["metric_config"]["params"]["column"]: test["status"] == "FAIL"
        for test in result["tests"]
        if test["metric_config"]["params"]["type"].endswith(":ValueDrift")
    }
    if counts is None or set(rows) != set(compared) or set(verdicts) != set(compared):
        raise RuntimeError("unexpected Evidently result: missing DriftedColumnsCount or per-column drift")
    table = pd.DataFrame([{**rows[c], "drifted": verdicts[c]} for c in compared])
    n_drifted = int(table["drifted"].sum())
    if n_drifted != int(counts["count"]):
        raise RuntimeError(f"Evidently disagrees with itself: {n_drifted} column verdicts vs count {counts['count']}")
    # Most drifted first: smallest p-value, or largest distance.
    ascending = method in P_VALUE_METHODS
    table = table.sort_values(["drifted", "drift_score"], ascending=[False, ascending], kind="mergesort")
    table = table.reset_index(drop=True).astype({"feature": "string", "stattest": "string", "drifted": "bool"})
    return table, float(counts["share"]), n_drifted


def drift_markdown(table: pd.DataFrame, n: int = 10) -> str:
    """The top `n` rows of a drift table as a markdown table."""
    if table.empty:
        return "_no drifted features_"
    lines = ["| feature | score | test | threshold | reference mean | current mean |", "|---|---|---|---|---|---|"]
    for r in table.head(n).itertuples():
        lines.append(
            f"| {r.feature} | {r.drift_score:.3g} | {r.stattest} | {r.threshold:g} | "
            f"{r.reference_mean:.4g} | {r.current_mean:.4g} |"
        )
    return "\n".join(lines)
