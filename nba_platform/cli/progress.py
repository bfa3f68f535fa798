"""What a user sees while the CLI runs a job: a live progress display (steps done/total, elapsed,
current step) on a terminal, plain ordered lines otherwise (tests, CI, pipes), and a summary at
the end. Dagster's own console stream (DEBUG lines per event) is silenced unless `--verbose`: the
full event log stays in the instance (the UI, `dg dev`, shows it per run)."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import dagster as dg

STEP_EVENTS = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
# Dagster's console logger at this level while the display runs; `--verbose` keeps its DEBUG stream.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class StepTally:
    total: int
    done: int = 0
    failed: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # plain progress lines, in event order

    def apply(self, event: dg.DagsterEvent, elapsed: float) -> str:
        """Count one step event; returns its plain line."""
        at = f"  [{elapsed:6.1f}s]"
        if event.event_type == dg.DagsterEventType.STEP_START:
            self.running.append(event.step_key)
            return f"{at} started  {event.step_key}"
        if event.step_key in self.running:
            self.running.remove(event.step_key)
        if event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            self.done += 1
            seconds = event.event_specific_data.duration_ms / 1000
            return f"{at} finished {event.step_key} ({seconds:.1f}s) [{self.done}/{self.total}]"
        self.failed.append(event.step_key)
        return f"{at} FAILED   {event.step_key}"


def is_terminal(stream=None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


# MLflow draws a tqdm bar on stderr for every model it downloads (each forecast day loads one), and
# its import (lazy, inside a run) resets its logger to INFO unless this level says otherwise.
QUIET_ENV = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "MLFLOW_LOGGING_LEVEL": "ERROR"}


@contextmanager
def quiet_libraries(verbose: bool):
    """Without --verbose: no API-maturity warnings (BetaWarning, PreviewWarning) and no library
    notices (MLflow's pickle/skops notes) around the progress lines. Errors still print."""
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in ("mlflow", "great_expectations", "evidently", "alembic")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
            warnings.simplefilter("ignore", category)
        warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
        warnings.filterwarnings("ignore", module=r"great_expectations(\.|$)")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        saved = {name: os.environ.get(name) for name in QUIET_ENV}
        os.environ.update(QUIET_ENV)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@contextmanager
def step_progress(instance: dg.DagsterInstance, find_run, total: int, title: str, interval: float = 0.5):
    """Follows the run `find_run()` returns (None until it exists) by reading its step events back from
    the instance on a thread: a live display on a terminal, else one plain line per step event."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    tally = StepTally(total=total)
    stop = threading.Event()
    start = time.perf_counter()
    live = is_terminal()
    progress = (
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[title]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(),
            transient=False,
        )
        if live
        else None
    )
    task = progress.add_task("starting ...", total=total, title=title) if progress else None

    def poll() -> None:
        run_id, cursor = None, None
        while True:
            stopping = stop.wait(interval)
            if run_id is None:
                run_id = find_run()
            if run_id is not None:
                page = instance.get_records_for_run(run_id, cursor=cursor, of_type=STEP_EVENTS)
                cursor = page.cursor
                for record in page.records:
                    line = tally.apply(record.event_log_entry.dagster_event, time.perf_counter() - start)
                    tally.lines.append(line)
                    if progress is None:
                        print(line, flush=True)
                if progress is not None:
                    current = ", ".join(tally.running[-2:]) or ("done" if tally.done else "starting ...")
                    progress.update(task, completed=tally.done, description=current)
            if stopping:
                return

    thread = threading.Thread(target=poll, name="nba-step-progress", daemon=True)
    if progress is not None:
        progress.start()
    thread.start()
    try:
        yield tally
    finally:
        stop.set()
        thread.join(timeout=30)
        if progress is not None:
            progress.stop()


def check_counts(instance: dg.DagsterInstance, run_id: str) -> tuple[int, int]:
    """(passed, failed) asset check evaluations of a run, from its event log."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    passed = sum(1 for r in records if r.event_log_entry.dagster_event.event_specific_data.passed)
    return passed, len(records) - passed


def summary_lines(
    instance: dg.DagsterInstance, run_id: str, job_name: str, success: bool, seconds: float, tally
) -> list[str]:
    passed, failed = check_counts(instance, run_id)
    steps = f"{tally.done}/{tally.total} steps" + (f", failed: {', '.join(tally.failed)}" if tally.failed else "")
    return [
        f"run {run_id}: {'SUCCESS' if success else 'FAILED'} in {seconds:.1f}s (job {job_name}; {steps}; "
        f"checks {passed} passed, {failed} failed)",
    ]
