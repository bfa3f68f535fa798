"""End to end on real data: drift -> retraining sensor -> challenger -> shadow -> promotion ->
refusal of a worse challenger -> rollback.

Three real seasons (2021-22..2023-24 league game logs) train a deliberately weak first champion
(near-constant logistic, no calibration), refit through 2023-24 (complete). A drifted season in
progress is made from the real 2023-24 rows: its first 75 days re-keyed to 2024-25 (new game ids
and dates) with scoring inflated (+15 points a team from more threes and free throws, box scores
kept consistent), landed, and built. Drift triggers retraining here because the test's policy
enables it (off by default: a report). The drift asset flags it, the sensor asks for a retraining run with
its reason in the tags, the retrained model is registered as `challenger`, scored in shadow
beside the champion, and promoted by the paired-bootstrap rule. A worse challenger is then
refused, and the rollback command restores the previous champion.
"""

import gzip
import io
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.ingestion.jobs import SEASON_TABLES_SELECTION
from nba_platform.defs.models.promotion import RETRAIN_SELECTION
from nba_platform.defs.models.sensors import retraining_sensor
from nba_platform.resources.landing import sample_root
from nba_platform.resources.model_registry import CHALLENGER, CHAMPION, champion_history
from nba_platform.resources.retraining import RetrainingPolicy
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import season_run_tags
from nba_platform_tests.lake_files import read_lake

GAMELOG_DIR = Path(sample_root()) / "nba_api_league_gamelog_2021_2024"
SEASONS = ["2021-22", "2022-23", "2023-24"]
WEAK_MODEL = {"candidates": ["logistic"], "logistic_c": 1e-6, "calibration": "none"}
FEATURES = dg.AssetSelection.groups("features")


def key(*path) -> dg.AssetKey:
    return dg.AssetKey(list(path))


DRIFTED_DAYS = 75  # a season in progress: not complete, so shadow scoring can judge a challenger on it


def drifted_frame() -> pd.DataFrame:
    """Real 2023-24 rows (its first DRIFTED_DAYS days) re-keyed as 2024-25 with inflated scoring:
    what a rule change would do, seen mid-season."""
    frame = pd.read_csv(GAMELOG_DIR / "nba-gamelog-2023-24.csv.gz", dtype={"game_id": str})
    dates = pd.to_datetime(frame["game_date"])
    frame = frame[dates < dates.min() + pd.Timedelta(days=DRIFTED_DAYS)].copy()
    frame["season_id"] = 22024
    frame["game_id"] = frame["game_id"].str.replace(r"^00223", "00224", regex=True)
    frame["game_date"] = (pd.to_datetime(frame["game_date"]) + pd.Timedelta(days=364)).dt.strftime("%Y-%m-%d")
    # +15 points a team, box score kept consistent (pts = 2*FGM + FG3M + FTM): 4 more threes, 3 more free throws
    frame["fgm"], frame["fga"] = frame["fgm"] + 4, frame["fga"] + 10
    frame["fg3m"], frame["fg3a"] = frame["fg3m"] + 4, frame["fg3a"] + 10
    frame["ftm"], frame["fta"] = frame["ftm"] + 3, frame["fta"] + 3
    frame["pts"] = frame["pts"] + 15
    for made, attempted, pct in [("fgm", "fga", "fg_pct"), ("fg3m", "fg3a", "fg3_pct"), ("ftm", "fta", "ft_pct")]:
        frame[pct] = (frame[made] / frame[attempted]).round(3)
    return frame


