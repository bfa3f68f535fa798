"""Faults on real services: what a run leaves behind when the S3 endpoint goes away mid-run,
when the serving Postgres restarts in the middle of a publish, and when the run process is
killed while writing a partition; and that a plain re-run then gives identical results.

(a) S3: the season spine runs on a moto_server of this module's own, reached through a loopback
    TCP relay. A success hook cuts the relay (listener closed, open connections reset) once the
    raw steps are done: from the next step on the endpoint is unreachable, deterministically. The relay is
    then reopened on the same port (moto keeps its state) and the run is repeated.
(b) Postgres: a throwaway server (pg_server.py) is restarted (immediate shutdown: a crash) while
    the COPY of a 400,000-row publish is running.
(c) Kill: a subprocess materializes a ~130 MB partition through the lake IO manager and is
    SIGKILLed the moment the write's temp file appears.
"""

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.ingestion.jobs import SEASON_TABLES_SELECTION
from nba_platform.resources.lake import ParquetLakeIOManager
from nba_platform.resources.landing import LandingZone, sample_root
from nba_platform.resources.secrets import Secrets
from nba_platform.resources.serving_db import ServingDatabase
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import season_run_tags
from nba_platform_tests.integration.conftest import free_port
from nba_platform_tests.integration.pg_server import ThrowawayPostgres
from nba_platform_tests.lake_files import read_lake

pytestmark = pytest.mark.integration

REGION = "us-east-1"
SEASON = "2022-23"
GAMELOG = Path(sample_root()) / "nba_api_league_gamelog_2021_2024" / "nba-gamelog-2022-23.csv.gz"
RAW_STEP = "raw__league_game_log"


# ------------------------------------------------------------------------------------------------
# (a) S3 endpoint unreachable mid-run
# ------------------------------------------------------------------------------------------------
class TcpRelay:
    """127.0.0.1:<port> -> 127.0.0.1:<target_port>. `cut()` closes the listener and resets every
    open connection (the endpoint is gone: connection refused); `reopen()` listens again on the
    same port."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.reopen()

    def reopen(self) -> None:
        self.stop = threading.Event()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        self.listener.settimeout(0.05)
        self.thread = threading.Thread(target=self._accept, args=(self.listener, self.stop), daemon=True)
        self.thread.start()

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            client.settimeout(None)
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()
        with self.lock:
            for s in self.connections:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
                    s.close()
                except OSError:
                    pass
            self.connections.clear()

    def reachable(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def own_moto(tmp_path_factory):
    """A moto_server of this module's own (the session's shared one is never disturbed)."""
    port = free_port()
    exe = Path(sys.executable).parent / "moto_server"
    if not exe.is_file():
        pytest.fail(f"moto_server not found next to {sys.executable}; install the dev extras: pip install -e '.[dev]'")
    log = tmp_path_factory.mktemp("own_moto") / "moto.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start: {log.read_text()}")
            time.sleep(0.2)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def s3_client(port: int):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def lake_objects(s3, bucket: str, prefix: str) -> dict[str, pd.DataFrame]:
    """key (relative to prefix) -> the Parquet object's rows, read straight from moto."""
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"][len(prefix) :]] = pq.read_table(io.BytesIO(body)).to_pandas()
    return out


