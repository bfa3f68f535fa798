"""SHAP explanations of the game-outcome models (`lib.models.build_estimator`), attributed to
the original feature columns.

What is explained: the model's log-odds of a home win. Both model kinds are explained exactly:
  * "logistic" (drop_sparse -> impute with missing indicators -> scale -> clip -> logistic
    regression): every transformed column depends on one input feature (its value or its
    missing indicator), so the log-odds are a sum of one-feature functions g_j(x_j) and the
    (interventional) SHAP value of feature j is g_j(x_j) - g_j at the reference, computed in
    closed form as coef * (z - reference z) summed over the columns feature j feeds.
  * "hist_gradient_boosting": shap's TreeExplainer on the classifier's trees (raw log-odds),
    fed the DropAllMissingColumns-transformed matrix. The trees are handed to shap with each
    feature replaced by its rank among the model's split thresholds (`_rank_space_trees`):
    routing is identical, and shap's interventional code, which compares in float32, then
    routes every game exactly as the classifier does.
Columns dropped as too sparse get SHAP 0: the model never reads them.

Cost (2 shared cores, 1,312 games, 97 features): logistic ~0.05 s; trees without a
background ~0.4 s for 200 trees (plus ~1-3 s to import shap once); trees against a background
grow linearly with its rows: ~6 s for 200 trees x 200 background rows.

Calibration: CalibratedClassifierCV(ensemble=False) holds one model fitted on every training
row plus a calibrator of its decision function f. Sigmoid calibration is p = expit(-(a f + b)),
so the calibrated log-odds -a f - b are an affine map of f, and Shapley values follow affine
maps exactly (scale every value by -a, move the base value to -a base - b). With
`calibrated=True` (default) the explanation therefore sums to the logit of the probability the
model actually serves. Isotonic calibration is monotone but not affine: there the explanation
is of the uncalibrated log-odds (`Explanation.output == "log_odds"`), which rank games the same
way as the served probability.

shap and matplotlib are imported inside the functions that need them (import cost).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from nba_platform.lib.features import FEATURE_COLUMNS
from nba_platform.lib.models import DropAllMissingColumns

CALIBRATED_LOG_ODDS = "calibrated_log_odds"
LOG_ODDS = "log_odds"
BACKGROUND_SEED = 0
_INDICATOR_PREFIX = "missingindicator_"


@dataclass(frozen=True)
class Explanation:
    """SHAP values of a set of games, in log-odds of a home win.

    values: one row per explained row (same index as X), one column per model input feature,
        in fit order. base_value + the row sum = `log_odds`.
    output: CALIBRATED_LOG_ODDS (logit of the served probability) or LOG_ODDS (the
        uncalibrated model's decision function).
    method: "linear" (closed form) or "tree" (shap TreeExplainer).
    reference: "training_mean" (logistic without background), "tree_path_dependent" (trees
        without background) or "background" (interventional, against `n_background` rows).
    """

    values: pd.DataFrame
    base_value: float
    output: str
    method: str
    reference: str
    n_background: int = 0

    @property
    def log_odds(self) -> np.ndarray:
        return self.base_value + self.values.to_numpy(dtype="float64").sum(axis=1)

    @property
    def probability(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.log_odds))


# ---------------------------------------------------------------------------
# Unwrapping the estimator
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unwrapped:
    pipeline: Pipeline
    scale: float  # explained output = scale * decision_function + shift
    shift: float
    output: str


def _unwrap(estimator, calibrated: bool) -> _Unwrapped:
    if isinstance(estimator, CalibratedClassifierCV):
        members = getattr(estimator, "calibrated_classifiers_", None)
        if members is None:
            raise ValueError("the estimator is not fitted")
        if len(members) != 1:
            raise ValueError(
                f"CalibratedClassifierCV holds {len(members)} models (ensemble=True); "
                "only ensemble=False (one model fitted on every row) can be explained exactly"
            )
        member = members[0]
        base = member.estimator
        calibrator = member.calibrators[0]
        sigmoid = member.method == "sigmoid" and hasattr(calibrator, "a_") and hasattr(calibrator, "b_")
        if calibrated and sigmoid:
            # p = expit(-(a f + b)): the calibrated log-odds are affine in f.
            scale, shift = -float(calibrator.a_), -float(calibrator.b_)
            unwrapped = _Unwrapped(_as_pipeline(base), scale, shift, CALIBRATED_LOG_ODDS)
        else:
            unwrapped = _Unwrapped(_as_pipeline(base), 1.0, 0.0, LOG_ODDS)
    else:
        unwrapped = _Unwrapped(_as_pipeline(estimator), 1.0, 0.0, LOG_ODDS)
    classes = [int(c) for c in unwrapped.pipeline.classes_]
    if classes != [0, 1]:
        raise ValueError(f"expected a binary home-win model with classes [0, 1], got {classes}")
    return unwrapped


def _as_pipeline(estimator) -> Pipeline:
    if isinstance(estimator, Pipeline):
        return estimator
    return Pipeline([("model", estimator)])  # a bare fitted classifier; no refit happens


def _input_columns(estimator, X: pd.DataFrame, feature_columns) -> list[str]:
    """The model's input columns, in fit order. Neither CalibratedClassifierCV nor
    DropAllMissingColumns records column names, so they come from the caller
    (`TrainedGameModel.feature_columns`), else from the estimator if it recorded them, else
    FEATURE_COLUMNS (what `models.training_frame` feeds every model); the count is checked."""
    if feature_columns is None:
        feature_columns = getattr(estimator, "feature_names_in_", None)
    columns = [str(c) for c in (FEATURE_COLUMNS if feature_columns is None else feature_columns)]
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and expected != len(columns):
        raise ValueError(f"the estimator was fitted on {expected} columns, not the {len(columns)} given")
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValueError(f"X lacks {len(missing)} model column(s), e.g. {missing[:5]}")
    return columns


def _transformed_owners(pipeline: Pipeline, columns: list[str], allow_value_transforms: bool) -> np.ndarray:
    """For every column entering the final model, the index (into `columns`) of the one input
    feature it is computed from. Only steps that map columns one-to-one are accepted."""
    owners = np.arange(len(columns))
    for name, step in pipeline.steps[:-1]:
        if isinstance(step, DropAllMissingColumns):
            owners = owners[step.keep_]
        elif isinstance(step, FunctionTransformer) and step.func is np.take:
            owners = owners[np.asarray(step.kw_args["indices"], dtype="int64")]  # portable column selection
        elif isinstance(step, FunctionTransformer) and step.func is np.asarray:
            pass  # dtype only (portable_estimator)
        elif allow_value_transforms and isinstance(step, SimpleImputer):
            names = [f"f{i}" for i in range(len(owners))]
            out = step.get_feature_names_out(names)
            position = {n: i for i, n in enumerate(names)}
            owners = np.array([owners[position[n.removeprefix(_INDICATOR_PREFIX)]] for n in out])
        elif allow_value_transforms and isinstance(step, StandardScaler):
            pass  # column by column
        elif allow_value_transforms and isinstance(step, FunctionTransformer) and step.func in (None, np.clip):
            pass  # element-wise
        else:
            raise TypeError(f"cannot attribute through pipeline step {name!r} ({type(step).__name__})")
    return owners


def _transform(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """The matrix the final model reads (steps before it applied)."""
    if len(pipeline.steps) == 1:
        return frame.to_numpy(dtype="float64")
    return np.asarray(pipeline[:-1].transform(frame), dtype="float64")


def _background_rows(background: pd.DataFrame | None, columns: list[str], max_background: int) -> pd.DataFrame | None:
    if background is None:
        return None
    if max_background < 1:
        raise ValueError("max_background must be >= 1")
    missing = [c for c in columns if c not in background.columns]
    if missing:
        raise ValueError(f"background lacks {len(missing)} model column(s), e.g. {missing[:5]}")
    if len(background) == 0:
        raise ValueError("background has no rows")
    rows = background[columns].astype("float64")
    if len(rows) > max_background:
        rows = rows.sample(n=max_background, random_state=BACKGROUND_SEED)
    return rows


# ---------------------------------------------------------------------------
# Explaining
# ---------------------------------------------------------------------------


def explain(
    estimator,
    X: pd.DataFrame,
    background: pd.DataFrame | None = None,
    max_background: int = 200,
    calibrated: bool = True,
    feature_columns: list[str] | None = None,
) -> Explanation:
    """SHAP values of `estimator` (a fitted `build_estimator` result, calibrated or not) for the
    rows of X, per original feature column; see the module docstring for what is explained.

    background: rows that define the reference ("what an average game looks like"), e.g.
    training rows; at most `max_background` of them are used (a fixed-seed sample). Without it
    the logistic reference is the training mean the scaler learned (base value = intercept) and
    the tree reference is the training distribution recorded in the trees (path-dependent).
    feature_columns: the model's input columns in fit order (`TrainedGameModel.feature_columns`;
    default FEATURE_COLUMNS)."""
    unwrapped = _unwrap(estimator, calibrated)
    pipeline = unwrapped.pipeline
    columns = _input_columns(estimator, X, feature_columns)
    values = X[columns].astype("float64")
    reference_rows = _background_rows(background, columns, max_background)
    model = pipeline[-1]
    if isinstance(model, LogisticRegression):
        shap_matrix, base, reference = _linear_shap(pipeline, columns, values, reference_rows)
        method = "linear"
    elif isinstance(model, HistGradientBoostingClassifier):
        shap_matrix, base, reference = _tree_shap(pipeline, columns, values, reference_rows)
        method = "tree"
    else:
        raise TypeError(f"no exact explainer for {type(model).__name__}")
    frame = pd.DataFrame(unwrapped.scale * shap_matrix, index=X.index, columns=columns)
    return Explanation(
        values=frame,
        base_value=float(unwrapped.scale * base + unwrapped.shift),
        output=unwrapped.output,
        method=method,
        reference=reference,
        n_background=0 if reference_rows is None else len(reference_rows),
    )


def explained_output(
    estimator, X: pd.DataFrame, calibrated: bool = True, feature_columns: list[str] | None = None
) -> np.ndarray:
    """What `explain` attributes, computed through the model's own prediction path: the
    (calibrated, when sigmoid) log-odds of a home win per row. base_value + row sums equal it."""
    unwrapped = _unwrap(estimator, calibrated)
    columns = _input_columns(estimator, X, feature_columns)
    f = unwrapped.pipeline.decision_function(X[columns].astype("float64"))
    return unwrapped.scale * np.asarray(f, dtype="float64") + unwrapped.shift


def _linear_shap(pipeline: Pipeline, columns: list[str], values: pd.DataFrame, background: pd.DataFrame | None):
    owners = _transformed_owners(pipeline, columns, allow_value_transforms=True)
    model = pipeline[-1]
    coef = np.asarray(model.coef_, dtype="float64").reshape(-1)
    intercept = float(np.asarray(model.intercept_).reshape(-1)[0])
    z = _transform(pipeline, values)
    if z.shape[1] != len(owners) or len(coef) != len(owners):
        raise ValueError(f"pipeline produced {z.shape[1]} columns, expected {len(owners)}")
    if background is None:
        # The scaler centres on the training mean, so z = 0 is the training mean of every
        # transformed column (before clipping): the reference point, base value = intercept.
        reference_z, reference = np.zeros(len(owners)), "training_mean"
    else:
        reference_z, reference = _transform(pipeline, background).mean(axis=0), "background"
    per_column = (z - reference_z) * coef  # exact: the log-odds are linear in z
    shap_matrix = np.zeros((len(values), len(columns)))
    np.add.at(shap_matrix.T, owners, per_column.T)  # value + missing indicator -> their feature
    return shap_matrix, intercept + float(coef @ reference_z), reference


def _tree_shap(pipeline: Pipeline, columns: list[str], values: pd.DataFrame, background: pd.DataFrame | None):
    import shap

    owners = _transformed_owners(pipeline, columns, allow_value_transforms=False)
    trees, cuts = _rank_space_trees(pipeline[-1])
    z = _to_rank_space(_transform(pipeline, values), cuts)
    if background is None:
        explainer = shap.TreeExplainer(trees, feature_perturbation="tree_path_dependent", model_output="raw")
        reference = "tree_path_dependent"
    else:
        data = _to_rank_space(_transform(pipeline, background), cuts)
        # A bare matrix would be wrapped in a masker that samples 100 of its rows: use them all.
        masker = shap.maskers.Independent(data, max_samples=len(data))
        explainer = shap.TreeExplainer(trees, data=masker, feature_perturbation="interventional", model_output="raw")
        reference = "background"
    per_column = np.asarray(explainer.shap_values(z, check_additivity=True), dtype="float64")
    shap_matrix = np.zeros((len(values), len(columns)))
    shap_matrix[:, owners] = per_column
    base = float(np.asarray(explainer.expected_value, dtype="float64").reshape(-1)[0])
    return shap_matrix, base, reference


def _rank_space_trees(model: HistGradientBoostingClassifier) -> tuple[dict, list[np.ndarray]]:
    """The classifier's trees as a shap TreeExplainer model over *ranks*: feature f becomes
    #{split thresholds on f below x} and each split "x <= t_k" becomes "rank <= k + 0.5".
    Routing is unchanged (x <= t_k <=> fewer than k+1 thresholds lie below x), so the SHAP
    values are those of the model. Why: shap's interventional algorithm compares against
    float32 thresholds, which sends values close to a float64 threshold down the wrong branch
    (additivity then fails by up to ~0.08 log-odds); small integers are exact in float32."""
    if getattr(model, "n_trees_per_iteration_", 1) != 1:
        raise ValueError("only binary HistGradientBoostingClassifier models can be explained")
    node_arrays = [predictors[0].nodes for predictors in model._predictors]
    if any(nodes["is_categorical"][~nodes["is_leaf"].astype(bool)].any() for nodes in node_arrays):
        raise ValueError("categorical splits are not supported")
    n_features = int(model.n_features_in_)
    splits = np.concatenate([nodes[~nodes["is_leaf"].astype(bool)] for nodes in node_arrays])
    cuts = [np.unique(splits["num_threshold"][splits["feature_idx"] == f]) for f in range(n_features)]
    trees = []
    for nodes in node_arrays:
        leaf = nodes["is_leaf"].astype(bool)
        left, right = nodes["left"].astype(np.int32), nodes["right"].astype(np.int32)
        feature = nodes["feature_idx"].astype(np.int32)
        rank = np.array(
            [0.0 if is_leaf else np.searchsorted(cuts[f], t) + 0.5 for is_leaf, f, t in
             zip(leaf, feature, nodes["num_threshold"])]
        )  # fmt: skip
        trees.append({
            "children_left": np.where(leaf, -1, left),
            "children_right": np.where(leaf, -1, right),
            "children_default": np.where(leaf, -1, np.where(nodes["missing_go_to_left"].astype(bool), left, right)),
            "features": np.where(leaf, -2, feature),
            "thresholds": rank,
            "values": nodes["value"].astype("float64").reshape(-1, 1),
            "node_sample_weight": nodes["count"].astype("float64"),
        })  # fmt: skip
    baseline = float(np.asarray(model._baseline_prediction, dtype="float64").reshape(-1)[0])
    return {"trees": trees, "base_offset": baseline, "tree_output": "log_odds", "input_dtype": np.float64}, cuts


def _to_rank_space(z: np.ndarray, cuts: list[np.ndarray]) -> np.ndarray:
    ranks = np.full(z.shape, np.nan)
    for f, feature_cuts in enumerate(cuts):
        observed = ~np.isnan(z[:, f])
        ranks[observed, f] = np.searchsorted(feature_cuts, z[observed, f], side="left")
    return ranks


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------


def _json_number(value, decimals: int):
    value = float(value)
    return None if not np.isfinite(value) else round(value, decimals)


def top_factors(shap_frame: pd.DataFrame, X: pd.DataFrame, k: int = 3, decimals: int = 4) -> list[str]:
    """Per row of `shap_frame`, a JSON list of its `k` largest contributions by |SHAP| (ties:
    column order): [{"feature": ..., "value": <feature value, null if missing>, "shap": ...}].
    `X` supplies the feature values and must hold the same rows (same index)."""
    if k < 1:
        raise ValueError("k must be >= 1")
    columns = list(shap_frame.columns)
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValueError(f"X lacks {len(missing)} explained column(s), e.g. {missing[:5]}")
    if not shap_frame.index.equals(X.index):
        raise ValueError("shap_frame and X must hold the same rows (same index)")
    contributions = shap_frame.to_numpy(dtype="float64")
    feature_values = X[columns].to_numpy(dtype="float64")
    k = min(k, len(columns))
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :k]
    out = []
    for row, picks in enumerate(order):
        out.append(json.dumps([
            {"feature": columns[j], "value": _json_number(feature_values[row, j], decimals),
             "shap": _json_number(contributions[row, j], decimals)}
            for j in picks
        ]))  # fmt: skip
    return out


def global_importance(shap_frame: pd.DataFrame) -> pd.DataFrame:
    """Mean |SHAP| per feature (and the mean signed SHAP), most important first."""
    values = shap_frame.to_numpy(dtype="float64")
    frame = pd.DataFrame({
        "feature": [str(c) for c in shap_frame.columns],
        "mean_abs_shap": np.abs(values).mean(axis=0) if len(values) else np.zeros(values.shape[1]),
        "mean_shap": values.mean(axis=0) if len(values) else np.zeros(values.shape[1]),
    })  # fmt: skip
    return frame.sort_values(["mean_abs_shap", "feature"], ascending=[False, True], kind="mergesort").reset_index(
        drop=True
    )


def summary_plot_png(
    shap_frame: pd.DataFrame,
    X: pd.DataFrame,
    max_display: int = 15,
    title: str = "SHAP summary",
    dpi: int = 90,
    max_points: int = 2000,
) -> bytes:
    """A beeswarm of the `max_display` most important features (mean |SHAP| over all rows,
    shown next to each name): one dot per game (a fixed-seed sample of `max_points` games when
    there are more) at its SHAP value, coloured by the feature's value within its 5th-95th
    percentile (grey when missing). PNG bytes with a 64-colour palette (~20-40 KB),
    drawn on an Agg canvas (no display, no pyplot state to close)."""
    if len(shap_frame) == 0:
        raise ValueError("nothing to plot: shap_frame has no rows")
    if not shap_frame.index.equals(X.index):
        raise ValueError("shap_frame and X must hold the same rows (same index)")
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from PIL import Image  # a matplotlib dependency

    importance = global_importance(shap_frame).head(max_display)
    features = importance["feature"].tolist()[::-1]  # most important at the top
    cmap = colormaps["coolwarm"].resampled(24)
    rng = np.random.default_rng(0)
    shown = np.arange(len(shap_frame))
    if len(shown) > max_points:
        shown = np.sort(rng.choice(shown, size=max_points, replace=False))
    fig = Figure(figsize=(8, 0.32 * len(features) + 1.6), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for position, feature in enumerate(features):
        contribution = shap_frame[feature].to_numpy(dtype="float64")[shown]
        value = X[feature].to_numpy(dtype="float64")[shown]
        ax.scatter(contribution, position + _swarm_offsets(contribution, rng), c=_colour_scale(value, cmap),
                   s=6, linewidths=0, rasterized=True)  # fmt: skip
    ax.axvline(0.0, color="grey", linewidth=0.8)
    mean_abs = importance.set_index("feature")["mean_abs_shap"]
    ax.set_yticks(range(len(features)), [f"{f} ({mean_abs[f]:.3f})" for f in features], fontsize=8)
    ax.set_ylim(-0.6, len(features) - 0.4)
    ax.set_xlabel("SHAP value (contribution to log-odds of a home win)")
    sampled = f", {len(shown)} shown" if len(shown) < len(shap_frame) else ""
    ax.set_title(f"{title} (n={len(shap_frame)}{sampled}; mean |SHAP| in brackets)", fontsize=10)
    bar = fig.colorbar(ScalarMappable(norm=Normalize(0, 1), cmap=cmap), ax=ax, ticks=[0, 1], aspect=40, pad=0.02)
    bar.ax.set_yticklabels(["low", "high"], fontsize=8)
    bar.set_label("feature value", fontsize=8)
    fig.tight_layout()
    canvas = fig.canvas
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    image.convert("RGB").quantize(colors=64).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _swarm_offsets(contribution: np.ndarray, rng: np.random.Generator, width: float = 0.4) -> np.ndarray:
    """Vertical jitter whose spread follows how many games share a SHAP value (a beeswarm)."""
    finite = np.isfinite(contribution)
    if finite.sum() < 2 or np.ptp(contribution[finite]) == 0:
        return rng.uniform(-width / 4, width / 4, size=len(contribution))
    counts, edges = np.histogram(contribution[finite], bins=40)
    bin_of = np.clip(np.searchsorted(edges, np.nan_to_num(contribution), side="right") - 1, 0, len(counts) - 1)
    density = counts[bin_of] / counts.max()
    return rng.uniform(-1, 1, size=len(contribution)) * width * np.sqrt(density)


def _colour_scale(value: np.ndarray, cmap) -> np.ndarray:
    colours = np.tile(np.array([[0.6, 0.6, 0.6, 1.0]]), (len(value), 1))
    observed = np.isfinite(value)
    if observed.any():
        low, high = np.nanpercentile(value[observed], [5, 95])
        if high <= low:
            low, high = np.nanmin(value[observed]), np.nanmax(value[observed])
        scaled = np.clip((value[observed] - low) / (high - low), 0, 1) if high > low else np.full(observed.sum(), 0.5)
        colours[observed] = cmap(scaled)
    return colours
