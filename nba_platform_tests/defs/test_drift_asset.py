"""`monitoring/feature_drift` materialized through the real definitions on embedded resources:
real game features in the lake, a real champion in MLflow (SQLite), Evidently reports on disk."""

import math
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from nba_platform.defs.models.sensors import retraining_causes
from nba_platform.lib.features import FEATURE_COLUMNS
from nba_platform.lib.storage import Store
from nba_platform.resources.model_registry import CHAMPION
from nba_platform.resources.retraining import RetrainingPolicy
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import materialize_seasons
from nba_platform_tests.lake_files import read_lake, write_lake
from nba_platform_tests.real_features import SHIFTED, real_game_features, real_game_outcomes, scoring_jump

DRIFT = dg.AssetKey(["monitoring", "feature_drift"])
TRAIN_FIRST, TRAIN_LAST = "2019-20", "2022-23"


def lake_features() -> pd.DataFrame:
    """Real seasons 2019-20..2023-24, plus two made from 2023-24: '2024-25', the whole season
    with a league-wide scoring jump, and '2025-26', its first 20 games (a season just begun)."""
    real = real_game_features()
    real = real[real["season"] >= TRAIN_FIRST]
    last = real[real["season"] == "2023-24"]
    jump = scoring_jump(last).assign(
        season="2024-25", game_id="x" + last["game_id"], game_date=last["game_date"] + pd.DateOffset(years=1)
    )
    opening = last.sort_values("game_date").head(20)
    opening = opening.assign(
        season="2025-26", game_id="y" + opening["game_id"], game_date=opening["game_date"] + pd.DateOffset(years=2)
    )
    return pd.concat([real, jump, opening], ignore_index=True)


def register_champion(mlflow) -> str:
    """A small real model (logistic regression on Elo) trained on the tagged seasons, aliased champion."""
    from sklearn.linear_model import LogisticRegression

    features, outcomes = real_game_features(), real_game_outcomes()
    train = features[features["season"].between(TRAIN_FIRST, TRAIN_LAST)].merge(outcomes, on="game_id")
    train = train[train["home_win"].notna()]
    X, y = train[["diff_elo_pre", "elo_p_home_win"]], train["home_win"].astype(int)
    model = LogisticRegression().fit(X, y)
    brier = float(((model.predict_proba(X)[:, 1] - y) ** 2).mean())
    tags = {
        "train_first_season": TRAIN_FIRST,
        "train_last_season": TRAIN_LAST,
        "eval_season": "2023-24",
        "kind": "logistic",
        "validation_brier": f"{brier:.4f}",
    }
    logged = mlflow.log_sklearn_model(
        model, X.head(50), params={"C": 1.0}, metrics={"validation_brier": brier}, tags=tags
    )
    mlflow.set_alias(CHAMPION, logged.version)
    return logged.label


def partition_metadata(instance, partition: str) -> dict:
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=DRIFT, asset_partitions=[partition]), limit=1
    ).records
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


@pytest.fixture
def setup(tmp_path, instance):
    resources = embedded_resources(tmp_path, include_sample=False)
    io = resources["io_manager"]
    write_lake(io.root, "features/game_features", lake_features())
    return resources, instance


