"""Backups against real services: PostgreSQL on 127.0.0.1:5432 (pg_dump / pg_restore / scratch
databases), moto_server as the S3 endpoint (a separate process, reached over HTTP by boto3), and
the embedded SQLite default through the real `nba-platform` CLI. Nothing is patched in-process."""

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import uuid

import boto3
import dagster as dg
import pandas as pd
import psycopg
import pytest

from nba_platform.defs.ops.backups import BACKUP_ASSET_KEY, daily_database_backup, database_backup, database_backup_job
from nba_platform.lib import backup
from nba_platform.operations import backups
from nba_platform.resources.backups import DatabaseBackups
from nba_platform.resources.secrets import Secrets
from nba_platform.resources.serving_db import ServingDatabase

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 25)  # a Wednesday
SERVING_PW, DAGSTER_PW = (
    "s3cr3t-serving-pw-7f1c",
    "s3cr3t-dagster-pw-91ab",
)  # trust auth ignores them; they must never leak


def predictions(n=3):
    return pd.DataFrame(
        {
            "game_id": [f"00223000{i:02d}" for i in range(n)],
            "season": ["2023-24"] * n,
            "game_date": pd.to_datetime(["2023-10-24"] * n),
            "home_team_id": [1610612743] * n,
            "away_team_id": [1610612747] * n,
            "p_home_win": [0.6 + i / 100 for i in range(n)],
            "elo_p_home_win": [0.55] * n,
            "model_name": ["nba_game_outcome"] * n,
            "model_version": [1] * n,
            "published_at": pd.to_datetime(["2026-11-25T10:00:00"] * n),
            "top_factors": ['[{"feature": "diff_elo_pre", "value": 85.2, "shap": 0.31}]'] * n,
        }
    )


def fill_serving(db_url: str, dsn: str) -> None:
    """The real serving schema (published like the platform does) plus a table without a primary key."""
    ServingDatabase(url=db_url, secrets=Secrets(source="env")).publish("game_predictions", predictions())
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CREATE TABLE notes (note text, at timestamptz)")
        con.execute("INSERT INTO notes VALUES ('first', '2026-11-24T10:00:00Z'), ('second', NULL)")


def table_rows(dsn: str) -> dict[str, list]:
    out = {}
    with psycopg.connect(dsn) as con:
        for _schema, table in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 2"
        ).fetchall():
            out[table] = con.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2').fetchall()
    return out


@pytest.fixture
def bucket(aws_env):
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    name = f"nba-backups-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return s3, name


@pytest.fixture
def new_db_name(postgres_admin_dsn):
    """A database name nobody created yet (dropped afterwards if a test created it)."""
    names = []

    def _new():
        names.append(f"nba_test_{uuid.uuid4().hex[:10]}")
        return names[-1]

    yield _new
    with psycopg.connect(postgres_admin_dsn, autocommit=True) as con:
        for n in names:
            con.execute(f"DROP DATABASE IF EXISTS {n} WITH (FORCE)")


def s3_keys(s3, bucket, prefix="backups/") -> list[str]:
    return sorted(
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in p.get("Contents", [])
    )


def serving_only_plan(postgres_db, bucket_name, endpoint) -> backups.BackupPlan:
    store = backups.open_backup_store(f"s3://{bucket_name}/backups", endpoint, "us-east-1")
    return backups.BackupPlan(store, [backups.PostgresDatabase("serving", postgres_db["url"])])