def assert_same_tables(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> None:
    assert sorted(left) == sorted(right)
    for key in left:
        pd.testing.assert_frame_equal(left[key], right[key], check_exact=True, obj=key)


def test_s3_endpoint_unreachable_mid_run_fails_cleanly_and_a_rerun_is_identical(own_moto, tmp_path, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    s3 = s3_client(own_moto)
    bucket = f"nba-faults-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    relay = TcpRelay(own_moto)
    endpoint = f"http://127.0.0.1:{relay.port}"
    LandingZone(uri=f"s3://{bucket}/landing", include_sample=False, endpoint_url=endpoint, region=REGION).accept(
        GAMELOG.name, GAMELOG.read_bytes()
    )

    # The raw layer's steps carry a retry policy (meant for the stats API: 90 s, then 180 s) that
    # an S3 outage would trigger too: the endpoint goes away once every raw step is done, so the
    # steps that meet the outage are the table steps, which fail at once.
    d = defs()
    raw_steps = {
        k.to_python_identifier() for k in SEASON_TABLES_SELECTION.resolve(d.resolve_asset_graph()) if k.path[0] == "raw"
    }
    assert RAW_STEP in raw_steps
    raw_done: set[str] = set()

    @dg.success_hook(required_resource_keys={"s3_relay"})
    def cut_s3_after_raw_steps(context: dg.HookContext):
        raw_done.add(context.op.name)
        if raw_steps <= raw_done:
            context.resources.s3_relay.cut()

    def spine(lake_prefix: str, hooks=frozenset()):
        resources = {
            **embedded_resources(tmp_path / lake_prefix, include_sample=False),
            "io_manager": ParquetLakeIOManager(
                root=f"s3://{bucket}/{lake_prefix}", endpoint_url=endpoint, region=REGION
            ),
            "landing": LandingZone(
                uri=f"s3://{bucket}/landing", include_sample=False, endpoint_url=endpoint, region=REGION
            ),
            "s3_relay": dg.ResourceDefinition.hardcoded_resource(relay),
        }
        job = dg.define_asset_job("season_tables_under_fault", selection=SEASON_TABLES_SELECTION, hooks=set(hooks))
        definitions = dg.Definitions(assets=d.assets, asset_checks=d.asset_checks, jobs=[job], resources=resources)
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions("season", [SEASON])
            return definitions.resolve_job_def(job.name).execute_in_process(
                instance=instance, tags=season_run_tags([SEASON]), raise_on_error=False
            )

    try:
        baseline = spine("baseline")
        assert baseline.success
        expected = lake_objects(s3, bucket, "baseline/")
        assert f"tables/team_games/season={SEASON}/data.parquet" in expected
        assert f"raw/league_game_log/season={SEASON}/data.parquet" in expected

        t0 = time.perf_counter()
        faulty = spine("lake", hooks={cut_s3_after_raw_steps})
        elapsed = time.perf_counter() - t0
        assert not relay.reachable()
        assert not faulty.success
        succeeded = {e.step_key for e in faulty.all_events if e.event_type_value == "STEP_SUCCESS"}
        failures = {
            e.step_key: e.step_failure_data.error.to_string()
            for e in faulty.all_events
            if e.event_type_value == "STEP_FAILURE"
        }
        assert raw_steps <= succeeded and failures, (succeeded, failures)
        for step, error in failures.items():  # a clear error: the endpoint could not be reached
            assert "Could not connect to server" in error or "NETWORK_CONNECTION" in error, (step, error[-600:])
        assert "team_games_validated" not in succeeded and "team_games" not in succeeded
        # nothing partial: exactly the partitions of the steps that succeeded, each whole and right
        left = lake_objects(s3, bucket, "lake/")
        written_by = {key: key.split("/season=")[0].replace("/", "__") for key in left}
        assert set(written_by.values()) <= succeeded, written_by
        assert f"raw/league_game_log/season={SEASON}/data.parquet" in left
        assert (
            f"tables/team_games/season={SEASON}/data.parquet" not in left
            and f"tables/team_games_validated/season={SEASON}/data.parquet" not in left
        )
        for key, frame in left.items():
            pd.testing.assert_frame_equal(frame, expected[key], check_exact=True, obj=key)
        assert elapsed < 60, f"the failing run took {elapsed:.0f} s"

        relay.reopen()  # the endpoint is back, same port
        rerun = spine("lake")
        assert rerun.success, [e.message for e in rerun.all_events if e.is_failure]
        assert_same_tables(lake_objects(s3, bucket, "lake/"), expected)
    finally:
        relay.cut()


# ------------------------------------------------------------------------------------------------
# (b) Postgres restarted mid-publish
# ------------------------------------------------------------------------------------------------
def games_frame(n: int, version: int, first: int = 0) -> pd.DataFrame:
    i = np.arange(first, first + n)
    return pd.DataFrame(
        {
            "game_id": [f"00{x:08d}" for x in i],
            "season": SEASON,
            "season_type": "regular",
            "game_date": pd.Timestamp("2022-10-18") + pd.to_timedelta(i % 170, unit="D"),
            "home_team_id": 1610612737 + i % 30,
            "away_team_id": 1610612737 + (i + 1) % 30,
            "home_pts": 100 + version + i % 20,
            "away_pts": 90 + i % 40,
        }
    )


def table_rows(pg: ThrowawayPostgres) -> pd.DataFrame:
    with psycopg.connect(pg.dsn()) as con:
        cur = con.execute(
            "SELECT game_id, season, season_type, game_date, home_team_id, away_team_id, home_pts, away_pts "
            "FROM games ORDER BY game_id"
        )
        frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    frame["game_date"] = pd.to_datetime(frame["game_date"])
    return frame


def expected_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return (
        frame.sort_values("game_id")
        .reset_index(drop=True)
        .astype({c: "int64" for c in frame.columns if c.endswith(("team_id", "_pts"))})
    )


def test_postgres_restart_mid_publish_rolls_back_and_a_retry_is_identical(monkeypatch):
    password = f"pw-{uuid.uuid4().hex}"
    pg = ThrowawayPostgres(password=password)
    pg.start()
    try:
        monkeypatch.setenv("NBA_FAULT_PG_PASSWORD", password)
        db = ServingDatabase(url=pg.url, secrets=Secrets(source="env"), password_key="nba_fault_pg_password")
        previous = games_frame(1_000, version=1)
        assert db.publish("games", previous) == 1_000
        before = table_rows(pg)
        pd.testing.assert_frame_equal(before, expected_rows(previous), check_dtype=False)

        # 400,000 rows: 1,000 of them update existing games, the rest are new
        big = games_frame(400_000, version=2)
        outcome: dict = {}

        def publish() -> None:
            try:
                outcome["rows"] = db.publish("games", big)
            except Exception as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=publish)
        thread.start()
        copy_seen = False
        with psycopg.connect(pg.dsn(), autocommit=True) as watcher:
            deadline = time.time() + 60
            while thread.is_alive() and time.time() < deadline:
                if watcher.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY games %' AND state = 'active'"
                ).fetchall():
                    copy_seen = True
                    break
                time.sleep(0.005)
        assert copy_seen, f"the COPY was never seen running: {outcome}"
        pg.crash_and_restart()  # immediate shutdown mid-COPY, then crash recovery
        thread.join(60)
        assert "rows" not in outcome, "the publish claims success across a server restart"
        error = outcome["error"]
        assert isinstance(error, psycopg.OperationalError), repr(error)
        assert "closed the connection" in str(error) or "terminat" in str(error), repr(error)
        assert password not in str(error)

        # rolled back: exactly the previous rows, the 1,000 overlapping games not updated
        pd.testing.assert_frame_equal(table_rows(pg), before)
        with psycopg.connect(pg.dsn()) as con:
            assert (
                con.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%' AND pid <> pg_backend_pid()"
                ).fetchone()[0]
                == 0
            )

        # a retry of the same publish: the season holds exactly the new frame (overlap updated)
        assert db.publish("games", big) == 400_000
        after = table_rows(pg)
        pd.testing.assert_frame_equal(after, expected_rows(big), check_dtype=False)
        # idempotent: the same rows again change nothing
        assert db.publish("games", big) == 400_000
        pd.testing.assert_frame_equal(table_rows(pg), after)
    finally:
        pg.destroy()


