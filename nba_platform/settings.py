"""The one place the environment is chosen and settings are read (pydantic-settings).

`NBA_PLATFORM_ENV=local` (default): everything embedded under `NBA_HOME` (./.nba_home).
`NBA_PLATFORM_ENV=prod`: the lake and landing zone on S3, secrets from AWS Secrets Manager,
Postgres for Dagster storage and serving tables. Assets never look at this; resources do.

Each setting is one field of `Settings`, read from the environment variable named by its alias,
else from `./.env`, else its default. Defaults that depend on the environment or on `NBA_HOME`
are left `None` on the field and derived in `Settings._derive_defaults` (their README text is in
`default_doc`). An empty value counts as unset, except where an empty string means "off"
(`KEEP_EMPTY`). The README's settings table is `settings_table()` (tested equal).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from nba_platform.lib.stats_api import (
    DEFAULT_BASE_URL,
    DEFAULT_BREAKER_COOLDOWN_S,
    DEFAULT_BREAKER_FAILURES,
    DEFAULT_CACHE_TTL_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_REQUESTS_PER_SECOND,
    DEFAULT_RETRY_AFTER_CAP_S,
    DEFAULT_TIMEOUT_S,
)

ENVIRONMENTS = ("local", "prod")
EXECUTORS = ("in_process", "multiprocess", "celery")
LOG_FORMATS = ("text", "json")
DOTENV_PATH = ".env"  # relative: the working directory's .env, read by pydantic-settings

# An empty string is a value for these (no cache; no password key), not "use the default".
KEEP_EMPTY = frozenset({"stats_api_cache_uri", "serving_db_password_key", "dagster_db_password_key"})


def setting(env_var: str | AliasChoices, default: Any = None, doc: str = "", default_doc: str | None = None, **kw):
    """A settings field read from `env_var`; `default_doc` describes a derived (None) default."""
    extra = {"default_doc": default_doc} if default_doc else None
    if "default_factory" not in kw:
        kw["default"] = default
    return Field(validation_alias=env_var, description=doc, json_schema_extra=extra, **kw)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _endpoint_rates(value: Any) -> Any:
    """'boxscoretraditionalv2=0.5,commonplayerinfo=2' -> per-endpoint requests per second."""
    if not isinstance(value, str):
        return value
    pairs = []
    for item in (i.strip() for i in value.split(",") if i.strip()):
        name, _, rate = item.partition("=")
        if not name.strip() or not re.fullmatch(r"\d+(\.\d*)?", rate.strip()):
            raise ValueError(
                f"NBA_STATS_API_ENDPOINT_RATES wants endpoint=rate pairs separated by commas, got {item!r}"
            )
        pairs.append((name.strip(), float(rate)))
    return tuple(pairs)


class _Base(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=DOTENV_PATH,
        extra="ignore",
        # a value that fails validation may be a secret (a broker URL with a password): never echo it
        hide_input_in_errors=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any, info) -> Any:
        if value == "" and info.field_name not in KEEP_EMPTY:
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return value


class EnvironmentSettings(_Base):
    """The environment and the log format: all the run log handler needs, readable where the rest
    of the settings may be incomplete (observability/run_logs.py)."""

    env: Literal["local", "prod"] = setting("NBA_PLATFORM_ENV", "local", "`local` (embedded) or `prod`")
    log_format: Literal["text", "json"] | None = setting(
        "NBA_LOG_FORMAT",
        None,
        "`json`: every run's log records also go to stdout as one JSON object per line (timestamp, level, "
        "message, run_id, job, step, asset_key(s), partition, event_type, error), secret values scrubbed, via "
        "the `python_logs` handler in the instance's `dagster.yaml` (`nba_platform/observability/run_logs.py`); "
        "`text`: Dagster's console lines (stderr) only. Dagster homes the CLI created before this setting "
        "existed need the `python_logs` block of `infra/dagster/dagster.yaml` added",
        default_doc="`text` locally, `json` in prod",
    )

    @field_validator("env", "log_format", mode="before")
    @classmethod
    def _normalise_choice(cls, value: Any) -> Any:
        return _lower(value)

    @model_validator(mode="after")
    def _derive_log_format(self):
        if self.log_format is None:
            self.log_format = "json" if self.env == "prod" else "text"
        return self


class Settings(EnvironmentSettings):
    home: Path = setting(
        "NBA_HOME",
        doc="root of everything embedded: lake, landing dir, Dagster home",
        default_doc="`./.nba_home`",
        default_factory=lambda: Path.cwd() / ".nba_home",
    )
    dagster_home: Path | None = setting(
        "DAGSTER_HOME", None, "Dagster instance directory", default_doc="`$NBA_HOME/dagster` (set by the CLI)"
    )
    lake_uri: str | None = setting(
        "NBA_LAKE_URI",
        None,
        "Parquet lake root, local path or `s3://bucket/prefix`",
        default_doc="`$NBA_HOME/lake` locally; required in prod",
    )
    landing_uri: str | None = setting(
        "NBA_LANDING_URI",
        None,
        "landing zone, local path or `s3://bucket/prefix`",
        default_doc="`$NBA_HOME/landing` locally; required in prod",
    )
    include_sample: bool = setting(
        "NBA_INCLUDE_SAMPLE", True, "treat the shipped sample files as part of the landing zone"
    )
    aws_region: str = setting(
        AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        "us-east-1",
        "region for S3, Secrets Manager, Glue (`AWS_DEFAULT_REGION` when `AWS_REGION` is unset)",
    )
    aws_endpoint_url: str | None = setting(
        "AWS_ENDPOINT_URL", None, "S3-compatible endpoint (prod only; tests point it at moto_server)"
    )
    # MLflow 3.17 refuses file stores: SQLite locally, Postgres in prod.
    mlflow_tracking_uri: str | None = setting(
        "MLFLOW_TRACKING_URI",
        None,
        "MLflow tracking + registry store (Postgres in prod; MLflow refuses file stores)",
        default_doc="`sqlite:///$NBA_HOME/mlflow/mlflow.db`",
    )
    mlflow_artifact_uri: str | None = setting(
        "MLFLOW_ARTIFACT_URI",
        None,
        "artifact location for new experiments (`s3://...` in prod)",
        default_doc="`$NBA_HOME/mlflow/artifacts` locally; MLflow's default in prod",
    )
    mlflow_password_key: str | None = setting(
        "NBA_MLFLOW_DB_PASSWORD_KEY",
        None,
        "key of the MLflow database password in the secrets store; added to the URI at use, never stored "
        "(only a server database takes one)",
        default_doc="`mlflow_db_password` in prod (when `MLFLOW_TRACKING_URI` is `postgresql+psycopg2://user@host/db`)",
    )
    # The serving database URL never holds a password: that comes from the secrets resource.
    serving_db_url: str | None = setting(
        "NBA_SERVING_DB_URL",
        None,
        "serving DB; `postgresql://user@host:5432/db` in prod (no password in the URL)",
        default_doc="`sqlite:///$NBA_HOME/serving/serving.db`",
    )
    serving_db_password_key: str | None = setting(
        "NBA_SERVING_DB_PASSWORD_KEY",
        None,
        "key of the serving DB password in the secrets store",
        default_doc="`rds_password` in prod",
    )
    secrets_id: str | None = setting(
        "NBA_SECRETS_ID", None, "AWS Secrets Manager secret (a JSON object) holding the prod secrets"
    )
    # --- alerting settings (resources/alerts.py). Email is off unless a host and recipients are set;
    # the SMTP password and the webhook URL are secrets (nba_alert_smtp_password, nba_alert_webhook_url).
    alert_smtp_host: str | None = setting(
        "NBA_ALERT_SMTP_HOST", None, "SMTP relay host", default_doc="unset (email off)"
    )
    alert_smtp_port: int = setting("NBA_ALERT_SMTP_PORT", 587, "SMTP port")
    alert_smtp_starttls: bool = setting("NBA_ALERT_SMTP_STARTTLS", True, "upgrade with STARTTLS before login/sending")
    alert_smtp_ca_file: str | None = setting(
        "NBA_ALERT_SMTP_CA_FILE", None, "CA bundle to trust for a private relay", default_doc="unset (system CAs)"
    )
    alert_smtp_username: str | None = setting(
        "NBA_ALERT_SMTP_USERNAME",
        None,
        "SMTP login; its password is the secret `nba_alert_smtp_password`",
        default_doc="unset (no login)",
    )
    alert_email_from: str = setting("NBA_ALERT_EMAIL_FROM", "nba-platform@localhost", "sender")
    alert_email_to: Annotated[tuple[str, ...], NoDecode] = setting(
        "NBA_ALERT_EMAIL_TO", (), "comma-separated recipients", default_doc="unset (email off)"
    )
    ui_base_url: str = setting("NBA_UI_BASE_URL", "http://127.0.0.1:3000", "Dagster UI base for run / asset links")
    # --- backups (operations/backups.py, resources/backups.py, defs/ops/backups.py). URLs hold no
    # passwords: the *_password_key names are looked up in the secrets resource at run time.
    backup_uri: str | None = setting(
        "NBA_BACKUP_URI",
        None,
        "backup location, local dir or `s3://bucket/prefix` (required in prod)",
        default_doc="`$NBA_HOME/backups` locally",
    )
    dagster_db_url: str | None = setting(
        "NBA_DAGSTER_DB_URL",
        None,
        "Dagster storage database to back up",
        default_doc="the instance's SQLite dir locally; from `DAGSTER_PG_HOST/DB/USER/PORT` in prod",
    )
    dagster_pg_host: str | None = setting("DAGSTER_PG_HOST", None, "prod Dagster storage: Postgres host")
    dagster_pg_port: int = setting("DAGSTER_PG_PORT", 5432, "prod Dagster storage: Postgres port")
    dagster_pg_db: str | None = setting("DAGSTER_PG_DB", None, "prod Dagster storage: database")
    dagster_pg_user: str | None = setting(
        "DAGSTER_PG_USER", None, "prod Dagster storage: user (its password `DAGSTER_PG_PASSWORD` is a secret)"
    )
    dagster_db_password_key: str | None = setting(
        "NBA_DAGSTER_DB_PASSWORD_KEY",
        None,
        "key of the Dagster database password in the secrets store",
        default_doc="`dagster_pg_password` in prod",
    )
    backup_scratch_db_url: str | None = setting(
        "NBA_BACKUP_SCRATCH_DB_URL",
        None,
        "where restore verification creates its scratch database",
        default_doc="the source server",
    )
    backup_scratch_password_key: str | None = setting(
        "NBA_BACKUP_SCRATCH_PASSWORD_KEY", None, "key of the scratch server's password in the secrets store"
    )
    backup_keep_daily: int = setting("NBA_BACKUP_KEEP_DAILY", 7, "daily backups kept")
    backup_keep_weekly: int = setting("NBA_BACKUP_KEEP_WEEKLY", 4, "weekly (Sunday) backups kept")
    # --- stats.nba.com as a raw source (resources/stats_api.py; raw assets use it with config
    # `source: stats_api`). Defaults are the client's own (lib/stats_api.py).
    stats_api_base_url: str = setting(
        "NBA_STATS_API_BASE_URL", DEFAULT_BASE_URL, "API root (tests point it at a local server)"
    )
    daily_ingest_source: Literal["landing", "stats_api"] = setting(
        "NBA_DAILY_INGEST_SOURCE",
        "landing",
        "where the daily ingest (10:00 UTC) reads the latest season's results and schedule: `landing` (landed files) "
        "or `stats_api` (LeagueGameLog and scheduleleaguev2 fetched each day; other shapes still from landed files)",
    )
    stats_api_timeout_seconds: float = setting(
        "NBA_STATS_API_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_S, "socket timeout per request"
    )
    stats_api_requests_per_second: float = setting(
        "NBA_STATS_API_REQUESTS_PER_SECOND", DEFAULT_REQUESTS_PER_SECOND, "rate per endpoint (`0` = unlimited)"
    )
    stats_api_endpoint_rates: Annotated[tuple[tuple[str, float], ...], NoDecode] = setting(
        "NBA_STATS_API_ENDPOINT_RATES",
        (),
        "per-endpoint overrides, e.g. `boxscoretraditionalv2=0.5,commonplayerinfo=2`",
        default_doc="unset",
    )
    stats_api_max_attempts: int = setting(
        "NBA_STATS_API_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, "tries per request, the first included"
    )
    stats_api_retry_after_cap_seconds: float = setting(
        "NBA_STATS_API_RETRY_AFTER_CAP_SECONDS", DEFAULT_RETRY_AFTER_CAP_S, "longest `Retry-After` honoured"
    )
    stats_api_breaker_failures: int = setting(
        "NBA_STATS_API_BREAKER_FAILURES", DEFAULT_BREAKER_FAILURES, "consecutive failures that open the breaker"
    )
    stats_api_breaker_cooldown_seconds: float = setting(
        "NBA_STATS_API_BREAKER_COOLDOWN_SECONDS", DEFAULT_BREAKER_COOLDOWN_S, "breaker open time"
    )
    stats_api_cache_uri: str | None = setting(
        "NBA_STATS_API_CACHE_URI",
        None,
        "response cache, local dir or `s3://bucket/prefix`; empty = no cache",
        default_doc="`$NBA_HOME/stats_api_cache` locally, unset (no cache) in prod",
    )
    stats_api_cache_ttl_seconds: float = setting(
        "NBA_STATS_API_CACHE_TTL_SECONDS",
        DEFAULT_CACHE_TTL_S,
        "cached responses older than this are refetched (`0` = never expire)",
    )
    glue_database: str | None = setting(
        "NBA_GLUE_DATABASE",
        None,
        "prod only: existing Glue database every lake write registers its table in (see Glue Data Catalog)",
        default_doc="unset (no registration); Terraform's ECS tasks set it to `var.glue_database_name` (`nba_platform`)",
    )
    # --- retraining sensor (defs/models/sensors.py)
    retrain_on_drift: bool = setting(
        "NBA_RETRAIN_ON_DRIFT",
        False,
        "whether a drift share at or above `NBA_RETRAIN_DRIFT_SHARE` makes `retraining_sensor` ask for a retrain. "
        "Off: drift is a report (monitoring/feature_drift), not a trigger, because consecutive real seasons drift as "
        'much as the threshold (README, "The champion stays current"); new complete seasons and a stale champion '
        "retrain instead",
    )
    retrain_drift_share: float = setting(
        "NBA_RETRAIN_DRIFT_SHARE",
        0.75,
        "share of drifted features (KS test per feature) in a new partition that makes `retraining_sensor` ask "
        "for a retrain when `NBA_RETRAIN_ON_DRIFT` is on. Measured on the shipped history: a full season against the three before it flags 10-71% "
        "of features (scoring and pace rise every year), the same distribution ~1%; 0.75 means drift beyond a "
        "normal season's",
    )
    retrain_skill_margin: float = setting(
        "NBA_RETRAIN_SKILL_MARGIN",
        0.01,
        "live Brier (last N games) above the champion's validation Brier by more than this asks for a retrain",
    )
    retrain_min_live_games: int = setting(
        "NBA_RETRAIN_MIN_LIVE_GAMES", 100, "live skill over fewer games is not acted on"
    )
    # --- step executor (resources/environment.py::build_executor). celery: steps go to workers
    # through the broker; the broker URL may hold a password, so it is only handed to Celery.
    executor: Literal["in_process", "multiprocess", "celery"] = setting(
        "NBA_EXECUTOR",
        "in_process",
        "step executor of every job: `in_process`, `multiprocess` (a process per step) or `celery` "
        "(steps on Celery workers, see Scale-out)",
    )
    celery_broker: str = setting(
        "NBA_CELERY_BROKER",
        "pyamqp://guest@127.0.0.1:5672//",
        "Celery broker (any Kombu URL, e.g. `redis://127.0.0.1:6379/0`); may hold a password: set it from a "
        "secret, it is never written to run config or logs",
        repr=False,
    )
    celery_backend: str = setting(
        "NBA_CELERY_BACKEND",
        "rpc://",
        "Celery result backend (`rpc://` over the broker, or e.g. `redis://127.0.0.1:6379/1`)",
        repr=False,
    )
    celery_queue: str = setting("NBA_CELERY_QUEUE", "dagster", "queue runs submit steps to and workers consume")
    # --- metrics and traces (nba_platform/observability)
    metrics_cache_ttl_seconds: float = setting(
        "NBA_METRICS_CACHE_TTL_SECONDS",
        15.0,
        "seconds the platform exporter reuses its snapshot of the instance and serving DB",
    )
    # --- forecast API and MCP server (nba_platform/api: `serve-api`, `serve-mcp`, `api-token`)
    api_host: str = setting("NBA_API_HOST", "127.0.0.1", "address `serve-api` and `serve-mcp` bind to")
    api_port: int = setting("NBA_API_PORT", 8080, "forecast API port")
    mcp_port: int = setting("NBA_MCP_PORT", 8081, "MCP server port (streamable HTTP; stdio needs none)")
    mcp_public_url: str | None = setting(
        "NBA_MCP_PUBLIC_URL",
        None,
        "URL clients reach the MCP server at (its OAuth resource metadata names `<url>/mcp`), "
        "e.g. the load balancer's `https://host`; a trailing slash is dropped",
        default_doc="`http://{host}:{port}` of `serve-mcp`",
    )
    api_jwt_secret_key: str = setting(
        "NBA_API_JWT_SECRET_KEY", "nba_api_jwt_secret", "key of the HS256 token signing key in the secrets store"
    )
    api_token_issuer: str = setting("NBA_API_TOKEN_ISSUER", "nba-platform", "`iss` of issued and accepted tokens")
    api_token_audience: str = setting(
        "NBA_API_TOKEN_AUDIENCE", "nba-forecast-api", "`aud` of issued and accepted tokens"
    )
    api_rate_limit_per_minute: float = setting(
        "NBA_API_RATE_LIMIT_PER_MINUTE", 600.0, "requests per minute per client (token subject)"
    )
    api_rate_limit_burst: int = setting("NBA_API_RATE_LIMIT_BURST", 60, "requests a client may burst")
    api_cors_origins: Annotated[tuple[str, ...], NoDecode] = setting(
        "NBA_API_CORS_ORIGINS", (), "comma-separated allowed origins", default_doc="unset (CORS off)"
    )
    api_metrics_public: bool = setting(
        "NBA_API_METRICS_PUBLIC", True, "`/metrics` without a token (false: needs scope `read:metrics`)"
    )
    api_db_pool_size: int = setting("NBA_API_DB_POOL_SIZE", 8, "serving-database connections the API keeps open")
    api_cache_seconds: float = setting(
        "NBA_API_CACHE_SECONDS",
        5.0,
        "seconds an API answer is reused (then served stale once while recomputed); 0 = off",
    )

    @field_validator("executor", mode="before")
    @classmethod
    def _normalise_executor(cls, value: Any) -> Any:
        return _lower(value).replace("-", "_") if isinstance(value, str) else value

    @field_validator("alert_email_to", "api_cors_origins", mode="before")
    @classmethod
    def _split_recipients(cls, value: Any) -> Any:
        return _comma_list(value)

    @field_validator("stats_api_endpoint_rates", mode="before")
    @classmethod
    def _parse_endpoint_rates(cls, value: Any) -> Any:
        return _endpoint_rates(value)

    @model_validator(mode="after")
    def _derive_defaults(self):
        local = self.env == "local"
        self.home = self.home.resolve()
        home = self.home
        if self.dagster_home is None:
            self.dagster_home = home / "dagster"
        if self.lake_uri is None:
            self.lake_uri = str(home / "lake") if local else ""
        if self.landing_uri is None:
            self.landing_uri = str(home / "landing") if local else ""
        if not local and not (self.lake_uri and self.landing_uri):
            raise ValueError("NBA_PLATFORM_ENV=prod needs NBA_LAKE_URI and NBA_LANDING_URI (s3://bucket/prefix)")
        if self.mlflow_tracking_uri is None:
            self.mlflow_tracking_uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
        if not self.mlflow_tracking_uri.startswith("postgresql"):
            self.mlflow_password_key = None
        elif self.mlflow_password_key is None and not local:
            self.mlflow_password_key = "mlflow_db_password"
        if self.mlflow_artifact_uri is None and local:
            self.mlflow_artifact_uri = str(home / "mlflow" / "artifacts")
        if self.serving_db_url is None:
            self.serving_db_url = f"sqlite:///{home / 'serving' / 'serving.db'}"
        if self.serving_db_password_key is None and not local:
            self.serving_db_password_key = "rds_password"
        self.serving_db_password_key = self.serving_db_password_key or None
        if self.backup_uri is None:
            self.backup_uri = str(home / "backups") if local else ""
        if self.dagster_db_url is None:
            self.dagster_db_url = self._default_dagster_db_url()
        if self.dagster_db_password_key is None and not local:
            self.dagster_db_password_key = "dagster_pg_password"
        self.dagster_db_password_key = self.dagster_db_password_key or None
        if self.stats_api_cache_uri is None:
            self.stats_api_cache_uri = str(home / "stats_api_cache") if local else ""
        return self

    def _default_dagster_db_url(self) -> str:
        """The Dagster storage database: the SQLite files under DAGSTER_HOME embedded; in prod the
        Postgres database infra/dagster/dagster.yaml points at (DAGSTER_PG_*), without its password."""
        if self.env == "local":
            return f"sqlite:///{self.dagster_home}"
        if not (self.dagster_pg_host and self.dagster_pg_db and self.dagster_pg_user):
            return ""
        user, db = quote(self.dagster_pg_user, safe=""), quote(self.dagster_pg_db, safe="")
        return f"postgresql://{user}@{self.dagster_pg_host}:{self.dagster_pg_port}/{db}"


def load_settings() -> Settings:
    """Settings from the environment and ./.env (a ValueError names a bad variable)."""
    return Settings()


def load_log_format() -> str:
    """NBA_LOG_FORMAT (text | json; default text locally, json in prod), read without the rest of
    the settings: the run log handler needs it where they may not be complete."""
    return EnvironmentSettings().log_format


def settings_table() -> str:
    """The README's settings table: one row per field of `Settings`."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names = alias.choices if isinstance(alias, AliasChoices) else [alias]
        extra = field.json_schema_extra or {}
        if "default_doc" in extra:
            default = extra["default_doc"]
        elif field.default in (None, ()):
            default = "unset"
        else:
            value = field.default
            default = f"`{str(value).lower() if isinstance(value, bool) else value}`"
        rows.append(f"| {' / '.join(f'`{n}`' for n in names)} | {default} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
