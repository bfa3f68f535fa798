"""Runs the CLI launched in-process and whose process died (SIGKILL, OOM kill, power loss) stay
STARTED forever in the embedded instance: no daemon watches an in-process run. Each CLI run is
tagged with its host and process id; the next CLI command marks those whose process is gone
failed, so the UI and `seasons`/backfill logic never wait on a dead run."""

from __future__ import annotations

import os
import socket

import dagster as dg

HOST_TAG = "nba/cli_host"
PID_TAG = "nba/cli_pid"
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def cli_run_tags() -> dict[str, str]:
    """The tags that let a later CLI command tell whether this run's process still lives."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def mark_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the unfinished CLI runs of this host whose process is gone; returns their run ids."""
    host = socket.gethostname()
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host}))
    marked = []
    for run in runs:
        pid = run.tags.get(PID_TAG, "")
        if not pid.isdigit() or int(pid) == os.getpid() or process_alive(int(pid)):
            continue
        instance.report_run_failed(
            run, message=f"the nba-platform process that ran it (pid {pid} on {host}) is gone: marked failed"
        )
        marked.append(run.run_id)
    return marked
