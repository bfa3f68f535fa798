"""Issue 16: a run killed with SIGKILL stayed STARTED forever in the embedded instance. The next
CLI command marks the dead CLI run failed; run monitoring is on in the dagster.yaml it writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import dagster as dg
import yaml

from nba_platform.cli.orphans import PID_TAG, mark_orphaned_runs
from nba_platform.cli.runs import get_instance

# A real in-process run with the CLI's tags, killed while its step sleeps.
WORKER = """
import time, dagster as dg
from nba_platform.cli.orphans import cli_run_tags
from nba_platform.cli.runs import get_instance

@dg.op
def sleeps():
    print("started", flush=True)
    time.sleep(600)

@dg.job
def slow():
    sleeps()

slow.execute_in_process(instance=get_instance(), tags=cli_run_tags())
"""


def test_a_sigkilled_cli_run_is_marked_failed_by_the_next_command(tmp_path, monkeypatch):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "DAGSTER_"))}
    env.update(NBA_PLATFORM_ENV="local", NBA_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    for key, value in env.items():
        if key.startswith(("NBA_", "DAGSTER_")):
            monkeypatch.setenv(key, value)
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "started"
        instance = dg.DagsterInstance.from_config(str(home / "dagster"))
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED and run.tags[PID_TAG] == str(worker.pid)
        assert mark_orphaned_runs(instance) == []  # its process lives: left alone
        instance.dispose()
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=60)

    instance = get_instance()  # what every CLI command does first
    try:
        run = instance.get_run_by_id(run.run_id)
        assert run.status == dg.DagsterRunStatus.FAILURE
        assert mark_orphaned_runs(instance) == []  # once only
        config = yaml.safe_load((home / "dagster" / "dagster.yaml").read_text())
        assert config["run_monitoring"]["enabled"] is True and config["run_monitoring"]["max_runtime_seconds"] > 0
    finally:
        instance.dispose()
