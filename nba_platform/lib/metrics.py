"""Probability-forecast metrics for binary outcomes (home win = 1).

Every function takes outcomes `y` (0/1) and probabilities `p` of the outcome 1. Inputs are
checked: same length, non-empty, y in {0, 1}, p finite and in [0, 1]; a NaN probability is an
error, never silently dropped, so methods compared side by side are scored on the same games.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pandas as pd

LOG_LOSS_EPS = 1e-15
CALIBRATION_COLUMNS = ["bin_lower", "bin_upper", "n", "mean_predicted", "observed_rate"]
COMPARISON_COLUMNS = ["method", "n", "brier", "log_loss", "accuracy"]


def _outcomes(y) -> np.ndarray:
    values = pd.Series(np.asarray(y, dtype="object").ravel() if not isinstance(y, pd.Series) else y.to_numpy("object"))
    if values.isna().any():
        raise ValueError(f"outcomes: {int(values.isna().sum())} missing values")
    values = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    if not np.isin(values, (0.0, 1.0)).all():
        raise ValueError("outcomes must be 0 or 1")
    return values


def _probabilities(p, n: int, name: str = "probabilities") -> np.ndarray:
    values = np.asarray(
        pd.to_numeric(pd.Series(np.asarray(p, dtype="object").ravel()), errors="coerce"), dtype="float64"
    )
    if len(values) != n:
        raise ValueError(f"{name}: {len(values)} values for {n} outcomes")
    if np.isnan(values).any():
        raise ValueError(f"{name}: {int(np.isnan(values).sum())} missing (NaN) probabilities")
    if ((values < 0) | (values > 1)).any():
        raise ValueError(f"{name}: probabilities outside [0, 1]")
    return values


def _pair(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = _outcomes(y)
    if len(y) == 0:
        raise ValueError("no outcomes to score")
    return y, _probabilities(p, len(y))


def brier_score(y, p) -> float:
    """Mean squared error of the probabilities: 0 is perfect, 0.25 is a constant 0.5."""

    y, p = _pair(y, p)
    return float(np.mean((p - y) ** 2))


def log_loss(y, p) -> float:
    """Mean negative log-likelihood (natural log), p clipped to [1e-15, 1 - 1e-15]."""

    y, p = _pair(y, p)
    p = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def accuracy(y, p) -> float:
    """Share of games whose outcome the forecast called: p >= 0.5 means a home win."""

    y, p = _pair(y, p)
    return float(np.mean((p >= 0.5) == (y == 1)))


def calibration_table(y, p, bins: int = 10) -> pd.DataFrame:
    """Reliability table over `bins` equal-width probability bins on [0, 1] (the last bin
    includes 1.0); empty bins are dropped. Columns: bin_lower, bin_upper, n, mean_predicted,
    observed_rate."""

    if int(bins) < 1:
        raise ValueError("bins must be >= 1")
    bins = int(bins)
    y, p = _pair(y, p)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.floor(p * bins).astype("int64"), 0, bins - 1)
    n = np.bincount(index, minlength=bins)
    sum_p = np.bincount(index, weights=p, minlength=bins)
    sum_y = np.bincount(index, weights=y, minlength=bins)
    keep = n > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "bin_lower": edges[:-1],
                "bin_upper": edges[1:],
                "n": n.astype("int64"),
                "mean_predicted": sum_p / n,
                "observed_rate": sum_y / n,
            }
        )
    return table[keep].reset_index(drop=True)


def compare_methods(y, probs: Mapping[str, object]) -> pd.DataFrame:
    """One row per method (method, n, brier, log_loss, accuracy), best (lowest) Brier first.
    Every method must give a probability for every game: a length mismatch or a NaN raises
    ValueError, so all methods are scored on exactly the same games."""

    if not probs:
        raise ValueError("no methods to compare")
    y = _outcomes(y)
    if len(y) == 0:
        raise ValueError("no outcomes to score")
    rows = []
    for name, p in probs.items():
        p = _probabilities(p, len(y), name=str(name))
        rows.append(
            {
                "method": str(name),
                "n": len(y),
                "brier": brier_score(y, p),
                "log_loss": log_loss(y, p),
                "accuracy": accuracy(y, p),
            }
        )
    frame = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    return frame.sort_values(["brier", "method"], kind="mergesort").reset_index(drop=True)


def calibration_plot_png(y, probs: Mapping[str, object], title: str = "Calibration", bins: int = 10) -> bytes:
    """Reliability diagram (observed home-win rate against mean forecast per bin, one line per
    method, the diagonal for perfect calibration) as PNG bytes. Uses the Agg backend, so it
    needs no display."""
    if not probs:
        raise ValueError("no methods to plot")
    y = _outcomes(y)
    curves = [(str(name), calibration_table(y, p, bins), brier_score(y, p)) for name, p in probs.items()]

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    for name, table, brier in curves:
        ax.plot(table["mean_predicted"], table["observed_rate"], marker="o", label=f"{name} (Brier {brier:.4f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted P(home win)")
    ax.set_ylabel("observed home-win rate")
    ax.set_title(f"{title} (n={len(y)})")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def markdown_comparison(df: pd.DataFrame, decimals: int = 4) -> str:
    """A markdown table of a frame (e.g. `compare_methods` output), floats to `decimals` places."""

    columns = [str(c) for c in df.columns]

    def cell(v) -> str:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return ""
        if isinstance(v, (float, np.floating)):
            return f"{v:.{decimals}f}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)
