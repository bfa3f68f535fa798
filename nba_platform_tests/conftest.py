import shutil
from pathlib import Path

import dagster as dg
import pytest

from nba_platform.resources.lake import ParquetLakeIOManager
from nba_platform.resources.landing import LandingZone, sample_root

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
    return {
        "io_manager": ParquetLakeIOManager(root=str(tmp_path / "lake")),
        "landing": LandingZone(uri=str(landing_dir), include_sample=False),
    }


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
