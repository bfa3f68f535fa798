"""run_suite as the blocking checks call it (real GX 1.x, no mocks): the exact failures a
defective frame yields, and calls in one process that must not share expectations or data."""

from concurrent.futures import ThreadPoolExecutor

import great_expectations as gx
import pandas as pd
import pytest

from nba_platform.lib.dedup import dedup_team_games
from nba_platform.lib.quality import (
    run_suite,
    team_game_expectations,
    team_game_pair_view,
)


@pytest.fixture(scope="module")
def team(src):
    split, _ = src.validate((src.csv_bytes(src.league_game_log_rows([src.G1, src.G2])), "lgl.csv"))
    assert split.quarantined.empty and len(split.accepted) == 4
    return split.accepted


def defective(team: pd.DataFrame) -> pd.DataFrame:
    bad = team.copy()
    bad.loc[0, "game_id"] = None
    bad.loc[1, "pts"] = 250
    bad.loc[2, "season_type"] = "exhibition"
    bad.loc[3, "team_id"] = 5
    bad.loc[3, "fgm"] = bad.loc[3, "fga"] + 1
    return bad.drop(columns=["is_home"])


# What the suite demands of the defective frame, in the order GX lists a whole suite's results
# (errored first, then an order of its own: checked against the pre-optimisation run_suite).
EXPECTED_FAILURES = [
    {"expectation": "expect_column_values_to_not_be_null", "column": "is_home", "unexpected_count": None, "sample": []},
    {
        "expectation": "expect_column_values_to_not_be_null",
        "column": "game_id",
        "unexpected_count": 1,
        "sample": [None],
    },
    {
        "expectation": "expect_column_values_to_be_in_set",
        "column": "season_type",
        "unexpected_count": 1,
        "sample": ["exhibition"],
    },
    {"expectation": "expect_column_values_to_be_between", "column": "team_id", "unexpected_count": 1, "sample": [5.0]},
    {"expectation": "expect_column_to_exist", "column": "is_home", "unexpected_count": None, "sample": []},
    {"expectation": "expect_column_values_to_be_between", "column": "pts", "unexpected_count": 1, "sample": [250.0]},
    {
        "expectation": "expect_column_pair_values_a_to_be_greater_than_b",
        "column": "fga/fgm",
        "unexpected_count": 1,
        "sample": "(fga, fgm) of the row",
    },
]


def test_defective_frame_gives_exactly_the_demanded_failures(team):
    bad = defective(team)
    result = run_suite(bad, "team_games_validated", team_game_expectations(False))
    assert result.success is False
    assert result.evaluated == len(team_game_expectations(False))
    fga, fgm = bad.loc[3, "fga"], bad.loc[3, "fgm"]
    expected = [dict(f) for f in EXPECTED_FAILURES]
    expected[-1]["sample"] = [(float(fga), float(fgm))]
    assert result.failures == expected


def test_only_failures_carry_samples_and_at_most_three(team):
    bad = pd.concat([team] * 3, ignore_index=True)
    bad["pts"] = [250.0, 251.0, 252.0, 253.0] * 3
    result = run_suite(bad, "team_games_validated", team_game_expectations(False))
    assert [(f["column"], f["unexpected_count"], f["sample"]) for f in result.failures] == [
        ("pts", 12, [250.0, 251.0, 252.0])
    ]


def test_consecutive_calls_share_no_expectations_or_data(team):
    bad = defective(team)
    first = run_suite(bad, "team_games_validated", team_game_expectations(False))
    # Same suite name, a good frame: nothing of the bad frame or its failures remains.
    good = run_suite(team, "team_games_validated", team_game_expectations(False))
    assert (good.success, good.evaluated, good.failures) == (True, len(team_game_expectations(False)), [])
    # Same name, other expectations: only these are evaluated.
    one = run_suite(
        bad,
        "team_games_validated",
        [gx.expectations.ExpectColumnValuesToBeBetween(column="pts", min_value=0, max_value=200)],
    )
    assert one.evaluated == 1
    assert [(f["column"], f["sample"]) for f in one.failures] == [("pts", [250.0])]
    # Another suite on another frame, then the first again: identical to the first run.
    table = dedup_team_games(team).table
    dedup = run_suite(team_game_pair_view(table), "team_games", team_game_expectations(True))
    assert (dedup.success, dedup.evaluated, dedup.failures) == (True, len(team_game_expectations(True)), [])
    again = run_suite(bad, "team_games_validated", team_game_expectations(False))
    assert (again.success, again.evaluated, again.failures) == (first.success, first.evaluated, first.failures)


def test_caller_frame_and_expectations_are_left_as_they_were(team):
    frame = team.copy()
    dtypes = frame.dtypes.copy()
    exps = team_game_expectations(False)
    run_suite(frame, "team_games_validated", exps)
    pd.testing.assert_frame_equal(frame, team)
    assert frame.dtypes.equals(dtypes) and "_game_date_offset_days" not in frame
    # The same expectation objects can validate again.
    assert run_suite(frame, "team_games_validated", exps).success


def test_equal_expectations_count_once_as_in_a_gx_suite(team):
    exps = [
        gx.expectations.ExpectColumnValuesToNotBeNull(column="pts"),
        gx.expectations.ExpectColumnValuesToNotBeNull(column="pts"),
        gx.expectations.ExpectColumnValuesToNotBeNull(column="pts", meta={"note": "same expectation"}),
    ]
    assert run_suite(team, "s", exps).evaluated == 1


def test_columns_no_expectation_reads_do_not_change_results(team):
    bad = defective(team)
    noisy = bad.assign(
        junk=[{"a": 1}, [1, 2], None, object()], comment=pd.array(["x", None, "z", None], dtype="string")
    )
    exps = team_game_expectations(False)
    assert run_suite(noisy, "t", exps).failures == run_suite(bad, "t", team_game_expectations(False)).failures


def test_calls_on_threads_keep_their_own_results(team):
    bad = defective(team)
    jobs = [(bad if i % 2 else team) for i in range(4)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda f: run_suite(f, "team_games_validated", team_game_expectations(False)), jobs))
    assert [r.success for r in results] == [True, False, True, False]
    assert results[1].failures == results[3].failures and len(results[1].failures) == len(EXPECTED_FAILURES)