# ------------------------------------------------------------------------------------------------
# (c) A run killed while writing a partition
# ------------------------------------------------------------------------------------------------
BIG_PARTITIONS = dg.StaticPartitionsDefinition(["2021-22", "2022-23"])
BIG_ROWS = 4_000_000  # ~130 MB of Parquet: random doubles do not compress


class BigTableConfig(dg.Config):
    version: int


def big_frame(partition: str, version: int) -> pd.DataFrame:
    rng = np.random.default_rng([version, int(partition[:4])])
    return pd.DataFrame(
        {
            "row": np.arange(BIG_ROWS, dtype="int64"),
            **{f"x{i}": rng.random(BIG_ROWS) for i in range(4)},
            "version": np.full(BIG_ROWS, version, dtype="int64"),
        }
    )


@dg.asset(key=["faults", "big_table"], partitions_def=BIG_PARTITIONS)
def big_table(context: dg.AssetExecutionContext, config: BigTableConfig) -> dict:
    return {p: big_frame(p, config.version) for p in context.partition_keys}


def materialize_big(lake: Path, version: int, partition: str = SEASON) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [big_table],
        resources={"io_manager": ParquetLakeIOManager(root=str(lake))},
        partition_key=partition,
        run_config=dg.RunConfig(ops={"faults__big_table": BigTableConfig(version=version)}),
    )


