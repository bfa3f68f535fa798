"""One orchestration path: `nba-platform ingest` / `build` plan their runs with the landing sensor's own
function (plan_landing_runs) and the drift sensor's (drift_request_for), and leave the instance
knowing what they ran. So one tick of every sensor afterwards requests nothing: no work twice.

The issue's reproduction: after `ingest FILE`, starting the UI (the landing sensor evaluated with
no cursor) launched a second `season_update` for the same file."""

import gzip
import os
import subprocess
import sys

import dagster as dg
import pytest

from nba_platform.definitions import defs
from nba_platform_tests.built_home import copy_of_built_home, history_home


def run_cli(args, home):
    env = {**os.environ, "NBA_HOME": str(home), "NBA_INCLUDE_SAMPLE": "false", "NBA_PLATFORM_ENV": "local"}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-m", "nba_platform.cli", *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def use_home(monkeypatch, home):
    """This process reads `home` as the CLI does (the sensor ticks and instance queries below)."""
    monkeypatch.setenv("NBA_HOME", str(home))
    monkeypatch.setenv("NBA_PLATFORM_ENV", "local")
    monkeypatch.setenv("NBA_INCLUDE_SAMPLE", "false")
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    return home


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    run_cli(["seasons"], home)  # creates the embedded home (its dagster.yaml)
    return use_home(monkeypatch, home)


@pytest.fixture
def built(tmp_path, monkeypatch):
    """A copy of the worker's shared `nba-platform build` of 2021-22 .. 2023-24 (built_home.py)."""
    return use_home(monkeypatch, copy_of_built_home(tmp_path / "home"))


def tick_every_sensor(cursors: dict) -> tuple[dict, dict]:
    """One tick of every sensor of the code location against the home's instance, as the daemon
    does: (run requests per sensor, cursors after). Declarative automation is evaluated with
    dg.evaluate_automation_conditions (what its sensor evaluates)."""
    from nba_platform.resources.environment import build_resources

    definitions = defs()
    repository = definitions.get_repository_def()
    resources = build_resources()
    requested, after = {}, {}
    with dg.DagsterInstance.get() as instance:
        for sensor in repository.sensor_defs:
            if isinstance(sensor, dg.AutomationConditionSensorDefinition):
                result = dg.evaluate_automation_conditions(
                    defs=definitions, instance=instance, cursor=cursors.get(sensor.name)
                )
                keys = definitions.resolve_asset_graph().get_all_asset_keys()
                requested[sensor.name] = sorted(key.to_user_string() for key in keys if result.get_num_requested(key))
                after[sensor.name] = result.cursor
                continue
            with dg.build_sensor_context(
                instance=instance,
                cursor=cursors.get(sensor.name),
                repository_def=repository,
                sensor_name=sensor.name,
                resources=resources,
            ) as context:
                data = sensor.evaluate_tick(context)
            requested[sensor.name] = len(data.run_requests or [])
            after[sensor.name] = data.cursor
    return requested, after


def landing_sensor_without_cursor() -> list:
    """The landing sensor's first tick, as when the UI or daemon starts on this home."""
    from nba_platform.defs.ingestion.sensors import landing_zone_sensor
    from nba_platform.resources.environment import build_resources

    with dg.DagsterInstance.get() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"landing": build_resources()["landing"]})
        return landing_zone_sensor(context).run_requests or []


def runs_by_job() -> dict[str, int]:
    with dg.DagsterInstance.get() as instance:
        counts: dict[str, int] = {}
        for record in instance.get_run_records():
            counts[record.dagster_run.job_name] = counts.get(record.dagster_run.job_name, 0) + 1
        return counts


def gamelog(tmp_path, sample_path, season: str, name: str | None = None):
    path = tmp_path / (name or f"gamelog-{season}.csv")
    path.write_bytes(
        gzip.decompress(sample_path(f"nba_api_league_gamelog_2021_2024/nba-gamelog-{season}.csv.gz").read_bytes())
    )
    return path


def two_season_gamelog(tmp_path, sample_path):
    """One file of two seasons (split into season pieces when landed)."""
    first, second = (gamelog(tmp_path, sample_path, s).read_bytes() for s in ("2021-22", "2022-23"))
    path = tmp_path / "gamelog-2021-23.csv"
    path.write_bytes(first + second.split(b"\n", 1)[1])
    return path


