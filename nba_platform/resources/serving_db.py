"""The serving database: RDS Postgres in prod (psycopg 3: a publish replaces the seasons it holds,
DELETE + COPY in one transaction), an embedded SQLite file locally (staging + upsert). Same
interface; the password comes only from the secrets resource. See lib/serving_db.py."""

import os
from urllib.parse import urlsplit

import dagster as dg
import pandas as pd
import psycopg

from nba_platform.lib.secret_scrubbing import exceptions_scrubbed
from nba_platform.lib.serving_db import SERVING_TABLES, publish_postgres, publish_sqlite, query_sqlite
from nba_platform.resources.secrets import Secrets


class ServingDatabase(dg.ConfigurableResource):
    url: str  # sqlite:///path/serving.db | postgresql://user@host:port/dbname (no password here)
    secrets: Secrets
    password_key: str | None = None  # e.g. rds_password

    @property
    def dialect(self) -> str:
        return "sqlite" if self.url.startswith("sqlite:///") else "postgres"

    def publish(self, table_name: str, frame: pd.DataFrame) -> int:
        table = SERVING_TABLES[table_name]
        if self.dialect == "sqlite":
            path = self.url[len("sqlite:///") :]
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            return publish_sqlite(path, table, frame)
        password = self.secrets.get(self.password_key) if self.password_key else None
        with exceptions_scrubbed(password):  # a driver error never carries the password out
            return publish_postgres(self.url, table, frame, password=password)

    def query(self, sql: str, params: tuple = ()) -> pd.DataFrame:
        if self.dialect == "sqlite":
            return query_sqlite(self.url[len("sqlite:///") :], sql, params)

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
