"""Glue table definitions from Arrow schemas (pure)."""

import datetime as dt
import decimal

import pandas as pd
import pyarrow as pa
import pytest

from nba_platform.lib import catalog
from nba_platform.lib.schema import TEAM_GAME_SCHEMA


@pytest.mark.parametrize(
    "arrow_type, expected",
    [
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.int64(), "bigint"),
        (pa.int32(), "int"),
        (pa.int16(), "smallint"),
        (pa.int8(), "tinyint"),
        (pa.uint8(), "smallint"),
        (pa.uint16(), "int"),
        (pa.uint32(), "bigint"),
        (pa.float64(), "double"),
        (pa.float32(), "float"),
        (pa.bool_(), "boolean"),
        (pa.date32(), "date"),
        (pa.date64(), "date"),
        (pa.timestamp("ns"), "timestamp"),
        (pa.timestamp("us", tz="UTC"), "timestamp"),
        (pa.decimal128(12, 3), "decimal(12,3)"),
        (pa.binary(), "binary"),
        (pa.dictionary(pa.int8(), pa.string()), "string"),
        (pa.list_(pa.int64()), "array<bigint>"),
        (pa.large_list(pa.string()), "array<string>"),
        (pa.map_(pa.string(), pa.float64()), "map<string,double>"),
        (
            pa.struct([("Team_ID", pa.int64()), ("tags", pa.list_(pa.string()))]),
            "struct<team_id:bigint,tags:array<string>>",
        ),
    ],
)
def test_arrow_types_map_to_glue_types(arrow_type, expected):
    assert catalog.glue_type(arrow_type) == expected


@pytest.mark.parametrize(
    "arrow_type",
    [pa.uint64(), pa.float16(), pa.time64("us"), pa.duration("s"), pa.decimal256(40, 2), pa.list_(pa.null())],
)
def test_types_without_a_glue_equivalent_are_a_clear_error(arrow_type):
    with pytest.raises(catalog.GlueSchemaError, match="x.parquet: column 'c'"):
        catalog.glue_columns([pa.schema([("c", arrow_type)])], ["x.parquet"])


def test_canonical_team_game_table_from_pandas():
    frame = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in TEAM_GAME_SCHEMA.items()})
    columns = catalog.glue_columns([pa.Table.from_pandas(frame, preserve_index=False).schema])
    assert [c["Name"] for c in columns] == list(TEAM_GAME_SCHEMA)  # order kept, no pandas index column
    types = {c["Name"]: c["Type"] for c in columns}
    assert (
        types["game_id"],
        types["season"],
        types["game_date"],
        types["team_id"],
        types["is_home"],
        types["fg_pct"],
    ) == ("string", "string", "timestamp", "bigint", "boolean", "double")


def test_columns_are_the_union_of_all_files_in_newest_first_order():
    newest = pa.schema([("season", pa.string()), ("pts", pa.int64()), ("elo", pa.float64())])
    older = pa.schema([("Season", pa.large_string()), ("pts", pa.int64()), ("retired", pa.bool_())])
    assert catalog.glue_columns([newest, older]) == [
        {"Name": "season", "Type": "string"},
        {"Name": "pts", "Type": "bigint"},
        {"Name": "elo", "Type": "double"},
        {"Name": "retired", "Type": "boolean"},
    ]


def test_null_only_columns_take_a_type_from_other_files_or_are_left_out():
    empty_season = pa.schema([("season", pa.string()), ("comment", pa.null()), ("never_set", pa.null())])
    full_season = pa.schema([("season", pa.string()), ("comment", pa.string()), ("never_set", pa.null())])
    assert catalog.glue_columns([empty_season, full_season]) == [
        {"Name": "season", "Type": "string"},
        {"Name": "comment", "Type": "string"},
    ]
    assert catalog.glue_columns([pa.schema([("a", pa.null())])]) == []  # nothing to register yet


def test_type_conflict_between_files_names_both_files():
    with pytest.raises(
        catalog.GlueSchemaError, match=r"'pts' is bigint in 2023-24.parquet but double in 2022-23.parquet"
    ):
        catalog.glue_columns(
            [pa.schema([("pts", pa.int64())]), pa.schema([("pts", pa.float64())])],
            ["2023-24.parquet", "2022-23.parquet"],
        )


def test_columns_differing_only_in_case_are_a_clear_error():
    with pytest.raises(catalog.GlueSchemaError, match="'PTS' and 'pts' collide"):
        catalog.glue_columns([pa.schema([("PTS", pa.int64()), ("pts", pa.int64())])])


