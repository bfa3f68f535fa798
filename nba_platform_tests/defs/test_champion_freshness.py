"""Issue 15's champion-freshness rule on real shipped data, as the daemon runs it: build through
2022-23, land the 2023-24 regular-season log (no playoff rows), and the first 2024-25 prediction
comes from a model trained through 2023-24.

History: the TeamGameLog export, seasons 2020-21..2022-23 only (three: the evaluation season and
the two the evaluation model needs). 2023-24: the LeagueGameLog export. 2024-25: the first two
weeks of 2023-24 re-keyed a year later (new ids and dates), the new season's first games.
"""

import gzip
import io
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.ingestion.jobs import SEASON_TABLES_SELECTION
from nba_platform.defs.models.promotion import RETRAIN_SELECTION
from nba_platform.defs.models.sensors import retraining_sensor, stale_champion_cause
from nba_platform.defs.pipelines.jobs import SEASON_UPDATE_SELECTION
from nba_platform.lib.champion import champion_is_current
from nba_platform.resources.landing import sample_root
from nba_platform.resources.model_registry import CHALLENGER, CHAMPION
from nba_platform.resources.retraining import RetrainingPolicy
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import season_run_tags
from nba_platform_tests.lake_files import read_lake

LANDING = Path(sample_root())
HISTORY = ["2020-21", "2021-22", "2022-23"]
FAST_MODEL = {"ops": {"models__game_outcome_model": {"config": {"candidates": ["logistic"]}}}}


def first_games_a_year_later(days: int = 14) -> bytes:
    frame = pd.read_csv(LANDING / "nba_api_league_gamelog_2021_2024/nba-gamelog-2023-24.csv.gz", dtype={"game_id": str})
    dates = pd.to_datetime(frame["game_date"])
    frame = frame[dates < dates.min() + pd.Timedelta(days=days)].copy()
    frame["season_id"] = 22024
    frame["game_id"] = frame["game_id"].str.replace(r"^00223", "00224", regex=True)
    frame["game_date"] = (pd.to_datetime(frame["game_date"]) + pd.Timedelta(days=364)).dt.strftime("%Y-%m-%d")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(frame.to_csv(index=False).encode())
    return buf.getvalue()


@pytest.fixture(scope="module")
def freshness(tmp_path_factory):
    root = tmp_path_factory.mktemp("freshness")
    resources = embedded_resources(root, include_sample=False)
    policy = RetrainingPolicy()  # the defaults: drift reports, it does not retrain
    d = defs()
    everything = [*d.assets, *(d.asset_checks or [])]
    mlflow, steps = resources["mlflow"], {}
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:

        def run(selection, seasons=None, tags=None, run_config=None):
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

        def land(name, data, seasons):
            resources["landing"].accept(name, data)
            instance.add_dynamic_partitions("season", seasons)

        # Build to 2022-23.
        land(
            "team_game_logs.csv.gz",
            (LANDING / "nba_api_teamgamelog_2018_2023/team_game_logs.csv.gz").read_bytes(),
            HISTORY,
        )
        run(
            SEASON_TABLES_SELECTION | dg.AssetSelection.groups("features") | RETRAIN_SELECTION,
            HISTORY,
            run_config=FAST_MODEL,
        )
        steps["built"] = mlflow.version_by_alias(CHAMPION)
        steps["tick_built"] = tick(None)

        # Land 2023-24 complete (regular season only), as the landing sensor's season_update runs it.
        path = LANDING / "nba_api_league_gamelog_2021_2024/nba-gamelog-2023-24.csv.gz"
        land(path.name, path.read_bytes(), ["2023-24"])
        steps["update_2023_24"] = run(SEASON_UPDATE_SELECTION, ["2023-24"])
        steps["stale_cause"] = stale_champion_cause(instance, "2024-25")
        steps["tick_landed"] = tick(steps["tick_built"].cursor)
        [request] = steps["tick_landed"].run_requests
        steps["retrain"] = run(
            RETRAIN_SELECTION, tags=request.tags, run_config=FAST_MODEL
        )  # the daemon runs the request
        steps["champion"] = mlflow.version_by_alias(CHAMPION)
        steps["challenger"] = mlflow.version_by_alias(CHALLENGER)
        steps["tick_after"] = tick(steps["tick_landed"].cursor)

        # The new season's first games: predicted by the champion of the time.
        land("nba-gamelog-2024-25-first-games.csv.gz", first_games_a_year_later(), ["2024-25"])
        run(SEASON_UPDATE_SELECTION, ["2024-25"])
        steps["predictions_2024_25"] = read_lake(
            resources["io_manager"]._store(), "serving/game_predictions", "2024-25"
        )
        steps["predictions_2023_24"] = read_lake(
            resources["io_manager"]._store(), "serving/game_predictions", "2023-24"
        )
        yield steps


def metadata(result, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def test_the_built_champion_is_refit_through_the_complete_evaluation_season(freshness):
    built = freshness["built"]
    assert built.tags["eval_season"] == "2022-23" and built.tags["train_last_season"] == "2022-23"
    assert built.tags["train_first_season"] == "2020-21"
    assert float(built.tags["holdout_brier"]) < 0.25  # the evaluation model, 2022-23 held out
    assert not freshness["tick_built"].run_requests  # current: nothing to do


def test_landing_a_complete_regular_season_makes_the_champion_stale_and_retrains(freshness):
    outcomes = metadata(freshness["update_2023_24"], "features/game_outcomes")
    assert outcomes["complete_seasons"] == [*HISTORY, "2023-24"]  # no playoff rows needed
    # 2023-24 itself was predicted by the built champion: it saw every season before 2023-24
    assert set(freshness["predictions_2023_24"]["model_version"]) == {int(freshness["built"].version)}
    assert freshness["stale_cause"]["id"] == f"stale:{freshness['built'].label}:2023-24"
    [request] = freshness["tick_landed"].run_requests
    assert "stale_champion" in request.tags["nba/retrain_reason"]
    assert not freshness["tick_after"].run_requests  # one cause, one run; then current


def test_the_refit_on_every_completed_season_is_promoted_at_the_season_boundary(freshness):
    promotion = metadata(freshness["retrain"], "models/champion_promotion")
    assert promotion["promoted"] is True and promotion["reason"].startswith("season boundary"), promotion
    champion = freshness["champion"]
    assert champion.version != freshness["built"].version and freshness["challenger"] is None
    assert champion.tags["train_first_season"] == "2020-21" and champion.tags["train_last_season"] == "2023-24"
    assert champion.tags["eval_season"] == "2023-24"  # evaluated with 2023-24 held out, then refit on it
    assert champion_is_current(champion.tags["train_last_season"], [*HISTORY, "2023-24"], "2024-25")


def test_the_first_2024_25_prediction_comes_from_a_model_trained_through_2023_24(freshness):
    preds = freshness["predictions_2024_25"]
    assert len(preds) > 0
    assert set(zip(preds["model_name"], preds["model_version"])) == {
        ("nba_game_outcome", int(freshness["champion"].version))
    }
