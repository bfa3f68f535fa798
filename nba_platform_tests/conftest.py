import shutil
from pathlib import Path

import dagster as dg
import pytest

from nba_platform.resources.lake import ParquetLakeIOManager
from nba_platform.resources.landing import LandingZone, sample_root
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.secrets import Secrets
from nba_platform.resources.serving_db import ServingDatabase


def embedded_resources(root: Path, include_sample: bool) -> dict:
    """The embedded default under `root`: Parquet lake, landing dir, MLflow on SQLite, SQLite serving DB."""
    (root / "landing").mkdir(parents=True, exist_ok=True)
    secrets = Secrets(source="env")
    return {
        "io_manager": ParquetLakeIOManager(root=str(root / "lake")),
        "landing": LandingZone(uri=str(root / "landing"), include_sample=include_sample),
        "mlflow": MlflowTracking(tracking_uri=f"sqlite:///{root}/mlflow/mlflow.db", artifact_location=str(root / "mlflow" / "artifacts")),
        "secrets": secrets,
        "serving_db": ServingDatabase(url=f"sqlite:///{root}/serving/serving.db", secrets=secrets),
    }

SAMPLE = Path(sample_root())


@pytest.fixture
def sample_path():
    """Path of a shipped landing file, e.g. sample_path('nba_api_league_gamelog_2021_2024/nba-gamelog-2023-24.csv.gz')."""

    def _path(rel: str) -> Path:
        p = SAMPLE / rel
        assert p.is_file(), f"shipped sample file missing: {p}"
        return p

    return _path


@pytest.fixture
def landing_dir(tmp_path) -> Path:
    d = tmp_path / "landing"
    d.mkdir()
    return d


@pytest.fixture
def local_resources(tmp_path, landing_dir):
    """Embedded-default resources on a temp dir; the shipped sample is NOT included, so a
    test controls exactly what is landed."""
    return embedded_resources(tmp_path, include_sample=False)


@pytest.fixture
def land(landing_dir):
    def _land(src: Path, name: str | None = None) -> Path:
        dst = landing_dir / (name or src.name)
        shutil.copyfile(src, dst)
        return dst

    return _land


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst
