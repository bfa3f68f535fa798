"""The one place the environment is chosen and settings are read.

`NBA_PLATFORM_ENV=local` (default): everything embedded under `NBA_HOME` (./.nba_home).
`NBA_PLATFORM_ENV=prod`: the lake and landing zone on S3, secrets from AWS Secrets Manager,
Postgres for Dagster storage and serving tables. Assets never look at this; resources do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENTS = ("local", "prod")
EXECUTORS = ("in_process", "multiprocess", "celery")
LOG_FORMATS = ("text", "json")


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
    # Alerting (resources/alerts.py). Email is off unless a host and recipients are set; the SMTP
    # password and the webhook URL are secrets (nba_alert_smtp_password, nba_alert_webhook_url).
    alert_smtp_host: str | None = None
    alert_smtp_port: int = 587
    alert_smtp_starttls: bool = True
    alert_smtp_ca_file: str | None = None
    alert_smtp_username: str | None = None
    alert_email_from: str = "nba-platform@localhost"
    alert_email_to: tuple[str, ...] = ()
    ui_base_url: str = "http://127.0.0.1:3000"
    # Backups (operations/backups.py, resources/backups.py, defs/ops/backups.py). URLs hold no passwords: the *_password_key
    # names are looked up in the secrets resource at run time.
    backup_uri: str = ""
    dagster_db_url: str = ""
    dagster_db_password_key: str | None = None
    backup_scratch_db_url: str | None = None
    backup_scratch_password_key: str | None = None
    backup_keep_daily: int = 7
    backup_keep_weekly: int = 4
    # stats.nba.com as a raw source (resources/stats_api.py; raw assets use it with config
    # `source: stats_api`). Empty cache URI = no response cache.
    stats_api_base_url: str = "https://stats.nba.com/stats"
    stats_api_timeout_seconds: float = 30.0
    stats_api_requests_per_second: float = 1.0
    stats_api_endpoint_rates: tuple[tuple[str, float], ...] = ()
    stats_api_max_attempts: int = 5
    stats_api_retry_after_cap_seconds: float = 120.0
    stats_api_breaker_failures: int = 5
    stats_api_breaker_cooldown_seconds: float = 60.0
    stats_api_cache_uri: str = ""
    stats_api_cache_ttl_seconds: float = 86400.0
    # Glue Data Catalog database the lake's tables are registered in (prod, S3 lake only). Terraform
    # creates it and sets NBA_GLUE_DATABASE on the ECS tasks; unset means no registration.
    glue_database: str | None = None
    mlflow_password_key: str | None = None
    # Retraining sensor (defs/models/sensors.py)
    retrain_drift_share: float = 0.75
    retrain_skill_margin: float = 0.01
    retrain_min_live_games: int = 100
    # Step executor (resources/environment.py::build_executor). celery: steps go to workers
    # (`celery -A nba_platform.celery_app worker`) through the broker; the broker URL may hold
    # a password, so it is only handed to Celery, never to run config or metadata.
    executor: str = "in_process"
    celery_broker: str = field(default="pyamqp://guest@127.0.0.1:5672//", repr=False)
    celery_backend: str = field(default="rpc://", repr=False)
    celery_queue: str = "dagster"
    # Run logs (observability/run_logs.py): json = one JSON object per line on stdout besides Dagster's console.
    log_format: str = "text"
    # --- metrics and traces settings ---
    # Platform exporter (observability/exporter.py): seconds a snapshot of the instance and serving DB is reused.
    metrics_cache_ttl_seconds: float = 15.0

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")


def _dagster_db_url(env: str, home: Path) -> str:
    """The Dagster storage database: the SQLite files under DAGSTER_HOME embedded; in prod the
    Postgres database infra/dagster/dagster.yaml points at (DAGSTER_PG_*), without its password."""
    if env == "local":
        return f"sqlite:///{os.environ.get('DAGSTER_HOME') or home / 'dagster'}"
    host, db, user = (os.environ.get(f"DAGSTER_PG_{k}") for k in ("HOST", "DB", "USER"))
    if not (host and db and user):
        return ""
    from urllib.parse import quote

    return (
        f"postgresql://{quote(user, safe='')}@{host}:{os.environ.get('DAGSTER_PG_PORT') or 5432}/{quote(db, safe='')}"
    )


def _endpoint_rates(text: str) -> tuple[tuple[str, float], ...]:
    """'boxscoretraditionalv2=0.5,commonplayerinfo=2' -> per-endpoint requests per second."""
    pairs = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        name, _, rate = item.partition("=")
        if not name.strip() or not re.fullmatch(r"\d+(\.\d*)?", rate.strip()):
            raise ValueError(
                f"NBA_STATS_API_ENDPOINT_RATES wants endpoint=rate pairs separated by commas, got {item!r}"
            )
        pairs.append((name.strip(), float(rate)))
    return tuple(pairs)


def load_log_format() -> str:
    """NBA_LOG_FORMAT (text | json; default text locally, json in prod). Read on its own too: the
    run log handler needs it where the rest of the settings may not be complete."""
    env = os.environ.get("NBA_PLATFORM_ENV", "local").strip().lower()
    fmt = os.environ.get("NBA_LOG_FORMAT", "json" if env == "prod" else "text").strip().lower()
    if fmt not in LOG_FORMATS:
        raise ValueError(f"NBA_LOG_FORMAT must be one of {LOG_FORMATS}, got {fmt!r}")
    return fmt


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
    executor = os.environ.get("NBA_EXECUTOR", "in_process").strip().lower().replace("-", "_")
    if executor not in EXECUTORS:
        raise ValueError(f"NBA_EXECUTOR must be one of {EXECUTORS}, got {executor!r}")
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
        # only a server database takes a password (prod: Postgres, from the secret's mlflow_db_password)
        mlflow_password_key=(
            os.environ.get("NBA_MLFLOW_DB_PASSWORD_KEY", "mlflow_db_password" if env == "prod" else "") or None
        )
        if os.environ.get("MLFLOW_TRACKING_URI", "").startswith("postgresql")
        else None,
        mlflow_artifact_uri=os.environ.get(
            "MLFLOW_ARTIFACT_URI", str(home / "mlflow" / "artifacts") if env == "local" else None
        ),
        # The serving database URL never holds a password: that comes from the secrets resource.
        serving_db_url=os.environ.get("NBA_SERVING_DB_URL", f"sqlite:///{home / 'serving' / 'serving.db'}"),
        serving_db_password_key=os.environ.get(
            "NBA_SERVING_DB_PASSWORD_KEY", "rds_password" if env == "prod" else None
        ),
        secrets_id=os.environ.get("NBA_SECRETS_ID"),
        alert_smtp_host=os.environ.get("NBA_ALERT_SMTP_HOST") or None,
        alert_smtp_port=int(os.environ.get("NBA_ALERT_SMTP_PORT") or 587),
        alert_smtp_starttls=os.environ.get("NBA_ALERT_SMTP_STARTTLS", "true").lower() in ("1", "true", "yes"),
        alert_smtp_ca_file=os.environ.get("NBA_ALERT_SMTP_CA_FILE") or None,
        alert_smtp_username=os.environ.get("NBA_ALERT_SMTP_USERNAME") or None,
        alert_email_from=os.environ.get("NBA_ALERT_EMAIL_FROM") or "nba-platform@localhost",
        alert_email_to=tuple(a.strip() for a in os.environ.get("NBA_ALERT_EMAIL_TO", "").split(",") if a.strip()),
        ui_base_url=os.environ.get("NBA_UI_BASE_URL") or "http://127.0.0.1:3000",
        backup_uri=os.environ.get("NBA_BACKUP_URI", str(home / "backups") if env == "local" else ""),
        dagster_db_url=os.environ.get("NBA_DAGSTER_DB_URL") or _dagster_db_url(env, home),
        dagster_db_password_key=os.environ.get(
            "NBA_DAGSTER_DB_PASSWORD_KEY", "dagster_pg_password" if env == "prod" else None
        ),
        backup_scratch_db_url=os.environ.get("NBA_BACKUP_SCRATCH_DB_URL") or None,
        backup_scratch_password_key=os.environ.get("NBA_BACKUP_SCRATCH_PASSWORD_KEY") or None,
        backup_keep_daily=int(os.environ.get("NBA_BACKUP_KEEP_DAILY") or 7),
        backup_keep_weekly=int(os.environ.get("NBA_BACKUP_KEEP_WEEKLY") or 4),
        stats_api_base_url=os.environ.get("NBA_STATS_API_BASE_URL") or "https://stats.nba.com/stats",
        stats_api_timeout_seconds=float(os.environ.get("NBA_STATS_API_TIMEOUT_SECONDS") or 30),
        stats_api_requests_per_second=float(os.environ.get("NBA_STATS_API_REQUESTS_PER_SECOND") or 1.0),
        stats_api_endpoint_rates=_endpoint_rates(os.environ.get("NBA_STATS_API_ENDPOINT_RATES", "")),
        stats_api_max_attempts=int(os.environ.get("NBA_STATS_API_MAX_ATTEMPTS") or 5),
        stats_api_retry_after_cap_seconds=float(os.environ.get("NBA_STATS_API_RETRY_AFTER_CAP_SECONDS") or 120),
        stats_api_breaker_failures=int(os.environ.get("NBA_STATS_API_BREAKER_FAILURES") or 5),
        stats_api_breaker_cooldown_seconds=float(os.environ.get("NBA_STATS_API_BREAKER_COOLDOWN_SECONDS") or 60),
        # Locally under NBA_HOME; in prod only when set (e.g. s3://bucket/stats_api_cache).
        stats_api_cache_uri=os.environ.get(
            "NBA_STATS_API_CACHE_URI", str(home / "stats_api_cache") if env == "local" else ""
        ),
        stats_api_cache_ttl_seconds=float(os.environ.get("NBA_STATS_API_CACHE_TTL_SECONDS") or 86400),
        glue_database=os.environ.get("NBA_GLUE_DATABASE") or None,
        retrain_drift_share=float(os.environ.get("NBA_RETRAIN_DRIFT_SHARE") or 0.75),
        retrain_skill_margin=float(os.environ.get("NBA_RETRAIN_SKILL_MARGIN") or 0.01),
        retrain_min_live_games=int(os.environ.get("NBA_RETRAIN_MIN_LIVE_GAMES") or 100),
        executor=executor,
        celery_broker=os.environ.get("NBA_CELERY_BROKER") or "pyamqp://guest@127.0.0.1:5672//",
        celery_backend=os.environ.get("NBA_CELERY_BACKEND") or "rpc://",
        celery_queue=os.environ.get("NBA_CELERY_QUEUE") or "dagster",
        log_format=load_log_format(),
        metrics_cache_ttl_seconds=float(os.environ.get("NBA_METRICS_CACHE_TTL_SECONDS") or 15),
    )
