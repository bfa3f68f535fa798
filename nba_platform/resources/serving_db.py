"""The serving database: RDS Postgres in prod (psycopg 3: a publish replaces the seasons it holds,
DELETE + COPY in one transaction), an embedded SQLite file locally (staging + upsert). Same
interface; the password comes only from the secrets resource. See lib/serving_db.py."""

import os
from urllib.parse import urlsplit

import dagster as dg
import pandas as pd

from nba_platform.lib.secret_scrubbing import exceptions_scrubbed
from nba_platform.lib.serving_db import (
    APPEND_ONLY_TABLES,
    SERVING_TABLES,
    append_postgres,
    append_sqlite,
    ensure_append_only_postgres,
    ensure_append_only_sqlite,
    publish_postgres,
    publish_sqlite,
    query_sqlite,
)
from nba_platform.resources.secrets import Secrets


class ServingDatabase(dg.ConfigurableResource):
    url: str  # sqlite:///path/serving.db | postgresql://user@host:port/dbname (no password here)
    secrets: Secrets
    password_key: str | None = None  # e.g. rds_password

    @property
    def dialect(self) -> str:
        return "sqlite" if self.url.startswith("sqlite:///") else "postgres"

    def _sqlite_file(self) -> str:
        """The embedded database's path, its folder created."""
        path = self.url[len("sqlite:///") :]
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return path

    def publish(self, table_name: str, frame: pd.DataFrame) -> int:
        table = SERVING_TABLES[table_name]
        if self.dialect == "sqlite":
            path = self._sqlite_file()
            published = publish_sqlite(path, table, frame)
            ensure_append_only_sqlite(path)  # forecast tables exist (empty) once anything is served
            return published
        password = self.secrets.get(self.password_key) if self.password_key else None
        with exceptions_scrubbed(password):  # a driver error never carries the password out
            published = publish_postgres(self.url, table, frame, password=password)
            ensure_append_only_postgres(self.url, password=password)
            return published

    def ensure_append_only(self) -> None:
        """The append-only tables and the view, created empty if missing."""
        if self.dialect == "sqlite":
            path = self._sqlite_file()
            ensure_append_only_sqlite(path)
            return
        password = self.secrets.get(self.password_key) if self.password_key else None
        with exceptions_scrubbed(password):
            ensure_append_only_postgres(self.url, password=password)

    def append(self, table_name: str, frame: pd.DataFrame) -> int:
        """Append-only tables (game_forecasts, model_champions): rows whose key is new are inserted,
        existing rows never change. Returns the number of rows inserted."""
        table = APPEND_ONLY_TABLES[table_name]
        if self.dialect == "sqlite":
            path = self._sqlite_file()
            return append_sqlite(path, table, frame)
        password = self.secrets.get(self.password_key) if self.password_key else None
        with exceptions_scrubbed(password):
            return append_postgres(self.url, table, frame, password=password)

    def connect(self):
        """A new DB-API connection (sqlite3, or psycopg 3 with autocommit) for a long-lived reader
        such as the forecast API, which keeps and reuses it; the caller closes it."""
        if self.dialect == "sqlite":
            import sqlite3

            # check_same_thread=False: the API's pool hands a connection to one thread at a time.
            return sqlite3.connect(self.url[len("sqlite:///") :], check_same_thread=False)
        import psycopg

        password = self.secrets.get(self.password_key) if self.password_key else None
        with exceptions_scrubbed(password):
            return psycopg.connect(self.url, password=password, autocommit=True)

    def query(self, sql: str, params: tuple = ()) -> pd.DataFrame:
        if self.dialect == "sqlite":
            return query_sqlite(self.url[len("sqlite:///") :], sql, params)
        import psycopg

        password = self.secrets.get(self.password_key) if self.password_key else None
        with exceptions_scrubbed(password), psycopg.connect(self.url, password=password) as con, con.cursor() as cur:
            cur.execute(sql, params)
            cols = [d.name for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=cols)

    def describe(self) -> str:
        """Where it points, without credentials (safe for metadata)."""
        if self.dialect == "sqlite":
            return self.url

        u = urlsplit(self.url)
        return f"postgresql://{u.hostname}:{u.port or 5432}{u.path}"
