"""Feature-group ablation of the game model on held-out seasons (issue 17, "Better skill").

For each season, a model of a given kind is fitted on every earlier season only (as the
walk-forward serving does) once per variant: the original feature set ("before"), every group
("after"), every group but one ("all - <group>") and, with `added_alone`, the original set plus
one group ("+ <group>"). Brier, log loss and accuracy per variant and season, plus the gain in
Brier against "before" (positive = better).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from nba_platform.lib.features import feature_groups
from nba_platform.lib.metrics import compare_methods
from nba_platform.lib.models import GameModelParams, train_kind, training_frame

BASE_GROUP = "form_elo_schedule"
ABLATION_COLUMNS = ["variant", "season", "games", "brier", "log_loss", "accuracy", "brier_gain_vs_before"]


def ablation_variants(added_alone: bool = True) -> dict[str, tuple[str, ...]]:
    groups = list(feature_groups())
    added = [g for g in groups if g != BASE_GROUP]
    out = {"before (original features)": (BASE_GROUP,), "after (all groups)": tuple(groups)}
    if added_alone:
        out.update({f"+ {g}": (BASE_GROUP, g) for g in added})
    out.update({f"all - {g}": tuple(x for x in groups if x != g) for g in added})
    return out


def ablation(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    eval_seasons,
    kind: str,
    params: GameModelParams = GameModelParams(),
    added_alone: bool = True,
    first_train_season: str | None = None,
) -> pd.DataFrame:
    """ABLATION_COLUMNS, one row per variant and evaluated season plus a "mean" row per variant."""
    import pandas as pd

    seasons = sorted(features["season"].astype(str).unique())
    rows = []
    for name, groups in ablation_variants(added_alone).items():
        variant_params = dataclasses.replace(params, feature_groups=groups, candidates=(kind,))
        for season in eval_seasons:
            train = [s for s in seasons if s < season and (first_train_season is None or s >= first_train_season)]
            model = train_kind(features, outcomes, train, kind, variant_params)
            X, y, _ = training_frame(features, outcomes, [season], variant_params.season_types)
            scored = compare_methods(y, {"model": model.predict_proba_home(X)}).iloc[0]
            rows.append({"variant": name, "season": str(season), "games": int(len(y)),
                         "brier": scored["brier"], "log_loss": scored["log_loss"], "accuracy": scored["accuracy"]})  # fmt: skip
    table = pd.DataFrame(rows)
    means = table.groupby("variant", sort=False)[["brier", "log_loss", "accuracy"]].mean().reset_index()
    means = means.assign(season="mean", games=table.groupby("variant", sort=False)["games"].sum().to_numpy())
    table = pd.concat([table, means], ignore_index=True)
    before = table[table["variant"] == "before (original features)"].set_index("season")["brier"]
    table["brier_gain_vs_before"] = before.reindex(table["season"]).to_numpy() - table["brier"].to_numpy()
    order = {name: i for i, name in enumerate(ablation_variants(added_alone))}
    table = table.sort_values(["season", "variant"], key=lambda c: c.map(order) if c.name == "variant" else c)
    return table[ABLATION_COLUMNS].reset_index(drop=True)
