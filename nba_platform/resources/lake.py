"""Partition-aware Parquet IO manager over local disk or S3 (same code, `lib.storage.Store`).

Layout (`lib/lake_layout.py`): `<root>/<asset/key/path>/season=<partition>/data.parquet`
(Hive-style, so DuckDB, Athena and Spark prune partitions), or `<root>/<asset/key/path>.parquet`
for unpartitioned assets; files hold DATE dates and one schema per table, and reads give back
the frames' own dtypes. A partitioned asset returns `{partition_key: DataFrame}` covering
every partition of the run (one run may cover a range: single-run backfills), and a
partitioned input is loaded as the same kind of dict, so multi-season runs need no special
case. Each partition is one file written atomically: a failed run never exposes half a
partition, and re-running a partition replaces it whole (idempotent). What a process writes to a
local lake it also keeps in memory for a while (`read_cache_mb`): the steps after it in the same
in-process run read it without decoding the file again.

With `glue_database` set (S3 lakes only), every write also creates or updates the asset's table
and its season partitions in that Glue Data Catalog database so Athena can query it
(`resources/catalog.py`). A lake still in the layout before season folders is refused with an
error naming `nba-platform migrate-lake`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import dagster as dg
import pandas as pd
import pyarrow as pa

from nba_platform.lib.lake_layout import (
    existing_partitions,
    from_lake_table,
    in_threads,
    legacy_error,
    legacy_files,
    partition_file,
    single_file,
    to_lake_table,
    write_partitions,
    write_single_file,
)
from nba_platform.lib.storage import LocalTableCache, Store
from nba_platform.resources.catalog import GlueCatalog, register_lake_asset


class ParquetLakeIOManager(dg.ConfigurableIOManager):
    root: str
    endpoint_url: str | None = None
    region: str | None = None
    # Glue database (created by Terraform) to register every written asset's table in; S3 only.
    glue_database: str | None = None
    # Tables this process wrote are kept (up to this many MB of Arrow memory) and served to the
    # steps that read them next, instead of decoding the Parquet file again; local lakes only,
    # and only while the file is still the one written. 0 turns it off.
    read_cache_mb: int = 256

    def _store(self) -> Store:
        return Store(self.root, self.endpoint_url, self.region, table_cache=_table_cache(self.read_cache_mb))

    def _catalog(self) -> GlueCatalog | None:
        if not self.glue_database:
            return None
        if not self.root.startswith("s3://"):
            raise ValueError(f"glue_database={self.glue_database!r} needs an s3:// lake root, not {self.root!r}")
        return GlueCatalog(self.glue_database, self.endpoint_url, self.region)

    @staticmethod
    def _asset_path(key: dg.AssetKey) -> str:
        return "/".join(key.path)

    def partition_path(self, key: dg.AssetKey, partition: str | None) -> str:
        """The file of one partition (or of the unpartitioned asset), relative to the lake root."""
        return partition_file(key.path, partition) if partition is not None else single_file(key.path)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        store = self._store()
        key = context.asset_key
        catalog = self._catalog()
        if catalog is not None:
            catalog.require_database()  # before writing: data that cannot be registered is a config error
        metadata = {"lake_path": dg.MetadataValue.path(f"{self.root}/{self._asset_path(key)}")}
        if context.has_asset_partitions:
            if not isinstance(obj, dict):
                raise TypeError(f"{key.to_user_string()}: a partitioned asset must return {{partition: DataFrame}}")
            expected = set(context.asset_partition_keys)
            missing, extra = expected - set(obj), set(obj) - expected
            if missing or extra:
                raise ValueError(
                    f"{key.to_user_string()}: partitions returned {sorted(obj)} != run's {sorted(expected)}"
                )
            existing = existing_partitions(store, key.path)  # refuses a folder still in the old layout
            _checked_layout.add((store.uri, self._asset_path(key)))
            tables = {p: to_lake_table(_to_arrow(frame), p) for p, frame in obj.items()}
            written = write_partitions(store, key.path, tables, existing)
            metadata["rows_written"] = sum(len(f) for f in obj.values())
            if written.rewritten:
                # another partition lacked a column (or its type) that this run's partitions have
                metadata["partitions_rewritten_to_table_schema"] = dg.MetadataValue.json(written.rewritten)
        else:
            write_single_file(store, key.path, to_lake_table(_to_arrow(obj), None))
            metadata["rows_written"] = len(obj)
        if catalog is not None:
            single = None if context.has_asset_partitions else self.partition_path(key, None)
            table = register_lake_asset(store, catalog, key.path, single)
            metadata["glue_table"] = dg.MetadataValue.text(table.qualified_name)
            metadata["glue_table_change"] = dg.MetadataValue.text(table.change)
            if table.partitions:
                metadata["glue_partitions"] = dg.MetadataValue.text(table.partitions)
        context.add_output_metadata(metadata)

    def _refuse_legacy_layout(self, store: Store, key: dg.AssetKey) -> None:
        """Once per process and asset: old-layout files must not be silently ignored."""
        folder = self._asset_path(key)
        if (store.uri, folder) in _checked_layout:
            return
        legacy = legacy_files(key.path, [f.path for f in store.list(folder)])
        if legacy:
            raise legacy_error(store.uri, key.path, legacy)
        _checked_layout.add((store.uri, folder))

    def load_input(self, context: dg.InputContext):
        store = self._store()
        key = context.asset_key
        if context.has_asset_partitions:
            self._refuse_legacy_layout(store, key)
            # An input declared with metadata {"allow_missing_partitions": True} (as in UPathIOManager)
            # gets the partitions that exist; by default a missing partition is an error.
            allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions"))

            def read(partition: str):
                path = self.partition_path(key, partition)
                if not store.exists(path):
                    if allow_missing:
                        return None
                    raise FileNotFoundError(
                        f"{key.to_user_string()} partition {partition!r} is not in the lake ({self.root}/{path}); "
                        "materialize it first"
                    )
                return _to_pandas(from_lake_table(store.read_table(path), partition))

            partitions = list(context.asset_partition_keys)
            frames = in_threads(read, partitions)  # in partition order; the first missing one raises
            return {p: f for p, f in zip(partitions, frames) if f is not None}
        path = self.partition_path(key, None)
        if not store.exists(path):
            raise FileNotFoundError(
                f"{key.to_user_string()} is not in the lake ({self.root}/{path}); materialize it first"
            )
        return _to_pandas(from_lake_table(store.read_table(path), None))


# (lake uri, asset folder) pairs this process has seen in the current layout
_checked_layout: set[tuple[str, str]] = set()


def read_lake_frame(store: Store, asset_path: Sequence[str], partition: str | None = None) -> pd.DataFrame:
    """One partition (or an unpartitioned asset) as the frame its asset wrote, outside Dagster
    (CLI, tests): the same path and conversion as the IO manager's."""
    rel = partition_file(asset_path, partition) if partition is not None else single_file(asset_path)
    if not store.exists(rel):
        legacy = legacy_files(asset_path, [f.path for f in store.list("/".join(asset_path))])
        if legacy:
            raise legacy_error(store.uri, asset_path, legacy)
        raise FileNotFoundError(f"{'/'.join(asset_path)} {partition or ''} is not in the lake ({store.uri}/{rel})")
    return _to_pandas(from_lake_table(store.read_table(rel), partition))


