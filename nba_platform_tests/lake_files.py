"""Lake files in tests: where the platform keeps a partition, and its frame as assets see it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from nba_platform.lib.lake_layout import from_lake_table, partition_file, single_file, to_lake_table, write_single_file
from nba_platform.lib.storage import Store
from nba_platform.resources.lake import read_lake_frame


def lake_path(lake: Path | str, key: str | list[str], season: str | None = None) -> Path:
    """The local file of a partition (or of an unpartitioned asset): key 'tables/team_games' or a list."""
    parts = key.split("/") if isinstance(key, str) else list(key)
    return Path(lake) / (partition_file(parts, season) if season is not None else single_file(parts))


def read_lake(lake: Path | str | Store, key: str | list[str], season: str | None = None) -> pd.DataFrame:
    parts = key.split("/") if isinstance(key, str) else list(key)
    store = lake if isinstance(lake, Store) else Store(str(lake))
    return read_lake_frame(store, parts, season)


def write_lake(lake: Path | str | Store, key: str | list[str], frame: pd.DataFrame, season: str | None = None) -> None:
    """Write a frame where (and as) the IO manager would (one partition, no table-schema upkeep)."""
    parts = key.split("/") if isinstance(key, str) else list(key)
    store = lake if isinstance(lake, Store) else Store(str(lake))
    table = to_lake_table(pa.Table.from_pandas(frame, preserve_index=False), season)
    if season is None:
        write_single_file(store, parts, table)
    else:
        store.write_table(partition_file(parts, season), table)


def read_lake_arrow(lake: Path | str, key: str | list[str], season: str | None = None) -> pa.Table:
    """The Arrow table of the frame a partition was written from (`.to_pandas()` of it is what a
    plain Parquet read of the file gave before season folders)."""
    store = Store(str(lake))
    return from_lake_table(store.read_table(str(lake_path("", key, season))), season)
