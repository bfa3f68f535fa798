"""Real services for integration tests: the machine's PostgreSQL (started by .ci/run if down)
and moto_server as a real HTTP endpoint for S3 / Secrets Manager. Missing services fail loudly."""

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> str:
    dsn = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres"
    try:
        with psycopg.connect(dsn, connect_timeout=5) as con:
            con.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} ({exc}); start it: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    return dsn


@pytest.fixture
def postgres_db(postgres_admin_dsn):
    """A fresh database per test; dropped afterwards."""
    name = f"nba_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_dsn, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    yield {
        "name": name,
        "url": f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}",
        "dsn": f"host={PG_HOST} port={PG_PORT} user=postgres dbname={name}",
    }
    with psycopg.connect(postgres_admin_dsn, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def make_postgres_db(postgres_admin_dsn):
    """Factory for fresh databases (same dict shape as postgres_db), usable by module-scoped
    fixtures; all dropped when the module's tests are done."""
    names = []

    def _make() -> dict:
        name = f"nba_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(postgres_admin_dsn, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        names.append(name)
        return {
            "name": name,
            "url": f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}",
            "dsn": f"host={PG_HOST} port={PG_PORT} user=postgres dbname={name}",
        }

    yield _make
    with psycopg.connect(postgres_admin_dsn, autocommit=True) as con:
        for name in names:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """moto_server on a free loopback port, as a separate process (a real HTTP endpoint)."""
    port = free_port()
    exe = Path(sys.executable).parent / "moto_server"  # the venv's console script (pip install -e '.[dev]')
    if not exe.is_file():
        pytest.fail(f"moto_server not found next to {sys.executable}; install the dev extras: pip install -e '.[dev]'")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited: {log.read_text()}")
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("moto_server did not start within 30 s")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def aws_env(monkeypatch, moto_endpoint):
    """Fake credentials (moto accepts any) pointed at the moto endpoint."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return moto_endpoint


def prod_env_vars(
    *,
    moto_endpoint: str,
    root: Path,
    dagster_home: Path,
    bucket: str,
    secret_id: str,
    dagster_db: dict,
    serving_db_url: str,
    dagster_pg_password: str,
    mlflow_db: dict | None = None,
    region: str = "us-east-1",
    compute_log_prefix: str = "dagster/compute-logs",
) -> dict[str, str]:
    """The environment a production deployment gives the platform (what the ECS task definitions
    and compose set; see infra/dagster/dagster.yaml), pointed at moto and this machine's Postgres.
    The Dagster password is ignored by trust auth; it must still never leak."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "NBA_PLATFORM_ENV": "prod",
        "NBA_HOME": str(root / "nba_home"),
        "DAGSTER_HOME": str(dagster_home),
        "NBA_LAKE_URI": f"s3://{bucket}/lake",
        "NBA_LANDING_URI": f"s3://{bucket}/landing",
        "NBA_INCLUDE_SAMPLE": "false",
        "NBA_SECRETS_ID": secret_id,
        "NBA_SERVING_DB_URL": serving_db_url,
        "DAGSTER_PG_HOST": PG_HOST,
        "DAGSTER_PG_DB": dagster_db["name"],
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": dagster_pg_password,
        "DAGSTER_COMPUTE_LOG_BUCKET": bucket,
        "DAGSTER_COMPUTE_LOG_PREFIX": compute_log_prefix,
    }
    if mlflow_db is not None:
        env["MLFLOW_TRACKING_URI"] = f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/{mlflow_db['name']}"
        env["MLFLOW_ARTIFACT_URI"] = f"s3://{bucket}/mlflow"
    return env
