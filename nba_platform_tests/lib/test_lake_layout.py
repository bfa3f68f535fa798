"""The lake's layout and file format (lib/lake_layout.py): Hive-style season folders, DATE dates,
one schema per table, and the frames the platform wrote given back exactly."""

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nba_platform.lib import lake_layout
from nba_platform.lib.storage import Store
from nba_platform.resources.lake import _to_pandas, read_lake_frame

KEY = ["tables", "team_games"]


def games(season: str, n: int = 3, **extra) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "game_id": pd.array([f"00223{i:05d}" for i in range(n)], dtype="string[pyarrow]"),
            "season": pd.array([season] * n, dtype="string[pyarrow]"),
            "game_date": pd.to_datetime(["2023-10-24"] * n),
            "pts": pd.array(range(100, 100 + n), dtype="Int64"),
        }
    )
    return frame.assign(**extra)


def empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    """An empty partition as assets build it: object columns, no types."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in frame.columns})


def lake_table(frame: pd.DataFrame, season: str | None) -> pa.Table:
    return lake_layout.to_lake_table(pa.Table.from_pandas(frame, preserve_index=False), season)


def as_written(frame: pd.DataFrame) -> pd.DataFrame:
    """What the platform read back before this layout (a plain Parquet round trip)."""
    return _to_pandas(pa.Table.from_pandas(frame, preserve_index=False))


def test_paths():
    assert lake_layout.partition_file(KEY, "2023-24") == "tables/team_games/season=2023-24/data.parquet"
    assert lake_layout.single_file(["features", "elo_ratings"]) == "features/elo_ratings.parquet"
    assert lake_layout.partition_of(KEY, "tables/team_games/season=2023-24/data.parquet") == "2023-24"
    assert lake_layout.partition_of(KEY, "tables/team_games/2023-24.parquet") is None
    assert lake_layout.legacy_files(
        KEY, ["tables/team_games/2023-24.parquet", "tables/team_games/season=x/data.parquet"]
    ) == ["tables/team_games/2023-24.parquet"]
    with pytest.raises(lake_layout.LakeLayoutError, match="not a safe folder name"):
        lake_layout.partition_file(KEY, "2023/24")


def test_file_has_no_season_column_dates_as_date_and_reads_back_exactly(tmp_path):
    store = Store(str(tmp_path))
    frames = {"2022-23": games("2022-23"), "2023-24": empty_like(games("2023-24"))}
    lake_layout.write_partitions(store, KEY, {s: lake_table(f, s) for s, f in frames.items()})
    full = pq.read_schema(tmp_path / "tables/team_games/season=2022-23/data.parquet")
    empty = pq.read_schema(tmp_path / "tables/team_games/season=2023-24/data.parquet")
    # the empty partition has the table's typed columns, not NULL-typed ones
    assert [(f.name, str(f.type)) for f in full] == [(f.name, str(f.type)) for f in empty]
    assert dict(zip(full.names, map(str, full.types))) == {
        "game_id": "large_string",
        "game_date": "date32[day]",
        "pts": "int64",
    }
    for season, frame in frames.items():
        pd.testing.assert_frame_equal(read_lake_frame(store, KEY, season), as_written(frame), check_exact=True)


def test_a_season_column_that_disagrees_with_the_partition_is_refused():
    with pytest.raises(lake_layout.LakeLayoutError, match=r"partition '2023-24': 3 row\(s\) have season \['2022-23'\]"):
        lake_table(games("2022-23"), "2023-24")


def test_a_date_column_with_times_of_day_is_refused_not_truncated():
    frame = games("2023-24").assign(game_date=pd.to_datetime(["2023-10-24 19:30"] * 3))
    with pytest.raises(lake_layout.LakeLayoutError, match="'game_date' holds times of day"):
        lake_table(frame, "2023-24")
    # other timestamp columns stay timestamps
    kept = lake_table(games("2023-24").assign(recorded_at=pd.Timestamp("2023-10-24 19:30")), "2023-24")
    assert pa.types.is_timestamp(kept.schema.field("recorded_at").type)


def test_schema_evolution_rewrites_the_other_partitions_and_duckdb_reads_one_table(tmp_path):
    store = Store(str(tmp_path))
    lake_layout.write_partitions(store, KEY, {"2022-23": lake_table(games("2022-23"), "2022-23")})
    added = lake_layout.write_partitions(store, KEY, {"2023-24": lake_table(games("2023-24", elo=1500.0), "2023-24")})
    assert added.rewritten == ["2022-23"]  # padded with the new column
    rows = duckdb.execute(
        f"SELECT season, count(*), count(elo), any_value(typeof(game_date)) "
        f"FROM read_parquet('{tmp_path}/tables/team_games/**/*.parquet', hive_partitioning = true) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [("2022-23", 3, 0, "DATE"), ("2023-24", 3, 3, "DATE")]
    # the padding never reaches the platform: each partition reads back as its frame
    pd.testing.assert_frame_equal(read_lake_frame(store, KEY, "2022-23"), as_written(games("2022-23")))
    # the last frame with the column drops it: the table loses it again
    dropped = lake_layout.write_partitions(store, KEY, {"2023-24": lake_table(games("2023-24"), "2023-24")})
    assert dropped.rewritten == ["2022-23"] and "elo" not in dropped.schema.names
    # incompatible types: refused before anything is written
    before = (tmp_path / "tables/team_games/season=2023-24/data.parquet").read_bytes()
    with pytest.raises(lake_layout.LakeSchemaError, match="no single table type describes"):
        lake_layout.write_partitions(store, KEY, {"2023-24": lake_table(games("2023-24", pts="x"), "2023-24")})
    assert (tmp_path / "tables/team_games/season=2023-24/data.parquet").read_bytes() == before


def test_old_layout_is_refused_then_migrated_identically(tmp_path):
    store = Store(str(tmp_path))
    old = {"2022-23": games("2022-23"), "2023-24": empty_like(games("2023-24"))}
    for season, frame in old.items():  # as the platform wrote them before season folders
        store.write_table(
            lake_layout.legacy_partition_file(KEY, season), pa.Table.from_pandas(frame, preserve_index=False)
        )
    with pytest.raises(lake_layout.LegacyLakeLayout, match="nba-platform migrate-lake"):
        lake_layout.existing_partitions(store, KEY)
    with pytest.raises(lake_layout.LegacyLakeLayout, match="old lake layout"):
        read_lake_frame(store, KEY, "2022-23")

    assert lake_layout.migrate_legacy_partitions(store, KEY, dry_run=True).moved == [
        "tables/team_games/2022-23.parquet",
        "tables/team_games/2023-24.parquet",
    ]
    assert store.exists("tables/team_games/2022-23.parquet")  # a dry run changes nothing
    lake_layout.migrate_legacy_partitions(store, KEY)
    assert [f.path for f in store.list("tables")] == [
        "tables/team_games/season=2022-23/data.parquet",
        "tables/team_games/season=2023-24/data.parquet",
    ]
    for season, frame in old.items():
        pd.testing.assert_frame_equal(read_lake_frame(store, KEY, season), as_written(frame), check_exact=True)
    assert lake_layout.migrate_legacy_partitions(store, KEY).moved == []  # idempotent


def test_a_source_column_named_like_the_partition_is_kept_under_its_own_name(tmp_path):
    # raw kaggle rows carry SEASON = '2020' (the start year): DuckDB and Athena match names
    # case-insensitively, so the season folder would hide it
    store = Store(str(tmp_path))
    raw = pd.DataFrame({"GAME_ID": ["0022000001"], "SEASON": ["2020"]})
    lake_layout.write_partitions(store, ["raw", "kaggle_games"], {"2020-21": lake_table(raw, "2020-21")})
    rows = duckdb.execute(
        f"SELECT season, SEASON_source FROM read_parquet('{tmp_path}/raw/kaggle_games/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert rows == [("2020-21", "2020")]
    pd.testing.assert_frame_equal(read_lake_frame(store, ["raw", "kaggle_games"], "2020-21"), as_written(raw))
