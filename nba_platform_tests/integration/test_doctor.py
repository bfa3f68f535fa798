"""`nba-platform doctor` as an operator runs it (the installed console script, in a subprocess),
against an embedded home and against production mode on real services: S3 and Secrets Manager on
moto_server, Dagster storage and MLflow on the machine's PostgreSQL, and the serving database on
a throwaway PostgreSQL server of this module's own (password auth), which the tests stop."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nba_platform_tests.integration.conftest import PG_PORT, prod_env_vars
from nba_platform_tests.integration.pg_server import ThrowawayPostgres
from nba_platform_tests.integration.test_prod_mode import INFRA_DAGSTER_YAML, REGION, aws_client

pytestmark = pytest.mark.integration

CHECK_NAMES = ["serving database", "lake store", "landing store", "secrets", "mlflow", "dagster instance"]
# Settings from the outer environment that must not leak into a doctor run.
OUTER_PREFIXES = ("NBA_", "MLFLOW_", "DAGSTER_", "AWS_", "PG")


def doctor(env: dict, cwd: Path, *args: str, timeout: float = 120) -> tuple[int, str, float]:
    """(exit code, stdout, seconds); stderr (warnings) is appended to stdout after a marker line
    for failure messages, and must hold no secret either."""
    script = Path(sys.executable).parent / "nba-platform"
    assert script.is_file(), f"console script not installed: {script} (pip install -e .)"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OUTER_PREFIXES)}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(script), "doctor", *args], env={**clean, **env}, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    return proc.returncode, proc.stdout + STDERR_MARKER + proc.stderr, time.perf_counter() - t0


STDERR_MARKER = "\n--- stderr ---\n"


def check_lines(output: str) -> dict[str, str]:
    """check name -> its line; every check has exactly one PASS or FAIL line."""
    lines = {}
    for line in output.splitlines():
        if line.startswith(("PASS  ", "FAIL  ")):
            name = next(n for n in CHECK_NAMES if line[6:].startswith(n))
            assert name not in lines, f"two lines for {name}:\n{output}"
            lines[name] = line
    assert sorted(lines) == sorted(CHECK_NAMES), output
    return lines


def test_doctor_passes_on_an_embedded_home(tmp_path):
    home = tmp_path / "home"
    env = {"NBA_PLATFORM_ENV": "local", "NBA_HOME": str(home)}
    # A fresh home: nothing created yet, every location writable.
    code, out, _ = doctor(env, tmp_path)
    assert code == 0, out
    lines = check_lines(out)
    assert all(line.startswith("PASS") for line in lines.values()), out
    assert "not created yet" in lines["serving database"] and "not created yet" in lines["mlflow"]
    assert "directory writable" in lines["lake store"] and "SqliteRunStorage" in lines["dagster instance"]
    assert "6 of 6 checks passed" in out
    assert not [p for p in (home / "lake").rglob("*") if p.is_file()], "the probe object was left behind"

    # A home in use: the serving SQLite file and the MLflow store exist and are queried.
    from nba_platform.lib.serving_db import GAMES, publish_sqlite
    from nba_platform.resources.mlflow import MlflowTracking

    (home / "serving").mkdir(parents=True)
    frame = pd.DataFrame(
        {
            "game_id": ["0022200001"],
            "season": ["2022-23"],
            "season_type": ["Regular Season"],
            "game_date": ["2022-10-18"],
            "home_team_id": [1],
            "away_team_id": [2],
            "home_pts": [100],
            "away_pts": [90],
        }
    )
    publish_sqlite(str(home / "serving" / "serving.db"), GAMES, frame)
    tracking = MlflowTracking(tracking_uri=f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    with tracking._mlflow() as mlflow:
        mlflow.MlflowClient().search_experiments()
    code, out, _ = doctor(env, tmp_path)
    assert code == 0, out
    lines = check_lines(out)
    assert "SELECT 1 answered" in lines["serving database"], out
    assert "search_experiments answered" in lines["mlflow"], out


def test_a_silent_service_does_not_hang_doctor(tmp_path):
    """A server that accepts the connection and never answers: FAIL within the timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept_and_stay_silent():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_stay_silent, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        env = {
            "NBA_PLATFORM_ENV": "local",
            "NBA_HOME": str(tmp_path / "home"),
            "NBA_SERVING_DB_URL": f"postgresql://postgres@127.0.0.1:{port}/serving",
        }
        # 10 s: the silent server must time out, while the local checks (a fresh Dagster instance
        # takes ~1 s, >3 s on a loaded 2-core machine) must not.
        code, out, elapsed = doctor(env, tmp_path, "--timeout", "10")
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        listener.close()
    assert code == 1, out
    lines = check_lines(out)
    assert lines["serving database"].startswith("FAIL"), out
    assert lines["serving database"].startswith(f"FAIL  serving database  postgresql://127.0.0.1:{port}/serving: "), out
    assert accepted, "doctor never connected to the silent server"
    assert all(lines[n].startswith("PASS") for n in CHECK_NAMES if n != "serving database"), out
    assert elapsed < 40, f"doctor took {elapsed:.1f} s with a 10 s timeout"


