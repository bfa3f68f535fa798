"""Registers lake assets as tables in an existing AWS Glue Data Catalog database (for Athena).

The database is Terraform's (infra/terraform/glue.tf): the task role may read it and create or
update tables in it, never create it, so a missing database is a configuration error. Table
layouts (one table per asset folder, symlink tables for single-file assets) are explained in
`nba_platform/lib/catalog.py`. Registration is idempotent: a table is only updated when a
column, its location or its format changed, so Glue keeps no empty versions; a partitioned
table's partitions are synced with the lake's season folders (created, updated, or deleted when
their folder is gone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from nba_platform.lib.catalog import (
    MANIFEST_NAME,
    SYMLINK_ROOT,
    glue_columns,
    glue_table_name,
    parquet_table_input,
    partition_differs,
    partition_input,
    symlink_manifest,
    table_differs,
    update_input,
)
from nba_platform.lib.lake_layout import (
    PARTITION_COLUMN,
    legacy_error,
    legacy_files,
    partition_folder,
    partition_of,
    read_file_schema,
)
from nba_platform.lib.storage import Store
from nba_platform.lib.tracing import trace_boto3_client

_ATTEMPTS = 3
_BATCH = 100  # BatchCreatePartition / BatchUpdatePartition / BatchDeletePartition limit  # concurrent runs registering the same table: re-read and retry


class GlueDatabaseNotFound(LookupError):
    pass


class GlueCatalogConflict(RuntimeError):
    pass


@dataclass(frozen=True)
class RegisteredTable:
    database: str
    name: str
    change: str  # created | updated | unchanged | skipped (no column has a known type yet)
    partitions: str = ""  # partitioned tables: e.g. "3 created, 0 updated, 0 deleted, 18 unchanged"

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"


class GlueCatalog:
    def __init__(self, database: str, endpoint_url: str | None = None, region: str | None = None):
        self.database = database
        self.endpoint_url = endpoint_url
        self.region = region or "us-east-1"

    @cached_property
    def client(self):
        import boto3

        return trace_boto3_client(boto3.client("glue", endpoint_url=self.endpoint_url, region_name=self.region))

    def require_database(self) -> None:
        try:
            self.client.get_database(Name=self.database)
        except self.client.exceptions.EntityNotFoundException:
            raise GlueDatabaseNotFound(
                f"Glue database {self.database!r} does not exist (region {self.region}). Terraform creates it "
                "(infra/terraform/glue.tf, var.glue_database_name); apply it, or set NBA_GLUE_DATABASE to an "
                "existing database"
            ) from None

    def get_table(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client.get_table(DatabaseName=self.database, Name=name)["Table"]
        except self.client.exceptions.EntityNotFoundException:
            self.require_database()  # a missing database, or only a missing table
            return None

    def ensure_table(self, table_input: dict[str, Any]) -> str:
        """Create the table, or update it if it differs; 'created' | 'updated' | 'unchanged'.

        Raises GlueCatalogConflict when another writer changed the table in between (retry with
        a freshly computed input).
        """
        existing = self.get_table(table_input["Name"])
        if existing is None:
            try:
                self.client.create_table(DatabaseName=self.database, TableInput=table_input)
                return "created"
            except self.client.exceptions.AlreadyExistsException:
                raise GlueCatalogConflict(f"{self.database}.{table_input['Name']} was created concurrently") from None
        if not table_differs(existing, table_input):
            return "unchanged"
        # VersionId: Glue refuses the update if another writer updated the table since our read.
        version = {"VersionId": existing["VersionId"]} if existing.get("VersionId") else {}
        try:
            self.client.update_table(
                DatabaseName=self.database, TableInput=update_input(existing, table_input), **version
            )
        except self.client.exceptions.ConcurrentModificationException:
            raise GlueCatalogConflict(f"{self.database}.{table_input['Name']} was updated concurrently") from None
        return "updated"

    def sync_partitions(self, table_input: dict[str, Any], partitions: dict[str, str]) -> str:
        """Make the table's partitions exactly `partitions` ({value: folder URI}); a summary."""
        name = table_input["Name"]
        desired = {value: partition_input(table_input, value, uri) for value, uri in partitions.items()}
        existing = {}
        for page in self.client.get_paginator("get_partitions").paginate(DatabaseName=self.database, TableName=name):
            for partition in page["Partitions"]:
                existing[partition["Values"][0]] = partition
        create = [desired[v] for v in sorted(desired) if v not in existing]
        update = [v for v in sorted(desired) if v in existing and partition_differs(existing[v], desired[v])]
        delete = sorted(v for v in existing if v not in desired)
        for i in range(0, len(create), _BATCH):
            reply = self.client.batch_create_partition(
                DatabaseName=self.database, TableName=name, PartitionInputList=create[i : i + _BATCH]
            )
            _raise_partition_errors(name, "create", reply, ignore="AlreadyExistsException")
        for i in range(0, len(update), _BATCH):
            entries = [{"PartitionValueList": [v], "PartitionInput": desired[v]} for v in update[i : i + _BATCH]]
            reply = self.client.batch_update_partition(DatabaseName=self.database, TableName=name, Entries=entries)
            _raise_partition_errors(name, "update", reply)
        for i in range(0, len(delete), _BATCH):
            reply = self.client.batch_delete_partition(
                DatabaseName=self.database,
                TableName=name,
                PartitionsToDelete=[{"Values": [v]} for v in delete[i : i + _BATCH]],
            )
            _raise_partition_errors(name, "delete", reply, ignore="EntityNotFoundException")
        unchanged = len(desired) - len(create) - len(update)
        return f"{len(create)} created, {len(update)} updated, {len(delete)} deleted, {unchanged} unchanged"


