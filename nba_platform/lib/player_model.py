"""Player points model: the points a player scores in a game he plays, from the point-in-time
features of `features.player_game_features`.

Rows and target: a (game_id, player_id) row of the configured season types where the player
appeared (`did_play`) and his points are known; the label is `pts` from `tables/player_games`,
joined on the key and never part of the feature frame. The model predicts points *given that
the player plays*: whether he plays is known only at tip-off (inactive lists), not from the
features.

Inputs: `player_feature_columns()` (rolling means over his last 5/10 appearances, season-to-date
averages, games played, rest, started his previous appearance) + `is_home`. Every one is computed
from strictly earlier games; the game's own minutes or box score are never an input
(MODEL_FEATURE_COLUMNS is checked against the post-game columns at import).

Baselines, read from the same point-in-time features:
  * season_avg = `season_pts_avg`, the mean of his earlier appearances this season;
  * last5 / last10 = `pts_last5` / `pts_last10`, his last 5 / 10 appearances (across seasons).
Evaluation rows are the played rows where every baseline exists (at least one earlier appearance
this season), so the model and each baseline are scored on exactly the same player-games.

Estimator: HistGradientBoostingRegressor with absolute-error loss: MAE is the headline metric
and the conditional median minimises it (squared-error loss was ~1 point of improvement worse on
2020-21). It handles NaN natively (players without history). Fitted with one OpenMP thread: on a
shared 2-core machine two threads were ~10x slower (spin-waiting), one thread takes a few seconds.

Walk-forward (`walk_forward`): each season after the first with played rows is predicted by a
model fitted on every earlier season only.

Variants (`PlayerModelParams.variant`): "morning" uses only the features above (known on the
morning of the game); "starters" adds `starts_this_game` from the game's START_POSITION, which the
box score records but which is public ~30 minutes before tip-off (announced starting lineups).
It is read from `player_games` like the label, never from the feature frame. Measured on 2020-21
(bench/player_skill.py): MAE 0.971x the season-to-date average (morning), 0.964x (starters).

What to expect: points are noisy around a player's level. On 2020-21, even an oracle that knows
each player's *whole-season* median (future games included) beats the season-to-date average by
only ~5% MAE, so a per-player-level predictor cannot reach a 10% gain; the model gets ~3%.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

from nba_platform.lib.features import PLAYER_KEY_COLUMNS, PLAYER_POST_GAME_COLUMNS, player_feature_columns

PLAYER_POINTS_MODEL_NAME = "nba_player_points"
MODEL_KIND = "hist_gradient_boosting_regressor"
MODEL_FEATURE_COLUMNS = player_feature_columns() + ["is_home"]
# Starting lineups are announced about 30 minutes before tip-off: the "starters" variant knows
# whether the player starts this game; the "morning" variant (the registered model) does not.
STARTER_FEATURE = "starts_this_game"
VARIANTS = ("morning", "starters")
VARIANT_FEATURE_COLUMNS = {"morning": MODEL_FEATURE_COLUMNS, "starters": MODEL_FEATURE_COLUMNS + [STARTER_FEATURE]}
LABEL_COLUMNS = ["game_id", "player_id", "did_play", "pts"]
BASELINE_COLUMNS = {"season_avg": "season_pts_avg", "last5": "pts_last5", "last10": "pts_last10"}
METHODS = ("model", *BASELINE_COLUMNS)
REFERENCE_METHOD = "season_avg"
COMPARISON_COLUMNS = ["method", "mae", "rmse", "n", "mae_improvement_vs_season_avg"]
EVALUATION_COLUMNS = ["eval_season", "train_seasons", "n_train_rows", *COMPARISON_COLUMNS]
EVALUATION_DTYPES = {
    "eval_season": "string",
    "train_seasons": "string",
    "n_train_rows": "int64",
    "method": "string",
    "mae": "float64",
    "rmse": "float64",
    "n": "int64",
    "mae_improvement_vs_season_avg": "float64",
}

_leaking = sorted(set(MODEL_FEATURE_COLUMNS) & PLAYER_POST_GAME_COLUMNS)
if _leaking:  # pragma: no cover - guards future edits of the feature list
    raise ImportError(f"post-game columns among the model inputs: {_leaking}")


@dataclass(frozen=True)
class PlayerModelParams:
    loss: str = "absolute_error"
    learning_rate: float = 0.05
    max_iter: int = 200
    max_depth: int = 3
    min_samples_leaf: int = 100
    l2_regularization: float = 0.0
    season_types: tuple[str, ...] = ("regular", "playoffs", "play_in")
    random_state: int = 0
    fit_threads: int = 1
    variant: str = "morning"

    def feature_columns(self) -> list[str]:
        return list(VARIANT_FEATURE_COLUMNS[self.variant])

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.loss not in ("absolute_error", "squared_error"):
            raise ValueError(f"loss must be 'absolute_error' or 'squared_error', got {self.loss!r}")
        if not self.season_types:
            raise ValueError("season_types must not be empty")


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def _labels(player_games: pd.DataFrame) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    missing = [c for c in LABEL_COLUMNS if c not in player_games.columns]
    if missing:
        raise ValueError(f"player_games lacks {missing}")
    labels = pd.DataFrame(
        {
            "game_id": player_games["game_id"].astype(str).to_numpy(),
            "player_id": pd.to_numeric(player_games["player_id"]).to_numpy(dtype="int64"),
            "did_play": player_games["did_play"].astype("boolean").fillna(False).to_numpy(dtype=bool),
            "pts": pd.to_numeric(player_games["pts"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan),
        }
    )
    if "start_position" in player_games.columns:  # the lineup, known at tip-off (not in the morning)
        position = player_games["start_position"].astype("string").fillna("").str.strip()
        labels[STARTER_FEATURE] = (position != "").to_numpy(dtype="float64")
    else:
        labels[STARTER_FEATURE] = np.nan
    if labels.duplicated(["game_id", "player_id"]).any():
        raise ValueError("player_games must hold one row per (game_id, player_id)")
    return labels


def training_frame(
    features: pd.DataFrame,
    player_games: pd.DataFrame,
    seasons,
    season_types=PlayerModelParams.season_types,
    feature_columns=MODEL_FEATURE_COLUMNS,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Played rows with known points of `seasons` and `season_types`, sorted by date, game, player.

    Returns X (`feature_columns`, float64, plus the baseline columns), y (points, float64) and keys
    (PLAYER_KEY_COLUMNS), aligned and indexed 0..n-1. Only the label columns of `player_games`
    (and start_position, for STARTER_FEATURE) are read."""
    used = list(dict.fromkeys(PLAYER_KEY_COLUMNS + MODEL_FEATURE_COLUMNS))  # is_home is both a key and an input
    missing = [c for c in used if c not in features.columns]
    if missing:
        raise ValueError(f"features lack {len(missing)} column(s), e.g. {missing[:5]}")
    seasons = [str(s) for s in seasons]
    rows = features["season"].astype(str).isin(seasons) & features["season_type"].astype(str).isin(list(season_types))
    frame = features.loc[rows.to_numpy(), used].copy()
    frame["game_id"] = frame["game_id"].astype(str)
    frame["player_id"] = frame["player_id"].astype("int64")
    if frame.duplicated(["game_id", "player_id"]).any():
        raise ValueError("features must hold one row per (game_id, player_id)")
    frame = frame.merge(_labels(player_games), on=["game_id", "player_id"], how="inner", validate="one_to_one")
    frame = frame[(frame["did_play"] & frame["pts"].notna()).to_numpy()]
    frame = frame.sort_values(["game_date", "game_id", "player_id"], kind="mergesort").reset_index(drop=True)
    columns = list(dict.fromkeys([*feature_columns, *BASELINE_COLUMNS.values()]))
    X = frame[columns].astype("float64")
    return X, frame["pts"].to_numpy(dtype="float64"), frame[PLAYER_KEY_COLUMNS].copy()


