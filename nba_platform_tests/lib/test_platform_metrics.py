"""The exporter's pure computations (lib/platform_metrics.py)."""

import math

import pandas as pd
import pytest

from nba_platform.lib import platform_metrics as pm


def test_freshness_lag():
    assert pm.freshness_lag_seconds(1000.0, 400.0) == 600.0
    assert pm.freshness_lag_seconds(1000.0, 1005.0) == 0.0  # clock skew never gives a negative lag
    assert pm.freshness_lag_seconds(1000.0, None) is None


@pytest.mark.parametrize(
    "asset, expected",
    [
        ("tables/team_games", ("tables/team_games", "accepted")),
        ("tables/team_games_validated", ("tables/team_games_validated", "accepted")),
        ("quarantine/team_games", ("tables/team_games_validated", "quarantined")),
        ("quarantine/team_games_dedup", ("tables/team_games", "quarantined")),
        ("quarantine/players_dedup", ("tables/players", "quarantined")),
        ("features/game_features", None),
        ("raw/league_game_log", None),
        ("tables", None),
    ],
)
def test_table_of(asset, expected):
    assert pm.table_of(asset) == expected


def test_rows_by_table_season_keeps_the_newest_materialization_of_each_partition():
    records = [  # newest first
        pm.PartitionRows("tables/team_games", "2023-24", 2460),
        pm.PartitionRows("tables/team_games", "2023-24", 2400),  # an older build of the season
        pm.PartitionRows("tables/team_games", "2022-23", 2458),
        pm.PartitionRows("quarantine/team_games_dedup", "2022-23", 2),
        pm.PartitionRows("quarantine/team_games", "2022-23", 7),
        pm.PartitionRows("tables/players", None, 500),
        pm.PartitionRows("features/game_features", "2022-23", 1230),
    ]
    assert pm.rows_by_table_season(records) == {
        ("tables/team_games", "2023-24", "accepted"): 2460,
        ("tables/team_games", "2022-23", "accepted"): 2458,
        ("tables/team_games", "2022-23", "quarantined"): 2,
        ("tables/team_games_validated", "2022-23", "quarantined"): 7,
        ("tables/players", "all", "accepted"): 500,
    }


def run(job, status, start, end, created):
    return pm.RunSummary(job=job, status=status, start=start, end=end, created=created)


def test_last_runs_duration_and_counts():
    runs = [
        run("season_update", "FAILURE", 100.0, 160.0, 100.0),
        run("season_update", "SUCCESS", 10.0, 70.0, 10.0),
        run("build_all", "STARTED", 200.0, None, 200.0),
        run("build_all", "QUEUED", None, None, 300.0),
    ]
    latest = pm.last_runs(runs)
    assert latest["season_update"].status == "FAILURE"
    assert latest["build_all"].status == "QUEUED"
    assert pm.run_duration_seconds(latest["season_update"], now=1000.0) == 60.0
    assert pm.run_duration_seconds(runs[2], now=260.0) == 60.0  # still running: counts up to now
    assert pm.run_duration_seconds(latest["build_all"], now=1000.0) is None
    assert pm.runs_by_status(runs) == {
        ("season_update", "FAILURE"): 1,
        ("season_update", "SUCCESS"): 1,
        ("build_all", "STARTED"): 1,
        ("build_all", "QUEUED"): 1,
    }


def test_live_skill_by_version_scores_played_games_only():
    frame = pd.DataFrame(
        {
            "model_version": ["m/v1", "m/v1", "m/v1", "m/v2", "m/v2"],
            "p_home_win": [0.8, 0.3, 0.6, 0.5, 0.9],
            "home_win": [1, 0, None, 1, 0],  # None: not played yet
        }
    )
    skill = pm.live_skill_by_version(frame)
    assert set(skill) == {"m/v1", "m/v2"}
    assert skill["m/v1"].games == 2
    assert skill["m/v1"].brier == pytest.approx(((0.8 - 1) ** 2 + 0.3**2) / 2)
    assert skill["m/v1"].log_loss == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    assert skill["m/v2"].brier == pytest.approx((0.25 + 0.81) / 2)
    # a certain, wrong forecast is clipped, not infinite
    certain = pm.live_skill_by_version(pd.DataFrame({"model_version": ["m"], "p_home_win": [1.0], "home_win": [0]}))
    assert math.isfinite(certain["m"].log_loss) and certain["m"].brier == 1.0


def test_latest_per_partition_skips_nan_and_older_values():
    records = [
        ("2023-24", {"drift_share": 0.4}),
        ("2023-24", {"drift_share": 0.9}),
        ("2022-23", {"drift_share": float("nan")}),
        (None, {"x": 1}),
    ]
    assert pm.latest_per_partition(records, "drift_share") == {"2023-24": 0.4}


def test_stats_api_totals_add_counters_and_keep_newest_breaker_state():
    observations = [  # newest first
        (
            "raw/box_score_traditional",
            {
                pm.STATS_API_REQUESTS: 7,
                pm.STATS_API_RETRIES: 5,
                pm.STATS_API_FAILURES: {"http_503": 5},
                pm.STATS_API_BREAKERS: {"boxscoretraditionalv2": "open", "leaguegamelog": "closed"},
            },
        ),
        (
            "raw/box_score_traditional",
            {
                pm.STATS_API_REQUESTS: 30,
                pm.STATS_API_RETRIES: 1,
                pm.STATS_API_FAILURES: {"http_503": 1, "timeout": 2},
                pm.STATS_API_BREAKERS: {"boxscoretraditionalv2": "closed"},
            },
        ),
        ("raw/league_game_log", {pm.STATS_API_REQUESTS: 2, pm.STATS_API_BREAKERS: {"leaguegamelog": "closed"}}),
        ("raw/league_game_log", {"unrelated": 1}),
    ]
    totals = pm.stats_api_totals(observations)
    assert totals.requests == {"raw/box_score_traditional": 37, "raw/league_game_log": 2}
    assert totals.retries == {"raw/box_score_traditional": 6, "raw/league_game_log": 0}
    assert totals.failed_attempts == {
        ("raw/box_score_traditional", "http_503"): 6,
        ("raw/box_score_traditional", "timeout"): 2,
    }
    assert totals.breaker_states == {"boxscoretraditionalv2": "open", "leaguegamelog": "closed"}
    with pytest.raises(ValueError, match="unknown circuit breaker state 'ajar'"):
        pm.stats_api_totals([("raw/x", {pm.STATS_API_REQUESTS: 1, pm.STATS_API_BREAKERS: {"e": "ajar"}})])
