"""`nba-platform doctor`: can this deployment reach what it needs? One PASS/FAIL line per check.

Checks the configured services through the same settings and resources the runs use: the
serving database (connect + SELECT 1), the lake and landing stores (write, read back and delete
a hidden probe object: bucket reachable / directory writable), the secrets (every configured key
resolves; values are never printed), MLflow's tracking store (search experiments) and the
Dagster instance's storage (get_runs). Each check has a deadline, so a dead or silent service
costs at most `timeout` seconds. Reasons are scrubbed of secret values.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nba_platform.lib.secret_scrubbing import redact
from nba_platform.lib.storage import Store
from nba_platform.settings import Settings

DEFAULT_TIMEOUT_SECONDS = 15.0
PROBE = b"nba-platform doctor probe"


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name:<17} {self.detail}"


def _reason(exc: BaseException) -> str:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    text = " ".join(str(text).split()) or "(no message)"
    return redact(f"{type(exc).__name__}: {text}")[:400]


def _existing_ancestor_writable(path: Path) -> Path | None:
    for candidate in [path, *path.parents]:
        if candidate.exists():
            return candidate if os.access(candidate, os.W_OK) else None
    return None


def _sqlite_file(url: str, created_by: str) -> str:
    path = Path(url[len("sqlite:///") :])
    if not path.exists():
        if _existing_ancestor_writable(path.parent) is None:
            raise PermissionError(f"{path.parent} cannot be created or written")
        return f"not created yet ({created_by} creates it); {path.parent} {'writable' if path.parent.exists() else 'can be created'}"
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        con.execute("SELECT 1").fetchone()
    finally:
        con.close()
    return "SELECT 1 answered"


# --------------------------------------------------------------------------------------- checks
# Each check has a target (what it talks to, without credentials: starts its PASS or FAIL line)
# and a probe (returns what it saw, or raises).
def serving_target(settings: Settings, resources: dict) -> str:
    return resources["serving_db"].describe()


def check_serving_database(settings: Settings, resources: dict) -> str:
    db = resources["serving_db"]
    if db.dialect == "sqlite":
        return _sqlite_file(db.url, "the first publish")
    t0 = time.perf_counter()
    answer = db.query("SELECT 1 AS ok")
    if answer["ok"].tolist() != [1]:
        raise RuntimeError(f"SELECT 1 returned {answer.to_dict('records')}")
    return f"SELECT 1 answered ({time.perf_counter() - t0:.2f} s)"


def _check_store(uri: str, endpoint_url: str | None, region: str | None) -> str:
    if not uri:
        raise ValueError("no URI configured")
    store = Store(uri, endpoint_url, region)
    probe = f".doctor-probe-{uuid.uuid4().hex}"  # hidden: never listed as data
    t0 = time.perf_counter()
    store.write_bytes(probe, PROBE)
    try:
        if store.read_bytes(probe) != PROBE:
            raise RuntimeError("the probe object read back differs from what was written")
    finally:
        store.delete(probe)
    kind = "bucket reachable, write/read/delete ok" if not store.is_local else "directory writable"
    return f"{kind} ({time.perf_counter() - t0:.2f} s)"


def lake_target(settings: Settings, resources: dict) -> str:
    return resources["io_manager"].root or "NBA_LAKE_URI"


def check_lake(settings: Settings, resources: dict) -> str:
    io = resources["io_manager"]
    return _check_store(io.root, io.endpoint_url, io.region)


def landing_target(settings: Settings, resources: dict) -> str:
    return resources["landing"].uri or "NBA_LANDING_URI"


def check_landing(settings: Settings, resources: dict) -> str:
    landing = resources["landing"]
    return _check_store(landing.uri, landing.endpoint_url, landing.region)


def configured_secret_keys(settings: Settings) -> list[str]:
    """The secret keys this configuration reads at run time."""
    from nba_platform.resources.alerts import SMTP_PASSWORD_KEY

    keys = [
        settings.serving_db_password_key if not settings.serving_db_url.startswith("sqlite") else None,
        settings.dagster_db_password_key if settings.dagster_db_url.startswith("postgres") else None,
        settings.mlflow_password_key,
        settings.backup_scratch_password_key if settings.backup_scratch_db_url else None,
        SMTP_PASSWORD_KEY if settings.alert_smtp_host and settings.alert_smtp_username else None,
    ]
    return list(dict.fromkeys(k for k in keys if k))


def secrets_target(settings: Settings, resources: dict) -> str:
    secrets = resources["secrets"]
    return f"Secrets Manager secret {secrets.secret_id!r}" if secrets.source == "aws" else "environment / .env"


def check_secrets(settings: Settings, resources: dict) -> str:
    secrets = resources["secrets"]
    if secrets.source == "aws" and not secrets.secret_id:
        raise ValueError("NBA_SECRETS_ID is not set: no Secrets Manager secret to read")
    keys = configured_secret_keys(settings)
    if not keys:
        return "no secret keys configured"
    for key in keys:
        if not secrets.get(key):  # the value is only tested for being non-empty, never shown
            raise ValueError(f"key {key!r} is empty")
    return f"{len(keys)} key(s) resolve: {', '.join(keys)}"


def mlflow_target(settings: Settings, resources: dict) -> str:
    return redact(resources["mlflow"].tracking_uri)


def check_mlflow(settings: Settings, resources: dict) -> str:
    tracking = resources["mlflow"]
    uri = tracking.tracking_uri
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).exists():
        return _sqlite_file(uri, "the first training run")
    t0 = time.perf_counter()
    with tracking._mlflow() as mlflow:
        experiments = mlflow.MlflowClient().search_experiments(max_results=5)
    return f"search_experiments answered, {len(experiments)} experiment(s) ({time.perf_counter() - t0:.2f} s)"


def dagster_target(settings: Settings, resources: dict) -> str:
    if settings.env == "prod" and settings.dagster_db_url:
        return redact(settings.dagster_db_url)
    return str(settings.dagster_home)


def check_dagster_instance(settings: Settings, resources: dict) -> str:
    from nba_platform.cli.runs import get_instance

    t0 = time.perf_counter()
    instance = get_instance()
    try:
        instance.get_runs(limit=1)
        storage = type(instance.run_storage).__name__
    finally:
        instance.dispose()
    return f"{storage}: get_runs answered ({time.perf_counter() - t0:.2f} s)"


Probe = Callable[[Settings, dict], str]
CHECKS: list[tuple[str, Probe, Probe]] = [
    ("serving database", serving_target, check_serving_database),
    ("lake store", lake_target, check_lake),
    ("landing store", landing_target, check_landing),
    ("secrets", secrets_target, check_secrets),
    ("mlflow", mlflow_target, check_mlflow),
    ("dagster instance", dagster_target, check_dagster_instance),
]


def run_checks(settings: Settings, resources: dict, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[CheckResult]:
    """One check after the other (MLflow and Dagster both migrate schemas with alembic, whose
    state is process-global), each in a daemon thread with its own deadline: a check that has not
    answered by then is a FAIL and its thread is left behind (the process is about to end)."""
    results = []
    for name, target_fn, probe in CHECKS:
        try:
            target = target_fn(settings, resources)
        except Exception as exc:
            target = f"({_reason(exc)})"
        outcome: list[CheckResult] = []

        def run(name=name, target=target, probe=probe, outcome=outcome) -> None:
            try:
                outcome.append(CheckResult(name, True, f"{target}: {probe(settings, resources)}"))
            except Exception as exc:  # every failure is a FAIL line, never a traceback
                outcome.append(CheckResult(name, False, f"{target}: {_reason(exc)}"))

        thread = threading.Thread(target=run, name=f"doctor-{name}", daemon=True)
        thread.start()
        thread.join(timeout)
        results.append(
            outcome[0]
            if outcome
            else CheckResult(name, False, f"{target}: no answer within {timeout:g} s (down or unreachable?)")
        )
    return results


def prepare(settings: Settings, timeout: float) -> None:
    """Imports done before the clock starts (MLflow alone takes seconds on a small machine), and
    libpq's connect timeout (serving DB, MLflow and Dagster on Postgres) tied to the deadline."""
    os.environ.setdefault("PGCONNECT_TIMEOUT", str(max(1, int(timeout) - 1)))
    import dagster  # noqa: F401
    import psycopg  # noqa: F401
    import pyarrow.fs  # noqa: F401

    if (
        not settings.mlflow_tracking_uri.startswith("sqlite:///")
        or Path(settings.mlflow_tracking_uri[len("sqlite:///") :]).exists()
    ):
        import mlflow
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
