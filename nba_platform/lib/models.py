"""Game-outcome models: P(home win) from the point-in-time features of `features.game_features`.

Procedure (`select_and_train`):
  1. Training rows are the *played* games (label known) of the training seasons and the
     configured season types, sorted by date. Nothing else of the feature frame is read, so
     later seasons in the frame cannot influence the model.
  2. Model choice by out-of-time skill: every candidate kind is fitted on all training seasons
     but the latest and scored (Brier) on the latest; the lowest Brier wins (ties: the earlier
     candidate in `GameModelParams.candidates`).
  3. The chosen kind is refitted on all training seasons.

Candidates:
  * "logistic": median imputation with missing-value indicators (box-score features are NaN
    before 2018-19, where only points exist), standardisation, L2 logistic regression.
  * "hist_gradient_boosting": sklearn's HistGradientBoostingClassifier, which handles NaN
    natively; columns that are entirely NaN in the training rows are dropped first (sklearn 1.9
    fails to bin a feature with no observed value). Early stopping is off, so `hgb_max_iter`
    is the number of trees and no random validation split is taken.

Calibration (`GameModelParams.calibration` "sigmoid" or "isotonic"; "none" skips it):
CalibratedClassifierCV(ensemble=False) with leave-seasons-out folds. The training seasons are
dealt round-robin in date order into 3 folds (season i -> fold i % 3); the calibrator is fitted
on out-of-fold predictions, i.e. every season predicted by a model that never saw it, which is
what a deployed model does to the coming season. The model used for prediction is then fitted
on every training row, including the latest season. (With fewer than 2 seasons, or when no
season labels are given, the folds are KFold(3) contiguous row blocks of the date-sorted rows.)
Why not the alternatives (measured on 2021-22..2023-24, trained from 2004-05):
  * TimeSeriesSplit / forward chaining are not partitions, so they need ensemble=True, and
    prediction then averages models of which some were fitted on a fraction of the history -
    the first TimeSeriesSplit member on ~2004-2008 only, with no box-score features at all.
    On 2023-24 that cost ~0.01 Brier (0.220 against 0.210).
  * The default StratifiedKFold(3) with ensemble=True averages three models fitted on two
    thirds of the rows each, never on everything (~+0.0005 to +0.001 Brier).
  * Contiguous blocks of seasons (KFold on date-sorted rows) predict 2016-2023 with a model
    that never saw a box score (those features start in 2018-19), so the calibration map is
    fitted on era-shifted predictions (~+0.0005 Brier on 2022-23 and 2023-24).
Seasons later than a held-out season do train the model that predicts it. That only shapes the
calibration map (two parameters for sigmoid); the evaluated season is never among the training
rows, so no information about it reaches the model. Calibration changes Brier by well under
0.001 either way on these seasons: a regularised logistic model is already close to calibrated.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from nba_platform.lib.features import FEATURE_COLUMNS, GAME_KEY_COLUMNS
from nba_platform.lib.metrics import accuracy, brier_score, log_loss
from nba_platform.lib.model_params import MODEL_KINDS, GameModelParams

CALIBRATION_FOLDS = 3
VALIDATION_COLUMNS = ["candidate", "brier", "log_loss", "accuracy", "n", "selected"]


class DropAllMissingColumns(TransformerMixin, BaseEstimator):
    """Drops the columns that hold no observed value in the rows it was fitted on, or (with
    `min_coverage`) fewer observed values than that share of the rows. Why: before 2018-19 box
    scores exist only for playoff games, so box-score features are ~5% observed in those
    training seasons; a model that learns them from so few rows extrapolates wildly on a season
    where they are common (2011-12 walk-forward predictions reached p = 1e-9 before this)."""

    def __init__(self, min_coverage: float = 0.0):
        self.min_coverage = min_coverage

    def fit(self, X, y=None):
        values = np.asarray(X, dtype="float64")
        self.n_features_in_ = values.shape[1]
        observed = (~np.isnan(values)).mean(axis=0) if len(values) else np.zeros(values.shape[1])
        self.keep_ = (observed > 0) & (observed >= self.min_coverage)
        return self

    def transform(self, X):
        values = np.asarray(X, dtype="float64")
        if values.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got {values.shape[1]}")
        return values[:, self.keep_]


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def training_frame(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    seasons,
    season_types=GameModelParams.season_types,
    feature_columns=FEATURE_COLUMNS,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Played games (home_win known) of `seasons` and `season_types`, sorted by date then game id.

    Returns X (`feature_columns`, float64), y (int 0/1 ndarray) and keys (GAME_KEY_COLUMNS), all
    aligned and indexed 0..n-1."""
    feature_columns = list(feature_columns)
    missing = [c for c in GAME_KEY_COLUMNS + feature_columns if c not in features.columns]
    if missing:
        raise ValueError(f"features lack {len(missing)} column(s), e.g. {missing[:5]}")
    if features["game_id"].duplicated().any():
        raise ValueError("features must hold one row per game_id")
    seasons = [str(s) for s in seasons]
    rows = features["season"].astype(str).isin(seasons) & features["season_type"].astype(str).isin(list(season_types))
    frame = features.loc[rows.to_numpy(), GAME_KEY_COLUMNS + feature_columns]
    labels = outcomes[["game_id", "home_win"]]
    if labels["game_id"].duplicated().any():
        raise ValueError("outcomes must hold one row per game_id")
    frame = frame.merge(labels, on="game_id", how="inner", validate="one_to_one")
    frame = frame[frame["home_win"].notna().to_numpy()]
    frame = frame.sort_values(["game_date", "game_id"], kind="mergesort").reset_index(drop=True)
    X = frame[feature_columns].astype("float64")
    y = frame["home_win"].astype("int64").to_numpy()
    return X, y, frame[GAME_KEY_COLUMNS].copy()


def walk_forward_train_seasons(all_seasons_with_games, target_season: str) -> list[str]:
    """Every season strictly before `target_season` (season labels sort chronologically)."""
    return sorted({str(s) for s in all_seasons_with_games if str(s) < str(target_season)})


def elo_baseline(features_df: pd.DataFrame) -> np.ndarray:
    """The Elo forecast carried by the features (`elo_p_home_win`)."""
    return pd.to_numeric(features_df["elo_p_home_win"], errors="coerce").to_numpy(dtype="float64")


def home_base_rate(y) -> float:
    """Share of home wins in training labels: the no-information forecast."""
    values = np.asarray(y, dtype="float64")
    if values.size == 0 or np.isnan(values).any():
        raise ValueError("home_base_rate needs a non-empty set of known outcomes")
    return float(values.mean())


# ---------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------


def calibration_folds(seasons=None, n_rows: int | None = None, n_folds: int = CALIBRATION_FOLDS):
    """Calibration CV: leave-seasons-out folds from per-row season labels (season i in date
    order -> fold i % n_folds) as a list of (train, test) index arrays; KFold(n_folds) on
    contiguous rows when there are no labels or fewer than 2 seasons."""
    if seasons is None:
        return KFold(n_splits=n_folds, shuffle=False)
    labels = np.asarray(seasons).astype(str)
    if n_rows is not None and len(labels) != n_rows:
        raise ValueError(f"{len(labels)} season labels for {n_rows} rows")
    distinct = sorted(set(labels.tolist()))
    if len(distinct) < 2:
        return KFold(n_splits=n_folds, shuffle=False)
    n_folds = min(n_folds, len(distinct))
    fold_of = {s: i % n_folds for i, s in enumerate(distinct)}
    fold = np.array([fold_of[s] for s in labels])
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(n_folds)]


