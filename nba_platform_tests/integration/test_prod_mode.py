"""Production mode against real services, with no in-process AWS patching.

The same assets as the embedded default run with `NBA_PLATFORM_ENV=prod`: the lake and landing
zone on S3 (moto_server over HTTP, reached only through endpoint_url), the Dagster instance's
run / event-log / schedule storage on a fresh PostgreSQL database via dagster-postgres (instance
built from a dagster.yaml modelled on infra/dagster/dagster.yaml, compute logs on S3), secrets
from Secrets Manager on moto, and the serving tables on another fresh PostgreSQL database.
Resources come from `build_resources(load_settings())`: the environment is chosen in one place.
"""

import gzip
import io
import json
import os
import uuid
from pathlib import Path

import boto3
import dagster as dg
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from botocore.exceptions import ClientError

from nba_platform.defs.ingestion.sensors import landing_zone_sensor
from nba_platform.lib.storage import Store
from nba_platform.resources.environment import build_resources
from nba_platform.resources.lake import ParquetLakeIOManager
from nba_platform.resources.landing import LandingZone, sample_root
from nba_platform.resources.secrets import SecretNotFound, Secrets
from nba_platform.settings import load_settings
from nba_platform_tests.defs.helpers import check_results, materialize_seasons
from nba_platform_tests.integration.conftest import PG_PORT, prod_env_vars
from nba_platform_tests.lake_files import read_lake, write_lake

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
INFRA_DAGSTER_YAML = REPO / "infra" / "dagster" / "dagster.yaml"
GAMELOG = Path(sample_root()) / "nba_api_league_gamelog_2021_2024" / "nba-gamelog-2022-23.csv.gz"
SEASON = "2022-23"
REGION = "us-east-1"
COMPUTE_LOG_PREFIX = "dagster/compute-logs"

# The season spine's tables for one league_game_log season (raw -> validated -> deduplicated).
SPINE_KEYS = [
    "raw/league_game_log",
    "tables/team_games_validated",
    "quarantine/team_games",
    "tables/team_games",
    "quarantine/team_games_dedup",
]


def set_prod_env(mp: pytest.MonkeyPatch, root: Path, env: dict) -> None:
    """Only what a test sets counts: no platform/AWS/Dagster settings from the outer environment,
    no stray .env from the working directory."""
    mp.chdir(root)
    for key in list(os.environ):
        if key.startswith(("NBA_", "MLFLOW_", "DAGSTER_PG_", "DAGSTER_COMPUTE_LOG_")) or key in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
        ):
            mp.delenv(key, raising=False)
    for key, value in env.items():
        mp.setenv(key, value)


def prod_instance(dagster_home: Path) -> dg.DagsterInstance:
    """The production instance file (infra/dagster/dagster.yaml), only the Postgres port taken from the test machine."""
    config = yaml.safe_load(INFRA_DAGSTER_YAML.read_text())
    config["storage"]["postgres"]["postgres_db"]["port"] = PG_PORT
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    boto3.DEFAULT_SESSION = None  # S3ComputeLogManager uses the default session: give it this env's
    return dg.DagsterInstance.from_config(str(dagster_home))


def aws_client(service: str, endpoint: str):
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def object_keys(s3, bucket: str, prefix: str = "") -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)


def read_parquet_object(s3, bucket: str, key: str) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())).to_pandas()