@functools.cache
def _table_cache(max_mb: int) -> LocalTableCache | None:
    """One cache per process (and size): it outlives the IO manager objects Dagster builds per step."""
    return LocalTableCache(max_mb * 2**20) if max_mb > 0 else None


def release_read_cache() -> None:
    """Drop this process's cached tables. Between consecutive runs of other seasons (`ingest` of a
    many-season file) nothing cached is read again, and a full cache held across them is 256 MB on
    top of every later run."""
    _table_cache.cache_clear()


def concat_partitions(partitions: dict[str, pd.DataFrame] | pd.DataFrame) -> pd.DataFrame:
    """All partitions of a loaded input as one frame (an unpartitioned frame passes through)."""

    if isinstance(partitions, pd.DataFrame):
        return partitions
    frames = [f for f in partitions.values() if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@functools.cache
def _arrow_strings() -> dict:
    return {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """When every text column was written from pandas' string dtype (the lib's string[pyarrow]),
    it comes back as string[pyarrow]: no copy into Python str objects, and steps see the dtypes
    the frame was made with (pandas' default would be string[python]). Frames with object text
    columns are read as before."""
    columns = (table.schema.pandas_metadata or {}).get("columns", [])
    text = [c["name"] for c in columns if c.get("numpy_type") == "string"]
    arrow_strings = _arrow_strings()
    arrow_text = [f.name for f in table.schema if f.type in arrow_strings]
    if text and sorted(text) == sorted(arrow_text):
        return table.to_pandas(types_mapper=arrow_strings.get)
    return table.to_pandas()


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)
