"""Lake assets registered in the Glue Data Catalog, against moto_server's Glue and S3 over HTTP.

The bucket and the Glue database are created here with boto3, as Terraform creates them in AWS
(infra/terraform/s3.tf, glue.tf); the platform only creates and updates tables.
"""

import datetime as dt
import decimal
import io
import os
import uuid

import boto3
import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from nba_platform.resources.environment import build_resources
from nba_platform.resources.lake import ParquetLakeIOManager
from nba_platform.settings import load_settings

pytestmark = pytest.mark.integration

REGION = "us-east-1"
SEASONS = ["2022-23", "2023-24"]
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


@pytest.fixture
def lake(aws_env):
    """A fresh bucket and Glue database, and an IO manager registering into that database."""
    bucket, database = f"nba-glue-{uuid.uuid4().hex[:8]}", f"nba_test_{uuid.uuid4().hex[:8]}"
    s3, glue = client("s3", aws_env), client("glue", aws_env)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    glue.create_database(DatabaseInput={"Name": database, "LocationUri": f"s3://{bucket}/lake/"})
    io_manager = ParquetLakeIOManager(
        root=f"s3://{bucket}/lake", endpoint_url=aws_env, region=REGION, glue_database=database
    )
    return {"bucket": bucket, "database": database, "s3": s3, "glue": glue, "io_manager": io_manager}


def team_games(season: str, n: int = 3, **extra) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "game_id": pd.Series([f"0022{i:06d}" for i in range(n)], dtype="string[pyarrow]"),
            "season": pd.Series([season] * n, dtype="string[pyarrow]"),
            "game_date": pd.to_datetime([f"2023-01-0{i % 9 + 1}" for i in range(n)]),
            "team_id": pd.Series(range(1610612737, 1610612737 + n), dtype="Int64"),
            "is_home": pd.Series([i % 2 == 0 for i in range(n)], dtype="boolean"),
            "fg_pct": pd.Series([0.45] * n, dtype="Float64"),
            "start_day": [dt.date(2023, 1, 1)] * n,
            "salary_musd": [decimal.Decimal("12.50")] * n,
        }
    )
    for name, values in extra.items():
        frame[name] = values
    return frame


# `season` is the partition key (the folder names), not a column of the files
EXPECTED_COLUMNS = [
    ("game_id", "string"),
    ("game_date", "date"),
    ("team_id", "bigint"),
    ("is_home", "boolean"),
    ("fg_pct", "double"),
    ("start_day", "date"),
    ("salary_musd", "decimal(4,2)"),
]


def partitioned_asset(frames: dict):
    """tables/team_games, returning `frames[season]` for each season of the run."""

    @dg.asset(key=["tables", "team_games"], partitions_def=dg.StaticPartitionsDefinition(SEASONS))
    def team_games_asset(context: dg.AssetExecutionContext):
        return {season: frames[season] for season in context.partition_keys}

    return team_games_asset


def materialize(asset, io_manager, partition=None, raise_on_error=True):
    return dg.materialize(
        [asset], resources={"io_manager": io_manager}, partition_key=partition, raise_on_error=raise_on_error
    )


def output_metadata(result) -> dict:
    [event] = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def table(lake, name: str) -> dict:
    return lake["glue"].get_table(DatabaseName=lake["database"], Name=name)["Table"]


def version_count(lake, name: str) -> int:
    return len(lake["glue"].get_table_versions(DatabaseName=lake["database"], TableName=name)["TableVersions"])


def columns(t: dict) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]]


def object_keys(lake, prefix: str) -> list[str]:
    return sorted(
        o["Key"] for o in lake["s3"].list_objects_v2(Bucket=lake["bucket"], Prefix=prefix).get("Contents", [])
    )


def partitions(lake, name: str) -> dict[str, dict]:
    pages = lake["glue"].get_paginator("get_partitions").paginate(DatabaseName=lake["database"], TableName=name)
    return {p["Values"][0]: p for page in pages for p in page["Partitions"]}


