"""daily_season_ingest: the latest season partition of the instance, or a skip when there is none."""

import datetime as dt

import dagster as dg
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.ingestion.schedules import latest_season


@pytest.fixture(scope="module")
def schedule() -> dg.ScheduleDefinition:
    return defs().resolve_schedule_def("daily_season_ingest")


def test_latest_season_is_chronological_not_insertion_order():
    assert latest_season(["2023-24", "1999-00", "2009-10", "2010-11"]) == "2023-24"
    assert latest_season(["2010-11", "2009-10"]) == "2010-11"
    assert latest_season([]) is None


def test_runs_the_results_and_schedule_tables_daily_at_10_utc(schedule):
    assert schedule.job_name == "daily_tables"
    assert schedule.cron_schedule == "0 10 * * *" and schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert "10:00 UTC" in schedule.description


def test_skips_with_a_reason_when_no_season_partition_exists(schedule, instance):
    with dg.build_schedule_context(instance=instance) as context:
        data = schedule.evaluate_tick(context)
    assert not data.run_requests
    assert "no season partitions yet" in data.skip_message


def test_requests_the_latest_season_partition(schedule, instance):
    # Added out of chronological order, as when an older season is landed after a newer one.
    instance.add_dynamic_partitions("season", ["2022-23", "2023-24", "2021-22"])
    tick = dt.datetime(2024, 1, 15, 10, 0, tzinfo=dt.UTC)
    # With the code location's repository, the tick resolves the request against the job and its
    # partitions as the daemon does (an unknown partition key would fail the tick).
    repository = defs().get_repository_def()
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=tick, repository_def=repository
    ) as context:
        data = schedule.evaluate_tick(context)
    (request,) = data.run_requests
    assert request.partition_key == "2023-24"
    assert request.tags["nba/trigger"] == "daily_season_ingest"
    assert request.tags["dagster/partition"] == "2023-24"


def test_with_the_stats_api_as_daily_source_the_request_fetches_results_and_schedule(schedule, instance, monkeypatch):
    instance.add_dynamic_partitions("season", ["2023-24"])
    monkeypatch.setenv("NBA_DAILY_INGEST_SOURCE", "stats_api")
    repository = defs().get_repository_def()
    with dg.build_schedule_context(instance=instance, repository_def=repository) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.run_config == {
        "ops": {
            "raw__league_game_log": {"config": {"source": "stats_api"}},
            "raw__league_schedule": {"config": {"source": "stats_api"}},
        }
    }
    monkeypatch.setenv("NBA_DAILY_INGEST_SOURCE", "landing")  # the default: landed files, no config
    with dg.build_schedule_context(instance=instance, repository_def=repository) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.run_config == {}


def test_the_daily_job_covers_results_and_schedule_not_player_files():
    job = defs().resolve_job_def("daily_tables")
    keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert {
        "raw/league_game_log",
        "raw/league_schedule",
        "tables/team_games_validated",
        "quarantine/team_games",
    } <= keys
    assert {"tables/team_games", "quarantine/team_games_dedup", "tables/schedule", "quarantine/schedule"} <= keys
    assert not {k for k in keys if "player" in k or k == "raw/box_score_traditional"}
    # the blocking checks of those tables run in it
    checks = {c.name for c in job.asset_layer.asset_graph.asset_check_keys if c.asset_key.to_user_string() in keys}
    assert {"team_games_validated_contract", "team_games_nothing_lost", "team_games_contract"} <= checks
