"""A new season re-scores only what changed: `serving/shadow_predictions`' automation condition,
evaluated with dg.evaluate_automation_conditions on a real (temporary) instance."""

import dagster as dg

from nba_platform.defs.ingestion.partitions import season_partitions
from nba_platform.defs.serving.shadow import GAME_FEATURES, TEAM_GAMES, shadow_predictions
from nba_platform.resources.mlflow import MlflowTracking

MODEL = dg.AssetKey(["models", "game_outcome_model"])
SEASONS = ["2021-22", "2022-23", "2023-24"]


# Stand-ins for the upstream assets: only the graph and the event log matter to the condition.
@dg.asset(key=TEAM_GAMES, partitions_def=season_partitions)
def team_games(): ...


@dg.asset(key=GAME_FEATURES, deps=[TEAM_GAMES])
def game_features(): ...


@dg.asset(key=MODEL, deps=[GAME_FEATURES])
def game_outcome_model(): ...


def definitions(tmp_path) -> dg.Definitions:
    # the real resource, never called: evaluating a condition executes nothing
    mlflow = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    return dg.Definitions(
        assets=[team_games, game_features, game_outcome_model, shadow_predictions], resources={"mlflow": mlflow}
    )


def materialized(instance, key, partitions=(None,)):
    for partition in partitions:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))


def requested(result) -> set[str]:
    return set(result.get_requested_partitions(shadow_predictions.key)) if result.total_requested else set()


def test_landing_one_season_rescores_only_that_season(tmp_path):
    DEFS = definitions(tmp_path)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("season", SEASONS)
        materialized(instance, TEAM_GAMES, SEASONS)
        materialized(instance, GAME_FEATURES)
        materialized(instance, MODEL)
        materialized(instance, shadow_predictions.key, SEASONS)
        result = dg.evaluate_automation_conditions(defs=DEFS, instance=instance)
        cursor = result.cursor
        result = dg.evaluate_automation_conditions(defs=DEFS, instance=instance, cursor=cursor)
        assert requested(result) == set()  # nothing changed: nothing re-scored

        # A new season lands: its tables partition, then the (unpartitioned) features over all history.
        instance.add_dynamic_partitions("season", ["2024-25"])
        materialized(instance, TEAM_GAMES, ["2024-25"])
        materialized(instance, GAME_FEATURES)
        result = dg.evaluate_automation_conditions(defs=DEFS, instance=instance, cursor=result.cursor)
        assert requested(result) == {"2024-25"}  # not the three earlier seasons

        # A day of an earlier season is corrected: that season only.
        materialized(instance, shadow_predictions.key, ["2024-25"])
        materialized(instance, TEAM_GAMES, ["2022-23"])
        materialized(instance, GAME_FEATURES)
        result = dg.evaluate_automation_conditions(defs=DEFS, instance=instance, cursor=result.cursor)
        assert requested(result) == {"2022-23"}

        # A new registered model (a challenger) is what every season's shadow scores depend on.
        materialized(instance, shadow_predictions.key, ["2022-23"])
        result = dg.evaluate_automation_conditions(defs=DEFS, instance=instance, cursor=result.cursor)
        assert requested(result) == set()  # the requested re-score ran: nothing more
        materialized(instance, MODEL)
        result = dg.evaluate_automation_conditions(defs=DEFS, instance=instance, cursor=result.cursor)
        assert requested(result) == {*SEASONS, "2024-25"}