def test_feature_drift_per_season_against_the_champion(setup):
    resources, instance = setup
    reports, lake = resources["reports"], Store(resources["io_manager"].root)

    # No champion yet: the season still materializes, saying so, with no result and no report.
    result = materialize_seasons(["2023-24"], resources, instance, selection=[DRIFT])
    assert result.success
    meta = partition_metadata(instance, "2023-24")
    assert meta["status"] == "no champion model yet: nothing to compare with"
    assert math.isnan(meta["drift_share"]) and meta["champion_version"] == "none"
    assert len(read_lake(lake, "monitoring/feature_drift", "2023-24")) == 0
    assert not reports.exists("drift/2023-24.html")

    label = register_champion(resources["mlflow"])
    # One run over three seasons (a single-run backfill): a real season, the scoring jump, a season's first days.
    seasons = ["2023-24", "2024-25", "2025-26"]
    result = materialize_seasons(seasons, resources, instance, selection=[DRIFT])
    assert result.success
    real, jump, opening = (partition_metadata(instance, s) for s in seasons)

    for meta in (real, jump):
        assert meta["status"] == "ok" and meta["champion_version"] == label
        assert meta["reference_seasons"] == "2020-21, 2021-22, 2022-23"  # the champion's latest 3 training seasons
        assert meta["features_compared"] == 109 and meta["current_games"] == 1230
        assert meta["drifted_features"] == round(meta["drift_share"] * 109)
        assert meta["stattest"] == "ks (threshold 0.05)" and meta["dropped_features"] == {}
    assert 0 < real["drift_share"] < jump["drift_share"] <= 1
    assert jump["drift_share"] >= len(SHIFTED) / 109
    listed = [line.split("|")[1].strip() for line in jump["top_drifted"].splitlines()[2:]]
    assert len(listed) == 10 and set(listed) <= set(SHIFTED)  # the most drifted features are the shifted ones

    # the Evidently report of each computed season, at the path the metadata links
    for season, meta in (("2023-24", real), ("2024-25", jump)):
        path = meta["report"]
        assert path == f"{reports.root}/drift/{season}.html"
        html = Path(path).read_text(encoding="utf-8")
        assert html.lstrip().startswith("<!DOCTYPE html>") and "Dataset Drift" in html
        assert f"({meta['drifted_features']} out of 109)" in html and "Value Drift for column diff_elo_pre" in html

    # per-feature results in the lake: every shifted feature drifted in the jump season
    table = read_lake(lake, "monitoring/feature_drift", "2024-25")
    assert len(table) == 109 and set(table["season"]) == {"2024-25"} and set(table["feature"]) == set(FEATURE_COLUMNS)
    assert set(SHIFTED) <= set(table.loc[table["drifted"], "feature"])

    # too few games: refused with the reason, the run still succeeds
    assert (
        opening["status"] == "not computed: only 20 current games; drift needs at least 50 "
        "(too early in the season to tell drift from noise)"
    )
    assert math.isnan(opening["drift_share"]) and opening["champion_version"] == label
    assert not reports.exists("drift/2025-26.html")
    assert len(read_lake(lake, "monitoring/feature_drift", "2025-26")) == 0

    # run-level summary on every partition of the run
    assert jump["drift_share_max"] == jump["drift_share"]
    assert jump["drift_share_by_season"] == {
        "2023-24": real["drift_share"],
        "2024-25": jump["drift_share"],
        "2025-26": None,
    }

    # what the retraining sensor reads: drift_share and champion_version per partition
    # (a trigger only where the policy enables it; by default drift is a report)
    enabled = RetrainingPolicy(drift_triggers_retraining=True, drift_share_threshold=0.99 * jump["drift_share"])
    causes, _ = retraining_causes(instance, {}, enabled)
    assert [c["id"] for c in causes] == [f"drift:{label}:2024-25"]
    report_only = RetrainingPolicy(drift_share_threshold=0.99 * jump["drift_share"])
    assert [c["id"] for c in retraining_causes(instance, {}, report_only)[0]] == []


def test_drift_follows_a_season_update_run_for_the_same_seasons(setup):
    """What `drift_after_season_update` requests when an update run succeeds, executed with the
    request's own tags: the drift report covers exactly the seasons the update covered."""
    from nba_platform.defs.monitoring.sensors import DRIFT_BY_TAG, drift_after_season_update, drift_request_for
    from nba_platform_tests.defs.helpers import season_run_tags

    resources, instance = setup
    label = register_champion(resources["mlflow"])
    instance.add_dynamic_partitions("season", ["2023-24", "2024-25"])

    # The sensor, evaluated on a real run-success event; the monitored run is an update of 2024-25.
    @dg.asset
    def tiny() -> int:
        return 1

    done = dg.materialize([tiny], instance=instance)
    [success] = [e for e in done.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS]
    update = dg.DagsterRun(job_name="season_update", run_id=done.run_id, tags=season_run_tags(["2024-25"]))
    context = dg.build_run_status_sensor_context(
        sensor_name="drift_after_season_update", dagster_event=success, dagster_instance=instance, dagster_run=update
    )
    request = drift_after_season_update(context)
    assert isinstance(request, dg.RunRequest) and request.job_name == "season_drift"
    assert request.run_key == f"drift-after:{done.run_id}"  # one report per update run, however often evaluated
    assert request.tags["nba/after_run"] == done.run_id

    result = dg.materialize(defs_assets(), resources=resources, instance=instance, selection=[DRIFT], tags=request.tags)
    assert result.success
    assert [e.partition for e in result.get_asset_materialization_events()] == ["2024-25"]
    meta = partition_metadata(instance, "2024-25")
    assert meta["status"] == "ok" and meta["champion_version"] == label and meta["drift_share"] > 0
    # Its report is in the instance now (whoever ran it, e.g. `nba-platform ingest`): nothing more to request.
    assert isinstance(drift_after_season_update(context), dg.SkipReason)

    # A single-partition run, a run that wants no report (`ingest --no-drift`), a run without seasons.
    single = drift_request_for(
        dg.DagsterRun(job_name="season_update", run_id="r1", tags={"dagster/partition": "2023-24"}), instance
    )
    assert single.tags["dagster/partition"] == "2023-24"
    unwanted = dg.DagsterRun(
        job_name="season_update", run_id="r2", tags={**season_run_tags(["2023-24"]), DRIFT_BY_TAG: "none"}
    )
    assert drift_request_for(unwanted, instance) is None
    assert drift_request_for(dg.DagsterRun(job_name="season_update", run_id="r3"), instance) is None


def defs_assets():
    from nba_platform.definitions import defs

    d = defs()
    return [*d.assets, *(d.asset_checks or [])]
