"""One `nba-platform build` of three shipped seasons per test session, shared by the end-to-end
tests that only need *a* built home (UI, forecast API, MCP, Prometheus, the README commands, the
orchestration path): each used to run the same build itself. The build is the README's command as
written, `.venv/bin/nba-platform build` (BUILD_COMMAND), a real CLI subprocess run from a directory
of its own with no NBA_HOME/DAGSTER_HOME set, so the CLI takes its default home `./.nba_home`;
callers that write to the home (a run, an append) take a copy (`copy_of_built_home`), so no test
sees another's changes. The copy is a full Dagster instance of its own (the embedded dagster.yaml holds no paths);
its MLflow store still names the original's artifact files, which nobody modifies.

Under pytest-xdist the builds are made once for all workers (SHARED_ROOT, set by conftest.py: the
session's common temp folder, which pytest removes with its old temp folders): the first worker to
need one builds it under a file lock, the other waits for it instead of building it again.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nba_platform.resources.landing import sample_root

SEASONS = ("2021-22", "2022-23", "2023-24")
GAMELOGS = Path(sample_root()) / "nba_api_league_gamelog_2021_2024"
BIN = Path(sys.executable).parent
BUILD_COMMAND = "nba-platform build"  # the README's `.venv/bin/nba-platform build`; .venv is sys.prefix here


@dataclass(frozen=True)
class BuiltHome:
    home: Path  # NBA_HOME; DAGSTER_HOME is home / "dagster"
    build_stdout: str
    build_seconds: float


def home_env(home: Path) -> dict:
    """The process environment of a CLI/webserver/exporter run against `home` (embedded default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "MLFLOW_", "DAGSTER_", "AWS_"))}
    env.update(
        NBA_PLATFORM_ENV="local", NBA_HOME=str(home), NBA_INCLUDE_SAMPLE="false", DAGSTER_HOME=str(home / "dagster")
    )
    return env


_BUILT: dict[str, BuiltHome] = {}
# A folder every xdist worker of the session sees (set by conftest.py); None: builds for this process only.
SHARED_ROOT: Path | None = None


def _shared(key: str, make) -> BuiltHome:
    """`make(work)` once per session (per process without SHARED_ROOT); its result read back by the others."""
    if key in _BUILT:
        return _BUILT[key]
    if SHARED_ROOT is None:
        work = Path(tempfile.mkdtemp(prefix=f"nba-{key}-home-"))
        atexit.register(shutil.rmtree, work, True)
        _BUILT[key] = make(work)
        return _BUILT[key]
    work, done = SHARED_ROOT / f"nba-{key}-home", SHARED_ROOT / f"nba-{key}-home.json"
    with open(SHARED_ROOT / f"nba-{key}-home.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if `make` fails
        if not done.is_file():
            shutil.rmtree(work, ignore_errors=True)  # a failed attempt's leftovers
            work.mkdir(parents=True)
            built = make(work)
            done.write_text(
                json.dumps({"home": str(built.home), "stdout": built.build_stdout, "seconds": built.build_seconds})
            )
        record = json.loads(done.read_text())
    _BUILT[key] = BuiltHome(Path(record["home"]), record["stdout"], record["seconds"])
    return _BUILT[key]


def built_home() -> BuiltHome:
    """The shared build (made on first use). Treat it as read-only."""
    return _shared("built", _make_built_home)


def _make_built_home(work: Path) -> BuiltHome:
    home = work / ".nba_home"  # the CLI's default home under its working directory
    (home / "landing").mkdir(parents=True)
    for season in SEASONS:
        shutil.copy(GAMELOGS / f"nba-gamelog-{season}.csv.gz", home / "landing")
    env = {k: v for k, v in home_env(home).items() if k not in ("NBA_HOME", "DAGSTER_HOME")}  # as a user runs it
    started = time.monotonic()
    build = subprocess.run(
        [str(BIN / "nba-platform"), *BUILD_COMMAND.split()[1:]],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert build.returncode == 0, f"nba-platform build failed:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}"
    assert (home / "serving" / "serving.db").is_file(), build.stdout[-2000:]
    return BuiltHome(home, build.stdout, time.monotonic() - started)


def copy_of_built_home(dest: Path, source: BuiltHome | None = None) -> Path:
    """A private copy of the shared home (or of `source`, e.g. history_home()) at `dest` (which must
    not exist yet)."""
    shutil.copytree((source or built_home()).home, dest, symlinks=True)
    return dest


# 2018-19 .. 2022-23, no 2023-24: the TeamGameLog export and two LeagueGameLog seasons.
HISTORY_FILES = (
    Path(sample_root()) / "nba_api_teamgamelog_2018_2023" / "team_game_logs.csv.gz",
    GAMELOGS / "nba-gamelog-2021-22.csv.gz",
    GAMELOGS / "nba-gamelog-2022-23.csv.gz",
)


def history_home() -> BuiltHome:
    """A second shared home (made on first use; read-only): HISTORY_FILES landed with
    `nba-platform ingest --no-run`, then `nba-platform build`, the history a held-out 2023-24 is
    predicted (test_predict_season) or ingested (test_one_orchestration_path) against."""
    return _shared("history", _make_history_home)


def _make_history_home(work: Path) -> BuiltHome:
    home = work / "home"
    started, stdout = time.monotonic(), ""
    for args in (["ingest", "--no-run", *map(str, HISTORY_FILES)], ["build"]):
        proc = subprocess.run(
            [str(BIN / "nba-platform"), *args],
            cwd=work,
            env=home_env(home),
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert proc.returncode == 0, f"nba-platform {args[0]} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        stdout += proc.stdout
    return BuiltHome(home, stdout, time.monotonic() - started)
