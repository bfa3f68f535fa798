"""Resources for the chosen environment. The only place that branches on it."""


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
    }
