"""Issue 16: text reaching the CSVs the platform writes is neutralised; abbreviations are validated."""

import csv
import io

import pandas as pd
import pytest

from nba_platform.lib.corrections import append_correction, read_corrections
from nba_platform.lib.csv_safety import neutralise_cell, neutralise_frame
from nba_platform.lib.landing import LandingError, read_landed_bytes

PAYLOAD = "=cmd|' /C calc'!A0"
KEY = "game_id=0022200001,team_id=1610612738"


@pytest.mark.parametrize("value", [PAYLOAD, "+SUM(A1)", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_cells_get_an_apostrophe(value):
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-5", "+1.5", "-0.25", "BOS", "", "Schröder", 12, None])
def test_numbers_and_plain_text_are_left_alone(value):
    assert neutralise_cell(value) == value


def test_a_frame_is_neutralised_in_its_text_columns_only():
    frame = pd.DataFrame(
        {"team": pd.Series([PAYLOAD, "BOS"], dtype="string[pyarrow]"), "margin": [-5, 3], "label": ["@x", "-7"]}
    )
    out = neutralise_frame(frame)
    assert out["team"].tolist() == ["'" + PAYLOAD, "BOS"]
    assert out["margin"].tolist() == [-5, 3] and out["label"].tolist() == ["'@x", "-7"]
    assert frame["team"].iloc[0] == PAYLOAD  # the input is not changed


def test_correct_refuses_an_abbreviation_that_is_no_team():
    with pytest.raises(ValueError, match="not a team in the reference"):
        append_correction(
            None, "c.csv", "team_game", KEY, "team_abbreviation", PAYLOAD, "r", "me", "2024-01-01T00:00:00"
        )
    data, c = append_correction(None, "c.csv", "team_game", KEY, "team_abbreviation", "bos", "r", "me", "2024-01-01")
    assert c.value == "BOS"
    data, c = append_correction(data, "c.csv", "team_game", KEY, "team_abbreviation", "SEA", "r", "me", "2024-01-02")
    assert c.value == "SEA"  # a former franchise's abbreviation


def test_the_corrections_file_neutralises_free_text():
    data, c = append_correction(None, "c.csv", "team_game", KEY, "pts", "-5", PAYLOAD, "@attacker", "2024-01-01")
    [header, row] = list(csv.reader(io.StringIO(data.decode())))
    cells = dict(zip(header, row))
    assert cells["reason"] == "'" + PAYLOAD and cells["author"] == "'@attacker" and cells["value"] == "-5"
    assert read_corrections(data, "c.csv")[0].value == -5  # numbers still read back as numbers


def test_deeply_nested_json_is_a_clear_error_not_a_recursion_error():
    nested = "[" * 100_000 + "]" * 100_000
    with pytest.raises(LandingError, match="nested too deeply"):
        read_landed_bytes(f'[{{"entity": {nested}}}]'.encode(), "corrections.json")
    with pytest.raises(LandingError, match="nested too deeply"):
        read_landed_bytes(("[" * 100_000 + "]" * 100_000).encode(), "deep.json")
