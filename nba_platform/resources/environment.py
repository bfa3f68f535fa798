"""Resources for the chosen environment. The only place that branches on it."""


from nba_platform.backup_runner import DatabaseBackups
from nba_platform.resources.alerts import AlertNotifier
from nba_platform.resources.lake import ParquetLakeIOManager
from nba_platform.resources.landing import LandingZone
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.secrets import Secrets
from nba_platform.resources.serving_db import ServingDatabase
from nba_platform.settings import Settings, load_settings


def build_resources(settings: Settings | None = None) -> dict:
    s = settings or load_settings()
    endpoint = s.aws_endpoint_url if s.env == "prod" else None
    secrets = Secrets(source="aws", secret_id=s.secrets_id, region=s.aws_region, endpoint_url=endpoint) if s.env == "prod" else Secrets(source="env")
    return {
        "secrets": secrets,
        "serving_db": ServingDatabase(url=s.serving_db_url, secrets=secrets, password_key=s.serving_db_password_key),
        "io_manager": ParquetLakeIOManager(root=s.lake_uri, endpoint_url=endpoint, region=s.aws_region),
        "landing": LandingZone(uri=s.landing_uri, include_sample=s.include_sample, endpoint_url=endpoint, region=s.aws_region),
        "mlflow": MlflowTracking(tracking_uri=s.mlflow_tracking_uri, artifact_location=s.mlflow_artifact_uri),
        "backups": DatabaseBackups(
            backup_uri=s.backup_uri, lake_uri=s.lake_uri, serving_db_url=s.serving_db_url, dagster_db_url=s.dagster_db_url,
            secrets=secrets, serving_password_key=s.serving_db_password_key, dagster_password_key=s.dagster_db_password_key,
            scratch_db_url=s.backup_scratch_db_url, scratch_password_key=s.backup_scratch_password_key,
            endpoint_url=endpoint, region=s.aws_region, keep_daily=s.backup_keep_daily, keep_weekly=s.backup_keep_weekly,
        ),
        "alert_notifier": AlertNotifier(
            secrets=secrets, environment=s.env, ui_base_url=s.ui_base_url,
            smtp_host=s.alert_smtp_host, smtp_port=s.alert_smtp_port, smtp_starttls=s.alert_smtp_starttls,
            smtp_ca_file=s.alert_smtp_ca_file, smtp_username=s.alert_smtp_username,
            email_from=s.alert_email_from, email_to=list(s.alert_email_to),
            scrub_secret_keys=[k for k in [s.serving_db_password_key] if k],
        ),
    }
