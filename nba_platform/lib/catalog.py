"""Glue Data Catalog table definitions for the lake's Parquet files (pure: no AWS calls).

How lake assets map to Glue tables (so Athena can query them):

* A season-partitioned asset is `<lake>/<asset/key>/season=<season>/data.parquet`
  (`lib/lake_layout.py`): Hive-style folders, the `season` column in the folder names only. It
  is registered as a table over the asset's folder with partition key `season` (string), and
  each season folder as one of its partitions, so Athena prunes partitions on `WHERE season`.
* An unpartitioned asset is the single file `<lake>/<asset/key>.parquet`, next to other assets'
  folders, and a table location cannot name a file. It is registered as a symlink table: the
  location is a folder holding one manifest that lists the file's URI
  (SymlinkTextInputFormat + the Parquet SerDe, the layout Athena documents for S3 Inventory and
  Delta Lake manifests). The file is overwritten in place, so the manifest never changes.

The table schema is the union of the columns of every file the table reads (a column missing
from some files reads as NULL there; Parquet columns are matched by name). Columns whose type is
unknown everywhere (all-null in every file) are left out until a file gives them a type; an
asset with no typed column at all (e.g. an empty frame of object columns) is not registered yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
SYMLINK_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
SYMLINK_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
# Folder under the lake root holding the symlink manifests of unpartitioned assets.
SYMLINK_ROOT = "_glue_symlinks"
MANIFEST_NAME = "manifest"
# Table parameters this platform owns; others (set by Athena, Lake Formation, ...) are kept.
OWNED_PARAMETERS = ("classification", "nba_platform_asset", "nba_platform_layout")

_GLUE_NAME_MAX = 255
_HIVE_DECIMAL_MAX_PRECISION = 38


class GlueSchemaError(ValueError):
    """An Arrow schema that no Glue/Hive column type describes correctly."""


def glue_table_name(asset_path: Sequence[str]) -> str:
    """`["tables", "team_games"]` -> `tables__team_games`: lowercase, only [a-z0-9_]."""
    if not asset_path:
        raise ValueError("an asset key has at least one part")
    parts = [re.sub(r"[^a-z0-9_]", "_", part.lower()) for part in asset_path]
    name = "__".join(parts)
    if len(name) > _GLUE_NAME_MAX:
        raise ValueError(f"Glue table name {name!r} is longer than {_GLUE_NAME_MAX} characters")
    return name


def glue_type(arrow_type: pa.DataType, where: str = "column") -> str:
    """The Hive/Glue type Athena reads an Arrow-written Parquet column as."""

    t = arrow_type
    if pa.types.is_dictionary(t):  # stored as plain values with dictionary encoding
        return glue_type(t.value_type, where)
    if pa.types.is_boolean(t):
        return "boolean"
    # Hive has no unsigned integers: unsigned ones widen to the next signed type.
    for check, name in (
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_uint8, "smallint"),
        (pa.types.is_uint16, "int"),
        (pa.types.is_uint32, "bigint"),
        (pa.types.is_float32, "float"),
        (pa.types.is_float64, "double"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
    ):
        if check(t):
            return name
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary_view(t)
    ):
        return "binary"
    if pa.types.is_decimal(t):
        if t.precision > _HIVE_DECIMAL_MAX_PRECISION:
            raise GlueSchemaError(f"{where}: {t} exceeds Hive's decimal precision {_HIVE_DECIMAL_MAX_PRECISION}")
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_list_view(t):
        return f"array<{glue_type(t.value_type, f'{where}[]')}>"
    if pa.types.is_map(t):
        return f"map<{glue_type(t.key_type, f'{where}.key')},{glue_type(t.item_type, f'{where}.value')}>"
    if pa.types.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        _check_unique([f.name for f in fields], where)
        return "struct<" + ",".join(f"{f.name.lower()}:{glue_type(f.type, f'{where}.{f.name}')}" for f in fields) + ">"
    raise GlueSchemaError(
        f"{where}: Arrow type {t} has no Glue/Hive equivalent (uint64, float16, time, duration, interval and "
        "null-only nested types are not supported); cast it before writing"
    )


def glue_columns(schemas: Iterable[pa.Schema], sources: Sequence[str] | None = None) -> list[dict[str, str]]:
    """Glue columns for a table reading every file with these schemas, newest file first.

    Columns keep the order of the first schema that has them. Names are lowercased (Athena
    matches Parquet columns case-insensitively). A column's type must be the same Glue type in
    every file that gives it one; null-typed columns take the type of the files that have one.
    """

    schemas = list(schemas)
    sources = list(sources) if sources is not None else [f"file {i}" for i in range(len(schemas))]
    order: list[str] = []
    types: dict[str, tuple[str, str]] = {}  # name -> (glue type, the file it came from)
    for schema, source in zip(schemas, sources, strict=True):
        _check_unique(schema.names, source)
        for field in schema:
            name = field.name.lower()
            if name not in order:
                order.append(name)
            if pa.types.is_null(field.type):
                continue
            typ = glue_type(field.type, f"{source}: column {field.name!r}")
            if name in types and types[name][0] != typ:
                first_type, first_source = types[name]
                raise GlueSchemaError(
                    f"column {name!r} is {first_type} in {first_source} but {typ} in {source}: "
                    "one table cannot describe both; rewrite the older files with the current type"
                )
            types.setdefault(name, (typ, source))
    return [{"Name": name, "Type": types[name][0]} for name in order if name in types]


def _check_unique(names: Sequence[str], where: str) -> None:
    seen: dict[str, str] = {}
    for name in names:
        if name.lower() in seen:
            raise GlueSchemaError(f"{where}: columns {seen[name.lower()]!r} and {name!r} collide (Athena ignores case)")
        seen[name.lower()] = name


def folder_uri(uri: str) -> str:
    """A table location: a folder URI with exactly one trailing slash (Athena's rule)."""
    return uri.rstrip("/") + "/"


def symlink_manifest(file_uris: Sequence[str]) -> bytes:
    """The SymlinkTextInputFormat manifest: one data file URI per line."""
    return "".join(f"{uri}\n" for uri in file_uris).encode()


def parquet_table_input(
    name: str,
    columns: list[dict[str, str]],
    location: str,
    asset: str,
    symlink: bool = False,
    partition_keys: Sequence[str] = (),
) -> dict[str, Any]:
    """The Glue TableInput of an external Parquet table at `location` (a folder URI).

    `symlink=True`: `location` holds a manifest listing the Parquet files instead of the files.
    `partition_keys`: Hive-style partition folders (`<key>=<value>/`), string-typed.
    """
    return {
        "Name": name,
        "Description": f"nba_platform lake asset {asset} (Parquet, registered by the platform's IO manager)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "nba_platform_asset": asset,
            "nba_platform_layout": "symlink_manifest" if symlink else "hive_partitions" if partition_keys else "folder",
        },
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in partition_keys],
        "StorageDescriptor": {
            "Columns": columns,
            "Location": folder_uri(location),
            "InputFormat": SYMLINK_INPUT_FORMAT if symlink else PARQUET_INPUT_FORMAT,
            "OutputFormat": SYMLINK_OUTPUT_FORMAT if symlink else PARQUET_OUTPUT_FORMAT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        },
    }


