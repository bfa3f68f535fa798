"""Checks of the deployment files: Dockerfile, .dockerignore and everything under infra/.

What these tests do (nothing here needs Docker, Terraform providers, AWS or Kubernetes):

* parse every YAML file and assert the structure that matters (Dagster instance, workspace,
  docker compose, Helm values);
* validate the Dagster instance and workspace files against Dagster's own config schemas, and
  check that a deliberately broken copy is rejected (so the validation is not vacuous);
* run infra/compose/init.sql on a throwaway PostgreSQL 15 cluster, then load the production
  dagster.yaml against it (password auth, psycopg2 scheme) with S3 compute logs on a moto server
  and materialize an asset through it; run infra/compose/seed_moto.py against moto;
* parse the Terraform with python-hcl2 and assert the security properties (encryption, no public
  access, authentication in front of the UI, least-privilege IAM, secrets via valueFrom) and that
  every var./local./resource reference resolves; (no terraform binary here: `terraform fmt/validate/plan` are not exercised);
* scan all of it for anything that looks like a literal credential.

The PostgreSQL/moto tests are marked `integration` (they start their own throwaway PostgreSQL 15
cluster and moto server, and never touch the machine's shared PostgreSQL); if the
PostgreSQL server binaries (initdb, pg_ctl, psql >= 15) are missing they fail, loudly.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
TERRAFORM = INFRA / "terraform"
DAGSTER_YAML = INFRA / "dagster" / "dagster.yaml"
WORKSPACE_YAML = INFRA / "dagster" / "workspace.yaml"
COMPOSE_YAML = INFRA / "docker-compose.yml"
HELM_VALUES = INFRA / "helm" / "values.yaml"
INIT_SQL = INFRA / "compose" / "init.sql"
SEED_MOTO = INFRA / "compose" / "seed_moto.py"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# Settings the platform reads in prod (the brief's list); every deployment must provide them.
PLATFORM_ENV_VARS = {
    "NBA_PLATFORM_ENV",
    "NBA_LAKE_URI",
    "NBA_LANDING_URI",
    "AWS_REGION",
    "NBA_SECRETS_ID",
    "NBA_RDS_HOST",
    "NBA_RDS_DB",
    "NBA_RDS_USER",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_USER",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_ARTIFACT_URI",
}
SECRET_JSON_KEYS = {"rds_password", "dagster_pg_password", "slack_webhook_url", "smtp_password", "nba_api_jwt_secret"}
CODE_SERVER_CMD = [
    "dagster",
    "code-server",
    "start",
    "-h",
    "0.0.0.0",
    "-p",
    "4000",
    "-m",
    "nba_platform.definitions",
]
DAGSTER_SERVICES = ("code-server", "webserver", "daemon")
# Names whose value is a credential. Names *of* secrets (NBA_SECRETS_ID, postgresqlSecretName,
# secret_arn, SecretString=<variable>) are identifiers, not credentials.
SECRETISH_NAME = re.compile(
    r"password|passwd|token|webhook|private_?key|credential|secret(?!s?_?(id|name|arn|string)\b)",
    re.I,
)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def load_yaml(path: Path) -> Any:
    with path.open() as handle:
        return yaml.safe_load(handle)


def env_references(node: Any) -> set[str]:
    """Every `{env: NAME}` used in a Dagster config document."""
    found: set[str] = set()
    if isinstance(node, dict):
        if set(node) == {"env"} and isinstance(node["env"], str):
            found.add(node["env"])
        for value in node.values():
            found |= env_references(value)
    elif isinstance(node, list):
        for value in node:
            found |= env_references(value)
    return found


_TF_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def _tf_parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=_TF_OPTIONS)


@functools.lru_cache(maxsize=1)
def tf_files() -> dict[str, dict[str, Any]]:
    """Parsed Terraform files (cached: parsing is slow; callers must not mutate the result)."""
    return {path.name: _tf_parse(path) for path in sorted(TERRAFORM.glob("*.tf"))}


def tf_blocks(kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """{(type, name): body} of every `resource` or `data` block across all files."""
    blocks: dict[tuple[str, str], dict[str, Any]] = {}
    for parsed in tf_files().values():
        for entry in parsed.get(kind, []):
            for type_name, named in entry.items():
                for name, body in named.items():
                    assert (type_name, name) not in blocks, f"duplicate {kind} {type_name}.{name}"
                    blocks[(type_name, name)] = body
    return blocks


def tf_resources(type_name: str) -> dict[str, dict[str, Any]]:
    return {name: body for (kind, name), body in tf_blocks("resource").items() if kind == type_name}


def tf_data(type_name: str) -> dict[str, dict[str, Any]]:
    return {name: body for (kind, name), body in tf_blocks("data").items() if kind == type_name}


def tf_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for parsed in tf_files().values():
        for block in parsed.get("locals", []):
            for key, value in block.items():
                assert key not in merged, f"local.{key} defined twice"
                merged[key] = value
    return merged


def tf_variables() -> dict[str, dict[str, Any]]:
    variables: dict[str, dict[str, Any]] = {}
    for parsed in tf_files().values():
        for block in parsed.get("variable", []):
            variables.update(block)
    return variables


def tf_text() -> str:
    return "\n".join(path.read_text() for path in sorted(TERRAFORM.glob("*.tf")))


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def ref(expr: str) -> str:
    """`${aws_s3_bucket.platform.arn}` -> `aws_s3_bucket.platform.arn`."""
    expr = expr.strip()
    if expr.startswith("${") and expr.endswith("}"):
        return expr[2:-1].strip()
    return expr


def policy_statements() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, body in tf_data("aws_iam_policy_document").items():
        for statement in as_list(body.get("statement")):
            out.append((name, statement))
    return out


def compose_interpolate(value: Any) -> Any:
    """Resolve compose `${VAR:-default}` / `${VAR-default}` to the default (no env override)."""
    if not isinstance(value, str):
        return value

    def repl(match: re.Match[str]) -> str:
        body = match.group(1)
        for sep in (":-", "-"):
            if sep in body:
                return body.split(sep, 1)[1]
        raise AssertionError(f"compose variable without a default: ${{{body}}}")

    return re.sub(r"\$\{([^}]+)\}", repl, value)


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(compose_interpolate(value)) for key, value in env.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------------------------
# YAML: everything parses
# ------------------------------------------------------------------------------------------------
def test_every_yaml_file_under_infra_parses_to_a_mapping() -> None:
    files = sorted([*INFRA.rglob("*.yaml"), *INFRA.rglob("*.yml")])
    names = {path.relative_to(INFRA).as_posix() for path in files}
    assert {
        "dagster/dagster.yaml",
        "dagster/workspace.yaml",
        "docker-compose.yml",
        "helm/values.yaml",
    } <= names
    for path in files:
        document = load_yaml(path)
        assert isinstance(document, dict) and document, f"{path} is empty or not a mapping"


# ------------------------------------------------------------------------------------------------
# Dagster instance and workspace
# ------------------------------------------------------------------------------------------------
def test_instance_storage_is_postgres_psycopg2_with_password_from_env() -> None:
    config = load_yaml(DAGSTER_YAML)
    assert set(config["storage"]) == {"postgres"}
    # one `storage` key covers runs, event logs and schedules: no separate, conflicting entries
    assert not {"run_storage", "event_log_storage", "schedule_storage"} & set(config)
    db = config["storage"]["postgres"]["postgres_db"]
    assert db["scheme"] == "postgresql+psycopg2"
    assert db["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    for key in ("username", "hostname", "db_name"):
        assert isinstance(db[key], dict) and set(db[key]) == {"env"}, f"{key} must come from env"
    assert "postgres_url" not in config["storage"]["postgres"]


def test_instance_services_queue_launcher_compute_logs_telemetry() -> None:
    config = load_yaml(DAGSTER_YAML)
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    limit = config["run_coordinator"]["config"]["max_concurrent_runs"]
    assert isinstance(limit, int) and limit > 0
    assert config["run_launcher"]["class"] == "DefaultRunLauncher"
    assert config["compute_logs"]["module"] == "dagster_aws.s3.compute_log_manager"
    assert config["compute_logs"]["class"] == "S3ComputeLogManager"
    assert config["compute_logs"]["config"]["bucket"] == {"env": "DAGSTER_COMPUTE_LOG_BUCKET"}
    assert config["telemetry"] == {"enabled": False}


def _validate_instance_dir(directory: Path) -> dict[str, Any]:
    from dagster._core.instance.config import dagster_instance_config

    config, custom_class = dagster_instance_config(str(directory))
    assert custom_class is None
    return dict(config)


def test_instance_config_validates_against_dagster_schema(tmp_path: Path) -> None:
    from dagster._config import validate_config
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster._serdes.config_class import class_from_code_pointer

    shutil.copy(DAGSTER_YAML, tmp_path / "dagster.yaml")
    config = _validate_instance_dir(tmp_path)

    # The configurable classes are only Permissive() at the top level: check that each class
    # imports and that its config validates against the class's own schema.
    for section in ("run_coordinator", "run_launcher", "compute_logs"):
        entry = config[section]
        klass = class_from_code_pointer(entry["module"], entry["class"])
        result = validate_config(klass.config_type(), entry.get("config") or {})
        assert result.success, f"{section}: {result.errors}"

    # Negative controls: the same validation rejects broken copies.
    broken_storage = copy.deepcopy(load_yaml(DAGSTER_YAML))
    del broken_storage["storage"]["postgres"]["postgres_db"]["hostname"]
    broken_storage["storage"]["postgres"]["postgres_db"]["hostnme"] = {"env": "DAGSTER_PG_HOST"}
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    (bad_dir / "dagster.yaml").write_text(yaml.safe_dump(broken_storage))
    with pytest.raises(DagsterInvalidConfigError):
        _validate_instance_dir(bad_dir)

    from dagster import QueuedRunCoordinator

    bad_queue = {"max_concurrent_runs": "four"}
    assert not validate_config(QueuedRunCoordinator.config_type(), bad_queue).success


def test_workspace_points_at_the_grpc_code_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster._core.workspace.config_schema import ensure_workspace_config

    workspace = load_yaml(WORKSPACE_YAML)
    monkeypatch.delenv("DAGSTER_CODE_SERVER_HOST", raising=False)
    with pytest.raises(DagsterInvalidConfigError, match="DAGSTER_CODE_SERVER_HOST"):
        ensure_workspace_config(workspace, str(WORKSPACE_YAML))
    monkeypatch.setenv("DAGSTER_CODE_SERVER_HOST", "code-server")
    processed = ensure_workspace_config(workspace, str(WORKSPACE_YAML))
    assert processed["load_from"][0]["grpc_server"]["host"] == "code-server"
    [entry] = workspace["load_from"]
    server = entry["grpc_server"]
    assert server["port"] == 4000
    assert server["host"] == {"env": "DAGSTER_CODE_SERVER_HOST"}
    assert server["location_name"] == "nba_platform"


# ------------------------------------------------------------------------------------------------
# Real PostgreSQL 15 + moto: init.sql, the production instance, the moto seed
# ------------------------------------------------------------------------------------------------
def _pg_bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    for bindir in reversed(candidates):
        if all((bindir / tool).exists() for tool in ("initdb", "pg_ctl", "psql")):
            return bindir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class ThrowawayPostgres:
    def __init__(self, bindir: Path, root: Path, port: int, as_postgres: list[str]):
        self.bindir = bindir
        self.root = root
        self.port = port
        self.as_postgres = as_postgres

    def psql_file(self, path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-h",
                str(self.root),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                str(path),
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture(scope="module")
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries (initdb/pg_ctl/psql) are not installed: these tests need them")
    version = subprocess.run([str(bindir / "psql"), "--version"], capture_output=True, text=True, check=True).stdout
    major = int(re.search(r"(\d+)\.", version).group(1))  # type: ignore[union-attr]
    if major < 15:
        pytest.fail(f"init.sql needs psql >= 15 (\\getenv); found {version.strip()}")

    as_postgres: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="nba-infra-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.fail("running as root without runuser: cannot start a throwaway cluster")
        shutil.chown(root, user="postgres", group="postgres")
        as_postgres = [runuser, "-u", "postgres", "--"]
    port = free_port()
    data = root / "data"
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} -c fsync=off"
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield ThrowawayPostgres(bindir, root, port, as_postgres)
    finally:
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def init_env() -> dict[str, str]:
    """The variables init.sql reads, exactly as docker-compose.yml gives them to postgres."""
    compose = load_yaml(COMPOSE_YAML)
    env = compose_env(compose["services"]["postgres"])
    wanted = set(re.findall(r"^\\getenv\s+\w+\s+(\w+)", INIT_SQL.read_text(), re.M))
    assert wanted, "init.sql reads no variables?"
    missing = wanted - set(env)
    assert not missing, f"compose postgres service lacks {missing} needed by init.sql"
    return {name: env[name] for name in wanted}


@pytest.fixture(scope="module")
def initialised_postgres(throwaway_postgres: ThrowawayPostgres, init_env: dict[str, str]) -> ThrowawayPostgres:
    first = throwaway_postgres.psql_file(INIT_SQL, init_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("CREATE DATABASE") == 3
    return throwaway_postgres


def _connect(pg: ThrowawayPostgres, user: str, password: str, dbname: str):
    import psycopg2

    return psycopg2.connect(
        host="127.0.0.1",
        port=pg.port,
        user=user,
        password=password,
        dbname=dbname,
        connect_timeout=10,
    )


@pytest.mark.integration
def test_init_sql_creates_owned_databases_and_is_idempotent(
    initialised_postgres: ThrowawayPostgres, init_env: dict[str, str]
) -> None:
    import psycopg2

    pg = initialised_postgres
    dagster_user, dagster_pw = init_env["DAGSTER_PG_USER"], init_env["DAGSTER_PG_PASSWORD"]
    app_user, app_pw = init_env["NBA_RDS_USER"], init_env["NBA_RDS_PASSWORD"]

    # Each owner can create tables in its databases over TCP with password authentication.
    for user, password, dbname in (
        (dagster_user, dagster_pw, init_env["DAGSTER_PG_DB"]),
        (app_user, app_pw, init_env["NBA_RDS_DB"]),
        (app_user, app_pw, init_env["MLFLOW_DB"]),
    ):
        conn = _connect(pg, user, password, dbname)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS infra_probe (x int)")
                cur.execute("SELECT current_user, current_database()")
                assert cur.fetchone() == (user, dbname)
        finally:
            conn.close()

    # The Dagster role cannot reach the serving database; wrong passwords are refused.
    with pytest.raises(psycopg2.OperationalError, match="permission denied"):
        _connect(pg, dagster_user, dagster_pw, init_env["NBA_RDS_DB"])
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        _connect(pg, app_user, "not-the-password", init_env["NBA_RDS_DB"])

    # Idempotent (re-run for the RDS bootstrap), and it refuses to run without its variables.
    again = pg.psql_file(INIT_SQL, init_env)
    assert again.returncode == 0, again.stderr
    assert "CREATE DATABASE" not in again.stdout
    partial = {k: v for k, v in init_env.items() if k != "DAGSTER_PG_PASSWORD"}
    env_without = {k: v for k, v in os.environ.items() if k != "DAGSTER_PG_PASSWORD"}
    result = subprocess.run(
        [
            str(pg.bindir / "psql"),
            "-X",
            "-h",
            str(pg.root),
            "-p",
            str(pg.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-f",
            str(INIT_SQL),
        ],
        env={**env_without, **partial},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DAGSTER_PG_PASSWORD is not set" in result.stderr


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _moto_client(service: str, endpoint: str):
    import boto3

    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=endpoint)


def _aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }


@pytest.mark.integration
def test_production_instance_runs_on_postgres_with_s3_compute_logs(
    initialised_postgres: ThrowawayPostgres,
    init_env: dict[str, str],
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3
    from dagster import AssetKey, DagsterInstance, asset, materialize

    bucket = "nba-infra-test-compute-logs"
    env = {
        **_aws_env(moto_endpoint),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_DB": init_env["DAGSTER_PG_DB"],
        "DAGSTER_PG_USER": init_env["DAGSTER_PG_USER"],
        "DAGSTER_PG_PASSWORD": init_env["DAGSTER_PG_PASSWORD"],
        "DAGSTER_COMPUTE_LOG_BUCKET": bucket,
        "DAGSTER_COMPUTE_LOG_PREFIX": "dagster/compute-logs",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # the file hardcodes port 5432; the throwaway cluster listens elsewhere
    config = load_yaml(DAGSTER_YAML)
    config["storage"]["postgres"]["postgres_db"]["port"] = initialised_postgres.port
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))

    s3 = _moto_client("s3", moto_endpoint)
    s3.create_bucket(Bucket=bucket)

    # S3ComputeLogManager uses boto3's default session, which caches the (fake) credentials
    # of this test: give it a fresh one and put the previous one back afterwards.
    previous_session = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = None
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"

        @asset
        def infra_probe() -> int:
            print("infra probe: hello from the deployment test")
            return 42

        result = materialize([infra_probe], instance=instance)
        assert result.success
        runs = instance.get_runs()
        assert [run.run_id for run in runs] == [result.run_id]
        event = instance.get_latest_materialization_event(AssetKey("infra_probe"))
        assert event is not None and event.run_id == result.run_id

        keys = [
            obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket, Prefix="dagster/compute-logs/").get("Contents", [])
        ]
        assert keys, "no compute log reached the S3 bucket"
        bodies = [s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys]
        assert any(b"infra probe: hello" in body for body in bodies)
    finally:
        instance.dispose()
        boto3.DEFAULT_SESSION = previous_session


@pytest.mark.integration
def test_seed_moto_creates_bucket_and_secret_like_compose(moto_endpoint: str) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("seed_moto", SEED_MOTO)
    assert spec and spec.loader
    seed_moto = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed_moto)

    compose = load_yaml(COMPOSE_YAML)
    env = compose_env(compose["services"]["moto-init"])
    assert env["AWS_ENDPOINT_URL"] == "http://moto:5000"
    env["AWS_ENDPOINT_URL"] = moto_endpoint  # the compose hostname does not resolve here

    result = seed_moto.seed(env)
    again = seed_moto.seed(env)  # idempotent
    assert result == again

    s3 = _moto_client("s3", moto_endpoint)
    bucket = env["NBA_LAKE_URI"].split("/")[2]
    assert result["buckets"] == bucket
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    sm = _moto_client("secretsmanager", moto_endpoint)
    document = json.loads(sm.get_secret_value(SecretId=env["NBA_SECRETS_ID"])["SecretString"])
    assert set(document) == SECRET_JSON_KEYS
    assert document["dagster_pg_password"] == env["DAGSTER_PG_PASSWORD"]
    assert document["rds_password"] == compose_env(compose["services"]["postgres"])["NBA_RDS_PASSWORD"]

    with pytest.raises(RuntimeError):
        seed_moto.seed({**env, "AWS_ENDPOINT_URL": "https://s3.us-east-1.amazonaws.com"})


# ------------------------------------------------------------------------------------------------
# docker compose
# ------------------------------------------------------------------------------------------------
def test_compose_services_images_and_build() -> None:
    compose = load_yaml(COMPOSE_YAML)
    services = compose["services"]
    assert {"postgres", "moto", "moto-init", "mlflow", *DAGSTER_SERVICES} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["moto"]["image"].startswith("motoserver/moto")
    for name in DAGSTER_SERVICES:
        build = services[name]["build"]
        context = (COMPOSE_YAML.parent / build["context"]).resolve()
        assert context == REPO
        assert (context / build["dockerfile"]) == DOCKERFILE and DOCKERFILE.exists()
    # the code server runs the image's default command
    assert "command" not in services["code-server"]
    for name in ("webserver", "daemon"):
        assert "/opt/dagster/app/workspace.yaml" in services[name]["command"]
    assert services["webserver"]["command"][0] == "dagster-webserver"
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    init_mount = "./compose/init.sql:/docker-entrypoint-initdb.d/10-init.sql:ro"
    assert init_mount in services["postgres"]["volumes"]


def test_compose_only_publishes_ports_on_loopback() -> None:
    services = load_yaml(COMPOSE_YAML)["services"]
    assert "127.0.0.1:3000:3000" in services["webserver"]["ports"]
    published = 0
    for name, service in services.items():
        for port in service.get("ports", []):
            published += 1
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
    assert published >= 1


def test_compose_healthchecks_and_depends_on_conditions() -> None:
    services = load_yaml(COMPOSE_YAML)["services"]
    for name, service in services.items():
        if name == "moto-init":  # one-shot job: others wait for its successful completion
            assert service.get("restart") == "no"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must use conditions"
        for target, spec in depends.items():
            assert target in services
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}'s health"
            else:
                assert condition == "service_completed_successfully" and target == "moto-init"

    def conditions(name: str) -> dict[str, str]:
        return {t: s["condition"] for t, s in services[name]["depends_on"].items()}

    for name in ("webserver", "daemon"):
        assert conditions(name)["code-server"] == "service_healthy"
        assert conditions(name)["postgres"] == "service_healthy"
    assert conditions("code-server")["postgres"] == "service_healthy"
    assert conditions("code-server")["moto-init"] == "service_completed_successfully"
    assert conditions("mlflow")["postgres"] == "service_healthy"
    assert conditions("moto-init")["moto"] == "service_healthy"
    assert services["code-server"]["healthcheck"]["test"][1:4] == [
        "dagster",
        "api",
        "grpc-health-check",
    ]


def test_compose_dagster_env_is_prod_on_local_standins() -> None:
    services = load_yaml(COMPOSE_YAML)["services"]
    needed = PLATFORM_ENV_VARS | env_references(load_yaml(DAGSTER_YAML)) | env_references(load_yaml(WORKSPACE_YAML))
    for name in DAGSTER_SERVICES:
        env = compose_env(services[name])
        assert not needed - set(env), f"{name} lacks {needed - set(env)}"
        assert env["NBA_PLATFORM_ENV"] == "prod"
        assert env["AWS_ENDPOINT_URL"] == "http://moto:5000"
        assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
        assert env["DAGSTER_PG_HOST"] == env["NBA_RDS_HOST"] == "postgres"
        assert env["DAGSTER_CODE_SERVER_HOST"] == "code-server"
        assert env["NBA_LAKE_URI"].startswith("s3://")
        assert env["MLFLOW_TRACKING_URI"].startswith("postgresql+psycopg2://")
        assert (
            "@" in env["MLFLOW_TRACKING_URI"]
            and ":" not in env["MLFLOW_TRACKING_URI"].split("//", 1)[1].split("@", 1)[0]
        ), "no password inside the MLflow URI"


def test_compose_passwords_are_overridable_local_placeholders() -> None:
    raw = load_yaml(COMPOSE_YAML)["services"]
    seen = 0
    for name, service in raw.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRETISH_NAME.search(key) and key not in ("AWS_SECRET_ACCESS_KEY",):
                seen += 1
                match = re.fullmatch(r"\$\{(NBA_LOCAL_\w+):-(local-[\w-]*|)\}", str(value))
                assert match, f"{name}.{key} must be ${{NBA_LOCAL_...:-local-...}}, got {value!r}"
    assert seen >= 4


# ------------------------------------------------------------------------------------------------
# Helm values (official dagster/dagster chart)
# ------------------------------------------------------------------------------------------------
# Top-level keys of the chart's values schema (helm/dagster/schema/.../values.py, Dagster 1.x).
HELM_TOP_LEVEL_KEYS = {
    "dagsterWebserver",
    "dagster-user-deployments",
    "postgresql",
    "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret",
    "rabbitmq",
    "redis",
    "flower",
    "ingress",
    "imagePullSecrets",
    "computeLogManager",
    "scheduler",
    "runLauncher",
    "pythonLogs",
    "dagsterDaemon",
    "busybox",
    "migrate",
    "telemetry",
    "serviceAccount",
    "global",
    "retention",
    "additionalInstanceConfig",
}


def test_helm_values_k8s_launcher_external_postgres_private_ui() -> None:
    values = load_yaml(HELM_VALUES)
    assert set(values) <= HELM_TOP_LEVEL_KEYS, set(values) - HELM_TOP_LEVEL_KEYS

    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["envSecrets"] and launcher["loadInclusterConfig"] is True

    pg = values["postgresql"]
    assert pg["enabled"] is False
    assert pg["postgresqlHost"] and pg["postgresqlDatabase"] and pg["postgresqlUsername"]
    assert pg["postgresqlScheme"] == "postgresql+psycopg2"
    assert pg["postgresqlPassword"] == ""  # the password comes from an existing k8s secret
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]

    assert values["ingress"]["enabled"] is False
    web = values["dagsterWebserver"]
    assert web["service"]["type"] == "ClusterIP"
    assert {"name": "nba-platform-env"} in web["envSecrets"]

    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] is True
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    queue = coordinator["config"]["queuedRunCoordinator"]
    instance_queue = load_yaml(DAGSTER_YAML)["run_coordinator"]["config"]
    assert queue["maxConcurrentRuns"] == instance_queue["max_concurrent_runs"]
    assert daemon["envSecrets"]

    users = values["dagster-user-deployments"]
    assert users["enabled"] is True
    [deployment] = users["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "nba_platform.definitions"]
    assert deployment["port"] == 4000 and deployment["envSecrets"]
    assert deployment["image"]["repository"] == web["image"]["repository"]

    for section in (web, daemon, deployment):
        assert section["podSecurityContext"]["runAsNonRoot"] is True
        assert section["podSecurityContext"]["runAsUser"] == 10001

    assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert values["telemetry"]["enabled"] is False
    for off in ("rabbitmq", "redis", "flower"):
        assert values[off]["enabled"] is False


def test_helm_values_document_k8s_job_executor_and_oidc_proxy() -> None:
    text = HELM_VALUES.read_text()
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    assert "from dagster_k8s import k8s_job_executor" in comments
    assert "step_k8s_config" in comments
    assert "oidc" in comments.lower() and "port-forward" in comments
    assert "dagster-k8s==0.29.27" in comments


# ------------------------------------------------------------------------------------------------
# Terraform
# ------------------------------------------------------------------------------------------------
def test_terraform_files_parse_and_pin_the_aws_provider() -> None:
    files = tf_files()
    assert {"versions.tf", "variables.tf", "outputs.tf"} <= set(files)
    [terraform] = files["versions.tf"]["terraform"]
    [providers] = terraform["required_providers"]
    assert providers["aws"]["source"] == "hashicorp/aws"
    assert providers["aws"]["version"].replace(" ", "").startswith("~>5")


def test_terraform_references_resolve() -> None:
    """A cheap stand-in for `terraform validate` (whose providers cannot be downloaded here)."""
    text = tf_text()
    code = re.sub(r"(?m)^\s*#.*$", "", text)
    variables = tf_variables()
    used_vars = set(re.findall(r"\bvar\.([A-Za-z_][\w-]*)", code))
    assert used_vars <= set(variables), f"undeclared: {used_vars - set(variables)}"
    assert set(variables) <= used_vars, f"unused variables: {set(variables) - used_vars}"

    local_names = set(tf_locals())
    used_locals = set(re.findall(r"\blocal\.([A-Za-z_][\w-]*)", code))
    assert used_locals <= local_names, f"undefined locals: {used_locals - local_names}"

    resources = {f"{t}.{n}" for (t, n) in tf_blocks("resource")}
    data = {f"data.{t}.{n}" for (t, n) in tf_blocks("data")}
    used_resources = {
        m.group(0)
        for m in re.finditer(r"(?<![\w.])aws_[a-z0-9_]+\.[a-z0-9_]+", code)
        if not m.group(0).startswith("aws_region.")  # none used; guards the regex
    }
    assert used_resources <= resources, f"unknown resources: {used_resources - resources}"
    used_data = set(re.findall(r"\bdata\.aws_[a-z0-9_]+\.[a-z0-9_]+", code))
    assert used_data <= data, f"unknown data sources: {used_data - data}"

    for name, var in variables.items():
        assert var.get("description"), f"variable {name} has no description"
    for required in (
        "vpc_id",
        "private_subnet_ids",
        "public_subnet_ids",
        "image_uri",
        "oidc_issuer",
        "oidc_client_id",
        "oidc_client_secret",
        "certificate_arn",
        "rds_deletion_protection",
    ):
        assert required in variables
    secret_var = variables["oidc_client_secret"]
    assert secret_var.get("sensitive") is True and "default" not in secret_var


def test_s3_bucket_versioned_kms_encrypted_private_with_backup_lifecycle() -> None:
    [bucket_name] = tf_resources("aws_s3_bucket")
    bucket_id = f"aws_s3_bucket.{bucket_name}.id"

    [versioning] = tf_resources("aws_s3_bucket_versioning").values()
    assert ref(versioning["bucket"]) == bucket_id
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"

    [sse] = tf_resources("aws_s3_bucket_server_side_encryption_configuration").values()
    assert ref(sse["bucket"]) == bucket_id
    default = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] == "aws:kms"
    assert ref(default["kms_master_key_id"]).startswith("aws_kms_key.")

    [pab] = tf_resources("aws_s3_bucket_public_access_block").values()
    assert ref(pab["bucket"]) == bucket_id
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert pab[flag] is True, flag

    [lifecycle] = tf_resources("aws_s3_bucket_lifecycle_configuration").values()
    backup_rules = [
        rule
        for rule in lifecycle["rule"]
        if any(
            ref(str(f.get("prefix", ""))) in ("local.backups_prefix", "backups/") for f in as_list(rule.get("filter"))
        )
    ]
    assert len(backup_rules) == 1
    rule = backup_rules[0]
    assert rule["status"] == "Enabled"
    assert {t["storage_class"] for t in rule["transition"]} == {"STANDARD_IA", "GLACIER"}
    assert rule["expiration"]
    assert tf_locals()["backups_prefix"] == "backups/"

    [kms] = tf_resources("aws_kms_key").values()
    assert kms["enable_key_rotation"] is True


def test_rds_postgres15_private_encrypted_backed_up() -> None:
    [db] = tf_resources("aws_db_instance").values()
    variables = tf_variables()
    assert db["engine"] == "postgres"
    assert ref(db["engine_version"]) == "var.rds_engine_version"
    assert variables["rds_engine_version"]["default"].startswith("15")
    assert db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False
    assert ref(db["deletion_protection"]) == "var.rds_deletion_protection"
    assert variables["rds_deletion_protection"]["default"] is True
    assert ref(db["backup_retention_period"]) == "var.rds_backup_retention_days"
    assert variables["rds_backup_retention_days"]["default"] >= 7
    assert db["skip_final_snapshot"] is False
    assert db["manage_master_user_password"] is True and "password" not in db
    [subnets] = tf_resources("aws_db_subnet_group").values()
    assert ref(subnets["subnet_ids"]) == "var.private_subnet_ids"
    assert [ref(g) for g in db["vpc_security_group_ids"]] == ["aws_security_group.rds.id"]


def test_secret_is_declared_without_a_value_and_has_a_policy() -> None:
    [(secret_name, secret)] = tf_resources("aws_secretsmanager_secret").items()
    assert not tf_resources("aws_secretsmanager_secret_version"), "value is managed outside TF"
    [policy] = tf_resources("aws_secretsmanager_secret_policy").values()
    assert ref(policy["secret_arn"]) == f"aws_secretsmanager_secret.{secret_name}.arn"
    assert ref(secret["kms_key_id"]).startswith("aws_kms_key.")


def _listener_actions(listener: dict[str, Any]) -> list[dict[str, Any]]:
    actions = as_list(listener["default_action"])
    return sorted(actions, key=lambda a: a.get("order", 0))


def test_alb_never_forwards_to_the_ui_without_oidc() -> None:
    listeners = tf_resources("aws_lb_listener")
    # Two rules only: the forecast API's and the MCP server's own paths (both authenticate every
    # request with the API's JWTs) to their target groups; anything else (the UI) stays behind OIDC.
    rules = tf_resources("aws_lb_listener_rule")
    assert set(rules) == {"api", "mcp"}, "extra rules could bypass authentication"
    for name in rules:
        [rule_action] = as_list(rules[name]["action"])
        assert rule_action["type"] == "forward"
        assert ref(rule_action["target_group_arn"]) == f"aws_lb_target_group.{name}.arn"
    paths = as_list(rules["api"]["condition"])[0]["path_pattern"][0]["values"]
    assert set(paths) == {"/v1/*", "/docs", "/openapi.json", "/healthz", "/readyz"}, paths
    mcp_paths = as_list(rules["mcp"]["condition"])[0]["path_pattern"][0]["values"]
    assert set(mcp_paths) == {"/mcp", "/mcp/*", "/.well-known/oauth-protected-resource/mcp"}, mcp_paths
    assert rules["api"]["priority"] != rules["mcp"]["priority"]
    https = [lst for lst in listeners.values() if lst["protocol"] == "HTTPS"]
    assert len(https) == 1
    actions = _listener_actions(https[0])
    assert [a["type"] for a in actions] == ["authenticate-oidc", "forward"]
    oidc = actions[0]["authenticate_oidc"][0]
    for key in ("issuer", "client_id", "client_secret", "token_endpoint"):
        assert ref(oidc[key]).startswith("var."), key
    assert oidc.get("on_unauthenticated_request", "authenticate") == "authenticate"
    assert ref(actions[1]["target_group_arn"]).startswith("aws_lb_target_group.")
    for name, listener in listeners.items():
        if listener["protocol"] != "HTTPS":
            assert [a["type"] for a in _listener_actions(listener)] == ["redirect"], name
    groups = tf_resources("aws_lb_target_group")
    assert {name: tg["port"] for name, tg in groups.items()} == {"webserver": 3000, "api": 8080, "mcp": 8081}
    assert groups["api"]["health_check"][0]["path"] == "/readyz"
    assert ref(actions[1]["target_group_arn"]) == "aws_lb_target_group.webserver.arn"


def test_security_groups_webserver_only_from_alb_rds_only_from_ecs() -> None:
    for name, sg in tf_resources("aws_security_group").items():
        assert "ingress" not in sg and "egress" not in sg, f"{name}: use the rule resources"
    assert not tf_resources("aws_security_group_rule")

    ingress = tf_resources("aws_vpc_security_group_ingress_rule")
    by_group: dict[str, list[dict[str, Any]]] = {}
    for rule in ingress.values():
        by_group.setdefault(ref(rule["security_group_id"]), []).append(rule)

    web_rules = by_group["aws_security_group.webserver.id"]
    assert len(web_rules) == 1
    assert ref(web_rules[0]["referenced_security_group_id"]) == "aws_security_group.alb.id"
    assert "cidr_ipv4" not in web_rules[0] and web_rules[0]["from_port"] == 3000

    [rds_rule] = by_group["aws_security_group.rds.id"]
    assert "cidr_ipv4" not in rds_rule and rds_rule["from_port"] == rds_rule["to_port"] == 5432
    assert ref(rds_rule["for_each"]) == "local.ecs_security_groups"
    assert ref(rds_rule["referenced_security_group_id"]) == "each.value"
    ecs_groups = {ref(v) for v in tf_locals()["ecs_security_groups"].values()}
    assert ecs_groups == {
        "aws_security_group.webserver.id",
        "aws_security_group.daemon.id",
        "aws_security_group.code_server.id",
        "aws_security_group.api.id",
        "aws_security_group.mcp.id",
    }
    [api_rule] = by_group["aws_security_group.api.id"]
    assert ref(api_rule["referenced_security_group_id"]) == "aws_security_group.alb.id"
    assert "cidr_ipv4" not in api_rule and api_rule["from_port"] == api_rule["to_port"] == 8080
    [mcp_rule] = by_group["aws_security_group.mcp.id"]
    assert ref(mcp_rule["referenced_security_group_id"]) == "aws_security_group.alb.id"
    assert "cidr_ipv4" not in mcp_rule and mcp_rule["from_port"] == mcp_rule["to_port"] == 8081
    # nothing reaches the daemon
    assert "aws_security_group.daemon.id" not in by_group
    # only the ALB accepts traffic from CIDR ranges
    for group, rules in by_group.items():
        for rule in rules:
            if "cidr_ipv4" in rule or "cidr_ipv6" in rule:
                assert group == "aws_security_group.alb.id", group


def test_iam_statements_are_least_privilege() -> None:
    statements = policy_statements()
    assert statements
    bucket_refs = ("aws_s3_bucket.platform.arn", "${aws_s3_bucket.platform.arn}/*")
    secret_refs = ("aws_secretsmanager_secret.platform.arn",)
    for doc, statement in statements:
        effect = statement.get("effect", "Allow")
        actions = as_list(statement.get("actions"))
        resources = [
            ref(r) if r.startswith("${") and r.endswith("}") and r.count("${") == 1 else r
            for r in as_list(statement.get("resources"))
        ]
        assert actions, f"{doc}: statement without actions"
        assert "not_actions" not in statement and "not_resources" not in statement
        if effect == "Deny":  # guard rails may be broad
            continue
        for action in actions:
            assert action != "*" and not action.endswith(":*"), f"{doc}: wildcard {action}"
        services = {action.split(":")[0] for action in actions}
        if doc == "ecs_tasks_assume":
            assert actions == ["sts:AssumeRole"] and not resources
            continue
        assert resources, f"{doc}: Allow without resources"
        if "*" in resources:
            assert actions == ["ecr:GetAuthorizationToken"], f"{doc}: '*' resource for {actions}"
        if "s3" in services:
            assert services == {"s3"}
            assert set(actions) <= {
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:ListBucket",
            }
            assert set(resources) <= set(bucket_refs), resources
        if "secretsmanager" in services:
            assert services == {"secretsmanager"} and actions == ["secretsmanager:GetSecretValue"]
            assert resources == list(secret_refs), resources
        if "kms" in services:
            assert statement.get("condition"), f"{doc}: KMS use must be limited by kms:ViaService"
        if "glue" in services:
            assert set(resources) == {
                "local.glue_catalog_arn",
                "local.glue_database_arn",
                "local.glue_tables_arn",
            }

    task = tf_data("aws_iam_policy_document")["task"]
    task_actions = {a for s in as_list(task["statement"]) for a in s["actions"]}
    assert {a for a in task_actions if a.startswith("s3:")} == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
    }
    assert {a for a in task_actions if a.startswith("secretsmanager:")} == {"secretsmanager:GetSecretValue"}
    assert not tf_resources("aws_iam_role_policy_attachment"), "no managed (broad) policies"
    locals_ = tf_locals()
    assert locals_["glue_database_arn"].endswith("database/${aws_glue_catalog_database.platform.name}")
    assert locals_["glue_tables_arn"].endswith("table/${aws_glue_catalog_database.platform.name}/*")


def test_glue_database_and_log_groups() -> None:
    [glue] = tf_resources("aws_glue_catalog_database").values()
    assert ref(glue["name"]) == "var.glue_database_name"
    assert tf_variables()["glue_database_name"]["default"] == "nba_platform"
    [logs] = tf_resources("aws_cloudwatch_log_group").values()
    assert ref(logs["retention_in_days"]) == "var.log_retention_days"
    assert ref(logs["for_each"]) == "toset(local.service_names)"
    assert tf_locals()["service_names"] == ["webserver", "daemon", "code-server", "api", "mcp"]


def test_ecs_fargate_services_with_secrets_from_secrets_manager() -> None:
    locals_ = tf_locals()
    [cluster] = tf_resources("aws_ecs_cluster").values()
    assert cluster

    [taskdef] = tf_resources("aws_ecs_task_definition").values()
    assert ref(taskdef["for_each"]) == "local.services"
    assert set(locals_["services"]) == {"webserver", "daemon", "code-server", "api", "mcp"}
    assert taskdef["requires_compatibilities"] == ["FARGATE"]
    assert taskdef["network_mode"] == "awsvpc"
    assert ref(taskdef["task_role_arn"]) == "aws_iam_role.task.arn"
    assert ref(taskdef["execution_role_arn"]) == "aws_iam_role.execution.arn"
    containers = taskdef["container_definitions"]
    assert "environment = local.container_environment" in containers
    assert "secrets = local.container_secrets" in containers
    assert 'user = "10001:10001"' in containers

    code_cmd = list(locals_["services"]["code-server"]["command"])
    assert code_cmd == CODE_SERVER_CMD
    assert locals_["services"]["webserver"]["port"] == 3000

    environment = locals_["container_environment"]
    names = [item["name"] for item in environment]
    assert len(names) == len(set(names))
    needed = PLATFORM_ENV_VARS | env_references(load_yaml(DAGSTER_YAML)) | env_references(load_yaml(WORKSPACE_YAML))
    secrets = locals_["container_secrets"]
    secret_names = {item["name"] for item in secrets}
    missing = needed - set(names) - secret_names
    assert not missing, f"ECS containers lack {missing}"
    for item in environment:
        assert set(item) == {"name", "value"}
        assert not SECRETISH_NAME.search(item["name"]), f"{item['name']} must be a secret"
        assert "password" not in str(item["value"]).lower()
    assert next(i for i in environment if i["name"] == "NBA_PLATFORM_ENV")["value"] == "prod"
    mlflow_uri = next(i for i in environment if i["name"] == "MLFLOW_TRACKING_URI")["value"]
    assert mlflow_uri.startswith("postgresql+psycopg2://")

    assert "DAGSTER_PG_PASSWORD" in secret_names
    for item in secrets:
        assert set(item) == {"name", "valueFrom"}
        prefix = "${aws_secretsmanager_secret.platform.arn}:"
        assert item["valueFrom"].startswith(prefix), item
        json_key = item["valueFrom"][len(prefix) :].split(":")[0]
        assert json_key in SECRET_JSON_KEYS, item

    services = tf_resources("aws_ecs_service")
    assert set(services) == {"webserver", "daemon", "code_server", "api", "mcp"}
    for name, service in services.items():
        assert service["launch_type"] == "FARGATE", name
        network = service["network_configuration"][0]
        assert network["assign_public_ip"] is False, name
        assert ref(network["subnets"]) == "var.private_subnet_ids", name
    assert services["daemon"]["desired_count"] == 1
    assert services["daemon"]["deployment_maximum_percent"] == 100
    assert ref(services["webserver"]["load_balancer"][0]["target_group_arn"]).startswith("aws_lb_target_group.")
    assert services["code_server"]["service_registries"]
    assert ref(services["api"]["load_balancer"][0]["target_group_arn"]) == "aws_lb_target_group.api.arn"
    assert list(locals_["services"]["api"]["command"])[:2] == ["nba-platform", "serve-api"]
    assert ref(services["mcp"]["load_balancer"][0]["target_group_arn"]) == "aws_lb_target_group.mcp.arn"
    assert list(locals_["services"]["mcp"]["command"])[:2] == ["nba-platform", "serve-mcp"]
    serving_url = next(i for i in environment if i["name"] == "NBA_SERVING_DB_URL")["value"]
    assert serving_url.startswith("postgresql://") and "sslmode=require" in serving_url


def test_terraform_outputs() -> None:
    outputs: dict[str, Any] = {}
    for block in tf_files()["outputs.tf"]["output"]:
        outputs.update(block)
    for name in ("alb_dns_name", "bucket_name", "rds_address", "secret_arn", "ecs_cluster_name"):
        assert name in outputs and outputs[name]["value"]


# ------------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore
# ------------------------------------------------------------------------------------------------
def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_base_user_install_and_command() -> None:
    instructions = _dockerfile_instructions()
    args = {
        rest.split("=", 1)[0]: rest.split("=", 1)[1].strip('"')
        for k, rest in instructions
        if k == "ARG" and "=" in rest
    }
    [base] = [rest for k, rest in instructions if k == "FROM"]
    if base.startswith("${"):
        base = args[base.strip("${}")]
    assert base == "python:3.11-slim"

    users = [rest for k, rest in instructions if k == "USER"]
    assert users, "no USER instruction"
    final_user = users[-1].split(":")[0]
    assert final_user not in ("root", "0"), final_user
    assert any(k == "RUN" and "useradd" in rest and final_user in rest for k, rest in instructions)
    user_index = max(i for i, (k, _) in enumerate(instructions) if k == "USER")
    assert all(k != "RUN" for k, _ in instructions[user_index:]), "RUN after dropping root"

    assert any(k == "RUN" and re.search(r"pip install \.(\s|$)", rest) for k, rest in instructions)
    copies = [rest for k, rest in instructions if k == "COPY"]
    assert any("workspace.yaml" in c and c.endswith("/opt/dagster/app/workspace.yaml") for c in copies)
    assert any(c.startswith("infra/dagster/dagster.yaml") for c in copies)
    expose = " ".join(rest for k, rest in instructions if k == "EXPOSE").split()
    assert "3000" in expose
    [cmd] = [rest for k, rest in instructions if k == "CMD"]
    assert json.loads(cmd) == CODE_SERVER_CMD
    envs = " ".join(rest for k, rest in instructions if k == "ENV")
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in envs
    for keyword, rest in instructions:
        if keyword in ("ENV", "ARG"):
            assert not SECRETISH_NAME.search(rest), f"secret-like {keyword}: {rest}"


def test_dockerignore_excludes_local_state() -> None:
    patterns = {
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    }
    for needed in (".venv", ".git", ".nba_home", "bench/results", "**/.env"):
        assert needed in patterns, needed
    assert any("__pycache__" in p for p in patterns)
    # never exclude what the image build copies
    for kept in ("infra", "infra/dagster", "pyproject.toml", "nba_platform"):
        assert kept not in patterns


# ------------------------------------------------------------------------------------------------
# No literal secrets anywhere in the deployment files
# ------------------------------------------------------------------------------------------------
_AWS_KEY_ID = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_AWS_SECRET = re.compile(r"(?i)aws_secret_access_key\W{1,4}[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_SLACK_HOOK = re.compile(r"hooks\.slack\.com/services/T[A-Za-z0-9]+/")
# `key = value` / `key: value` where the key names a credential. The value is a quoted string, a
# compose-style ${...} expression or a bare word.
_ASSIGNMENT = re.compile(
    r"""(?x)
    (?P<key>[A-Za-z_][\w.-]*)["']?
    \s*(?:=|:)\s*
    (?P<value>\$\{[^}\n]*\}\S*|"[^"\n]*"|'[^'\n]*'|[^\s,#}\]]+)?
    """
)
# In HCL and Python a bare word is an expression (var.x, local.y, a variable), never a literal.
_QUOTED_LITERALS_ONLY = (".tf", ".py")


def _allowed_value(value: str) -> bool:
    """True when `value` is not a literal credential."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if value in ("", "~", "null", "true", "false", "testing"):
        return True  # empty / YAML null / moto's documented dummy credentials
    if re.fullmatch(r"\.\.\.|\u2026|<[^<>]+>", value):
        return True  # documentation placeholder: ..., the ellipsis character, <placeholder>
    if value.startswith("${"):
        inner = value[2:].split("}", 1)[0]
        default = re.fullmatch(r"(\w+)(:?-)(.*)", inner)
        if default:  # compose variable with a default: only local placeholders are acceptable
            name, _, fallback = default.groups()
            return name.startswith("NBA_LOCAL_") and (fallback == "" or fallback.startswith("local-"))
        return True  # interpolation of a reference
    if value.startswith(("var.", "local.", "data.", "{", "[", "(", ":'")):
        return True  # references and structures, not literals
    return bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", value))  # the name of an environment variable


