"""Every command line of the README's "Two commands", "Look around" and "Corrections" blocks runs
as written, from a fresh directory laid out like a checkout (`.venv`, `nba_platform/`,
`pyproject.toml`, `workspace.yaml`), on a three-season landing zone instead of the whole sample.

Four lines are not executed verbatim here, each for a stated reason: the install (`python3 -m venv`,
`pip install -e .` need the network; `scripts/test.sh` and CI run that install), the build
(`.venv/bin/nba-platform build` on the same three seasons, default home, is the worker's shared
build, nba_platform_tests/built_home.py: its output is checked here and a copy of its home is this
checkout's `.nba_home`, so the build is not made twice), `bash scripts/test.sh` (it runs this
suite: only its syntax is checked here), and the servers (`dg dev`, `mlflow ui`): started as
written plus `--port` on a free port, and kept until they answer HTTP."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nba_platform_tests.built_home import BUILD_COMMAND, SEASONS, built_home, copy_of_built_home

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("## Two commands", "## Look around", "### Corrections")


def readme_commands(text: str) -> list[str]:
    """Indented code lines of the SECTIONS, continuation lines joined, trailing `# comments` dropped."""
    commands = []
    for title in SECTIONS:
        start = text.index(title + "\n")
        end = text.find("\n#", start + len(title))
        block, pending = text[start : end if end != -1 else len(text)], ""
        for line in block.splitlines():
            if not line.startswith("    ") or not line.strip():
                continue
            line = pending + line.strip()
            if line.endswith("\\"):
                pending = line[:-1].rstrip() + " "
                continue
            pending = ""
            commands.append(re.sub(r"\s{2,}#.*$", "", line).strip())
    return commands


def test_the_extraction_reads_every_block():
    commands = readme_commands((ROOT / "README.md").read_text())
    assert commands[0].startswith("python3 -m venv .venv && ")
    assert "bash scripts/test.sh" in commands
    assert any(c == "DAGSTER_HOME=$PWD/.nba_home/dagster .venv/bin/dg dev" for c in commands)
    assert any("dg launch --assets tables/team_games --partition 2023-24" in c for c in commands)
    assert any(c.startswith("nba-platform correct ") and "[--run]" not in c.split("--by")[0] for c in commands)
    assert all("\\" not in c for c in commands)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loaded_code_location(port: int) -> bool:
    """The UI's GraphQL: the project's code location loaded (not a load error)."""
    query = b'{"query": "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus locationOrLoadError { __typename } } } } }"}'
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=query, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        entries = json.loads(response.read())["data"]["workspaceOrError"]["locationEntries"]
    return bool(entries) and all(
        e["loadStatus"] == "LOADED" and (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
        for e in entries
    )


def serve_until_answering(
    command: str, cwd: Path, env: dict, url_path: str, timeout: float = 300, ready=lambda port: True
) -> str:
    port = free_port()
    proc = subprocess.Popen(
        f"{command} --port {port}",
        shell=True,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{command} exited {proc.returncode}: {proc.stdout.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{url_path}", timeout=5) as response:
                    body = response.read().decode()
                if ready(port):
                    return body
            except OSError:
                time.sleep(2)
        raise AssertionError(f"{command}: no answer on port {port} within {timeout} s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def checkout(tmp_path):
    """A directory shaped like the repository root, its `.venv` the interpreter running the tests,
    its `.nba_home` a copy of the shared build's (the three seasons' gamelogs in its landing zone)."""
    work = tmp_path / "checkout"
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.prefix))
    for name in ("nba_platform", "scripts", "pyproject.toml", "workspace.yaml"):
        (work / name).symlink_to(ROOT / name)
    copy_of_built_home(work / ".nba_home")
    assert sorted(p.name for p in (work / ".nba_home" / "landing").glob("*.csv.gz")) == [
        f"nba-gamelog-{season}.csv.gz" for season in SEASONS
    ]
    return work


def test_readme_commands_run_as_written(checkout):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "DAGSTER_HOME", "MLFLOW_"))}
    env.update({"NBA_INCLUDE_SAMPLE": "false", "NBA_PLATFORM_ENV": "local", "PYTHONPATH": str(ROOT)})
    env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # `nba-platform` as installed
    commands = readme_commands((ROOT / "README.md").read_text())
    outputs = {}
    for command in commands:
        if command.startswith("python3 -m venv .venv && "):
            install, _, build = command.rpartition(" && ")
            assert install == "python3 -m venv .venv && .venv/bin/pip install -e ."  # not run: network
            command = build
        if command.endswith("nba-platform build"):
            assert command == f".venv/bin/{BUILD_COMMAND}"  # what built_home.py ran, from a directory like this
            outputs[command] = built_home().build_stdout
            continue
        if command == "bash scripts/test.sh":
            assert subprocess.run(["bash", "-n", "scripts/test.sh"], cwd=checkout).returncode == 0
            continue
        if re.search(r"(^|[\s/])dg dev$", command):
            info = serve_until_answering(command, checkout, env, "/server_info", ready=loaded_code_location)
            assert '"dagster_version":"1.13.27"' in info
            continue
        if re.search(r"(^|[\s/])mlflow ui\b", command):
            serve_until_answering(command, checkout, env, "/")
            continue
        command = re.sub(r" \[(--[a-z-]+)\]", "", command)  # optional flags, as in `correct ... [--run]`
        proc = subprocess.run(command, shell=True, cwd=checkout, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        outputs[command] = proc.stdout
    assert (checkout / "predictions.csv").is_file()
    seasons = next(out for c, out in outputs.items() if c.endswith("nba-platform seasons"))
    assert seasons.split() == list(SEASONS)
    build = next(out for c, out in outputs.items() if c.endswith("nba-platform build"))
    assert "SUCCESS" in build and "checks" in build and "UI:" in build
    version = next(out for c, out in outputs.items() if c.endswith("--version"))
    assert version.startswith("nba-platform ")