def drifted_season_csv() -> bytes:
    frame = drifted_frame()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(frame.to_csv(index=False).encode())
    return buf.getvalue()


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    root = tmp_path_factory.mktemp("lifecycle")
    resources = embedded_resources(root, include_sample=False)
    policy = RetrainingPolicy(drift_triggers_retraining=True, drift_share_threshold=0.2)
    d = defs()
    everything = [*d.assets, *(d.asset_checks or [])]
    steps = {}
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:

        def run(selection, seasons=None, run_config=None, tags=None):
            result = dg.materialize(
                everything,
                resources=resources,
                instance=instance,
                selection=selection,
                run_config=run_config or {},
                tags={**(season_run_tags(seasons) if seasons else {}), **(tags or {})},
                raise_on_error=False,
            )
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            return result

        def tick(cursor):
            return retraining_sensor(
                dg.build_sensor_context(instance=instance, cursor=cursor, resources={"retraining_policy": policy})
            )

        model_config = lambda cfg: {"ops": {"models__game_outcome_model": {"config": cfg}}}  # noqa: E731
        for season in SEASONS:
            path = GAMELOG_DIR / f"nba-gamelog-{season}.csv.gz"
            resources["landing"].accept(path.name, path.read_bytes())
        instance.add_dynamic_partitions("season", SEASONS)
        run(
            SEASON_TABLES_SELECTION | FEATURES | dg.AssetSelection.assets(key("models", "game_outcome_model")),
            SEASONS,
            model_config(WEAK_MODEL),
        )
        steps["v1_champion"] = resources["mlflow"].version_by_alias(CHAMPION)
        steps["tick_before"] = tick(None)

        # A drifted season lands and is built; its drift is measured and it is scored in shadow.
        resources["landing"].accept("nba-gamelog-2024-25-drifted.csv.gz", drifted_season_csv())
        instance.add_dynamic_partitions("season", ["2024-25"])
        steps["drift_run"] = run(
            SEASON_TABLES_SELECTION
            | FEATURES
            | dg.AssetSelection.assets(
                key("monitoring", "feature_drift"),
                key("serving", "game_predictions"),
                key("serving", "shadow_predictions"),
            ),
            ["2024-25"],
        )

        # The sensor fires; its run request is executed as the daemon would (job selection + tags).
        steps["tick_drift"] = tick(steps["tick_before"].cursor)
        [request] = steps["tick_drift"].run_requests
        steps["retrain_run"] = run(RETRAIN_SELECTION, tags=request.tags)
        steps["v2_challenger"] = resources["mlflow"].version_by_alias(CHALLENGER)
        steps["tick_after"] = tick(steps["tick_drift"].cursor)

        # Shadow scoring of the new season by both, live skill, then the promotion rule.
        steps["promotion_run"] = run(
            dg.AssetSelection.assets(
                key("serving", "shadow_predictions"),
                key("monitoring", "live_skill"),
                key("models", "champion_promotion"),
            ),
            ["2024-25"],
        )
        steps["champion_after_promotion"] = resources["mlflow"].version_by_alias(CHAMPION)

        # A worse challenger: refused.
        run(dg.AssetSelection.assets(key("models", "game_outcome_model")), run_config=model_config(WEAK_MODEL))
        steps["v3_challenger"] = resources["mlflow"].version_by_alias(CHALLENGER)
        steps["refusal_run"] = run(
            dg.AssetSelection.assets(key("serving", "shadow_predictions"), key("models", "champion_promotion")),
            ["2024-25"],
        )
        steps["champion_after_refusal"] = resources["mlflow"].version_by_alias(CHAMPION)
        steps["published_2024_25"] = read_lake(resources["io_manager"]._store(), "serving/game_predictions", "2024-25")

        # The rollback command, as an operator runs it.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "MLFLOW_"))}
        env.update({"NBA_PLATFORM_ENV": "local", "NBA_HOME": str(root)})
        steps["rollback"] = subprocess.run(
            [sys.executable, "-m", "nba_platform.cli", "rollback-champion"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        steps["champion_after_rollback"] = resources["mlflow"].version_by_alias(CHAMPION)
        steps["history"] = champion_history(resources["mlflow"])
        steps["published_champions"] = resources["serving_db"].query(
            "SELECT model_version, reason FROM model_champions ORDER BY promoted_at, model_version"
        )
        steps["instance"] = instance
        yield steps


def metadata(result, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def test_first_model_is_champion_and_nothing_fires_before_drift(lifecycle):
    assert lifecycle["v1_champion"].version == "1"
    # evaluated with 2023-24 held out, then refit on it: the deployed model saw every completed season
    assert lifecycle["v1_champion"].tags["eval_season"] == "2023-24"
    assert lifecycle["v1_champion"].tags["train_last_season"] == "2023-24"
    assert not lifecycle["tick_before"].run_requests


def test_drifted_partition_is_flagged_and_the_sensor_requests_retraining_with_its_reason(lifecycle):
    tables = metadata(lifecycle["drift_run"], "tables/team_games")
    assert tables["rows_written"] == len(drifted_frame())  # the drifted season passes every rule: drift, not bad data
    drift = metadata(lifecycle["drift_run"], "monitoring/feature_drift")
    assert drift["drift_share"] >= 0.2 and drift["champion_version"] == "nba_game_outcome/v1"
    [request] = lifecycle["tick_drift"].run_requests
    assert request.tags["nba/retrain_reason"] == "drift"
    assert "2024-25" in request.tags["nba/retrain_detail"]
    assert not lifecycle["tick_after"].run_requests  # one cause, one run
    run = lifecycle["instance"].get_run_by_id(lifecycle["retrain_run"].run_id)
    assert run.tags["nba/retrain_reason"] == "drift"


def test_retraining_registers_a_challenger_trained_through_the_last_complete_season(lifecycle):
    v2 = lifecycle["v2_challenger"]
    assert v2.version == "2" and v2.tags["train_last_season"] == "2023-24" and v2.tags["eval_season"] == "2024-25"


def test_better_challenger_is_promoted_on_shadow_scores(lifecycle):
    shadow = metadata(lifecycle["promotion_run"], "serving/shadow_predictions")
    assert shadow["champion"] == "nba_game_outcome/v1" and shadow["challenger"] == "nba_game_outcome/v2"
    promotion = metadata(lifecycle["promotion_run"], "models/champion_promotion")
    games = len(drifted_frame()) // 2
    assert promotion["promoted"] is True and promotion["games"] == games, promotion["reason"]
    assert lifecycle["champion_after_promotion"].version == "2"
    skill = metadata(lifecycle["promotion_run"], "monitoring/live_skill")
    assert skill["games"] == games and skill["challenger_brier_last_n"] < skill["champion_brier_last_n"]
    assert skill["rolling_brier_plot"].startswith("![rolling Brier](data:image/png;base64,")


def test_worse_challenger_is_refused_and_publishing_is_unaffected_by_shadow(lifecycle):
    assert lifecycle["v3_challenger"].version == "3"
    promotion = metadata(lifecycle["refusal_run"], "models/champion_promotion")
    assert promotion["promoted"] is False and "not lower" in promotion["reason"]
    assert lifecycle["champion_after_refusal"].version == "2"
    # what was published for 2024-25 came from the champion of the time, never from a challenger
    published = lifecycle["published_2024_25"]
    assert set(zip(published["model_name"], published["model_version"])) == {("nba_game_outcome", 1)}


def test_rollback_command_restores_the_previous_champion(lifecycle):
    result = lifecycle["rollback"]
    assert result.returncode == 0, result.stderr
    assert "v2" in result.stdout and "v1" in result.stdout
    assert lifecycle["champion_after_rollback"].version == "1"
    assert [h["version"] for h in lifecycle["history"]] == ["1", "2", "1"]
    assert lifecycle["history"][-1]["reason"].startswith("rollback from v2")
    assert lifecycle["published_champions"]["model_version"].tolist() == [1, 2, 1]


def test_every_champion_change_is_published_to_the_serving_database(lifecycle):
    # the forecast API's /v1/models/champion reads the last row (resources/model_registry.publish_champion)
    changes = lifecycle["published_champions"]
    assert changes["model_version"].tolist()[:2] == [1, 2]
    assert changes["reason"].iloc[0] == "first registered model (no champion to compare with)"
    assert changes["reason"].iloc[1].startswith("promoted: ")
