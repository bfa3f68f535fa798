"""ParquetLakeIOManager's read cache: a step reading what an earlier step of the same process
wrote gets the same frame (values and dtypes) as a read from the Parquet file."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from nba_platform.resources.lake import ParquetLakeIOManager, _table_cache

KEY = dg.AssetKey(["tables", "team_games"])


def frames() -> dict[str, pd.DataFrame]:
    """The dtypes the lib's frames carry: pyarrow strings, object text with None, nullable ints,
    floats with NaN, booleans, datetimes and dates, and an empty partition."""
    typed = pd.DataFrame(
        {
            "GAME_ID": pd.array(["0022300001", "0022300002", None], dtype="string[pyarrow]"),
            "TEAM": pd.array(["BOS", "LAL", "NYK"], dtype="string[pyarrow]"),
            "PTS": pd.array([101, None, 99], dtype="Int64"),
            "PLUS_MINUS": [1.5, np.nan, -3.0],
            "WL_HOME": [True, False, True],
            "GAME_DATE": pd.to_datetime(["2023-10-24", "2023-10-25", "2023-10-26"]),
        }
    )
    mixed = pd.DataFrame({"note": ["a", None, "c"], "n": [1, 2, 3], "day": [pd.Timestamp("2024-01-01").date()] * 3})
    return {"2022-23": typed, "2023-24": mixed, "2024-25": typed.iloc[0:0]}


def write(io: ParquetLakeIOManager, instance, obj, **partitioning) -> None:
    # Contexts used as context managers: one left to the garbage collector resets Dagster's
    # current defs-state storage to an instance that no longer exists, breaking later tests.
    with dg.build_output_context(asset_key=KEY, instance=instance, **partitioning) as ctx:
        io.handle_output(ctx, obj)


def read(io: ParquetLakeIOManager, instance, **partitioning):
    with dg.build_input_context(asset_key=KEY, instance=instance, **partitioning) as ctx:
        return io.load_input(ctx)


@pytest.mark.parametrize("cache_mb", [0, 64])
def test_loaded_partitions_equal_the_file_whether_cached_or_not(tmp_path, cache_mb):
    io = ParquetLakeIOManager(root=str(tmp_path / "lake"), read_cache_mb=cache_mb)
    data = frames()
    # handle_output/load_input over several partitions, as a multi-season run does
    partitions = dg.StaticPartitionsDefinition(list(data))
    seasons = dg.PartitionKeyRange("2022-23", "2024-25")
    with dg.instance_for_test() as instance:
        write(io, instance, data, asset_partitions_def=partitions, asset_partition_key_range=seasons)
        cache = _table_cache(cache_mb)
        hits_before = cache.hits if cache else 0
        loaded = read(io, instance, asset_partitions_def=partitions, asset_partition_key_range=seasons)
        if cache:
            assert cache.hits - hits_before == 3  # all three partitions came from memory

        fresh = ParquetLakeIOManager(root=str(tmp_path / "lake"), read_cache_mb=0)  # straight from the files
        from_files = read(fresh, instance, asset_partitions_def=partitions, asset_partition_key_range=seasons)
    assert sorted(loaded) == sorted(from_files) == sorted(data)
    for season in data:
        pd.testing.assert_frame_equal(loaded[season], from_files[season], check_exact=True)
    assert str(loaded["2022-23"]["GAME_ID"].dtype) == "string"  # pyarrow-backed text stays so


def test_a_step_mutating_its_input_does_not_change_what_the_next_step_reads(tmp_path):
    io = ParquetLakeIOManager(root=str(tmp_path / "lake"), read_cache_mb=64)
    frame = pd.DataFrame({"PTS": [100, 101], "FG_PCT": [0.5, 0.25]})
    with dg.instance_for_test() as instance:
        write(io, instance, frame)
        first = read(io, instance)
        first.loc[0, "PTS"] = -1  # in-place edits of a loaded frame stay in that step
        first["FG_PCT"] *= 2
        second = read(io, instance)
    pd.testing.assert_frame_equal(second, frame)