def all_rows_as_text(dsn: str) -> str:
    """Every row of every table of a database, as text (event log, runs, tags, asset records...)."""
    chunks = []
    with psycopg.connect(dsn) as con:
        tables = [r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        for table in tables:
            chunks += [r[0] for r in con.execute(f'SELECT t::text FROM "{table}" t').fetchall()]
    return "\n".join(chunks)


# ------------------------------------------------------------------------------------------------
# 1. The season spine in prod mode
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prod(moto_endpoint, make_postgres_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("prod")
    bucket = f"nba-prod-{uuid.uuid4().hex[:8]}"
    secret_id = f"nba-platform/prod-{uuid.uuid4().hex[:6]}"
    rds_password = f"rds-{uuid.uuid4().hex}"
    dagster_pg_password = f"dagster-pg-{uuid.uuid4().hex}"
    dagster_db, serving_db = make_postgres_db(), make_postgres_db()
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()

    mp = pytest.MonkeyPatch()
    previous_session = boto3.DEFAULT_SESSION
    instance = None
    try:
        env = prod_env_vars(
            moto_endpoint=moto_endpoint,
            root=root,
            dagster_home=dagster_home,
            bucket=bucket,
            secret_id=secret_id,
            dagster_db=dagster_db,
            serving_db_url=serving_db["url"],
            dagster_pg_password=dagster_pg_password,
            region=REGION,
            compute_log_prefix=COMPUTE_LOG_PREFIX,
        )
        set_prod_env(mp, root, env)

        s3 = aws_client("s3", moto_endpoint)
        s3.create_bucket(Bucket=bucket)
        aws_client("secretsmanager", moto_endpoint).create_secret(
            Name=secret_id,
            SecretString=json.dumps({"rds_password": rds_password, "dagster_pg_password": dagster_pg_password}),
        )

        settings = load_settings()
        resources = build_resources(settings)

        instance = prod_instance(dagster_home)

        # A file arrives in the S3 landing prefix; the landing sensor sees it on S3.
        landed = resources["landing"].accept(GAMELOG.name, GAMELOG.read_bytes())
        sensor_result = landing_zone_sensor(
            dg.build_sensor_context(instance=instance, resources={"landing": resources["landing"]})
        )
        for request in sensor_result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))

        spine = materialize_seasons([SEASON], resources, instance, raise_on_error=False)

        # Serving: predictions seeded in the lake (training models is out of scope here), then the
        # real `serving/published_predictions` asset upserts into Postgres with the password that
        # ServingDatabase fetches from Secrets Manager inside the run.
        team_games = read_lake(Store(settings.lake_uri, settings.aws_endpoint_url, REGION), "tables/team_games", SEASON)
        home = team_games[team_games["is_home"] == True].head(20)  # noqa: E712
        seeded = pd.DataFrame(
            {
                "game_id": home["game_id"],
                "game_date": home["game_date"],
                "season": home["season"],
                "season_type": home["season_type"],
                "home_team_id": home["team_id"],
                "away_team_id": home["opponent_id"],
                "p_home_win": 0.6,
                "elo_p_home_win": 0.55,
                "model_name": "nba_game_outcome",
                "model_version": 0,
                "top_factors": '[{"feature": "diff_elo_pre", "value": 40.0, "shap": 0.2}]',
            }
        )
        write_lake(
            Store(settings.lake_uri, settings.aws_endpoint_url, REGION), "serving/game_predictions", seeded, SEASON
        )
        serving = materialize_seasons(
            [SEASON],
            resources,
            instance,
            raise_on_error=False,
            selection=dg.AssetSelection.assets(dg.AssetKey(["serving", "published_predictions"])),
        )

        yield {
            "settings": settings,
            "resources": resources,
            "instance": instance,
            "s3": s3,
            "bucket": bucket,
            "landed": landed,
            "sensor_result": sensor_result,
            "spine": spine,
            "serving": serving,
            "dagster_db": dagster_db,
            "serving_db": serving_db,
            "dagster_home": dagster_home,
            "root": root,
            "secrets": [rds_password, dagster_pg_password],
            "seeded": seeded,
        }
    finally:
        if instance is not None:
            instance.dispose()
        boto3.DEFAULT_SESSION = previous_session
        mp.undo()


def test_prod_environment_is_chosen_in_settings_and_wires_real_services(prod):
    s, r, instance = prod["settings"], prod["resources"], prod["instance"]
    assert s.env == "prod"
    assert r["secrets"].source == "aws" and r["secrets"].endpoint_url == s.aws_endpoint_url
    assert r["io_manager"].root == f"s3://{prod['bucket']}/lake" and r["io_manager"].endpoint_url == s.aws_endpoint_url
    assert r["landing"].uri == f"s3://{prod['bucket']}/landing" and r["landing"].include_sample is False
    assert r["serving_db"].dialect == "postgres" and r["serving_db"].password_key == "rds_password"
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"


def test_landed_file_and_sensor_on_s3(prod):
    s3, bucket = prod["s3"], prod["bucket"]
    keys = object_keys(s3, bucket, "landing/")
    assert [k for k in keys if not k.startswith("landing/.landing_index/")] == [f"landing/{GAMELOG.name}"]
    # the sensor indexed the file it parsed (raw assets then read only their own files): one entry, never a landed file
    assert len(keys) == 2 and [f.name for f in prod["resources"]["landing"].list_files()] == [GAMELOG.name]
    body = s3.get_object(Bucket=bucket, Key=f"landing/{GAMELOG.name}")["Body"].read()
    assert gzip.decompress(body) == gzip.decompress(GAMELOG.read_bytes())
    # landing same bytes again is a no-op
    assert prod["resources"]["landing"].accept(GAMELOG.name, GAMELOG.read_bytes()) == prod["landed"]
    result = prod["sensor_result"]
    assert [r.partition_key for r in result.run_requests] == [SEASON]
    assert SEASON in prod["instance"].get_dynamic_partitions("season")


