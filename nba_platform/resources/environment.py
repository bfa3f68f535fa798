"""Resources for the chosen environment. The only place that branches on it."""


from nba_platform.resources.lake import ParquetLakeIOManager
from nba_platform.resources.landing import LandingZone
from nba_platform.settings import Settings, load_settings


def build_resources(settings: Settings | None = None) -> dict:
    s = settings or load_settings()
    endpoint = s.aws_endpoint_url if s.env == "prod" else None
    return {
        "io_manager": ParquetLakeIOManager(root=s.lake_uri, endpoint_url=endpoint, region=s.aws_region),
        "landing": LandingZone(uri=s.landing_uri, include_sample=s.include_sample, endpoint_url=endpoint, region=s.aws_region),
    }