def test_partitioned_asset_is_a_season_partitioned_table_over_its_folder(lake):
    frames = {s: team_games(s) for s in SEASONS}
    first = materialize(partitioned_asset(frames), lake["io_manager"], "2022-23")
    second = materialize(partitioned_asset(frames), lake["io_manager"], "2023-24")

    name = "tables__team_games"
    assert output_metadata(first)["glue_table"] == f"{lake['database']}.{name}"
    assert (output_metadata(first)["glue_table_change"], output_metadata(second)["glue_table_change"]) == (
        "created",
        "unchanged",
    )
    t = table(lake, name)
    sd = t["StorageDescriptor"]
    assert t["TableType"] == "EXTERNAL_TABLE" and t["PartitionKeys"] == [{"Name": "season", "Type": "string"}]
    assert t["Parameters"]["classification"] == "parquet"
    assert t["Parameters"]["nba_platform_layout"] == "hive_partitions"
    assert sd["Location"] == f"s3://{lake['bucket']}/lake/tables/team_games/"
    assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert columns(t) == EXPECTED_COLUMNS
    # Athena reads every object under the location: exactly one file per season folder, each
    # with every table column; the season is the folder's name
    under = object_keys(lake, "lake/tables/team_games/")
    assert under == [f"lake/tables/team_games/season={s}/data.parquet" for s in SEASONS]
    for key in under:
        data = pq.read_table(io.BytesIO(lake["s3"].get_object(Bucket=lake["bucket"], Key=key)["Body"].read()))
        assert data.column_names == [c for c, _ in EXPECTED_COLUMNS]
    assert version_count(lake, name) == 1
    # every season folder is a registered partition of the table, with the table's columns
    registered = partitions(lake, name)
    assert sorted(registered) == SEASONS
    for season, partition in registered.items():
        psd = partition["StorageDescriptor"]
        assert psd["Location"] == f"s3://{lake['bucket']}/lake/tables/team_games/season={season}/"
        assert [(c["Name"], c["Type"]) for c in psd["Columns"]] == EXPECTED_COLUMNS
        assert psd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert output_metadata(first)["glue_partitions"] == "1 created, 0 updated, 0 deleted, 0 unchanged"
    assert output_metadata(second)["glue_partitions"] == "1 created, 0 updated, 0 deleted, 1 unchanged"


def test_rewrites_are_idempotent_and_schema_changes_update_the_table(lake):
    name = "tables__team_games"
    frames = {s: team_games(s) for s in SEASONS}
    materialize(partitioned_asset(frames), lake["io_manager"], "2022-23")
    materialize(partitioned_asset(frames), lake["io_manager"], "2023-24")
    again = materialize(partitioned_asset(frames), lake["io_manager"], "2022-23")
    assert output_metadata(again)["glue_table_change"] == "unchanged"
    assert version_count(lake, name) == 1

    # a new column in the newest season: the table gains it (older files read it as NULL)
    frames["2023-24"] = team_games("2023-24", elo=[1500.0, 1510.0, 1490.0])
    added = materialize(partitioned_asset(frames), lake["io_manager"], "2023-24")
    assert output_metadata(added)["glue_table_change"] == "updated"
    assert columns(table(lake, name)) == [*EXPECTED_COLUMNS, ("elo", "double")]
    assert version_count(lake, name) == 2
    materialize(partitioned_asset(frames), lake["io_manager"], "2022-23")  # the column stays: 2023-24 has it
    assert columns(table(lake, name)) == [*EXPECTED_COLUMNS, ("elo", "double")] and version_count(lake, name) == 2

    # the last file with the column drops it: so does the table (and the partition it was padded into)
    frames["2023-24"] = team_games("2023-24")
    dropped = materialize(partitioned_asset(frames), lake["io_manager"], "2023-24")
    assert output_metadata(dropped)["partitions_rewritten_to_table_schema"] == ["2022-23"]
    assert columns(table(lake, name)) == EXPECTED_COLUMNS and version_count(lake, name) == 3

    # a wider number in one season widens the table: the other season's file is rewritten to it
    frames["2023-24"] = team_games("2023-24").assign(team_id=lambda f: f["team_id"].astype("float64"))
    widened = materialize(partitioned_asset(frames), lake["io_manager"], "2023-24")
    assert output_metadata(widened)["partitions_rewritten_to_table_schema"] == ["2022-23"]
    assert dict(columns(table(lake, name)))["team_id"] == "double" and version_count(lake, name) == 4
    for p in partitions(lake, name).values():
        assert {c["Name"]: c["Type"] for c in p["StorageDescriptor"]["Columns"]}["team_id"] == "double"

    # a type no table type reconciles with the other season's: loud failure, nothing written
    before = lake["s3"].get_object(Bucket=lake["bucket"], Key="lake/tables/team_games/season=2023-24/data.parquet")
    frames["2023-24"] = team_games("2023-24").assign(is_home=["yes", "no", "yes"])
    failed = materialize(partitioned_asset(frames), lake["io_manager"], "2023-24", raise_on_error=False)
    assert not failed.success
    error = failed.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "partitions 2023-24, 2022-23 have columns no single table type describes" in error and "is_home" in error
    after = lake["s3"].get_object(Bucket=lake["bucket"], Key="lake/tables/team_games/season=2023-24/data.parquet")
    assert after["ETag"] == before["ETag"]
    assert dict(columns(table(lake, name)))["team_id"] == "double" and version_count(lake, name) == 4