def test_season_spine_materializes_with_every_blocking_check_passing(prod):
    result = prod["spine"]
    failures = [e.message for e in result.all_events if e.is_failure]
    assert result.success, failures
    keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert set(SPINE_KEYS) <= keys
    checks = check_results(result)
    assert {"team_games_validated_contract", "team_games_contract"} <= set(checks), checks
    assert len(checks) >= 6 and all(checks.values()), checks
    assert all(e.severity == dg.AssetCheckSeverity.ERROR for e in result.get_asset_check_evaluations())
    rows = {
        e.asset_key.to_user_string(): e.materialization.metadata["rows_written"].value
        for e in result.get_asset_materialization_events()
        if "rows_written" in e.materialization.metadata
    }
    assert rows["raw/league_game_log"] == 2460 and rows["tables/team_games"] == 2460


def test_parquet_partitions_are_in_the_moto_bucket_and_read_back(prod):
    s3, bucket = prod["s3"], prod["bucket"]
    keys = object_keys(s3, bucket, "lake/")
    for key in SPINE_KEYS:
        assert f"lake/{key}/season={SEASON}/data.parquet" in keys, keys
    assert not [k for k in keys if "/." in k or ".tmp" in k], keys  # no temp or partial objects
    home = prod["settings"].home
    assert not (home / "lake").exists() and not (home / "landing").exists()  # nothing went to local disk
    raw = read_parquet_object(s3, bucket, f"lake/raw/league_game_log/season={SEASON}/data.parquet")
    team_games = read_parquet_object(s3, bucket, f"lake/tables/team_games/season={SEASON}/data.parquet")
    assert len(raw) == 2460 and len(team_games) == 2460
    assert (team_games["season_type"] == "regular").all()
    assert not team_games.duplicated(["game_id", "team_id"]).any()
    assert len(read_parquet_object(s3, bucket, f"lake/quarantine/team_games/season={SEASON}/data.parquet")) == 0
    # and through the IO manager, as a downstream step would load it
    io_manager = prod["resources"]["io_manager"]
    loaded = io_manager.load_input(
        dg.build_input_context(
            asset_key=dg.AssetKey(["tables", "team_games"]),
            partition_key=SEASON,
            asset_partitions_def=dg.DynamicPartitionsDefinition(name="season"),
            instance=prod["instance"],
        )
    )
    assert len(loaded[SEASON]) == 2460


def test_run_records_are_in_the_postgres_event_log(prod):
    instance = prod["instance"]
    run_ids = {prod["spine"].run_id, prod["serving"].run_id}
    assert {r.run_id for r in instance.get_runs()} == run_ids
    with psycopg.connect(prod["dagster_db"]["dsn"]) as con:
        runs = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
        events = dict(con.execute("SELECT run_id, count(*) FROM event_logs GROUP BY run_id").fetchall())
        materialized = {r[0] for r in con.execute("SELECT asset_key FROM asset_keys").fetchall()}
    assert runs == dict.fromkeys(run_ids, "SUCCESS")
    assert all(events.get(run_id, 0) > 5 for run_id in run_ids) and sum(events.values()) > 100, events
    assert json.dumps(["tables", "team_games"]) in materialized
    latest = instance.get_latest_materialization_event(dg.AssetKey(["tables", "team_games"]))
    assert latest is not None and latest.run_id == prod["spine"].run_id


def test_serving_tables_published_to_postgres_with_password_from_secrets_manager(prod):
    result = prod["serving"]
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    with psycopg.connect(prod["serving_db"]["dsn"]) as con:
        games = con.execute("SELECT count(*) FROM games WHERE season = %s", (SEASON,)).fetchone()[0]
        predictions = con.execute("SELECT count(*) FROM game_predictions").fetchone()[0]
    assert games == 1230 and predictions == len(prod["seeded"])
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["database"].value == f"postgresql://127.0.0.1:5432/{prod['serving_db']['name']}"


