"""Scale-out: with NBA_EXECUTOR=celery the season_tables job runs step by step on a real Celery
worker (a separate process) through the machine's RabbitMQ, against a persistent Dagster instance
and the shared Parquet lake."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._serdes import serialize_value

from nba_platform_tests.defs.helpers import season_run_tags
from nba_platform_tests.lake_files import lake_path, read_lake

pytestmark = [
    pytest.mark.integration,
    # dagster-celery re-registers its execute_plan task for every step it submits (same callable).
    pytest.mark.filterwarnings("ignore:Task name 'execute_plan' is already registered"),
]

ROOT = Path(__file__).resolve().parents[2]
SEASON = "2022-23"
BROKER_USER, BROKER_PASSWORD = "guest", "guest"
BROKER = f"pyamqp://{BROKER_USER}:{BROKER_PASSWORD}@127.0.0.1:5672//"
BROKER_HINT = "start it: service rabbitmq-server start (or rabbitmq-server -detached); scripts/test.sh does this"


def broker_reachable_or_fail(url: str) -> None:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu raises transport-specific errors
        pytest.fail(f"RabbitMQ is not reachable on 127.0.0.1:5672 ({type(exc).__name__}); {BROKER_HINT}")


def delete_queue(url: str, queue: str) -> None:
    from kombu import Connection

    with Connection(url, connect_timeout=5) as conn:
        conn.default_channel.queue_delete(queue)


def wait_until_ready(worker: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"celery worker exited with {worker.returncode}:\n{log.read_text()[-3000:]}")
        if " ready." in log.read_text():
            return
        time.sleep(0.3)
    pytest.fail(f"celery worker not ready after {timeout}s:\n{log.read_text()[-3000:]}")


def stop_process_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def child_pids(pid: int) -> set[int]:
    """Direct children of `pid` (the worker's prefork pool), from /proc."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


@pytest.fixture(scope="module")
def celery_run(tmp_path_factory):
    broker_reachable_or_fail(BROKER)
    root = tmp_path_factory.mktemp("celery")
    home, dagster_home = root / "nba_home", root / "dagster_home"
    (home / "landing").mkdir(parents=True)
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # default SQLite storage
    # A queue of its own, so a stray worker on this broker cannot take the test's steps.
    queue = f"nba-test-{uuid.uuid4().hex[:10]}"
    worker_name = f"{queue}@%h"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "MLFLOW_", "DAGSTER_"))}
    env.update(
        {
            "NBA_PLATFORM_ENV": "local",
            "NBA_HOME": str(home),
            "NBA_INCLUDE_SAMPLE": "true",
            "DAGSTER_HOME": str(dagster_home),
            "NBA_EXECUTOR": "celery",
            "NBA_CELERY_BROKER": BROKER,
            "NBA_CELERY_BACKEND": "rpc://",
            "NBA_CELERY_QUEUE": queue,
        }
    )
    log = root / "worker.log"
    celery_bin = Path(sys.executable).parent / "celery"
    with open(log, "w") as fh:
        worker = subprocess.Popen(
            [
                str(celery_bin),
                "-A",
                "nba_platform.celery_app",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "--prefetch-multiplier=1",
                "--without-gossip",
                "--without-mingle",
                "-n",
                worker_name,
            ],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    mp = pytest.MonkeyPatch()
    instance = None
    try:
        wait_until_ready(worker, log)
        for k in [k for k in os.environ if k.startswith(("NBA_", "MLFLOW_", "DAGSTER_"))]:
            mp.delenv(k)
        for k, v in env.items():
            mp.setenv(k, v)
        instance = dg.DagsterInstance.get()  # persistent, under DAGSTER_HOME: the worker opens it too
        instance.add_dynamic_partitions("season", [SEASON])
        # The code location's own pointer (what the UI / daemon launch), so the worker can rebuild it.
        job = ReconstructableRepository.for_module(
            "nba_platform.definitions", "defs", working_directory=str(ROOT)
        ).get_reconstructable_job("season_tables")
        started = time.monotonic()
        result = dg.execute_job(job, instance, tags=season_run_tags([SEASON]))
        seconds = time.monotonic() - started
        pool = child_pids(worker.pid)
        yield {
            "result": result,
            "seconds": seconds,
            "instance": instance,
            "home": home,
            "log": log,
            "worker": worker,
            "pool": pool,
            "queue": queue,
        }
    finally:
        stop_process_group(worker)
        if instance is not None:
            instance.dispose()
        mp.undo()
        delete_queue(BROKER, queue)


def test_run_succeeds_through_the_celery_executor(celery_run):
    result = celery_run["result"]
    failures = [e.message for e in result.all_events if e.is_failure]
    assert result.success, failures
    run = celery_run["instance"].get_run_by_id(result.run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert result.job_def.executor_def.name == "celery"
    print(f"season_tables {SEASON} via celery: {celery_run['seconds']:.1f}s")


def test_every_step_ran_on_the_worker(celery_run):
    result, queue = celery_run["result"], celery_run["queue"]
    step_keys = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_SUCCESS}
    assert len(step_keys) >= 20, step_keys
    submitted = {
        e.step_key
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ENGINE_EVENT
        and (e.message or "").startswith("Submitting celery task")
        and f'to queue "{queue}"' in e.message
    }
    on_worker = {
        e.step_key: e.engine_event_data.metadata["Celery worker"].value
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ENGINE_EVENT and "in celery worker" in (e.message or "")
    }
    assert submitted == step_keys
    assert set(on_worker) == step_keys
    assert {w.split("@")[0] for w in on_worker.values()} == {queue}
    # Step events come from the worker's pool processes, never from the orchestrating test process.
    step_pids = {e.pid for e in result.all_events if e.is_step_event and e.event_type == dg.DagsterEventType.STEP_START}
    assert os.getpid() not in step_pids
    assert step_pids and step_pids <= celery_run["pool"], (step_pids, celery_run["pool"])
    # and the worker's own log lists one succeeded execute_plan task per step, with its step's events
    done = [
        line
        for line in celery_run["log"].read_text().splitlines()
        if "Task execute_plan[" in line and "] succeeded in " in line
    ]
    assert len(done) == len(step_keys)
    assert all(any(f'"step_key": "{key}"' in line for line in done) for key in step_keys)


def test_partition_is_in_the_shared_lake_and_blocking_checks_passed(celery_run):
    result, home = celery_run["result"], celery_run["home"]
    team_games = read_lake(home / "lake", "tables/team_games", SEASON)
    assert (team_games["season_type"] == "regular").sum() == 2460  # plus the playoffs
    assert not team_games.duplicated(["game_id", "team_id"]).any()
    assert lake_path(home / "lake", "raw/league_game_log", SEASON).is_file()
    checks = result.get_asset_check_evaluations()
    assert len(checks) >= 6 and all(c.passed for c in checks), [(c.check_name, c.passed) for c in checks]
    assert all(c.severity == dg.AssetCheckSeverity.ERROR for c in checks)  # blocking checks
    assert {"team_games_contract", "team_games_validated_contract"} <= {c.check_name for c in checks}


def test_broker_password_stays_out_of_run_records(celery_run):
    instance, run_id = celery_run["instance"], celery_run["result"].run_id
    run = instance.get_run_by_id(run_id)
    records = instance.all_logs(run_id)
    stored = serialize_value(run.run_config) + serialize_value(run.tags) + "".join(serialize_value(r) for r in records)
    stored += serialize_value(instance.get_job_snapshot(run.job_snapshot_id))
    assert f":{BROKER_PASSWORD}@" not in stored
    assert f":{BROKER_PASSWORD}@" not in celery_run["log"].read_text()  # celery masks it in its banner