def test_a_partition_whose_folder_is_gone_is_deregistered(lake):
    frames = {s: team_games(s) for s in SEASONS}
    materialize(partitioned_asset(frames), lake["io_manager"], "2022-23")
    materialize(partitioned_asset(frames), lake["io_manager"], "2023-24")
    lake["s3"].delete_object(Bucket=lake["bucket"], Key="lake/tables/team_games/season=2022-23/data.parquet")
    again = materialize(partitioned_asset(frames), lake["io_manager"], "2023-24")
    assert output_metadata(again)["glue_partitions"] == "0 created, 0 updated, 1 deleted, 1 unchanged"
    assert sorted(partitions(lake, "tables__team_games")) == ["2023-24"]


def test_an_old_layout_file_is_refused_with_the_migration_command(lake):
    lake["s3"].put_object(Bucket=lake["bucket"], Key="lake/tables/team_games/2022-23.parquet", Body=b"PAR1")
    frames = {s: team_games(s) for s in SEASONS}
    result = materialize(partitioned_asset(frames), lake["io_manager"], "2023-24", raise_on_error=False)
    error = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "old lake layout" in error and "tables/team_games/2022-23.parquet" in error
    assert "nba-platform migrate-lake" in error
    assert object_keys(lake, "lake/tables/team_games/") == ["lake/tables/team_games/2022-23.parquet"]


def test_other_objects_in_an_asset_folder_are_refused(lake):
    # Athena would read them as rows of the table (e.g. an asset keyed under this one)
    lake["s3"].put_object(Bucket=lake["bucket"], Key="lake/tables/team_games/nested/2022-23.parquet", Body=b"PAR1")
    frames = {s: team_games(s) for s in SEASONS}
    result = materialize(partitioned_asset(frames), lake["io_manager"], "2022-23", raise_on_error=False)
    error = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert (
        "holds more than this asset's partition files" in error and "tables/team_games/nested/2022-23.parquet" in error
    )
    with pytest.raises(lake["glue"].exceptions.EntityNotFoundException):
        table(lake, "tables__team_games")