def seasons_with_played_rows(
    features: pd.DataFrame, player_games: pd.DataFrame, season_types=PlayerModelParams.season_types
) -> list[str]:
    """Seasons (sorted) holding at least one played, labelled row of the season types."""
    if features.empty or player_games.empty:
        return []
    all_seasons = sorted(features["season"].astype(str).unique())
    _, _, keys = training_frame(features, player_games, all_seasons, season_types)
    return sorted(keys["season"].astype(str).unique())


# ---------------------------------------------------------------------------
# Baselines and metrics
# ---------------------------------------------------------------------------


def evaluation_rows(X: pd.DataFrame) -> np.ndarray:
    """Rows where every baseline exists: the common rows every method is scored on."""
    return X[list(BASELINE_COLUMNS.values())].notna().all(axis=1).to_numpy()


def baseline_predictions(X: pd.DataFrame) -> dict[str, np.ndarray]:
    """season_avg / last5 / last10 forecasts carried by the point-in-time features (NaN where a
    player has no such history)."""
    return {name: X[column].to_numpy(dtype="float64") for name, column in BASELINE_COLUMNS.items()}


def regression_metrics(y, pred) -> dict:
    """MAE, RMSE and n; inputs must be the same length, non-empty and finite (a missing
    prediction is an error, never dropped, so methods compared side by side share their rows)."""
    import numpy as np

    y, pred = np.asarray(y, dtype="float64"), np.asarray(pred, dtype="float64")
    if y.shape != pred.shape or y.ndim != 1:
        raise ValueError(f"y and predictions must be 1-d of the same length, got {y.shape} and {pred.shape}")
    if len(y) == 0:
        raise ValueError("no rows to score")
    if not (np.isfinite(y).all() and np.isfinite(pred).all()):
        raise ValueError("y and predictions must be finite")
    err = pred - y
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2))), "n": int(len(y))}