@pytest.mark.parametrize("seasons", [1, 2])
def test_ingest_then_every_sensor_requests_nothing(home, tmp_path, sample_path, seasons):
    _, cursors = tick_every_sensor({})  # the daemon was running before the ingest
    path = gamelog(tmp_path, sample_path, "2022-23") if seasons == 1 else two_season_gamelog(tmp_path, sample_path)
    out = run_cli(["ingest", str(path)], home)
    assert "job season_tables" in out  # no model yet: the tables
    assert runs_by_job() == {"season_tables": 1}
    if seasons == 2:  # the run read the file's season pieces, written when it landed, not the file
        with dg.DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "league_game_log"]))
        assert event.asset_materialization.metadata["files_read_by_season_piece"].data == [path.name]

    requested, _ = tick_every_sensor(cursors)
    automation = requested.pop("default_automation_condition_sensor")
    assert set(requested) >= {"landing_zone_sensor", "drift_after_season_update", "retraining_sensor"}
    assert requested == dict.fromkeys(requested, 0)
    assert landing_sensor_without_cursor() == []  # the UI started after the ingest
    # Declarative automation asks for the next stage only (the eager features over the new tables),
    # as after the landing sensor's own season_tables run: nothing the ingest ran is requested again.
    assert automation and all(request.startswith("features/") for request in automation)


def test_build_then_ingest_season_update_runs_once_with_its_drift(built, tmp_path, sample_path):
    """With a model: `ingest` runs season_update and the season_drift the drift sensor would request;
    neither the landing sensor nor the drift sensor repeats them, with or without a cursor.
    The build is the shared one (three seasons landed, then `nba-platform build`): `ingest --no-run`
    before a build is the path of the next test and of test_predict_season."""
    home = built
    assert runs_by_job() == {"build_all": 1}
    assert landing_sensor_without_cursor() == []  # what the build covered is not rebuilt
    _, cursors = tick_every_sensor({})

    # A re-export of a known season: the daily update path, end to end.
    reexport = gamelog(tmp_path, sample_path, "2022-23", name="LeagueGameLog-2022-23-reexport.csv")
    out = run_cli(["ingest", str(reexport)], home)
    assert "job season_update" in out and "job season_drift" in out
    assert runs_by_job() == {"build_all": 1, "season_update": 1, "season_drift": 1}

    assert landing_sensor_without_cursor() == []  # the reproduction: no second season_update
    requested, _ = tick_every_sensor(cursors)
    automation = requested.pop("default_automation_condition_sensor")
    assert requested == dict.fromkeys(requested, 0)
    # Declarative automation no longer re-scores other seasons' shadow scores when the features change
    # (only the season whose tables changed); nothing the ingest built (2022-23, features) again.
    assert not [r for r in automation if r.endswith((":2022-23", ":None")) or r.startswith("features/")]


def test_ingest_of_a_complete_new_season_refits_the_champion_through_the_sensors_request(
    tmp_path, monkeypatch, sample_path
):
    """Build through 2022-23, then `ingest` the complete 2023-24 regular-season log: the CLI runs the
    retraining sensor's own stale-champion request (stale_champion_cause, retrain_request) right after
    the update, the refit through 2023-24 is promoted at the season boundary, and the retraining
    sensor has nothing left to do. The build through 2022-23 (`ingest --no-run` of the 2018-23
    TeamGameLog and two LeagueGameLog seasons, then `build`) is the worker's shared history build."""
    from nba_platform.resources.environment import build_resources

    home = use_home(monkeypatch, copy_of_built_home(tmp_path / "home", history_home()))
    assert runs_by_job() == {"build_all": 1}
    before = build_resources()["mlflow"].version_by_alias("champion")
    assert before.tags["train_last_season"] == "2022-23"  # the build deploys the refit through 2022-23
    _, cursors = tick_every_sensor({})

    out = run_cli(["ingest", str(gamelog(tmp_path, sample_path, "2023-24"))], home)
    assert "missed completed 2023-24" in out and "job retrain_game_model" in out
    assert runs_by_job() == {"build_all": 1, "season_update": 1, "season_drift": 1, "retrain_game_model": 1}
    champion = build_resources()["mlflow"].version_by_alias("champion")
    assert champion.version != before.version and champion.tags["train_last_season"] == "2023-24"

    requested, _ = tick_every_sensor(cursors)
    assert requested["retraining_sensor"] == 0  # the CLI ran what the sensor would have requested