def test_unpartitioned_asset_is_a_symlink_table_over_its_single_file(lake):
    @dg.asset(key=["features", "elo_ratings"])
    def elo_ratings():
        return pd.DataFrame({"team_id": pd.Series([1, 2], dtype="Int64"), "elo": [1500.0, 1480.0]})

    result = materialize(elo_ratings, lake["io_manager"])
    name = "features__elo_ratings"
    assert output_metadata(result)["glue_table"] == f"{lake['database']}.{name}"
    t = table(lake, name)
    sd = t["StorageDescriptor"]
    manifest_folder = "lake/_glue_symlinks/features/elo_ratings/"
    assert sd["Location"] == f"s3://{lake['bucket']}/{manifest_folder}"
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert t["Parameters"]["classification"] == "parquet" and t["TableType"] == "EXTERNAL_TABLE"
    assert columns(t) == [("team_id", "bigint"), ("elo", "double")]
    # the manifest folder holds only the manifest, which lists the asset's file
    assert object_keys(lake, manifest_folder) == [f"{manifest_folder}manifest"]
    body = lake["s3"].get_object(Bucket=lake["bucket"], Key=f"{manifest_folder}manifest")["Body"].read().decode()
    assert body == f"s3://{lake['bucket']}/lake/features/elo_ratings.parquet\n"
    assert "lake/features/elo_ratings.parquet" in object_keys(lake, "lake/features/")

    again = materialize(elo_ratings, lake["io_manager"])
    assert output_metadata(again)["glue_table_change"] == "unchanged" and version_count(lake, name) == 1
    versions = lake["s3"].list_object_versions(Bucket=lake["bucket"], Prefix=f"{manifest_folder}manifest")["Versions"]
    assert len(versions) == 1  # the manifest is not rewritten


def test_columns_without_values_are_text_until_a_value_gives_them_a_type(lake):
    frames = {"rows": pd.DataFrame({"player_id": pd.Series([], dtype=object), "elo": pd.Series([], dtype=object)})}

    @dg.asset(key=["features", "player_game_features"])
    def player_game_features():
        return frames["rows"]

    # all-null object columns: typed as text in the lake, so the table is usable at once
    empty = materialize(player_game_features, lake["io_manager"])
    assert output_metadata(empty)["glue_table_change"] == "created"
    name = "features__player_game_features"
    assert columns(table(lake, name)) == [("player_id", "string"), ("elo", "string")]

    frames["rows"] = pd.DataFrame({"player_id": pd.Series([7], dtype="Int64"), "elo": [None]})
    typed = materialize(player_game_features, lake["io_manager"])
    assert output_metadata(typed)["glue_table_change"] == "updated"
    assert columns(table(lake, name)) == [("player_id", "bigint"), ("elo", "string")]  # elo: no value yet


def test_missing_database_is_a_clear_error_before_anything_is_written(lake, aws_env):
    io_manager = ParquetLakeIOManager(
        root=f"s3://{lake['bucket']}/lake", endpoint_url=aws_env, region=REGION, glue_database="nba_absent"
    )
    frames = {s: team_games(s) for s in SEASONS}
    result = materialize(partitioned_asset(frames), io_manager, "2022-23", raise_on_error=False)
    assert not result.success
    error = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "Glue database 'nba_absent' does not exist" in error and "infra/terraform/glue.tf" in error
    assert object_keys(lake, "lake/") == []


def test_a_local_lake_cannot_be_registered(tmp_path):
    io_manager = ParquetLakeIOManager(root=str(tmp_path / "lake"), glue_database="nba_platform")
    result = materialize(
        partitioned_asset({s: team_games(s) for s in SEASONS}), io_manager, "2022-23", raise_on_error=False
    )
    error = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "needs an s3:// lake root" in error
    assert not (tmp_path / "lake").exists()


@pytest.mark.parametrize("env, expected", [("prod", "nba_platform"), ("local", None)])
def test_glue_database_is_bound_from_settings_in_prod_only(monkeypatch, tmp_path, env, expected):
    monkeypatch.chdir(tmp_path)  # no .env
    for key in [k for k in list(os.environ) if k.startswith(("NBA_", "MLFLOW_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("NBA_PLATFORM_ENV", env)
    monkeypatch.setenv("NBA_HOME", str(tmp_path))
    monkeypatch.setenv("NBA_GLUE_DATABASE", "nba_platform")
    if env == "prod":
        monkeypatch.setenv("NBA_LAKE_URI", "s3://bucket/lake")
        monkeypatch.setenv("NBA_LANDING_URI", "s3://bucket/landing")
    settings = load_settings()
    assert settings.glue_database == "nba_platform"
    assert build_resources(settings)["io_manager"].glue_database == expected
