"""The retraining sensor on a real (temporary) instance: materializations with the metadata the
drift, live-skill and outcome assets write, then sensor ticks through build_sensor_context."""

import json

import dagster as dg
import pytest

from nba_platform.defs.models.sensors import (
    DRIFT_KEY,
    MODEL_KEY,
    OUTCOMES_KEY,
    PROMOTION_KEY,
    SKILL_KEY,
    retraining_sensor,
    stale_champion_cause,
)
from nba_platform.resources.retraining import RetrainingPolicy

POLICY = RetrainingPolicy(
    drift_triggers_retraining=True, drift_share_threshold=0.3, skill_decay_margin=0.01, min_live_games=100
)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("season", ["2022-23", "2023-24", "2024-25"])
        yield instance


def report(instance, key, metadata, partition=None):
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition, metadata=metadata))


def tick(instance, cursor=None, policy=POLICY):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"retraining_policy": policy})
    return retraining_sensor(context)


def test_nothing_new_skips_and_first_complete_season_is_history(instance):
    result = tick(instance)
    assert not result.run_requests and result.skip_reason
    report(instance, OUTCOMES_KEY, {"complete_seasons": dg.MetadataValue.json(["2022-23", "2023-24"])})
    result = tick(instance, result.cursor)
    assert not result.run_requests  # deploying onto history does not retrain
    assert json.loads(result.cursor)["complete_season"] == "2023-24"


def test_drift_over_threshold_fires_once_per_champion_and_partition(instance):
    cursor = tick(instance).cursor
    report(instance, DRIFT_KEY, {"drift_share": 0.1, "champion_version": "nba_game_outcome/v1"}, "2023-24")
    result = tick(instance, cursor)
    assert not result.run_requests  # below the threshold
    report(instance, DRIFT_KEY, {"drift_share": 0.45, "champion_version": "nba_game_outcome/v1"}, "2024-25")
    result = tick(instance, result.cursor)
    [request] = result.run_requests
    assert request.tags["nba/retrain_reason"] == "drift"
    assert "0.45" in request.tags["nba/retrain_detail"] and "2024-25" in request.tags["nba/retrain_detail"]
    assert request.run_key == "drift:nba_game_outcome/v1:2024-25"
    # the same partition drifting again against the same champion: no second run
    report(instance, DRIFT_KEY, {"drift_share": 0.5, "champion_version": "nba_game_outcome/v1"}, "2024-25")
    result = tick(instance, result.cursor)
    assert not result.run_requests
    # a new champion that still sees drift: one run again
    report(instance, DRIFT_KEY, {"drift_share": 0.5, "champion_version": "nba_game_outcome/v2"}, "2024-25")
    assert len(tick(instance, result.cursor).run_requests) == 1


def test_skill_decay_needs_margin_and_minimum_games(instance):
    cursor = tick(instance).cursor
    base = {"champion": "nba_game_outcome/v1", "champion_validation_brier": 0.210}
    report(instance, SKILL_KEY, {**base, "champion_brier_last_n": 0.215, "games": 500})  # within margin
    result = tick(instance, cursor)
    assert not result.run_requests
    report(instance, SKILL_KEY, {**base, "champion_brier_last_n": 0.240, "games": 40})  # too few games
    result = tick(instance, result.cursor)
    assert not result.run_requests
    report(instance, SKILL_KEY, {**base, "champion_brier_last_n": 0.240, "games": 400})
    result = tick(instance, result.cursor)
    [request] = result.run_requests
    assert request.tags["nba/retrain_reason"] == "skill_decay" and "0.2400" in request.tags["nba/retrain_detail"]
    report(instance, SKILL_KEY, {**base, "champion_brier_last_n": 0.250, "games": 450})
    assert not tick(instance, result.cursor).run_requests  # once per champion


def test_new_complete_season_and_causes_in_one_tick_share_a_run(instance):
    report(instance, OUTCOMES_KEY, {"complete_seasons": dg.MetadataValue.json(["2023-24"])})
    cursor = tick(instance).cursor
    report(instance, OUTCOMES_KEY, {"complete_seasons": dg.MetadataValue.json(["2023-24", "2024-25"])})
    report(instance, DRIFT_KEY, {"drift_share": 0.6, "champion_version": "nba_game_outcome/v1"}, "2024-25")
    result = tick(instance, cursor)
    [request] = result.run_requests
    assert request.tags["nba/retrain_reason"] == "drift,new_season"
    assert "season 2024-25 completed" in request.tags["nba/retrain_detail"]
    assert not tick(instance, result.cursor).run_requests


def test_drift_is_a_report_not_a_trigger_by_default(instance):
    default = RetrainingPolicy()
    assert not default.drift_triggers_retraining
    cursor = tick(instance, policy=default).cursor
    report(instance, DRIFT_KEY, {"drift_share": 0.95, "champion_version": "nba_game_outcome/v1"}, "2024-25")
    result = tick(instance, cursor, policy=default)
    assert not result.run_requests and "stale champion" in result.skip_reason.skip_message


def champion(instance, key, label, last):
    report(instance, key, {"champion_after": label, "champion_train_last_season": last})


def test_a_champion_that_missed_the_last_completed_season_is_refit_once(instance):
    # build through 2022-23: the deployed champion saw every completed season
    report(instance, OUTCOMES_KEY, {"complete_seasons": dg.MetadataValue.json(["2021-22", "2022-23"])})
    champion(instance, MODEL_KEY, "nba_game_outcome/v1", "2022-23")
    result = tick(instance)
    assert not result.run_requests and stale_champion_cause(instance) is None
    # 2023-24 lands complete (a regular-season log): v1 must not forecast 2024-25
    report(instance, OUTCOMES_KEY, {"complete_seasons": dg.MetadataValue.json(["2021-22", "2022-23", "2023-24"])})
    cause = stale_champion_cause(instance, "2024-25")
    assert cause["reason"] == "stale_champion" and cause["id"] == "stale:nba_game_outcome/v1:2023-24"
    assert stale_champion_cause(instance, "2023-24") is None  # re-predicting 2023-24 itself is fine
    result = tick(instance, result.cursor)
    [request] = result.run_requests
    assert request.job_name == "retrain_game_model"
    assert request.tags["nba/retrain_reason"] == "new_season,stale_champion"
    assert "missed completed 2023-24" in request.tags["nba/retrain_detail"]
    result = tick(instance, result.cursor)
    assert not result.run_requests  # once per champion and season
    # the refit is promoted at the season boundary: current again, nothing to do
    champion(instance, PROMOTION_KEY, "nba_game_outcome/v2", "2023-24")
    assert stale_champion_cause(instance) is None
    assert not tick(instance, result.cursor).run_requests