def _comparable(table: dict[str, Any]) -> dict[str, Any]:
    sd = table.get("StorageDescriptor") or {}
    return {
        "Description": table.get("Description"),
        "TableType": table.get("TableType"),
        "Parameters": {k: (table.get("Parameters") or {}).get(k) for k in OWNED_PARAMETERS},
        "PartitionKeys": [(c["Name"], c["Type"]) for c in table.get("PartitionKeys") or []],
        "Columns": [(c["Name"], c["Type"]) for c in sd.get("Columns") or []],
        "Location": sd.get("Location"),
        "InputFormat": sd.get("InputFormat"),
        "OutputFormat": sd.get("OutputFormat"),
        "SerializationLibrary": (sd.get("SerdeInfo") or {}).get("SerializationLibrary"),
    }


def table_differs(existing: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Whether a table from GetTable differs from a TableInput in anything this platform sets."""
    return _comparable(existing) != _comparable(desired)


def update_input(existing: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The TableInput for UpdateTable: `desired`, keeping table parameters set by others."""
    params = {k: v for k, v in (existing.get("Parameters") or {}).items() if k not in OWNED_PARAMETERS}
    return {**desired, "Parameters": {**params, **desired["Parameters"]}}


def partition_input(table_input: dict[str, Any], value: str, location: str) -> dict[str, Any]:
    """The Glue PartitionInput of one partition folder of a (single-key) partitioned table."""
    sd = table_input["StorageDescriptor"]
    return {
        "Values": [value],
        "StorageDescriptor": {**sd, "Location": folder_uri(location)},
        "Parameters": {},
    }


def partition_differs(existing: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Whether a partition from GetPartitions differs from a PartitionInput in what the platform sets."""

    def comparable(partition: dict[str, Any]) -> tuple:
        sd = partition.get("StorageDescriptor") or {}
        return (
            [(c["Name"], c["Type"]) for c in sd.get("Columns") or []],
            sd.get("Location"),
            sd.get("InputFormat"),
            sd.get("OutputFormat"),
            (sd.get("SerdeInfo") or {}).get("SerializationLibrary"),
        )

    return comparable(existing) != comparable(desired)