def test_run_killed_while_writing_a_partition_leaves_the_old_one_and_a_rerun_is_identical(tmp_path):
    lake = tmp_path / "lake"
    folder = lake / "faults" / "big_table" / f"season={SEASON}"
    partition = folder / "data.parquet"
    assert materialize_big(lake, version=1).success
    old = read_lake(lake, "faults/big_table", SEASON)
    old_bytes = partition.read_bytes()

    caught = None
    for _attempt in range(3):  # the kill must land inside the write; with ~130 MB it does at once
        proc = subprocess.Popen(
            [sys.executable, "-m", "nba_platform_tests.integration.test_faults", str(lake), "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        temp = None
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline:
            temps = [p for p in folder.iterdir() if p.name.startswith(".tmp-")] if folder.exists() else []
            if temps:
                os.kill(proc.pid, signal.SIGKILL)  # a fatal signal also cuts a write() in progress short
                temp = temps[0]
                break
            time.sleep(0.001)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL, proc.stdout.read().decode()[-2000:]
        # caught inside the write: its temp file is there and the partition was not replaced
        if temp is not None and temp.exists() and partition.read_bytes() == old_bytes:
            caught = {"temp": temp, "temp_bytes": temp.stat().st_size}
            break
    assert caught, "the write finished before the kill in 3 attempts"

    # the partition is still the old one, whole; the half-written temp file is hidden from the lake
    assert partition.read_bytes() == old_bytes
    pd.testing.assert_frame_equal(read_lake(lake, "faults/big_table", SEASON), old)
    from nba_platform.lib.storage import Store

    assert [f.path for f in Store(str(lake)).list()] == [f"faults/big_table/season={SEASON}/data.parquet"]
    io_manager = ParquetLakeIOManager(root=str(lake))
    loaded = io_manager.load_input(
        dg.build_input_context(
            asset_key=dg.AssetKey(["faults", "big_table"]), asset_partitions_def=BIG_PARTITIONS, partition_key=SEASON
        )
    )
    pd.testing.assert_frame_equal(loaded[SEASON], old)

    # a re-run writes the new version whole, identical to an uninterrupted run's
    assert materialize_big(lake, version=2).success
    pd.testing.assert_frame_equal(read_lake(lake, "faults/big_table", SEASON), big_frame(SEASON, 2), check_exact=True)
    if caught["temp_bytes"] < partition.stat().st_size:  # cut short: without its footer not even a Parquet file
        with pytest.raises(pa.ArrowInvalid):
            pq.read_table(caught["temp"])
    assert not (lake / "faults" / "big_table" / "season=2021-22").exists()


if __name__ == "__main__":  # the run that test (c) kills: python -m ... <lake> <version>
    result = materialize_big(Path(sys.argv[1]), version=int(sys.argv[2]))
    sys.exit(0 if result.success else 1)
