"""The platform exporter's collector over a real Dagster instance and a real SQLite serving
database (published through lib/serving_db.py): the values, and the cache between scrapes."""

import time

import dagster as dg
import pandas as pd
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from nba_platform.lib.serving_db import GAME_PREDICTIONS, GAMES, publish_sqlite, query_sqlite
from nba_platform.observability.exporter import PlatformCollector, platform_registry


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def samples(registry) -> dict[tuple, float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def serving_db(tmp_path):
    path = str(tmp_path / "serving.db")
    games = pd.DataFrame(
        {
            "game_id": ["0022300001", "0022300002", "0022300003"],
            "season": "2023-24",
            "season_type": "Regular Season",
            "game_date": pd.to_datetime(["2023-10-24", "2023-10-25", "2023-10-26"]),
            "home_team_id": [1610612737, 1610612738, 1610612739],
            "away_team_id": [1610612740, 1610612741, 1610612742],
            "home_pts": [110, 99, None],  # the third game is not played yet
            "away_pts": [100, 101, None],
        }
    )
    publish_sqlite(path, GAMES, games)
    predictions = games[["game_id", "season", "game_date", "home_team_id", "away_team_id"]].assign(
        p_home_win=[0.7, 0.6, 0.5],
        elo_p_home_win=0.5,
        model_name="nba_game_outcome",
        model_version=2,
        published_at=pd.Timestamp("2023-10-20"),
        top_factors="[]",
    )
    publish_sqlite(path, GAME_PREDICTIONS, predictions)
    return path


def test_collector_reports_runs_and_live_skill_and_caches(serving_db):
    @dg.asset
    def probe():
        return 1

    clock = Clock()
    with dg.instance_for_test() as instance:
        assert dg.materialize([probe], instance=instance).success
        collector = PlatformCollector(lambda: instance, lambda sql: query_sqlite(serving_db, sql), 30, clock)
        registry = platform_registry(collector)
        first = samples(registry)
        assert collector.reads == 1
        assert first[("nba_exporter_source_up", (("source", "dagster_instance"),))] == 1
        assert first[("nba_exporter_source_up", (("source", "serving_db"),))] == 1
        assert first[("nba_job_last_run_success", (("dagster_job", "__ephemeral_asset_job__"),))] == 1
        assert first[("nba_job_runs", (("dagster_job", "__ephemeral_asset_job__"), ("status", "SUCCESS")))] == 1
        assert ("nba_asset_freshness_lag_seconds", (("asset", "probe"),)) in first
        version = (("model_version", "nba_game_outcome/v2"),)
        assert first[("nba_model_live_games", version)] == 2
        assert first[("nba_model_live_brier", version)] == pytest.approx((0.3**2 + 0.6**2) / 2)

        # within the TTL a scrape reuses the snapshot: a new run is not seen yet
        assert dg.materialize([probe], instance=instance).success
        clock.now += 10
        assert (
            samples(registry)[("nba_job_runs", (("dagster_job", "__ephemeral_asset_job__"), ("status", "SUCCESS")))]
            == 1
        )
        assert collector.reads == 1

        # past the TTL the scrape is answered from the cache and a background re-read starts
        clock.now += 30
        samples(registry)
        deadline = time.monotonic() + 60
        while collector.reads < 2:
            assert time.monotonic() < deadline, "no background re-read"
            time.sleep(0.1)
        assert (
            samples(registry)[("nba_job_runs", (("dagster_job", "__ephemeral_asset_job__"), ("status", "SUCCESS")))]
            == 2
        )


def test_collector_reports_an_unreadable_source(tmp_path):
    with dg.instance_for_test() as instance:
        missing = str(tmp_path / "no_tables.db")  # exists once opened, but holds no tables
        collector = PlatformCollector(lambda: instance, lambda sql: query_sqlite(missing, sql), 30)
        values = samples(platform_registry(collector))
    assert values[("nba_exporter_source_up", (("source", "serving_db"),))] == 0
    assert values[("nba_exporter_source_up", (("source", "dagster_instance"),))] == 1