def _raise_partition_errors(table: str, action: str, reply: dict[str, Any], ignore: str = "") -> None:
    errors = [
        e for e in reply.get("Errors") or [] if (e.get("ErrorDetail") or {}).get("ErrorCode") != ignore or not ignore
    ]
    if errors:
        detail = "; ".join(
            f"{e.get('PartitionValues')}: {(e.get('ErrorDetail') or {}).get('ErrorMessage')}" for e in errors[:5]
        )
        raise RuntimeError(f"Glue could not {action} {len(errors)} partition(s) of {table}: {detail}")


def partitioned_table_input(store: Store, asset_path: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """One table over the asset's folder, partitioned by season; its columns are the union of
    every partition file's. Also {season: partition folder URI}."""
    folder = "/".join(asset_path)
    files = [f.path for f in store.list(folder)]
    legacy = legacy_files(asset_path, files)
    if legacy:
        raise legacy_error(store.uri, asset_path, legacy)
    partitions = {rel: partition_of(asset_path, rel) for rel in files}
    strays = [rel for rel, value in partitions.items() if value is None]
    if strays:
        # Athena would read these as rows of this table (e.g. an asset keyed under this one).
        raise ValueError(f"{store.uri}/{folder}/ holds more than this asset's partition files: {strays[:5]}")
    newest_first = sorted(files, reverse=True)  # season keys sort by time
    schemas = [read_file_schema(store, p) for p in newest_first]
    # the partition column is the folder name; a file from elsewhere that also holds it is not read for it
    schemas = [s.remove(s.get_field_index(PARTITION_COLUMN)) if PARTITION_COLUMN in s.names else s for s in schemas]
    columns = glue_columns(schemas, [f"{store.uri}/{p}" for p in newest_first])
    table_input = parquet_table_input(
        glue_table_name(asset_path), columns, f"{store.uri}/{folder}/", folder, partition_keys=[PARTITION_COLUMN]
    )
    folders = {value: f"{store.uri}/{partition_folder(asset_path, value)}/" for value in partitions.values()}
    return table_input, folders


def single_file_table_input(store: Store, asset_path: Sequence[str], file_rel: str) -> dict[str, Any]:
    """A symlink table over one file; writes its manifest if missing or different."""
    folder = "/".join(asset_path)
    manifest_folder = f"{SYMLINK_ROOT}/{folder}"
    columns = glue_columns([read_file_schema(store, file_rel)], [f"{store.uri}/{file_rel}"])
    if columns:
        body = symlink_manifest([f"{store.uri}/{file_rel}"])
        manifest = f"{manifest_folder}/{MANIFEST_NAME}"
        if not store.exists(manifest) or store.read_bytes(manifest) != body:
            store.write_bytes(manifest, body)
    return parquet_table_input(
        glue_table_name(asset_path), columns, f"{store.uri}/{manifest_folder}/", folder, symlink=True
    )


def register_lake_asset(
    store: Store, catalog: GlueCatalog, asset_path: Sequence[str], single_file: str | None = None
) -> RegisteredTable:
    """Create or update the Glue table of an asset on S3: its partition folder, or (`single_file`,
    the file's path under the lake root) one unpartitioned file."""
    if store.is_local:
        raise ValueError(f"Glue tables describe S3 data; the lake {store.uri} is local")
    attempt = 1
    while True:
        partitions = None
        if single_file:
            table_input = single_file_table_input(store, asset_path, single_file)
        else:
            table_input, partitions = partitioned_table_input(store, asset_path)
        if not table_input["StorageDescriptor"]["Columns"]:
            # nothing Athena could read yet (all-null columns); an existing table is left as it is
            return RegisteredTable(catalog.database, table_input["Name"], "skipped")
        try:
            change = catalog.ensure_table(table_input)
        except GlueCatalogConflict:
            if attempt == _ATTEMPTS:
                raise
            attempt += 1
            continue
        synced = catalog.sync_partitions(table_input, partitions) if partitions is not None else ""
        return RegisteredTable(catalog.database, table_input["Name"], change, synced)