def build_estimator(kind: str, params: GameModelParams = GameModelParams(), seasons=None):
    """An unfitted classifier of `kind` (see module docstring), calibrated unless
    params.calibration == "none". `seasons`: the season label of each row it will be fitted on,
    for leave-seasons-out calibration folds (without it: contiguous row blocks, so fit it on
    date-sorted rows)."""
    if kind == "logistic":
        base = Pipeline(
            [
                ("drop_sparse", DropAllMissingColumns(params.min_feature_coverage)),
                ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                ("scale", StandardScaler()),
                # A value far outside the training range must not dominate a linear score.
                ("clip", FunctionTransformer(np.clip, kw_args={"a_min": -8.0, "a_max": 8.0})),
                ("model", LogisticRegression(C=params.logistic_c, solver="newton-cholesky", max_iter=200)),
            ]
        )
    elif kind == "hist_gradient_boosting":
        base = Pipeline(
            [
                ("drop_empty", DropAllMissingColumns(params.min_feature_coverage)),
                (
                    "model",
                    HistGradientBoostingClassifier(
                        max_iter=params.hgb_max_iter,
                        learning_rate=params.hgb_learning_rate,
                        max_depth=params.hgb_max_depth,
                        min_samples_leaf=params.hgb_min_samples_leaf,
                        early_stopping=False,
                        random_state=params.random_state,
                    ),
                ),
            ]
        )
    else:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")
    if params.calibration == "none":
        return base
    return CalibratedClassifierCV(base, method=params.calibration, cv=calibration_folds(seasons), ensemble=False)


def _home_win_column(estimator) -> int:
    classes = list(estimator.classes_)
    if 1 not in classes:
        raise ValueError(f"model was not trained on any home win (classes {classes})")
    return classes.index(1)


def _fit(kind: str, params: GameModelParams, X: pd.DataFrame, y: np.ndarray, seasons: np.ndarray):
    if len(np.unique(y)) < 2:
        raise ValueError("training rows hold only one outcome; need both home wins and home losses")
    # One OpenMP thread: on a 2-core box shared with the webserver, daemon or other steps,
    # HistGradientBoosting's spinning threads made a fit ~8x slower (60 s vs 7 s measured).

    with threadpool_limits(limits=1, user_api="openmp"):
        return build_estimator(kind, params, seasons).fit(X, y)


def _predict(estimator, X: pd.DataFrame) -> np.ndarray:
    return estimator.predict_proba(X)[:, _home_win_column(estimator)]


@dataclass
class TrainedGameModel:
    estimator: object
    kind: str
    feature_columns: list[str]
    train_seasons: list[str]
    validation: pd.DataFrame
    params: dict
    n_train_rows: int
    validation_season: str = ""
    train_home_win_rate: float = float("nan")
    fit_seasons: list[str] = field(default_factory=list)

    def predict_proba_home(self, features_df: pd.DataFrame) -> np.ndarray:
        """P(home win) for every row of a `game_features` frame (played or not)."""
        missing = [c for c in self.feature_columns if c not in features_df.columns]
        if missing:
            raise ValueError(f"features lack {len(missing)} model column(s), e.g. {missing[:5]}")
        if len(features_df) == 0:
            return np.empty(0, dtype="float64")
        X = features_df[self.feature_columns].astype("float64").reset_index(drop=True)
        return np.asarray(_predict(self.estimator, X), dtype="float64")


def select_and_train(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    train_seasons,
    params: GameModelParams = GameModelParams(),
    feature_columns=FEATURE_COLUMNS,
) -> TrainedGameModel:
    """Choose the candidate kind with the lowest Brier on the latest training season (fitted
    on the earlier ones), then refit it on all training seasons. Only played games of
    `train_seasons` and `params.season_types` are read; `feature_columns` are the model's inputs
    (another list only for feature ablations, bench/skill.py)."""
    requested = sorted({str(s) for s in train_seasons})
    X, y, keys = training_frame(features, outcomes, requested, params.season_types, feature_columns)
    played = sorted(keys["season"].astype(str).unique())
    if len(played) < params.min_train_seasons:
        raise ValueError(
            f"{len(played)} training season(s) with played games ({', '.join(played) or 'none'}); "
            f"need at least {params.min_train_seasons}"
        )
    fit_seasons, validation_season = played[:-1], played[-1]
    season = keys["season"].astype(str).to_numpy()
    fit_rows, val_rows = season != validation_season, season == validation_season
    X_fit, y_fit = X[fit_rows].reset_index(drop=True), y[fit_rows]
    X_val, y_val = X[val_rows].reset_index(drop=True), y[val_rows]

    scores = []
    for kind in params.candidates:
        p = _predict(_fit(kind, params, X_fit, y_fit, season[fit_rows]), X_val)
        scores.append(
            {
                "candidate": kind,
                "brier": brier_score(y_val, p),
                "log_loss": log_loss(y_val, p),
                "accuracy": accuracy(y_val, p),
                "n": int(len(y_val)),
            }
        )
    validation = pd.DataFrame(scores)
    best = int(np.argmin(validation["brier"].to_numpy()))  # first minimum: candidate order breaks ties
    validation["selected"] = np.arange(len(validation)) == best
    kind = str(validation.loc[best, "candidate"])

    estimator = _fit(kind, params, X, y, season)
    return TrainedGameModel(
        estimator=estimator,
        kind=kind,
        feature_columns=list(X.columns),
        train_seasons=played,
        validation=validation[VALIDATION_COLUMNS],
        params=dataclasses.asdict(params),
        n_train_rows=int(len(y)),
        validation_season=validation_season,
        train_home_win_rate=home_base_rate(y),
        fit_seasons=fit_seasons,
    )


