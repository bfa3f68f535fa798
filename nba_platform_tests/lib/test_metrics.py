import math

import numpy as np
import pandas as pd
import pytest

from nba_platform.lib.metrics import (
    CALIBRATION_COLUMNS,
    accuracy,
    brier_score,
    calibration_plot_png,
    calibration_table,
    compare_methods,
    log_loss,
    markdown_comparison,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_brier_hand_computed():
    # ((0.8 - 1)^2 + (0.3 - 0)^2) / 2 = (0.04 + 0.09) / 2
    assert brier_score([1, 0], [0.8, 0.3]) == pytest.approx(0.065)
    assert brier_score([1, 0, 1], [0.5, 0.5, 0.5]) == pytest.approx(0.25)
    assert brier_score([1, 0], [1.0, 0.0]) == 0.0


def test_log_loss_hand_computed_and_clipped():
    assert log_loss([1, 0], [0.8, 0.3]) == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    assert log_loss([1, 0], [0.5, 0.5]) == pytest.approx(math.log(2))
    # a confident miss is clipped to 1e-15, not infinite
    assert log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))
    assert log_loss([0], [1.0]) == pytest.approx(-math.log(1 - (1 - 1e-15)))  # clipped to 1 - 1e-15 in floats


def test_accuracy_threshold_is_home_win_at_one_half():
    # calls: 0.5 -> home win (right), 0.49 -> away (right), 0.2 -> away (wrong), 0.7 -> home (wrong)
    assert accuracy([1, 0, 1, 0], [0.5, 0.49, 0.2, 0.7]) == pytest.approx(0.5)
    assert accuracy([0], [0.5]) == 0.0


def test_metrics_accept_nullable_and_series_inputs():
    y = pd.Series([1, 0], dtype="Int64")
    p = pd.Series([0.8, 0.3], dtype="Float64")
    assert brier_score(y, p) == pytest.approx(0.065)


@pytest.mark.parametrize(
    "y, p",
    [
        ([1, 0], [0.5]),  # length mismatch
        ([1, 0], [0.5, float("nan")]),  # missing probability
        ([1, 2], [0.5, 0.5]),  # outcome not 0/1
        ([1, None], [0.5, 0.5]),  # missing outcome
        ([1, 0], [0.5, 1.2]),  # probability outside [0, 1]
        ([], []),  # nothing to score
    ],
)
def test_metrics_reject_bad_input(y, p):
    with pytest.raises(ValueError):
        brier_score(y, p)


def test_calibration_table_bins_and_counts():
    p = [0.05, 0.15, 0.12, 0.2, 0.95, 1.0]
    y = [0, 1, 0, 1, 1, 1]
    table = calibration_table(y, p, bins=10)
    assert list(table.columns) == CALIBRATION_COLUMNS
    # empty bins dropped; 0.2 opens [0.2, 0.3); 1.0 falls in the last bin [0.9, 1.0]
    assert table["bin_lower"].tolist() == pytest.approx([0.0, 0.1, 0.2, 0.9])
    assert table["bin_upper"].tolist() == pytest.approx([0.1, 0.2, 0.3, 1.0])
    assert table["n"].tolist() == [1, 2, 1, 2]
    assert table["mean_predicted"].tolist() == pytest.approx([0.05, 0.135, 0.2, 0.975])
    assert table["observed_rate"].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0])
    assert int(table["n"].sum()) == len(p)


def test_calibration_table_other_bin_count():
    table = calibration_table([0, 1, 1, 0], [0.1, 0.3, 0.6, 0.9], bins=2)
    assert table["bin_lower"].tolist() == [0.0, 0.5]
    assert table["n"].tolist() == [2, 2]
    assert table["observed_rate"].tolist() == [0.5, 0.5]
    with pytest.raises(ValueError):
        calibration_table([0, 1], [0.1, 0.3], bins=0)


def test_compare_methods_sorted_by_brier_on_the_same_games():
    y = [1, 0, 1, 1]
    frame = compare_methods(
        y,
        {"coin": [0.5] * 4, "good": np.array([0.9, 0.1, 0.8, 0.7]), "bad": [0.1, 0.9, 0.2, 0.3]},
    )
    assert frame["method"].tolist() == ["good", "coin", "bad"]
    assert list(frame.columns) == ["method", "n", "brier", "log_loss", "accuracy"]
    assert frame["n"].tolist() == [4, 4, 4]
    good = frame.set_index("method").loc["good"]
    assert good["brier"] == pytest.approx((0.01 + 0.01 + 0.04 + 0.09) / 4)
    assert good["accuracy"] == 1.0
    assert frame.set_index("method").loc["coin", "brier"] == pytest.approx(0.25)


def test_compare_methods_rejects_mismatched_lengths_and_nan():
    with pytest.raises(ValueError, match="short"):
        compare_methods([1, 0, 1], {"full": [0.5, 0.5, 0.5], "short": [0.5, 0.5]})
    with pytest.raises(ValueError, match="NaN"):
        compare_methods([1, 0], {"a": [0.5, 0.5], "holes": [0.5, np.nan]})
    with pytest.raises(ValueError):
        compare_methods([1, 0], {})


def test_calibration_plot_png_bytes():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p).astype(int)
    png = calibration_plot_png(y, {"model": p, "coin flip": np.full(300, 0.5)}, "2023-24 holdout")
    assert png.startswith(PNG_MAGIC)
    assert len(png) > 1000


def test_markdown_comparison_four_decimals():
    frame = compare_methods([1, 0], {"m": [0.8, 0.3]})
    md = markdown_comparison(frame)
    lines = md.splitlines()
    assert lines[0] == "| method | n | brier | log_loss | accuracy |"
    assert lines[1].count("---") == 5
    assert lines[2] == "| m | 2 | 0.0650 | 0.2899 | 1.0000 |"