def test_scheduled_run_backs_up_both_databases_and_the_lake_verified(
    postgres_db, new_db_name, bucket, aws_env, monkeypatch
):
    """The Dagster asset through its job, with the Dagster instance itself on Postgres (the storage
    being backed up is written by the very run backing it up), the lake on S3."""
    s3, name = bucket
    fill_serving(postgres_db["url"], postgres_db["dsn"])
    for key, body in (
        ("lake/tables/team_games/2023-24.parquet", b"p" * 1000),
        ("lake/raw/x/2023-24.parquet", b"q" * 10),
    ):
        s3.put_object(Bucket=name, Key=key, Body=body)
    monkeypatch.setenv("RDS_PASSWORD", SERVING_PW)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", DAGSTER_PW)
    dagster_db = new_db_name()
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as con:
        con.execute(f"CREATE DATABASE {dagster_db}")
    storage = {
        "postgres": {
            "postgres_db": {
                "username": "postgres",
                "password": "unused",
                "hostname": "127.0.0.1",
                "db_name": dagster_db,
                "port": 5432,
                "scheme": "postgresql+psycopg2",
            }
        }
    }
    resource = DatabaseBackups(
        backup_uri=f"s3://{name}/backups",
        lake_uri=f"s3://{name}/lake",
        endpoint_url=aws_env,
        region="us-east-1",
        serving_db_url=postgres_db["url"],
        serving_password_key="rds_password",
        dagster_db_url=f"postgresql://postgres@127.0.0.1:5432/{dagster_db}",
        dagster_password_key="dagster_pg_password",
        secrets=Secrets(source="env"),
    )
    defs = dg.Definitions(
        assets=[database_backup],
        jobs=[database_backup_job],
        schedules=[daily_database_backup],
        resources={"backups": resource},
    )
    with dg.instance_for_test(overrides={"storage": storage}) as instance:
        result = defs.resolve_job_def("database_backup").execute_in_process(
            instance=instance, tags={"dagster/scheduled_execution_time": f"{DAY.isoformat()}T04:30:00+00:00"}
        )
        assert result.success
        logs = "\n".join(str(e.user_message) + str(e.dagster_event) for e in instance.all_logs(result.run_id))
    [mat] = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in mat.materialization.metadata.items()}

    prefix = f"backups/daily/{DAY.isoformat()}/"
    assert s3_keys(s3, name) == sorted(
        prefix + k for k in ("dagster.dump", "lake_manifest.jsonl.gz", "manifest.json", "serving.dump")
    )
    assert meta["backup_date"] == DAY.isoformat() and meta["verified"] is True
    assert sorted(meta["keys_written"]) == [f"s3://{name}/{k}" for k in s3_keys(s3, name)]
    assert meta["rows_verified"]["serving"] == {"tables": 5, "rows": 5}
    assert meta["rows_verified_per_table"]["serving"] == {
        "public.game_forecast_retirements": 0,  # created empty by the publish with game_forecasts
        "public.game_forecasts": 0,  # created empty by the publish (append-only, read by the API)
        "public.game_predictions": 3,
        "public.model_champions": 0,
        "public.notes": 2,
    }
    assert (
        meta["rows_verified"]["dagster"]["tables"] > 10
        and meta["rows_verified_per_table"]["dagster"]["public.runs"] >= 1
    )
    assert meta["lake_objects"] == 2 and meta["lake_bytes"] == 1010
    assert meta["retention_deleted"] == []

    manifest = backup.BackupManifest.from_json(s3.get_object(Bucket=name, Key=prefix + "manifest.json")["Body"].read())
    assert manifest.artifact("serving").tables["public.game_predictions"].rows == 3
    lake = backup.parse_lake_manifest(s3.get_object(Bucket=name, Key=prefix + "lake_manifest.jsonl.gz")["Body"].read())
    assert [(o.path, o.size, bool(o.etag)) for o in lake] == [
        ("raw/x/2023-24.parquet", 10, True),
        ("tables/team_games/2023-24.parquet", 1000, True),
    ]

    everything = logs + repr(meta) + manifest.to_json().decode()
    assert SERVING_PW not in everything and DAGSTER_PW not in everything
    # no scratch database is left behind
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres") as con:
        assert con.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'scratch\\_%'").fetchone()[0] == 0


def test_schedule_and_job_wiring():
    assert daily_database_backup.job_name == "database_backup"
    assert daily_database_backup.cron_schedule == "30 4 * * *" and daily_database_backup.execution_timezone == "UTC"
    assert daily_database_backup.default_status == dg.DefaultScheduleStatus.RUNNING
    spec = database_backup.specs_by_key[BACKUP_ASSET_KEY]
    assert spec.group_name == "ops" and spec.owners and spec.kinds

    # A job that merely selects every asset (build_all) does not take a backup.
    @dg.asset(group_name="tables")
    def other():
        return 1

    defs = dg.Definitions(
        assets=[database_backup, other],
        jobs=[dg.define_asset_job("everything", dg.AssetSelection.all())],
        resources={
            "backups": DatabaseBackups(
                backup_uri="/nonexistent",
                lake_uri="",
                serving_db_url="sqlite:///nope",
                dagster_db_url="sqlite:///nope",
                secrets=Secrets(source="env"),
            ),
            "io_manager": dg.mem_io_manager,
        },
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("everything").execute_in_process(instance=instance)
    assert result.success
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [dg.AssetKey("other")]


def test_corrupted_dump_is_detected_and_never_restored(postgres_db, new_db_name, bucket, aws_env):
    s3, name = bucket
    fill_serving(postgres_db["url"], postgres_db["dsn"])
    plan = serving_only_plan(postgres_db, name, aws_env)
    backups.run_backup(plan, DAY, log=lambda m: None)  # verified when taken

    key = f"backups/daily/{DAY.isoformat()}/serving.dump"
    data = bytearray(s3.get_object(Bucket=name, Key=key)["Body"].read())
    # The data blocks follow the TOC; damage the last third, where the compressed rows are.
    start, end = int(len(data) * 0.67), len(data) - 16
    data[start:end] = bytes(b ^ 0xFF for b in data[start:end])
    s3.put_object(Bucket=name, Key=key, Body=bytes(data))

    with pytest.raises(backups.BackupVerificationError, match=r"serving.dump is corrupt: sha256 of the stored object"):
        backups.verify_backup(plan, DAY, log=lambda m: None)
    # Without the checksum, the restore itself refuses the damaged archive.
    with pytest.raises(backups.BackupVerificationError, match=r"does not restore: .*pg_restore exited"):
        backups.verify_backup(plan, DAY, check_sha=False, log=lambda m: None)
    # ... and a restore restores nothing (the CLI's message is checked in the embedded test).
    target = new_db_name()
    with pytest.raises(backups.BackupVerificationError, match=r"is corrupt: sha256 .* nothing was restored"):
        backups.restore_backup(plan.store, DAY, f"postgresql://postgres@127.0.0.1:5432/{target}")
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres") as con:
        assert con.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (target,)).fetchone()[0] == 0


