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