@pytest.mark.parametrize(
    "path, name",
    [
        (["tables", "team_games"], "tables__team_games"),
        (["Raw", "league-game.log"], "raw__league_game_log"),
        (["features", "elo_ratings"], "features__elo_ratings"),
        (["x"], "x"),
    ],
)
def test_glue_table_name_from_asset_key(path, name):
    assert catalog.glue_table_name(path) == name


def test_glue_table_name_limits():
    with pytest.raises(ValueError):
        catalog.glue_table_name([])
    with pytest.raises(ValueError, match="longer than 255"):
        catalog.glue_table_name(["a" * 200, "b" * 60])


def test_parquet_table_input_over_an_asset_folder():
    columns = [{"Name": "season", "Type": "string"}]
    t = catalog.parquet_table_input("tables__team_games", columns, "s3://b/lake/tables/team_games", "tables/team_games")
    sd = t["StorageDescriptor"]
    assert t["TableType"] == "EXTERNAL_TABLE" and t["PartitionKeys"] == []
    assert t["Parameters"]["classification"] == "parquet"
    assert sd["Location"] == "s3://b/lake/tables/team_games/"  # folder with one trailing slash
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert sd["Columns"] == columns


def test_symlink_table_input_and_manifest():
    t = catalog.parquet_table_input(
        "features__elo",
        [{"Name": "elo", "Type": "double"}],
        "s3://b/lake/_glue_symlinks/features/elo/",
        "features/elo",
        symlink=True,
    )
    sd = t["StorageDescriptor"]
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
    assert sd["SerdeInfo"]["SerializationLibrary"] == catalog.PARQUET_SERDE
    assert t["Parameters"]["nba_platform_layout"] == "symlink_manifest"
    assert catalog.symlink_manifest(["s3://b/lake/features/elo.parquet"]) == b"s3://b/lake/features/elo.parquet\n"


def _as_glue_returns(table_input: dict) -> dict:
    """What GetTable returns for a TableInput: the same fields plus Glue's own."""
    out = {
        **table_input,
        "DatabaseName": "db",
        "CreateTime": dt.datetime(2024, 1, 1),
        "VersionId": "3",
        "Parameters": {**table_input["Parameters"], "transient_lastDdlTime": "1700000000"},
    }
    out["StorageDescriptor"] = {**table_input["StorageDescriptor"], "Compressed": False, "NumberOfBuckets": -1}
    return out


def test_unchanged_table_is_not_updated_and_changes_are_detected():
    columns = [{"Name": "season", "Type": "string"}, {"Name": "pts", "Type": "bigint"}]
    desired = catalog.parquet_table_input("t", columns, "s3://b/lake/t/", "t")
    existing = _as_glue_returns(desired)
    assert not catalog.table_differs(existing, desired)
    assert catalog.table_differs(
        existing, catalog.parquet_table_input("t", [*columns, {"Name": "elo", "Type": "double"}], "s3://b/lake/t/", "t")
    )
    assert catalog.table_differs(
        existing,
        catalog.parquet_table_input("t", [columns[0], {"Name": "pts", "Type": "double"}], "s3://b/lake/t/", "t"),
    )
    assert catalog.table_differs(existing, catalog.parquet_table_input("t", columns, "s3://b/other/t/", "t"))
    assert catalog.table_differs(
        existing, catalog.parquet_table_input("t", columns, "s3://b/lake/t/", "t", symlink=True)
    )


def test_update_keeps_parameters_set_by_others():
    desired = catalog.parquet_table_input("t", [{"Name": "a", "Type": "bigint"}], "s3://b/t/", "t")
    existing = _as_glue_returns(catalog.parquet_table_input("t", [{"Name": "a", "Type": "int"}], "s3://b/t/", "t"))
    existing["Parameters"]["classification"] = "csv"
    update = catalog.update_input(existing, desired)
    assert update["Parameters"]["transient_lastDdlTime"] == "1700000000"
    assert update["Parameters"]["classification"] == "parquet"
    assert update["StorageDescriptor"] == desired["StorageDescriptor"]


def test_decimal_and_date_values_round_trip_through_pandas_types():
    table = pa.Table.from_pandas(
        pd.DataFrame({"d": [dt.date(2024, 1, 2)], "m": [decimal.Decimal("1.50")]}), preserve_index=False
    )
    assert [c["Type"] for c in catalog.glue_columns([table.schema])] == ["date", "decimal(3,2)"]