# ------------------------------------------------------------------------------------------------
# Production mode on real services
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prod_env(moto_endpoint, make_postgres_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("doctor_prod")
    bucket = f"nba-doctor-{uuid.uuid4().hex[:8]}"
    secret_id = f"nba-platform/doctor-{uuid.uuid4().hex[:6]}"
    secrets = {k: f"{k}-{uuid.uuid4().hex}" for k in ("rds_password", "dagster_pg_password", "mlflow_db_password")}
    dagster_db, mlflow_db = make_postgres_db(), make_postgres_db()
    serving = ThrowawayPostgres(password=secrets["rds_password"])
    serving.start()
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    config = yaml.safe_load(INFRA_DAGSTER_YAML.read_text())
    config["storage"]["postgres"]["postgres_db"]["port"] = PG_PORT
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))

    s3 = aws_client("s3", moto_endpoint)
    s3.create_bucket(Bucket=bucket)
    aws_client("secretsmanager", moto_endpoint).create_secret(Name=secret_id, SecretString=json.dumps(secrets))
    env = prod_env_vars(
        moto_endpoint=moto_endpoint,
        root=root,
        dagster_home=dagster_home,
        bucket=bucket,
        secret_id=secret_id,
        dagster_db=dagster_db,
        serving_db_url=serving.url,
        dagster_pg_password=secrets["dagster_pg_password"],
        mlflow_db=mlflow_db,
        region=REGION,
    )
    try:
        yield {
            "env": env,
            "root": root,
            "serving": serving,
            "bucket": bucket,
            "s3": s3,
            "secrets": list(secrets.values()),
        }
    finally:
        serving.destroy()


def assert_no_secret(output: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in output, "a secret value reached doctor's output"


def test_doctor_passes_in_prod_mode_against_real_services(prod_env):
    code, out, elapsed = doctor(prod_env["env"], prod_env["root"], "--timeout", "90")
    assert code == 0, out
    lines = check_lines(out)
    assert all(line.startswith("PASS") for line in lines.values()), out
    serving = prod_env["serving"]
    assert f"postgresql://127.0.0.1:{serving.port}/postgres: SELECT 1 answered" in lines["serving database"], out
    assert f"s3://{prod_env['bucket']}/lake: bucket reachable" in lines["lake store"], out
    assert f"s3://{prod_env['bucket']}/landing: bucket reachable" in lines["landing store"], out
    assert (
        f"Secrets Manager secret '{prod_env['env']['NBA_SECRETS_ID']}': 3 key(s) resolve: "
        "rds_password, dagster_pg_password, mlflow_db_password" in lines["secrets"]
    ), out
    assert "search_experiments answered" in lines["mlflow"], out
    assert f"/{prod_env['env']['DAGSTER_PG_DB']}: PostgresRunStorage: get_runs answered" in lines["dagster instance"], (
        out
    )
    # the probe objects are gone again
    listed = prod_env["s3"].list_objects_v2(Bucket=prod_env["bucket"]).get("Contents", [])
    assert not [o["Key"] for o in listed if "doctor-probe" in o["Key"]]
    assert_no_secret(out, prod_env["secrets"])


def test_doctor_reports_a_stopped_serving_database(prod_env):
    serving = prod_env["serving"]
    serving.stop()
    try:
        code, out, elapsed = doctor(prod_env["env"], prod_env["root"], "--timeout", "90")
    finally:
        serving.start()
    assert code == 1, out
    lines = check_lines(out)
    line = lines["serving database"]
    assert line.startswith("FAIL  serving database"), out
    assert f"postgresql://127.0.0.1:{serving.port}/postgres" in line and "Connection refused" in line, line
    assert all(lines[n].startswith("PASS") for n in CHECK_NAMES if n != "serving database"), out
    assert out.split(STDERR_MARKER)[0].rstrip().endswith("5 of 6 checks passed; failed: serving database"), out
    assert_no_secret(out, prod_env["secrets"])


def test_doctor_reports_a_wrong_bucket_and_a_missing_secret_key(prod_env):
    missing = f"nba-missing-{uuid.uuid4().hex[:8]}"
    env = {**prod_env["env"], "NBA_LAKE_URI": f"s3://{missing}/lake", "NBA_SERVING_DB_PASSWORD_KEY": "no_such_key"}
    code, out, _ = doctor(env, prod_env["root"], "--timeout", "90")
    assert code == 1, out
    lines = check_lines(out)
    assert lines["lake store"].startswith("FAIL") and f"S3 bucket '{missing}' does not exist" in lines["lake store"], (
        out
    )
    assert lines["landing store"].startswith("PASS"), out
    assert lines["secrets"].startswith("FAIL") and "'no_such_key'" in lines["secrets"], out
    assert lines["serving database"].startswith("FAIL") and "no_such_key" in lines["serving database"], out
    assert_no_secret(out, prod_env["secrets"])
