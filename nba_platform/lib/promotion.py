"""Champion/challenger promotion rule, and live-skill summaries of scored predictions.

Promotion rule (`promotion_decision`): both models are scored on the same played games, which
neither was trained on. With per-game Brier losses b_champion and b_challenger, d = b_challenger
- b_champion. The challenger is promoted only when
  1. at least `min_games` such games exist, and
  2. its mean Brier is lower (mean d < 0), and
  3. a paired bootstrap of mean d (games resampled with replacement, `n_boot` draws, fixed seed)
     puts the upper end of the central `confidence` interval below zero; i.e. the improvement
     is not explained by which games happened to be played.
Otherwise the champion stays, and the reason says which condition failed. Pairing matters: game
difficulty is shared by both models, so the paired interval is far narrower than comparing two
independent Brier scores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from nba_platform.lib import metrics


@dataclass(frozen=True)
class PromotionRule:
    min_games: int = 200
    confidence: float = 0.95
    n_boot: int = 2000
    seed: int = 0

    def __post_init__(self):
        if self.min_games < 1 or not 0.5 < self.confidence < 1 or self.n_boot < 100:
            raise ValueError(f"invalid promotion rule {self}")


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    games: int
    champion_brier: float
    challenger_brier: float
    mean_difference: float  # challenger - champion (negative = challenger better)
    ci_low: float
    ci_high: float
    share_of_draws_better: float

    def as_dict(self) -> dict:
        return asdict(self)


def paired_bootstrap(loss_a: np.ndarray, loss_b: np.ndarray, n_boot: int, confidence: float, seed: int = 0):
    """Mean of (loss_b - loss_a), its central bootstrap interval, and the share of draws < 0."""

    d = np.asarray(loss_b, dtype="float64") - np.asarray(loss_a, dtype="float64")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_boot, len(d)))
    means = d[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    return (
        float(d.mean()),
        float(np.quantile(means, alpha)),
        float(np.quantile(means, 1 - alpha)),
        float((means < 0).mean()),
    )


def promotion_decision(y, p_champion, p_challenger, rule: PromotionRule = PromotionRule()) -> PromotionDecision:
    y = np.asarray(y, dtype="float64")
    p_champion = np.asarray(p_champion, dtype="float64")
    p_challenger = np.asarray(p_challenger, dtype="float64")
    if not (len(y) == len(p_champion) == len(p_challenger)):
        raise ValueError("outcomes and both models' probabilities must align")
    usable = ~(np.isnan(y) | np.isnan(p_champion) | np.isnan(p_challenger))
    y, p_champion, p_challenger = y[usable], p_champion[usable], p_challenger[usable]
    n = int(len(y))
    if n < rule.min_games:
        return PromotionDecision(
            False, f"only {n} comparable played games (rule needs {rule.min_games})", n, *(float("nan"),) * 6
        )
    loss_champion, loss_challenger = (p_champion - y) ** 2, (p_challenger - y) ** 2
    mean_d, low, high, better = paired_bootstrap(
        loss_champion, loss_challenger, rule.n_boot, rule.confidence, rule.seed
    )
    b_champion, b_challenger = float(loss_champion.mean()), float(loss_challenger.mean())
    pct = int(round(rule.confidence * 100))
    if mean_d >= 0:
        promote, reason = False, f"challenger Brier {b_challenger:.4f} is not lower than champion {b_champion:.4f}"
    elif high >= 0:
        promote, reason = (
            False,
            (
                f"challenger Brier {b_challenger:.4f} < champion {b_champion:.4f} but the {pct}% paired "
                f"bootstrap interval of the difference [{low:+.4f}, {high:+.4f}] includes 0"
            ),
        )
    else:
        promote, reason = (
            True,
            (
                f"challenger Brier {b_challenger:.4f} < champion {b_champion:.4f} on {n} games; {pct}% "
                f"interval of the difference [{low:+.4f}, {high:+.4f}] is below 0"
            ),
        )
    return PromotionDecision(promote, reason, n, b_champion, b_challenger, mean_d, low, high, better)


def skill_summary(y, p, last_n: int) -> dict:
    """Brier / log loss / accuracy over every given game and over the last `last_n` (rows in date order)."""

    y, p = np.asarray(y, dtype="float64"), np.asarray(p, dtype="float64")
    ok = ~(np.isnan(y) | np.isnan(p))
    y, p = y[ok], p[ok]
    out = {"games": int(len(y))}
    for label, (yy, pp) in {"to_date": (y, p), f"last_{last_n}": (y[-last_n:], p[-last_n:])}.items():
        if len(yy):
            out[f"brier_{label}"] = metrics.brier_score(yy, pp)
            out[f"log_loss_{label}"] = metrics.log_loss(yy, pp)
            out[f"accuracy_{label}"] = metrics.accuracy(yy, pp)
        else:
            out[f"brier_{label}"] = out[f"log_loss_{label}"] = out[f"accuracy_{label}"] = float("nan")
    return out


def rolling_brier(frame: pd.DataFrame, prob_column: str, window: int) -> pd.Series:
    """Rolling mean Brier over the last `window` played games (frame sorted by date, with `home_win`)."""
    loss = (frame[prob_column].astype("float64") - frame["home_win"].astype("float64")) ** 2
    return loss.rolling(window, min_periods=max(1, window // 2)).mean()