def test_a_dump_that_restores_to_different_rows_fails_verification(postgres_db, tmp_path):
    """The row comparison itself: a dump of other data than the source's snapshot is caught."""
    fill_serving(postgres_db["url"], postgres_db["dsn"])
    db = backups.PostgresDatabase("serving", postgres_db["url"])
    stats = db.dump(tmp_path / "serving.dump")
    with psycopg.connect(postgres_db["dsn"], autocommit=True) as con:
        con.execute("UPDATE game_predictions SET p_home_win = 0.99 WHERE game_id = '0022300001'")
    db.dump(tmp_path / "changed.dump")
    sha = backup.sha256_file(tmp_path / "changed.dump")
    with pytest.raises(backups.BackupVerificationError, match=r"public.game_predictions: row checksum differs"):
        backups.verify_artifact(db, tmp_path / "changed.dump", "changed.dump", sha, stats)


def run_cli(args, env):
    return subprocess.run(
        [sys.executable, "-m", "nba_platform.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def prod_env(bucket_name, endpoint) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "DAGSTER_"))}
    env.update(
        {
            "NBA_PLATFORM_ENV": "prod",
            "NBA_LAKE_URI": f"s3://{bucket_name}/lake",
            "NBA_LANDING_URI": f"s3://{bucket_name}/landing",
            "NBA_BACKUP_URI": f"s3://{bucket_name}/backups",
            "AWS_ENDPOINT_URL": endpoint,
        }
    )
    return env


def test_restore_command_rebuilds_the_database(postgres_db, new_db_name, bucket, aws_env):
    s3, name = bucket
    fill_serving(postgres_db["url"], postgres_db["dsn"])
    backups.run_backup(serving_only_plan(postgres_db, name, aws_env), DAY, log=lambda m: None)
    with psycopg.connect(postgres_db["dsn"], autocommit=True) as con:  # the disaster
        con.execute("DROP TABLE game_predictions, notes")

    target = new_db_name()
    url = f"postgresql://postgres@127.0.0.1:5432/{target}"
    proc = run_cli(["restore", "--date", DAY.isoformat(), "--target-db", url], prod_env(name, aws_env))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 tables, 5 rows" in proc.stdout
    restored = table_rows(f"host=127.0.0.1 port=5432 user=postgres dbname={target}")
    assert [r[0] for r in restored["game_predictions"]] == ["0022300000", "0022300001", "0022300002"]
    assert [r[0] for r in restored["notes"]] == ["first", "second"]
    served = ServingDatabase(url=url, secrets=Secrets(source="env")).query(
        "SELECT p_home_win FROM game_predictions ORDER BY game_id"
    )
    assert served["p_home_win"].tolist() == [0.6, 0.61, 0.62]

    store = backups.open_backup_store(f"s3://{name}/backups", aws_env, "us-east-1")
    with pytest.raises(backups.BackupError, match=r"already holds 5 table\(s\)"):  # never overwrites
        backups.restore_backup(store, DAY, url)
    with pytest.raises(
        backups.BackupError, match=f"no complete backup for 2026-11-01 .*complete backups: {DAY.isoformat()}"
    ):
        backups.restore_backup(store, dt.date(2026, 11, 1), url)


def test_retention_deletes_old_dated_prefixes(postgres_db, bucket, aws_env):
    s3, name = bucket
    fill_serving(postgres_db["url"], postgres_db["dsn"])
    # 1 Oct .. 24 Nov: complete earlier backups; 15 Sep: an old failed attempt (no manifest).
    for day in (dt.date(2026, 10, 1) + dt.timedelta(n) for n in range(55)):
        for f in ("serving.dump", "manifest.json"):
            s3.put_object(Bucket=name, Key=f"backups/daily/{day.isoformat()}/{f}", Body=b"old")
    s3.put_object(Bucket=name, Key="backups/daily/2026-09-15/serving.dump", Body=b"partial")
    s3.put_object(Bucket=name, Key="backups/README.txt", Body=b"not a dated backup")

    report = backups.run_backup(serving_only_plan(postgres_db, name, aws_env), DAY, log=lambda m: None)

    remaining = sorted({k.split("/")[2] for k in s3_keys(s3, name, "backups/daily/")})
    assert remaining == [
        "2026-11-01",
        "2026-11-08",
        "2026-11-15",  # Sundays kept as weekly backups
        "2026-11-19",
        "2026-11-20",
        "2026-11-21",
        "2026-11-22",
        "2026-11-23",
        "2026-11-24",
        "2026-11-25",
    ]
    assert dt.date(2026, 9, 15) in report.retention.delete and dt.date(2026, 10, 25) in report.retention.delete
    assert report.deleted_keys == 2 * (55 - 9) + 1
    assert "backups/README.txt" in s3_keys(s3, name)
    assert report.lake_diff is None  # the seeded backups have no lake manifest to compare with


def test_embedded_default_backup_and_restore_through_the_cli(tmp_path):
    """NBA_PLATFORM_ENV=local: SQLite serving DB + SQLite Dagster storage, backups to $NBA_HOME/backups."""
    home = tmp_path / "home"
    serving = home / "serving" / "serving.db"
    ServingDatabase(url=f"sqlite:///{serving}", secrets=Secrets(source="env")).publish(
        "game_predictions", predictions(4)
    )
    (home / "lake" / "tables").mkdir(parents=True)
    (home / "lake" / "tables" / "a.parquet").write_bytes(b"a" * 42)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "DAGSTER_", "AWS_"))}
    env.update({"NBA_PLATFORM_ENV": "local", "NBA_HOME": str(home), "NBA_INCLUDE_SAMPLE": "false"})

    proc = run_cli(["backup"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout and "serving 4 tables / 4 rows" in proc.stdout
    today = dt.datetime.now(dt.UTC).date().isoformat()
    day_dir = home / "backups" / "daily" / today
    assert sorted(p.name for p in day_dir.iterdir()) == [
        "dagster.sqlite.tar.gz",
        "lake_manifest.jsonl.gz",
        "manifest.json",
        "serving.sqlite.tar.gz",
    ]
    manifest = backup.BackupManifest.from_json((day_dir / "manifest.json").read_bytes())
    assert manifest.artifact("serving").tables["serving.db:game_predictions"].rows == 4
    assert "history/runs.db:runs" in manifest.artifact("dagster").tables
    assert backup.parse_lake_manifest((day_dir / "lake_manifest.jsonl.gz").read_bytes())[0].sha256 is not None

    target = tmp_path / "restored" / "serving.db"
    proc = run_cli(["restore", "--date", today, "--target-db", f"sqlite:///{target}"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with sqlite3.connect(target) as con:
        assert con.execute("SELECT count(*), sum(p_home_win) FROM game_predictions").fetchone() == (
            4,
            pytest.approx(0.6 * 4 + 0.06),
        )
    dagster_dir = tmp_path / "restored_dagster"
    restored = backups.restore_backup(
        backups.open_backup_store(str(home / "backups")),
        dt.date.fromisoformat(today),
        f"sqlite:///{dagster_dir}",
        database="dagster",
    )
    assert (dagster_dir / "history" / "runs.db").is_file() and restored.stats["history/runs.db:runs"].rows >= 1

    art = day_dir / "serving.sqlite.tar.gz"
    data = bytearray(art.read_bytes())
    data[len(data) // 2] ^= 0xFF
    art.write_bytes(bytes(data))
    with pytest.raises(backups.BackupVerificationError, match="is corrupt: sha256"):
        backups.restore_backup(
            backups.open_backup_store(str(home / "backups")),
            dt.date.fromisoformat(today),
            f"sqlite:///{tmp_path / 'again.db'}",
        )
    assert not (tmp_path / "again.db").exists()
    plan = backups.BackupPlan(
        backups.open_backup_store(str(home / "backups")),
        [backups.SqliteDatabase("serving", serving), backups.SqliteDatabase("dagster", home / "dagster")],
    )
    with pytest.raises(backups.BackupVerificationError, match="does not restore: .*unreadable archive"):
        backups.verify_backup(plan, dt.date.fromisoformat(today), check_sha=False, log=lambda m: None)


def test_disaster_recovery_doc_shows_the_tested_restore_command():
    from pathlib import Path

    from nba_platform.cli import main

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "operations" / "disaster-recovery.md").read_text()
    assert "    nba-platform restore --date YYYY-MM-DD --target-db URL\n" in doc
    assert "nba-platform restore --date YYYY-MM-DD --target-db URL" in (root / "README.md").read_text()
    # the documented flags are the CLI's (a bad date is rejected before anything is touched)
    assert main(["restore", "--date", "2026-13-45", "--target-db", "postgresql://x@127.0.0.1:5432/y"]) == 2
