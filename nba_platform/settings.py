"""The one place the environment is chosen and settings are read.

`NBA_PLATFORM_ENV=local` (default): everything embedded under `NBA_HOME` (./.nba_home).
`NBA_PLATFORM_ENV=prod`: the lake and landing zone on S3, secrets from AWS Secrets Manager,
Postgres for Dagster storage and serving tables. Assets never look at this; resources do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENVIRONMENTS = ("local", "prod")


def _load_dotenv(path: Path) -> None:
    """Minimal .env support for local runs: KEY=VALUE lines, never overriding the real env."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


@dataclass(frozen=True)
class Settings:
    env: str
    home: Path
    lake_uri: str
    landing_uri: str
    include_sample: bool
    aws_region: str
    aws_endpoint_url: str | None
    mlflow_tracking_uri: str
    mlflow_artifact_uri: str | None
    serving_db_url: str
    serving_db_password_key: str | None
    secrets_id: str | None

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")


def load_settings() -> Settings:
    _load_dotenv(Path.cwd() / ".env")
    env = os.environ.get("NBA_PLATFORM_ENV", "local").strip().lower()
    if env not in ENVIRONMENTS:
        raise ValueError(f"NBA_PLATFORM_ENV must be one of {ENVIRONMENTS}, got {env!r}")
    home = Path(os.environ.get("NBA_HOME", Path.cwd() / ".nba_home")).resolve()
    default_lake = str(home / "lake") if env == "local" else ""
    default_landing = str(home / "landing") if env == "local" else ""
    lake = os.environ.get("NBA_LAKE_URI", default_lake)
    landing = os.environ.get("NBA_LANDING_URI", default_landing)
    if env == "prod" and not (lake and landing):
        raise ValueError("NBA_PLATFORM_ENV=prod needs NBA_LAKE_URI and NBA_LANDING_URI (s3://bucket/prefix)")
    return Settings(
        env=env,
        home=home,
        lake_uri=lake,
        landing_uri=landing,
        include_sample=os.environ.get("NBA_INCLUDE_SAMPLE", "true").lower() in ("1", "true", "yes"),
        aws_region=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        # MLflow 3.17 refuses file stores: SQLite locally, Postgres in prod.
        mlflow_tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"),
        mlflow_artifact_uri=os.environ.get("MLFLOW_ARTIFACT_URI", str(home / "mlflow" / "artifacts") if env == "local" else None),
        # The serving database URL never holds a password: that comes from the secrets resource.
        serving_db_url=os.environ.get("NBA_SERVING_DB_URL", f"sqlite:///{home / 'serving' / 'serving.db'}"),
        serving_db_password_key=os.environ.get("NBA_SERVING_DB_PASSWORD_KEY", "rds_password" if env == "prod" else None),
        secrets_id=os.environ.get("NBA_SECRETS_ID"),
    )
