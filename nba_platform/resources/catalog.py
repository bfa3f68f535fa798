"""Registers lake assets as tables in an existing AWS Glue Data Catalog database (for Athena).

The database is Terraform's (infra/terraform/glue.tf): the task role may read it and create or
update tables in it, never create it, so a missing database is a configuration error. Table
layouts (one table per asset folder, symlink tables for single-file assets) are explained in
`nba_platform/lib/catalog.py`. Registration is idempotent: a table is only updated when a
column, its location or its format changed, so Glue keeps no empty versions.
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
    symlink_manifest,
    table_differs,
    update_input,
)
from nba_platform.lib.storage import Store
from nba_platform.lib.tracing import trace_boto3_client

_ATTEMPTS = 3  # concurrent runs registering the same table: re-read and retry


class GlueDatabaseNotFound(LookupError):
    pass


class GlueCatalogConflict(RuntimeError):
    pass


@dataclass(frozen=True)
class RegisteredTable:
    database: str
    name: str
    change: str  # created | updated | unchanged | skipped (no column has a known type yet)

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


def _read_schema(store: Store, rel: str):
    import pyarrow.parquet as pq

    with store.fs.open_input_file(f"{store.root}/{rel}") as f:
        return pq.read_schema(f)


def partitioned_table_input(store: Store, asset_path: Sequence[str]) -> dict[str, Any]:
    """One table over the asset's folder; its columns are the union of every partition file's."""
    folder = "/".join(asset_path)
    files = [f.path for f in store.list(folder)]
    strays = [p for p in files if "/" in p[len(folder) + 1 :] or not p.endswith(".parquet")]
    if strays:
        # Athena would read these as rows of this table (e.g. an asset keyed under this one).
        raise ValueError(f"{store.uri}/{folder}/ holds more than this asset's partition files: {strays[:5]}")
    newest_first = sorted(files, reverse=True)  # season keys sort by time
    columns = glue_columns([_read_schema(store, p) for p in newest_first], [f"{store.uri}/{p}" for p in newest_first])
    return parquet_table_input(glue_table_name(asset_path), columns, f"{store.uri}/{folder}/", folder)


def single_file_table_input(store: Store, asset_path: Sequence[str], file_rel: str) -> dict[str, Any]:
    """A symlink table over one file; writes its manifest if missing or different."""
    folder = "/".join(asset_path)
    manifest_folder = f"{SYMLINK_ROOT}/{folder}"
    columns = glue_columns([_read_schema(store, file_rel)], [f"{store.uri}/{file_rel}"])
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
        table_input = (
            single_file_table_input(store, asset_path, single_file)
            if single_file
            else partitioned_table_input(store, asset_path)
        )
        if not table_input["StorageDescriptor"]["Columns"]:
            # nothing Athena could read yet (all-null columns); an existing table is left as it is
            return RegisteredTable(catalog.database, table_input["Name"], "skipped")
        try:
            return RegisteredTable(catalog.database, table_input["Name"], catalog.ensure_table(table_input))
        except GlueCatalogConflict:
            if attempt == _ATTEMPTS:
                raise
            attempt += 1
