"""Drift share on real seasons: the measurement behind "drift is a report, not a retraining trigger"
(README, "The champion stays current"). A script, not a test (~10 min on 2 cores: Evidently).

    .venv/bin/python bench/drift_real_seasons.py

Regular-season game features of the shipped box-score seasons (nba_platform_tests/real_features.py,
2019-20..2023-24), Evidently KS per feature (lib/drift.feature_drift, the asset's own test):
  * consecutive seasons, both ways, raw and with every feature normalised within its season;
  * each season against the three before it (the drift asset's reference);
  * two random halves of one season (the same distribution);
  * a synthetic league-wide scoring jump on 2023-24 (+15 points, ratings x1.3), raw and normalised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_platform.lib.drift import feature_drift
from nba_platform.lib.features import FEATURE_COLUMNS
from nba_platform_tests.real_features import real_game_features, scoring_jump

COLUMNS = list(FEATURE_COLUMNS)


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    values = out[COLUMNS].apply(pd.to_numeric, errors="coerce").astype("float64")
    by_season = values.groupby(out["season"])
    out[COLUMNS] = (values - by_season.transform("mean")) / by_season.transform("std").replace(0, np.nan)
    return out


def share(reference: pd.DataFrame, current: pd.DataFrame) -> float:
    return round(feature_drift(reference, current, COLUMNS).share_drifted, 2)


def main() -> None:
    games = real_game_features()
    games = games[games["season_type"] == "regular"]
    seasons = sorted(s for s in games["season"].unique() if s >= "2019-20")  # 2018-19 starts cold
    norm = normalised(games)
    season = lambda frame, s: frame[frame["season"] == s]  # noqa: E731
    for a, b in zip(seasons, seasons[1:]):
        print(
            f"{a} -> {b}: raw {share(season(games, a), season(games, b))}, "
            f"reversed {share(season(games, b), season(games, a))}, "
            f"normalised {share(season(norm, a), season(norm, b))}",
            flush=True,
        )
    for s in seasons[1:]:
        before = [x for x in sorted(games["season"].unique()) if x < s][-3:]
        print(f"{s} vs {', '.join(before)}: {share(games[games['season'].isin(before)], season(games, s))}")
    rng = np.random.default_rng(0)
    for s in seasons:
        rows = season(games, s)
        order = rng.permutation(len(rows))
        half = len(rows) // 2
        print(f"{s} random halves: {share(rows.iloc[order[:half]], rows.iloc[order[half:]])}")
    reference = games[games["season"].isin(seasons[-4:-1])]
    jump = scoring_jump(season(games, seasons[-1]))
    print(f"scoring jump on {seasons[-1]} vs the three before: raw {share(reference, jump)}", flush=True)
    print(
        f"normalised: jump {share(normalised(reference), normalised(jump))}, "
        f"unchanged season {share(normalised(reference), normalised(season(games, seasons[-1])))}"
    )


if __name__ == "__main__":
    main()