def test_no_secret_value_in_event_log_metadata_or_captured_logs(prod):
    instance, secrets = prod["instance"], prod["secrets"]
    # every row of the Dagster database: runs, tags, event log (messages, metadata), asset records
    dagster_text = all_rows_as_text(prod["dagster_db"]["dsn"])
    assert prod["spine"].run_id in dagster_text and "rows_written" in dagster_text
    # every event of both runs, as the instance returns them
    event_text = "\n".join(
        dg.serialize_value(entry)
        for run_id in (prod["spine"].run_id, prod["serving"].run_id)
        for entry in instance.all_logs(run_id)
    )
    # captured stdout/stderr of the steps, as uploaded by the S3 compute log manager
    s3, bucket = prod["s3"], prod["bucket"]
    log_keys = object_keys(s3, bucket, COMPUTE_LOG_PREFIX + "/")
    assert log_keys, "no captured logs reached S3"
    captured = "\n".join(
        s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode("utf-8", "replace") for k in log_keys
    )
    # anything the run left on local disk (DAGSTER_HOME, NBA_HOME)
    local = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in prod["root"].rglob("*") if p.is_file())
    for secret in secrets:
        for name, text in [
            ("dagster db", dagster_text),
            ("event log", event_text),
            ("captured logs", captured),
            ("local files", local),
        ]:
            assert secret not in text, f"a secret value leaked into the {name}"


# ------------------------------------------------------------------------------------------------
# 2. Atomic writes and S3 semantics of the Store / lake / landing zone
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def bucket(aws_env):
    name = f"nba-store-{uuid.uuid4().hex[:8]}"
    aws_client("s3", aws_env).create_bucket(Bucket=name)
    return name


def frame(version: int, n: int = 50) -> pd.DataFrame:
    return pd.DataFrame(
        {"game_id": [f"00223{i:05d}" for i in range(n)], "pts": [100 + version] * n, "version": [version] * n}
    )


def test_failed_conversion_leaves_previous_partition_intact(aws_env, bucket):
    s3 = aws_client("s3", aws_env)
    io_manager = ParquetLakeIOManager(root=f"s3://{bucket}/lake", endpoint_url=aws_env, region=REGION)
    parts = dg.StaticPartitionsDefinition(["2021-22", "2022-23"])
    key = dg.AssetKey(["tables", "team_games"])

    def output(obj):
        ctx = dg.build_output_context(
            asset_key=key,
            asset_partitions_def=parts,
            asset_partition_key_range=dg.PartitionKeyRange("2021-22", "2022-23"),
        )
        io_manager.handle_output(ctx, obj)

    output({"2021-22": frame(1), "2022-23": frame(1)})
    before = object_keys(s3, bucket)
    assert before == [
        "lake/tables/team_games/season=2021-22/data.parquet",
        "lake/tables/team_games/season=2022-23/data.parquet",
    ]

    bad = frame(2)
    bad["pts"] = bad["pts"].astype(object)
    bad.loc[25, "pts"] = "not a number"  # Arrow conversion of this partition raises
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        output({"2021-22": frame(2), "2022-23": bad})
    assert object_keys(s3, bucket) == before  # nothing partial, nothing temporary
    # every partition is converted before any is written: both keep their whole old version
    for key in before:
        old = read_parquet_object(s3, bucket, key)
        assert len(old) == 50 and (old["version"] == 1).all()


