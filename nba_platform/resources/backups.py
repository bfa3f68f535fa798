"""`DatabaseBackups`: where backups go and what they cover (resource key `backups`); the work is in
`nba_platform/operations/backups.py`."""

from __future__ import annotations

import dagster as dg

from nba_platform.lib import backup
from nba_platform.lib.storage import Store
from nba_platform.operations.backups import BackupPlan, Database, database_from_url, open_backup_store
from nba_platform.resources.secrets import Secrets


class DatabaseBackups(dg.ConfigurableResource):
    """Where backups go and what they cover, bound per environment in resources/environment.py.
    URLs carry no passwords: those are read from `secrets` at run time under the *_password_key names."""

    backup_uri: str  # s3://bucket/backups (prod) | $NBA_HOME/backups (embedded)
    lake_uri: str
    serving_db_url: str
    dagster_db_url: str  # postgresql://... (prod) | sqlite:///$DAGSTER_HOME (embedded: every *.db under it)
    secrets: Secrets
    serving_password_key: str | None = None
    dagster_password_key: str | None = None
    scratch_db_url: str | None = None  # server/role for scratch databases (default: each source's own)
    scratch_password_key: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    keep_daily: int = 7
    keep_weekly: int = 4

    def store(self) -> Store:
        return open_backup_store(self.backup_uri, self.endpoint_url, self.region)

    def _password(self, key: str | None) -> str | None:
        return self.secrets.get(key) if key else None

    def databases(self) -> list[Database]:
        scratch_pw = self._password(self.scratch_password_key) if self.scratch_db_url else None
        return [
            database_from_url(
                "serving",
                self.serving_db_url,
                self._password(self.serving_password_key) if self.serving_db_url.startswith("postgres") else None,
                self.scratch_db_url,
                scratch_pw,
            ),
            database_from_url(
                "dagster",
                self.dagster_db_url,
                self._password(self.dagster_password_key) if self.dagster_db_url.startswith("postgres") else None,
                self.scratch_db_url,
                scratch_pw,
            ),
        ]

    def plan(self) -> BackupPlan:
        return BackupPlan(
            self.store(),
            self.databases(),
            self.lake_uri,
            self.endpoint_url,
            self.region,
            backup.RetentionPolicy(keep_daily=self.keep_daily, keep_weekly=self.keep_weekly),
        )
