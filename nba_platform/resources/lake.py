"""Partition-aware Parquet IO manager over local disk or S3 (same code, `lib.storage.Store`).

Layout: `<root>/<asset/key/path>/<partition>.parquet`, or `<root>/<asset/key/path>.parquet`
for unpartitioned assets. A partitioned asset returns `{partition_key: DataFrame}` covering
every partition of the run (one run may cover a range: single-run backfills), and a
partitioned input is loaded as the same kind of dict, so multi-season runs need no special
case. Each partition is one file written atomically: a failed run never exposes half a
partition, and re-running a partition replaces it whole (idempotent). What a process writes to a
local lake it also keeps in memory for a while (`read_cache_mb`): the steps after it in the same
in-process run read it without decoding the file again.

With `glue_database` set (S3 lakes only), every write also creates or updates the asset's table
in that Glue Data Catalog database so Athena can query it (`resources/catalog.py`).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pandas as pd
import pyarrow as pa

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
        base = self._asset_path(key)
        return f"{base}/{partition}.parquet" if partition is not None else f"{base}.parquet"

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        store = self._store()
        key = context.asset_key
        catalog = self._catalog()
        if catalog is not None:
            catalog.require_database()  # before writing: data that cannot be registered is a config error
        if context.has_asset_partitions:
            if not isinstance(obj, dict):
                raise TypeError(f"{key.to_user_string()}: a partitioned asset must return {{partition: DataFrame}}")
            expected = set(context.asset_partition_keys)
            missing, extra = expected - set(obj), set(obj) - expected
            if missing or extra:
                raise ValueError(
                    f"{key.to_user_string()}: partitions returned {sorted(obj)} != run's {sorted(expected)}"
                )
            _in_threads(
                lambda item: store.write_table(self.partition_path(key, item[0]), _to_arrow(item[1])), obj.items()
            )
            rows = sum(len(f) for f in obj.values())
        else:
            store.write_table(self.partition_path(key, None), _to_arrow(obj))
            rows = len(obj)
        metadata = {"lake_path": dg.MetadataValue.path(f"{self.root}/{self._asset_path(key)}"), "rows_written": rows}
        if catalog is not None:
            single_file = None if context.has_asset_partitions else self.partition_path(key, None)
            table = register_lake_asset(store, catalog, key.path, single_file)
            metadata["glue_table"] = dg.MetadataValue.text(table.qualified_name)
            metadata["glue_table_change"] = dg.MetadataValue.text(table.change)
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext):
        store = self._store()
        key = context.asset_key
        if context.has_asset_partitions:
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
                return _to_pandas(store.read_table(path))

            partitions = list(context.asset_partition_keys)
            frames = _in_threads(read, partitions)  # in partition order; the first missing one raises
            return {p: f for p, f in zip(partitions, frames) if f is not None}
        path = self.partition_path(key, None)
        if not store.exists(path):
            raise FileNotFoundError(
                f"{key.to_user_string()} is not in the lake ({self.root}/{path}); materialize it first"
            )
        return _to_pandas(store.read_table(path))


@functools.cache
def _table_cache(max_mb: int) -> LocalTableCache | None:
    """One cache per process (and size): it outlives the IO manager objects Dagster builds per step."""
    return LocalTableCache(max_mb * 2**20) if max_mb > 0 else None


def _in_threads(fn, items) -> list:
    """fn over items on a few threads, results in order: Parquet encode/decode and file or S3 I/O
    release the GIL, so a season-partitioned asset's 21 files go about twice as fast on 2 cores."""
    items = list(items)
    if len(items) < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="lake-io") as pool:
        return list(pool.map(fn, items))


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