def test_write_failing_mid_way_leaves_no_partial_object(aws_env, bucket, monkeypatch):
    s3 = aws_client("s3", aws_env)
    store = Store(f"s3://{bucket}/lake", endpoint_url=aws_env, region=REGION)
    store.write_table("t/2022-23.parquet", pa.Table.from_pandas(frame(1)))
    real_write_table = pq.write_table

    def write_half_then_fail(table, where, **kwargs):
        tmp = io.BytesIO()
        real_write_table(table, tmp, **kwargs)
        where.write(tmp.getvalue()[: len(tmp.getvalue()) // 2])
        raise OSError("disk full (simulated mid-write)")

    monkeypatch.setattr(pq, "write_table", write_half_then_fail)  # storage imports pyarrow.parquet at call time
    with pytest.raises(OSError, match="simulated"):
        store.write_table("t/2022-23.parquet", pa.Table.from_pandas(frame(2)))
    with pytest.raises(OSError, match="simulated"):
        store.write_table("t/2023-24.parquet", pa.Table.from_pandas(frame(2)))
    monkeypatch.undo()

    assert object_keys(s3, bucket) == ["lake/t/2022-23.parquet"]
    assert not store.exists("t/2023-24.parquet")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="lake/t/2023-24.parquet")
    assert (store.read_table("t/2022-23.parquet").to_pandas()["version"] == 1).all()
    # a successful rewrite replaces the object whole
    store.write_table("t/2022-23.parquet", pa.Table.from_pandas(frame(3, n=7)))
    assert read_parquet_object(s3, bucket, "lake/t/2022-23.parquet")["version"].tolist() == [3] * 7


def test_store_listing_semantics_on_s3(aws_env, bucket):
    s3 = aws_client("s3", aws_env)
    store = Store(f"s3://{bucket}/landing", endpoint_url=aws_env, region=REGION)
    assert store.list() == [] and store.list("nothing/here") == []  # missing prefixes are empty, not errors
    store.write_bytes("a.csv", b"x,y\n1,2\n")
    store.write_bytes("sub/b.csv", b"x,y\n3,4\n")
    store.write_bytes(".hidden.csv", b"x\n")
    store.write_bytes("gone/c.csv", b"x\n")
    store.delete("gone/c.csv")  # pyarrow leaves a 'gone/' directory marker behind
    s3.put_object(Bucket=bucket, Key="elsewhere/d.csv", Body=b"x\n")  # outside the store's prefix
    s3.put_object(Bucket=bucket, Key="landing-other/e.csv", Body=b"x\n")  # shares the prefix's first letters
    assert [f.path for f in store.list()] == ["a.csv", "sub/b.csv"]
    assert [f.path for f in store.list("sub")] == ["sub/b.csv"]
    assert store.exists("sub/b.csv") and not store.exists("sub") and not store.exists("missing.csv")
    assert store.read_bytes("sub/b.csv") == b"x,y\n3,4\n"
    info = store.list("sub")[0]
    assert info.size == 8 and info.mtime_ns > 0
    # a store at the bucket root
    assert "landing/a.csv" in [f.path for f in Store(f"s3://{bucket}", endpoint_url=aws_env, region=REGION).list()]

    zone = LandingZone(uri=f"s3://{bucket}/landing", include_sample=False, endpoint_url=aws_env, region=REGION)
    s3.put_object(Bucket=bucket, Key="landing/notes.txt", Body=b"not a data file")
    assert [f.name for f in zone.list_files()] == ["a.csv", "sub/b.csv"]


def test_missing_bucket_is_a_clear_error(aws_env):
    missing = f"nba-missing-{uuid.uuid4().hex[:8]}"
    store = Store(f"s3://{missing}/lake", endpoint_url=aws_env, region=REGION)
    with pytest.raises(FileNotFoundError, match=f"S3 bucket '{missing}' does not exist"):
        store.list()
    with pytest.raises(FileNotFoundError, match=f"S3 bucket '{missing}' does not exist"):
        store.write_bytes("x.parquet", b"data")
    zone = LandingZone(uri=f"s3://{missing}/landing", include_sample=False, endpoint_url=aws_env, region=REGION)
    with pytest.raises(FileNotFoundError, match=missing):
        zone.list_files()


# ------------------------------------------------------------------------------------------------
# 3. Secrets
# ------------------------------------------------------------------------------------------------
def test_secrets_from_secrets_manager_on_moto(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # the resource's endpoint_url alone must reach moto
    secret_id = f"nba-platform/test-{uuid.uuid4().hex[:6]}"
    values = {"rds_password": f"pw-{uuid.uuid4().hex}", "api_token": f"tok-{uuid.uuid4().hex}"}
    aws_client("secretsmanager", aws_env).create_secret(Name=secret_id, SecretString=json.dumps(values))

    secrets = Secrets(source="aws", secret_id=secret_id, region=REGION, endpoint_url=aws_env)
    assert secrets.get("rds_password") == values["rds_password"]
    assert secrets.get_optional("nope") is None

    with pytest.raises(SecretNotFound) as missing_key:
        secrets.get("dagster_pg_password")
    message = str(missing_key.value)
    assert "dagster_pg_password" in message and secret_id in message
    assert not any(v in message for v in values.values())
    assert not any(v in repr(missing_key.value) for v in values.values())

    with pytest.raises(SecretNotFound) as missing_secret:
        Secrets(source="aws", secret_id=secret_id + "-absent", region=REGION, endpoint_url=aws_env).get("rds_password")
    assert secret_id + "-absent" in str(missing_secret.value)


def test_secrets_from_environment(monkeypatch):
    monkeypatch.setenv("RDS_PASSWORD", "from-env")
    monkeypatch.delenv("NBA_TEST_ABSENT_KEY", raising=False)
    secrets = Secrets(source="env")
    assert secrets.get("rds_password") == "from-env"
    with pytest.raises(SecretNotFound, match="NBA_TEST_ABSENT_KEY"):
        secrets.get("nba_test_absent_key")