def holdout_probabilities(
    model: TrainedGameModel, features: pd.DataFrame, outcomes: pd.DataFrame, seasons
) -> tuple[np.ndarray, dict[str, np.ndarray], pd.DataFrame]:
    """Outcomes and forecasts on the played games of `seasons` (the model's season types):
    y, {"model", "elo", "home_base_rate", "coin_flip"} probabilities, keys. Feed them to
    `metrics.compare_methods` / `metrics.calibration_plot_png`."""
    overlap = sorted({str(s) for s in seasons} & set(model.train_seasons))
    if overlap:
        raise ValueError(f"holdout seasons {overlap} were used for training")
    season_types = model.params.get("season_types", GameModelParams.season_types)
    X, y, keys = training_frame(features, outcomes, seasons, season_types, model.feature_columns)
    probs = {
        "model": model.predict_proba_home(X),
        "elo": X["elo_p_home_win"].to_numpy(dtype="float64"),
        "home_base_rate": np.full(len(y), model.train_home_win_rate),
        "coin_flip": np.full(len(y), 0.5),
    }
    return y, probs, keys


def train_kind(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    train_seasons,
    kind: str,
    params: GameModelParams = GameModelParams(),
    feature_columns=FEATURE_COLUMNS,
) -> TrainedGameModel:
    """Fit an already chosen kind on all `train_seasons` (no selection round): the walk-forward
    refits use the kind `select_and_train` picked for the registered model."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {MODEL_KINDS}")
    requested = sorted({str(s) for s in train_seasons})
    X, y, keys = training_frame(features, outcomes, requested, params.season_types, feature_columns)
    played = sorted(keys["season"].astype(str).unique())
    if len(played) < params.min_train_seasons:
        raise ValueError(
            f"{len(played)} training season(s) with played games ({', '.join(played) or 'none'}); "
            f"need at least {params.min_train_seasons}"
        )
    season = keys["season"].astype(str).to_numpy()
    return TrainedGameModel(
        estimator=_fit(kind, params, X, y, season),
        kind=kind,
        feature_columns=list(X.columns),
        train_seasons=played,
        validation=pd.DataFrame(columns=VALIDATION_COLUMNS),
        params=dataclasses.asdict(params),
        n_train_rows=int(len(y)),
        train_home_win_rate=home_base_rate(y),
        fit_seasons=played,
    )


def training_fingerprint(
    features: pd.DataFrame,
    outcomes: pd.DataFrame,
    train_seasons,
    params: GameModelParams,
    **context,
) -> str:
    """SHA-256 of everything a model fitted on `train_seasons` learns from: the training rows
    (keys, every feature value, labels) in order, the parameters, MODEL_FORMAT and `context`
    (e.g. the chosen kind, the evaluation season). Equal fingerprints mean an identical model."""
    from nba_platform.lib.model_artifacts import MODEL_FORMAT, frame_fingerprint

    X, y, keys = training_frame(features, outcomes, sorted({str(s) for s in train_seasons}), params.season_types)
    return frame_fingerprint(keys, X, y, dataclasses.asdict(params), {"format": MODEL_FORMAT, **context})
