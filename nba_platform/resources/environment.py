"""Resources for the chosen environment. The only place that branches on it."""

import dagster as dg

from nba_platform.resources.alerts import AlertNotifier
from nba_platform.resources.backups import DatabaseBackups
from nba_platform.resources.lake import ParquetLakeIOManager
from nba_platform.resources.landing import LandingZone
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.reports import ReportStore
from nba_platform.resources.retraining import RetrainingPolicy
from nba_platform.resources.secrets import Secrets
from nba_platform.resources.serving_db import ServingDatabase
from nba_platform.resources.stats_api import StatsApi
from nba_platform.settings import Settings, load_settings


def build_resources(settings: Settings | None = None) -> dict:
    s = settings or load_settings()
    endpoint = s.aws_endpoint_url if s.env == "prod" else None
    secrets = (
        Secrets(source="aws", secret_id=s.secrets_id, region=s.aws_region, endpoint_url=endpoint)
        if s.env == "prod"
        else Secrets(source="env")
    )
    alert_notifier = AlertNotifier(
        secrets=secrets,
        environment=s.env,
        ui_base_url=s.ui_base_url,
        smtp_host=s.alert_smtp_host,
        smtp_port=s.alert_smtp_port,
        smtp_starttls=s.alert_smtp_starttls,
        smtp_ca_file=s.alert_smtp_ca_file,
        smtp_username=s.alert_smtp_username,
        email_from=s.alert_email_from,
        email_to=list(s.alert_email_to),
        scrub_secret_keys=[k for k in [s.serving_db_password_key] if k],
    )
    return {
        "secrets": secrets,
        "serving_db": ServingDatabase(url=s.serving_db_url, secrets=secrets, password_key=s.serving_db_password_key),
        "io_manager": ParquetLakeIOManager(
            root=s.lake_uri,
            endpoint_url=endpoint,
            region=s.aws_region,
            glue_database=s.glue_database if s.env == "prod" else None,  # a local lake has no Glue catalog
        ),
        # HTML reports (Evidently drift) beside the lake's asset folders, same bucket and credentials.
        "reports": ReportStore(root=f"{s.lake_uri.rstrip('/')}/_reports", endpoint_url=endpoint, region=s.aws_region),
        "landing": LandingZone(
            uri=s.landing_uri, include_sample=s.include_sample, endpoint_url=endpoint, region=s.aws_region
        ),
        "stats_api": StatsApi(
            base_url=s.stats_api_base_url,
            timeout_seconds=s.stats_api_timeout_seconds,
            requests_per_second=s.stats_api_requests_per_second,
            endpoint_requests_per_second=dict(s.stats_api_endpoint_rates),
            max_attempts=s.stats_api_max_attempts,
            retry_after_cap_seconds=s.stats_api_retry_after_cap_seconds,
            breaker_failure_threshold=s.stats_api_breaker_failures,
            breaker_cooldown_seconds=s.stats_api_breaker_cooldown_seconds,
            cache_uri=s.stats_api_cache_uri,
            cache_ttl_seconds=s.stats_api_cache_ttl_seconds,
            endpoint_url=endpoint,
            region=s.aws_region,
        ),
        "mlflow": MlflowTracking(
            tracking_uri=s.mlflow_tracking_uri,
            artifact_location=s.mlflow_artifact_uri,
            secrets=secrets,
            password_key=s.mlflow_password_key,
            s3_endpoint_url=endpoint,
            alert_notifier=alert_notifier,
        ),
        "backups": DatabaseBackups(
            backup_uri=s.backup_uri,
            lake_uri=s.lake_uri,
            serving_db_url=s.serving_db_url,
            dagster_db_url=s.dagster_db_url,
            secrets=secrets,
            serving_password_key=s.serving_db_password_key,
            dagster_password_key=s.dagster_db_password_key,
            scratch_db_url=s.backup_scratch_db_url,
            scratch_password_key=s.backup_scratch_password_key,
            endpoint_url=endpoint,
            region=s.aws_region,
            keep_daily=s.backup_keep_daily,
            keep_weekly=s.backup_keep_weekly,
        ),
        "retraining_policy": RetrainingPolicy(
            drift_triggers_retraining=s.retrain_on_drift,
            drift_share_threshold=s.retrain_drift_share,
            skill_decay_margin=s.retrain_skill_margin,
            min_live_games=s.retrain_min_live_games,
        ),
        "alert_notifier": alert_notifier,
    }


def celery_executor_config(settings: Settings) -> dict:
    """Config of the celery executor, shared with the workers' app (nba_platform/celery_app.py)
    so a worker always consumes the broker and queue that runs submit steps to."""
    return {
        "broker": settings.celery_broker,
        "backend": settings.celery_backend,
        # dagster-celery submits each step to the Celery app's default queue.
        "config_source": {"task_default_queue": settings.celery_queue},
    }


def build_executor(settings: Settings | None = None) -> dg.ExecutorDefinition:
    """The step executor of every job: NBA_EXECUTOR=in_process (default) | multiprocess | celery."""
    s = settings or load_settings()
    if s.executor == "celery":
        from dagster_celery import celery_executor  # imports celery and kombu: only when selected

        return celery_executor.configured(celery_executor_config(s), name="celery")
    if s.executor == "multiprocess":
        return dg.multiprocess_executor
    return dg.in_process_executor
