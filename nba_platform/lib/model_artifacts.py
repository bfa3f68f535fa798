"""Registered models that a consumer can load without this project, and that cannot be swapped.

Self-contained: `portable_estimator` turns a fitted game estimator into one built from
scikit-learn and numpy objects only (the project's `DropAllMissingColumns` steps become two
`FunctionTransformer`s: `numpy.asarray` to float64, then `numpy.take` of the kept columns), so
unpickling it needs scikit-learn, not `nba_platform`. Predictions are unchanged (same arrays,
same order of operations).

Tamper-proof: `directory_digests` hashes every file of a logged model (SHA-256); the digests are
stored as a model-version tag in the tracking database, a different store than the artifacts.
`verify_digests` compares a downloaded copy with them before anything in it is deserialised and
raises `ModelIntegrityError` on any difference (changed, missing or extra file, or no digests).

Fingerprints: `frame_fingerprint` hashes the exact training inputs (rows, labels, parameters),
so a model is retrained only when what it learns from changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

DIGEST_TAG = "artifact_sha256"  # model-version tag: JSON {relative path: sha256 hex}
FINGERPRINT_TAG = "input_fingerprint"  # model-version tag: sha256 of the training inputs
# Part of every fingerprint; bumped when what a registered model is made of changes (format,
# training code), so a model registered before is not reused for identical data.
MODEL_FORMAT = "pyfunc-portable-pickle-1"


class ModelIntegrityError(RuntimeError):
    """A registered model's artifacts do not match the digests recorded at registration."""


# ---------------------------------------------------------------------------
# Self-contained estimators
# ---------------------------------------------------------------------------


def _column_selection(keep: np.ndarray):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    n_in = int(len(keep))
    steps = Pipeline(
        [
            ("as_float", FunctionTransformer(np.asarray, kw_args={"dtype": "float64"})),
            ("select", FunctionTransformer(np.take, kw_args={"indices": np.flatnonzero(keep).tolist(), "axis": 1})),
        ]
    )
    # FunctionTransformer learns nothing; fitting on one row of the right width records n_features_in_.
    return steps.fit(np.zeros((1, n_in)))


def _portable_pipeline(pipeline):
    from sklearn.pipeline import Pipeline

    from nba_platform.lib.models import DropAllMissingColumns

    if not isinstance(pipeline, Pipeline):
        return pipeline
    steps = []
    for name, step in pipeline.steps:
        if isinstance(step, DropAllMissingColumns):
            for sub_name, sub_step in _column_selection(step.keep_).steps:
                steps.append((f"{name}_{sub_name}", sub_step))
        else:
            steps.append((name, step))
    portable = copy.copy(pipeline)
    portable.steps = steps
    return portable


def portable_estimator(estimator):
    """A copy of a fitted `lib.models.build_estimator` result (calibrated or not) that holds only
    scikit-learn / numpy objects. Fitted attributes are shared with the original, not refitted."""
    from sklearn.calibration import CalibratedClassifierCV

    if isinstance(estimator, CalibratedClassifierCV):
        portable = copy.copy(estimator)
        members = []
        for member in estimator.calibrated_classifiers_:
            clone = copy.copy(member)
            clone.estimator = _portable_pipeline(member.estimator)
            members.append(clone)
        portable.calibrated_classifiers_ = members
        # The unfitted template and the fold index arrays are not used to predict.
        portable.estimator = members[0].estimator
        portable.cv = None
        return portable
    return _portable_pipeline(estimator)


# ---------------------------------------------------------------------------
# Digests
# ---------------------------------------------------------------------------


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_bytecode_cache(path: Path) -> bool:
    # Python writes __pycache__ beside the model's code when a consumer loads it from a local
    # artifact store. The platform never imports that code, and a cache would otherwise lock
    # every consumer-loaded model out.
    return "__pycache__" in path.parts or path.suffix == ".pyc"


def directory_digests(root: str | os.PathLike) -> dict[str, str]:
    """{path relative to root (POSIX): sha256} for every file under root (bytecode caches aside)."""
    base = Path(root)
    files = sorted(p for p in base.rglob("*") if p.is_file() and not _is_bytecode_cache(p.relative_to(base)))
    if not files:
        raise ValueError(f"no files under {root}")
    return {p.relative_to(base).as_posix(): file_sha256(p) for p in files}


def verify_digests(root: str | os.PathLike, recorded: str | dict | None, label: str) -> dict[str, str]:
    """Raise ModelIntegrityError unless the files under root are exactly the recorded ones with
    the recorded SHA-256. `recorded` is the tag value (JSON) or the parsed dict."""
    if not recorded:
        raise ModelIntegrityError(
            f"{label}: no artifact digests were recorded at registration ({DIGEST_TAG} tag missing); "
            "refusing to load an unverifiable model (retrain it to register a verified version)"
        )
    expected = json.loads(recorded) if isinstance(recorded, str) else dict(recorded)
    actual = directory_digests(root)
    changed = sorted(p for p in expected.keys() & actual.keys() if expected[p] != actual[p])
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    if changed or missing or extra:
        problems = [
            f"{what}: {', '.join(paths)}"
            for what, paths in (("changed", changed), ("missing", missing), ("unexpected", extra))
            if paths
        ]
        raise ModelIntegrityError(
            f"{label}: artifacts do not match the SHA-256 digests recorded at registration ({'; '.join(problems)}); "
            "refusing to load it"
        )
    return actual


# ---------------------------------------------------------------------------
# Training-input fingerprints
# ---------------------------------------------------------------------------


def frame_fingerprint(*parts) -> str:
    """SHA-256 over DataFrames / arrays (values, column names, dtypes, row order) and
    JSON-serialisable objects (parameters). Equal inputs give equal fingerprints across processes."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            digest.update(json.dumps([list(map(str, part.columns)), [str(t) for t in part.dtypes]]).encode())
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        elif isinstance(part, (pd.Series, np.ndarray)):
            series = pd.Series(np.asarray(part))
            digest.update(str(series.dtype).encode())
            digest.update(pd.util.hash_pandas_object(series, index=False).to_numpy().tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()
