"""Self-contained estimators, artifact digests and training fingerprints (lib/model_artifacts.py)."""

import pickle

import numpy as np
import pandas as pd
import pytest

from nba_platform.lib.model_artifacts import (
    ModelIntegrityError,
    directory_digests,
    frame_fingerprint,
    portable_estimator,
    verify_digests,
)
from nba_platform.lib.models import FEATURE_COLUMNS, GameModelParams, select_and_train, training_fingerprint
from nba_platform_tests.lib.test_models import synthetic

FAST = GameModelParams(hgb_max_iter=20)


@pytest.fixture(scope="module")
def data():
    return synthetic(years=range(2014, 2018), games_per_season=300)


@pytest.mark.parametrize("kind", ["logistic", "hist_gradient_boosting"])
@pytest.mark.parametrize("calibration", ["sigmoid", "none"])
def test_portable_estimator_pickles_without_project_classes_and_predicts_the_same(data, kind, calibration):
    features, outcomes = data
    params = GameModelParams(candidates=(kind,), hgb_max_iter=20, calibration=calibration)
    model = select_and_train(features, outcomes, ["2014-15", "2015-16", "2016-17"], params)
    blob = pickle.dumps(model.estimator)
    assert b"nba_platform" in blob  # what used to be registered
    portable = portable_estimator(model.estimator)
    blob = pickle.dumps(portable)
    assert b"nba_platform" not in blob
    rows = features[features["season"] == "2017-18"]
    expected = model.predict_proba_home(rows)
    got = pickle.loads(blob).predict_proba(rows[FEATURE_COLUMNS])[:, 1]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # the fitted estimator is left as it was
    assert b"nba_platform" in pickle.dumps(model.estimator)


def test_digests_refuse_changed_missing_extra_and_unrecorded_files(tmp_path):
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "artifacts" / "estimator.pkl").write_bytes(b"fitted")
    recorded = directory_digests(tmp_path)
    assert set(recorded) == {"MLmodel", "artifacts/estimator.pkl"}
    assert verify_digests(tmp_path, recorded, "m/v1") == recorded

    (tmp_path / "artifacts" / "estimator.pkl").write_bytes(b"crafted")
    with pytest.raises(ModelIntegrityError, match=r"m/v1: .*changed: artifacts/estimator\.pkl"):
        verify_digests(tmp_path, recorded, "m/v1")
    (tmp_path / "artifacts" / "estimator.pkl").write_bytes(b"fitted")
    (tmp_path / "extra.py").write_text("print('hi')")
    with pytest.raises(ModelIntegrityError, match="unexpected: extra.py"):
        verify_digests(tmp_path, recorded, "m/v1")
    (tmp_path / "extra.py").unlink()
    (tmp_path / "MLmodel").unlink()
    with pytest.raises(ModelIntegrityError, match="missing: MLmodel"):
        verify_digests(tmp_path, recorded, "m/v1")
    with pytest.raises(ModelIntegrityError, match="no artifact digests were recorded"):
        verify_digests(tmp_path, None, "m/v1")


def test_training_fingerprint_changes_only_with_the_training_inputs(data):
    features, outcomes = data
    train = ["2014-15", "2015-16"]
    base = training_fingerprint(features, outcomes, train, FAST, kind="logistic")
    assert training_fingerprint(features.sample(frac=1, random_state=1), outcomes, train, FAST, kind="logistic") == base
    # rows of a season the model does not train on do not matter
    later = features.copy()
    later.loc[later["season"] == "2017-18", "diff_elo_pre"] += 1.0
    assert training_fingerprint(later, outcomes, train, FAST, kind="logistic") == base
    changed = features.copy()
    changed.loc[changed.index[changed["season"] == "2015-16"][0], "diff_elo_pre"] += 1e-9
    assert training_fingerprint(changed, outcomes, train, FAST, kind="logistic") != base
    flipped = outcomes.copy()
    flipped.loc[flipped.index[0], "home_win"] = 1 - flipped.loc[flipped.index[0], "home_win"]
    assert training_fingerprint(features, flipped, train, FAST, kind="logistic") != base
    assert training_fingerprint(features, outcomes, train, GameModelParams(logistic_c=0.2), kind="logistic") != base
    assert training_fingerprint(features, outcomes, train, FAST, kind="hist_gradient_boosting") != base
    assert frame_fingerprint(pd.DataFrame({"a": [1, 2]})) != frame_fingerprint(pd.DataFrame({"a": [1.0, 2.0]}))


def test_a_bytecode_cache_written_by_a_consumer_is_not_a_tampering(tmp_path):
    (tmp_path / "pyfunc_model.py").write_text("x = 1\n")
    recorded = directory_digests(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "pyfunc_model.cpython-311.pyc").write_bytes(b"\x00cache")
    assert verify_digests(tmp_path, recorded, "m/v1") == recorded