def _scan(text: str, path: Path) -> list[str]:
    problems = []
    for pattern in (_AWS_KEY_ID, _AWS_SECRET, _PRIVATE_KEY, _SLACK_HOOK):
        problems += [f"{path}: {m.group(0)[:12]}..." for m in pattern.finditer(text)]
    quoted_only = path.suffix in _QUOTED_LITERALS_ONLY
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("#", "--", "//")):
            continue
        for match in _ASSIGNMENT.finditer(line):
            if not SECRETISH_NAME.search(match.group("key")):
                continue
            value = match.group("value") or ""
            if quoted_only and not value.startswith(("'", '"')):
                continue
            if not _allowed_value(value):
                problems.append(f"{path}: {match.group('key')} = {value}")
    return problems


def _deployment_files() -> list[Path]:
    files = [p for p in INFRA.rglob("*") if p.is_file() and "/.terraform/" not in p.as_posix()]
    return sorted([*files, DOCKERFILE, DOCKERIGNORE])


def test_secret_scanner_catches_planted_secrets(tmp_path: Path) -> None:
    fake_key_id = "AKIA" + "Q" * 16
    fake_secret = "wJalrXUtnFEMI/K7MDENG/" + "b" * 18
    samples = [
        f'aws_access_key_id = "{fake_key_id}"',
        f"aws_secret_access_key: {fake_secret}",
        'password = "hunter2"',
        "DAGSTER_PG_PASSWORD: s3cr3t-value",
        "client_secret: 'abc123'",
        "POSTGRES_PASSWORD: ${NBA_LOCAL_POSTGRES_PASSWORD:-realpassword}",
        "-----BEGIN RSA " + "PRIVATE KEY-----",
        "https://hooks.slack.com/services/" + "T000/B000/XXXX",
    ]
    compose_like = tmp_path / "docker-compose.yml"
    for sample in samples:
        assert _scan(sample, compose_like), f"scanner missed: {sample}"
    assert _scan('  client_secret = "abc123"', tmp_path / "alb.tf")
    assert _scan('PASSWORD = "hunter2"', tmp_path / "seed.py")
    assert not _scan("  client_secret = var.oidc_client_secret", tmp_path / "alb.tf")
    assert not _scan("    SecretString=document,", tmp_path / "seed.py")
    for fine in (
        "password: {env: DAGSTER_PG_PASSWORD}",
        "client_secret = var.oidc_client_secret",
        "DAGSTER_PG_PASSWORD: ${NBA_LOCAL_DAGSTER_PG_PASSWORD:-local-dagster-pg}",
        'postgresqlPassword: ""',
    ):
        assert not _scan(fine, compose_like), f"false positive: {fine}"


def test_no_literal_secrets_in_deployment_files() -> None:
    files = _deployment_files()
    assert DOCKERFILE in files and COMPOSE_YAML in files and (TERRAFORM / "main.tf") in files
    problems: list[str] = []
    for path in files:
        problems += _scan(path.read_text(errors="replace"), path)
    assert not problems, "\n".join(problems)
