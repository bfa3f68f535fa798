import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from nba_platform.resources.landing import sample_root

SAMPLE = Path(sample_root())


def embedded_resources(root: Path, include_sample: bool) -> dict:
    """The embedded default under `root`, built by the platform's own environment binding
    (settings.py -> resources/environment.py), so tests bind exactly what a user's run binds."""
    from nba_platform.resources.environment import build_resources
    from nba_platform.settings import load_settings

    (root / "landing").mkdir(parents=True, exist_ok=True)
    overrides = {"NBA_PLATFORM_ENV": "local", "NBA_HOME": str(root), "NBA_INCLUDE_SAMPLE": str(include_sample).lower()}
    cleared = [k for k in os.environ if k.startswith(("NBA_", "MLFLOW_")) and k not in overrides]
    saved = {k: os.environ.get(k) for k in [*overrides, *cleared]}
    try:
        for k in cleared:
            del os.environ[k]
        os.environ.update(overrides)
        return build_resources(load_settings())
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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


@pytest.fixture(scope="session", autouse=True)
def shared_builds_root(tmp_path_factory):
    """Under xdist, built_home.py's builds go to the session's temp folder common to all workers
    (each worker's basetemp is a child of it), so each is made once per session, not per worker."""
    from nba_platform_tests import built_home

    if os.environ.get("PYTEST_XDIST_WORKER"):
        built_home.SHARED_ROOT = tmp_path_factory.getbasetemp().parent