def compare_methods(y, predictions: dict[str, np.ndarray]) -> pd.DataFrame:
    """COMPARISON_COLUMNS per method; mae_improvement_vs_season_avg = 1 - MAE / season_avg MAE
    (positive = better than the season-to-date average)."""
    import numpy as np
    import pandas as pd

    rows = [{"method": name, **regression_metrics(y, p)} for name, p in predictions.items()]
    table = pd.DataFrame(rows)
    if REFERENCE_METHOD in predictions:
        reference = float(table.loc[table["method"] == REFERENCE_METHOD, "mae"].iloc[0])
        table["mae_improvement_vs_season_avg"] = 1.0 - table["mae"] / reference
    else:
        table["mae_improvement_vs_season_avg"] = np.nan
    return table[COMPARISON_COLUMNS]


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


def build_estimator(params: PlayerModelParams = PlayerModelParams()):
    from sklearn.ensemble import HistGradientBoostingRegressor

    # Early stopping off: max_iter is the number of trees, and no random validation split is taken.
    return HistGradientBoostingRegressor(
        loss=params.loss,
        learning_rate=params.learning_rate,
        max_iter=params.max_iter,
        max_depth=params.max_depth,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        early_stopping=False,
        random_state=params.random_state,
    )


@dataclass
class TrainedPointsModel:
    estimator: object
    feature_columns: list[str]
    train_seasons: list[str]
    n_train_rows: int
    params: dict

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted points for every row of a frame holding the feature columns."""
        import numpy as np

        missing = [c for c in self.feature_columns if c not in X.columns]
        if missing:
            raise ValueError(f"features lack {len(missing)} model column(s), e.g. {missing[:5]}")
        if len(X) == 0:
            return np.empty(0, dtype="float64")
        from threadpoolctl import threadpool_limits

        with threadpool_limits(self.params.get("fit_threads", 1)):
            return np.asarray(self.estimator.predict(X[self.feature_columns].astype("float64")), dtype="float64")


def train(
    features: pd.DataFrame, player_games: pd.DataFrame, train_seasons, params: PlayerModelParams = PlayerModelParams()
) -> TrainedPointsModel:
    """Fit on the played rows of `train_seasons` only (nothing else of the frames is read)."""
    from threadpoolctl import threadpool_limits

    requested = sorted({str(s) for s in train_seasons})
    columns = params.feature_columns()
    X, y, keys = training_frame(features, player_games, requested, params.season_types, columns)
    if len(y) == 0:
        raise ValueError(f"no played player-games in training seasons {requested}")
    if X[columns].isna().all().any():
        raise ValueError(f"no observed value of {list(X[columns].columns[X[columns].isna().all()])} in training rows")
    with threadpool_limits(params.fit_threads):
        estimator = build_estimator(params).fit(X[columns], y)
    return TrainedPointsModel(
        estimator=estimator,
        feature_columns=columns,
        train_seasons=sorted(keys["season"].astype(str).unique()),
        n_train_rows=int(len(y)),
        params=dataclasses.asdict(params),
    )


def evaluate(
    model: TrainedPointsModel, features: pd.DataFrame, player_games: pd.DataFrame, season: str
) -> pd.DataFrame:
    """The model and every baseline on the evaluation rows of `season` (COMPARISON_COLUMNS)."""
    if str(season) in model.train_seasons:
        raise ValueError(f"season {season} was used for training")
    X, y, _ = training_frame(features, player_games, [season], model.params["season_types"], model.feature_columns)
    rows = evaluation_rows(X)
    if not rows.any():
        raise ValueError(f"no evaluation rows in {season} (played, with an earlier appearance that season)")
    X_eval = X[rows].reset_index(drop=True)
    predictions = {"model": model.predict(X_eval), **baseline_predictions(X_eval)}
    return compare_methods(y[rows], predictions)


def walk_forward(
    features: pd.DataFrame, player_games: pd.DataFrame, params: PlayerModelParams = PlayerModelParams()
) -> tuple[pd.DataFrame, dict[str, TrainedPointsModel]]:
    """Every season after the first with played rows, predicted by a model fitted on all earlier
    seasons. Returns EVALUATION_COLUMNS (one row per season and method) and the fitted models by
    evaluated season; both empty with fewer than two such seasons."""
    import pandas as pd

    seasons = seasons_with_played_rows(features, player_games, params.season_types)
    tables, models = [], {}
    for i, season in enumerate(seasons[1:], start=1):
        model = train(features, player_games, seasons[:i], params)
        table = evaluate(model, features, player_games, season)
        table.insert(0, "n_train_rows", model.n_train_rows)
        table.insert(0, "train_seasons", ",".join(model.train_seasons))
        table.insert(0, "eval_season", season)
        tables.append(table)
        models[season] = model
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=EVALUATION_DTYPES[c]) for c in EVALUATION_COLUMNS}), models
    return pd.concat(tables, ignore_index=True)[EVALUATION_COLUMNS], models
