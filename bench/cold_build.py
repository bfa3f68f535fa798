"""Cold-build benchmark: `nba-platform build` (Dagster) against the same transforms as plain functions.

    .venv/bin/python bench/cold_build.py                 # shipped sample data
    .venv/bin/python bench/cold_build.py --shared-data   # + the box-score seasons in ../shared/data

In one invocation:
  1. cold-start import cost, each in a fresh interpreter, best of N: bare `python`, `import dagster`,
     `import nba_platform.definitions`, and (for reference) that import plus `defs()`;
  2. per dataset, the platform run: `python -m nba_platform.cli build` in a fresh temp NBA_HOME
     (so a fresh DAGSTER_HOME, DAGSTER_HOME unset), exactly as a user runs it;
  3. per dataset, the plain run: `bench/plain_build.py` in a fresh subprocess and a fresh temp
     NBA_HOME: every asset and check body of build_all called directly (data in memory, same Parquet
     and SQLite writes), without the instance, event log, executor or lake read-back;
  4. a parity check of the two runs' outputs (every lake file, MLflow runs/versions, serving rows);
  5. a table per dataset (step | wall s | ratio | CPU s | peak RSS MB) and a JSON file in bench/results/.

Measurement: each child is reaped with os.wait4, which returns that child's own rusage: exact peak
RSS (ru_maxrss, the largest single process of the tree, as RUSAGE_CHILDREN reports it) and CPU
time. (RUSAGE_CHILDREN itself is a running maximum over every child this script ever reaped, so a
later, smaller run would report the earlier run's peak; psutil is not installed.) A sampler
thread also reads /proc every --sample-interval s for the whole process tree (summed RSS,
cumulative CPU, process count) and the load average: per-step RSS and CPU come from those samples.
Platform step boundaries come from the run's own event log (step start/end), read after the run
in a separate process; the CLI's phases from the time each line of its output arrives.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform as pyplatform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_BOXSCORES = SHARED_DATA / "nba_api_player_boxscores_2015_2021"
SAMPLE_LANDING = REPO / "nba_platform" / "data" / "landing"

# settings.py reads these; inherited values would send a "fresh" run to someone else's lake or DB.
SETTINGS_ENV = (
    "DAGSTER_HOME",
    "NBA_PLATFORM_ENV",
    "NBA_LAKE_URI",
    "NBA_LANDING_URI",
    "NBA_INCLUDE_SAMPLE",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_ARTIFACT_URI",
    "NBA_SERVING_DB_URL",
    "NBA_SERVING_DB_PASSWORD_KEY",
    "AWS_ENDPOINT_URL",
)

# bench/plain_build.py used to re-implement the asset bodies and warned when these files changed;
# it now calls the assets' own bodies (Dagster direct invocation), so there is nothing to drift.
MIRRORED_SOURCES: dict[str, str] = {}

# Table rows: (group, label). Platform steps are mapped to groups by step key (platform_group).
GROUPS = [
    ("startup", "start-up: interpreter + imports (+ Dagster instance)"),
    ("cli_scan", "CLI scan of landing zone + partitions"),
    ("run_setup", "load definitions + launch run"),
    ("raw", "raw/* (7 assets)"),
    ("validate", "tables/*_validated (3)"),
    ("checks_validated", "checks on validated (3 GX + 3 lost)"),
    ("dedup", "dedup: team/player games, players"),
    ("checks_dedup", "checks on dedup (3 GX + 3 keys)"),
    ("features", "features/* (5 assets)"),
    ("mlflow_import", "import MlflowTracking (dagster)"),
    ("model", "models/game_outcome_model"),
    ("evaluation", "models/game_model_evaluation"),
    ("predictions", "serving/game_predictions"),
    ("publish", "serving/published_predictions"),
    ("between_steps", "between steps (orchestration)"),
    ("teardown", "after last step: teardown + exit"),
    ("other", "other steps (unmapped step keys)"),
]
LABELS = dict(GROUPS)


def platform_group(step_key: str) -> str:
    if step_key.startswith("raw__"):
        return "raw"
    if step_key.startswith("features__"):
        return "features"
    if step_key.startswith("tables__"):  # asset checks: tables__<asset>_<check>
        return "checks_validated" if "_validated_" in step_key else "checks_dedup"
    return {
        "team_games_validated": "validate",
        "player_games_validated": "validate",
        "player_seasons_validated": "validate",
        "team_games": "dedup",
        "player_games": "dedup",
        "players": "dedup",
        "models__game_outcome_model": "model",
        "models__game_model_evaluation": "evaluation",
        "serving__game_predictions": "predictions",
        "serving__published_predictions": "publish",
    }.get(step_key, "other")


def say(msg: str = "") -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------ process-tree sampling


PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int):
    """(ppid, cpu seconds) of a live process, else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2 :].split()
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


class TreeSampler(threading.Thread):
    """Samples (time, summed RSS, cumulative CPU, process count) of root and its descendants."""

    def __init__(self, root: int, interval: float):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.samples: list[tuple[float, int, float, int]] = []
        self.loadavg: list[tuple[float, float]] = []
        self.max_procs = 0
        self._halt = threading.Event()
        self._pids = {root}

    def _rescan(self) -> None:
        children: dict[int, list[int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = _stat(int(name))
                if st:
                    children.setdefault(st[0], []).append(int(name))
        tree, todo = set(), [self.root]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo += children.get(pid, [])
        self._pids = tree

    def run(self) -> None:
        n = 0
        while not self._halt.is_set():
            if n % 5 == 0:  # full /proc scan for new descendants once a second (at 0.2 s)
                self._rescan()
            t, rss, cpu, alive = time.time(), 0, 0.0, 0
            for pid in list(self._pids):
                st = _stat(pid)
                if st is None:
                    continue
                alive += 1
                cpu += st[1]
                rss += _rss(pid)
            if alive:
                self.samples.append((t, rss, cpu, alive))
                self.max_procs = max(self.max_procs, alive)
            if n % 5 == 0:
                with open("/proc/loadavg") as f:
                    self.loadavg.append((t, float(f.read().split()[0])))
            n += 1
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peak_rss_mb(self, t0: float, t1: float) -> float | None:
        vals = [s[1] for s in self.samples if t0 <= s[0] <= t1]
        return max(vals) / 2**20 if vals else None

    def cpu_at(self, t: float) -> float | None:
        """Cumulative tree CPU seconds at time t (linear between samples)."""
        s = self.samples
        if not s:
            return None
        if t <= s[0][0]:
            return s[0][2]
        if t >= s[-1][0]:
            return s[-1][2]
        lo, hi = 0, len(s) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if s[mid][0] <= t:
                lo = mid
            else:
                hi = mid
        (ta, _, ca, _), (tb, _, cb, _) = s[lo], s[hi]
        return ca + (cb - ca) * (t - ta) / (tb - ta) if tb > ta else ca

    def cpu_between(self, t0: float, t1: float) -> float | None:
        a, b = self.cpu_at(t0), self.cpu_at(t1)
        return None if a is None or b is None else max(0.0, b - a)

    def mean_load(self) -> float | None:
        return sum(v for _, v in self.loadavg) / len(self.loadavg) if self.loadavg else None


@dataclass
class ChildRun:
    argv: list[str]
    t_spawn: float = 0.0
    t_exit: float = 0.0
    wall: float = 0.0
    returncode: int = 0
    maxrss_mb: float = 0.0
    cpu_user: float = 0.0
    cpu_sys: float = 0.0
    lines: list[tuple[float, str]] = field(default_factory=list)
    sampler: TreeSampler | None = None
    stderr_path: str = ""


def run_child(
    argv: list[str], env: dict, cwd: str, stderr_path: Path, sample_interval: float, echo: bool = True
) -> ChildRun:
    """Run argv, timestamp its stdout lines, sample its process tree, reap it with wait4."""
    res = ChildRun(argv, stderr_path=str(stderr_path))
    with open(stderr_path, "wb") as err:
        res.t_spawn = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=err, bufsize=0)
        sampler = TreeSampler(proc.pid, sample_interval)
        sampler.start()

        def read() -> None:
            for raw in iter(proc.stdout.readline, b""):
                line = raw.decode(errors="replace").rstrip("\n")
                res.lines.append((time.time(), line))
                if echo:
                    say(f"    | {line}")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        _, status, ru = os.wait4(proc.pid, 0)
        res.wall = time.perf_counter() - t0
        res.t_exit = time.time()
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join()
        proc.stdout.close()
        sampler.stop()
    res.returncode = proc.returncode
    res.maxrss_mb = ru.ru_maxrss / 1024  # KiB on Linux
    res.cpu_user, res.cpu_sys = ru.ru_utime, ru.ru_stime
    res.sampler = sampler
    return res


def child_env(nba_home: Path, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    env["NBA_HOME"] = str(nba_home)
    env.update(extra or {})
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


# ------------------------------------------------------------------ cold-start imports


IMPORT_TARGETS = [
    ("python (no imports)", "pass"),
    ("import dagster", "import dagster"),
    ("import nba_platform.definitions", "import nba_platform.definitions"),
    ("import nba_platform.definitions + defs()", "import nba_platform.definitions as d; d.defs()"),
]


def measure_imports(repeats: int, tmp: Path) -> list[dict]:
    out = []
    env = child_env(tmp / "imports_home")
    for label, stmt in IMPORT_TARGETS:
        code = f"import time; t=time.perf_counter(); {stmt}; print(time.perf_counter()-t)"
        walls, inproc, rss = [], [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-c", code], env=env, cwd=str(tmp), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            _, status, ru = os.wait4(proc.pid, 0)
            walls.append(time.perf_counter() - t0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            inproc.append(float(proc.stdout.read().decode().strip() or "nan"))
            proc.stdout.close()
            rss.append(ru.ru_maxrss / 1024)
        out.append(
            {
                "target": label,
                "statement": stmt,
                "process_wall_s": walls,
                "import_s": inproc,
                "maxrss_mb": rss,
                "best_process_wall_s": min(walls),
                "best_import_s": min(inproc),
                "min_maxrss_mb": min(rss),
            }
        )
        say(
            f"  {label:44s} best of {repeats}: process {min(walls):6.2f}s, import {min(inproc):6.2f}s, peak RSS {min(rss):6.0f} MB"
        )
    return out


# ------------------------------------------------------------------ platform run


PLATFORM_STATS = r"""
import json, sys
import dagster as dg
inst = dg.DagsterInstance.get()
runs = inst.get_runs()
assert len(runs) == 1, f"expected one run in a fresh instance, found {len(runs)}"
run = runs[0]
stats = inst.get_run_stats(run.run_id)
steps = [{"step_key": s.step_key, "status": str(s.status), "start": s.start_time, "end": s.end_time}
         for s in inst.get_run_step_stats(run.run_id)]
events = []
for rec in inst.get_records_for_run(run.run_id, limit=1_000_000).records:
    e = rec.event_log_entry
    if e.dagster_event is not None:
        events.append([e.timestamp, e.dagster_event.event_type_value, e.step_key])
json.dump({"run_id": run.run_id, "status": str(run.status), "start": stats.start_time, "end": stats.end_time,
           "steps": steps, "events": events}, sys.stdout)
"""


def input_load_seconds(events: list, step_key: str) -> float:
    """From STEP_START to the step's last LOADED_INPUT: reading its inputs back from the lake."""
    ev = [e for e in events if e[2] == step_key]
    start = next((e[0] for e in ev if e[1] == "STEP_START"), None)
    loads = [e[0] for e in ev if e[1] == "LOADED_INPUT"]
    return max(loads) - start if start is not None and loads else 0.0


def event_write_seconds(events: list) -> tuple[dict, float]:
    """Estimated time spent storing Dagster events, from gaps between consecutive events of a step:
    after the IO manager has written an output, one ASSET_MATERIALIZATION event per partition is
    stored, then HANDLED_OUTPUT. The gap before the first materialization (the Parquet writes) is
    not counted; every later gap in that chain is one event's storage. Returns per step key, and
    the run-level ASSET_MATERIALIZATION_PLANNED events stored at launch (one per asset partition)."""
    by_step: dict = {}
    for e in sorted(events, key=lambda e: e[0]):
        by_step.setdefault(e[2], []).append(e)
    per_step = {}
    for step, ev in by_step.items():
        total = 0.0
        for prev, cur in zip(ev, ev[1:]):
            if prev[1] == "ASSET_MATERIALIZATION" and cur[1] in ("ASSET_MATERIALIZATION", "HANDLED_OUTPUT"):
                total += cur[0] - prev[0]
        per_step[step] = total
    ordered = sorted(events, key=lambda e: e[0])
    planned = sum(
        cur[0] - prev[0]
        for prev, cur in zip(ordered, ordered[1:])
        if prev[1] == cur[1] == "ASSET_MATERIALIZATION_PLANNED"
    )
    return per_step, planned


# Seasons both builds are limited to (`--season`, as `nba-platform build --season`); empty = all.
BUILD_SEASONS: list[str] = []


def season_args() -> list[str]:
    return [a for s in BUILD_SEASONS for a in ("--season", s)]


def platform_run(home: Path, interval: float, env_extra: dict | None = None) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    env = child_env(home, env_extra)
    child = run_child(
        [sys.executable, "-m", "nba_platform.cli", "build", *season_args()],
        env,
        str(home.parent),
        home.parent / "platform.stderr.log",
        interval,
    )
    if child.returncode != 0:
        raise SystemExit(f"platform build failed (exit {child.returncode}); see {child.stderr_path}")
    stats_env = dict(env, DAGSTER_HOME=str(home / "dagster"))
    raw = subprocess.run(
        [sys.executable, "-c", PLATFORM_STATS],
        env=stats_env,
        cwd=str(home.parent),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stats = json.loads(raw)

    def line_time(prefix: str, last: bool = False) -> float:
        hits = [t for t, line in child.lines if line.startswith(prefix)]
        if not hits:
            raise SystemExit(f"platform output has no line starting {prefix!r}")
        return hits[-1] if last else hits[0]

    import re

    t_scan = line_time("scanning the landing zone")
    t_parts = next(t for t, line in child.lines if re.match(r"\d+ season partition", line))
    s = child.sampler
    phases: dict[str, list[tuple[float, float]]] = {g: [] for g, _ in GROUPS}
    phases["other"] = []
    phases["startup"].append((child.t_spawn, t_scan))
    phases["cli_scan"].append((t_scan, t_parts))
    phases["run_setup"].append((t_parts, stats["start"]))
    load_by_group: dict[str, float] = {}
    for st in stats["steps"]:
        g = platform_group(st["step_key"])
        phases[g].append((st["start"], st["end"]))
        load_by_group[g] = load_by_group.get(g, 0.0) + input_load_seconds(stats["events"], st["step_key"])
    phases["teardown"].append((stats["end"], child.t_exit))
    writes, planned_s = event_write_seconds(stats["events"])
    event_writes_by_group: dict[str, float] = {}
    for step_key, sec in writes.items():
        if step_key is not None:
            g = platform_group(step_key)
            event_writes_by_group[g] = event_writes_by_group.get(g, 0.0) + sec
    step_total = sum(
        e - b for g, iv in phases.items() if g not in ("startup", "cli_scan", "run_setup", "teardown") for b, e in iv
    )
    groups = summarise(phases, s)
    groups["between_steps"] = {
        "seconds": (stats["end"] - stats["start"]) - step_total,
        "cpu_s": None,
        "peak_rss_mb": None,
    }
    return {
        "argv": child.argv,
        "nba_home": str(home),
        "wall_s": child.wall,
        "maxrss_mb": child.maxrss_mb,
        "cpu_s": child.cpu_user + child.cpu_sys,
        "cpu_user_s": child.cpu_user,
        "cpu_sys_s": child.cpu_sys,
        "sampled_peak_tree_rss_mb": s.peak_rss_mb(0, float("inf")),
        "max_processes_in_tree": s.max_procs,
        "mean_loadavg_1m": s.mean_load(),
        "run_id": stats["run_id"],
        "run_s": stats["end"] - stats["start"],
        "steps": [
            dict(
                st,
                group=platform_group(st["step_key"]),
                seconds=st["end"] - st["start"],
                input_load_s=input_load_seconds(stats["events"], st["step_key"]),
            )
            for st in stats["steps"]
        ],
        "input_load_s_by_group": load_by_group,
        "events": len(stats["events"]),
        "event_write_s_by_group": event_writes_by_group,
        "planned_events_at_launch_s": planned_s,
        "event_log": stats["events"],
        "event_counts": _count(e[1] for e in stats["events"]),
        "groups": groups,
        "stdout": [line for _, line in child.lines],
        "stderr_log": child.stderr_path,
    }


def _count(items) -> dict:
    out: dict = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def summarise(phases: dict[str, list[tuple[float, float]]], s: TreeSampler) -> dict:
    out = {}
    for g, iv in phases.items():
        if not iv:
            continue
        cpus = [s.cpu_between(b, e) for b, e in iv]
        rss = [s.peak_rss_mb(b, e) for b, e in iv]
        out[g] = {
            "seconds": sum(e - b for b, e in iv),
            "cpu_s": sum(c for c in cpus if c is not None),
            "peak_rss_mb": max((r for r in rss if r is not None), default=None),
            "intervals": len(iv),
        }
    return out


# ------------------------------------------------------------------ plain run


def plain_run(home: Path, interval: float, env_extra: dict | None = None) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    steps_json = home.parent / "plain_steps.json"
    child = run_child(
        [sys.executable, str(BENCH / "plain_build.py"), "--steps-json", str(steps_json), *season_args()],
        child_env(home, env_extra),
        str(home.parent),
        home.parent / "plain.stderr.log",
        interval,
    )
    if child.returncode != 0:
        raise SystemExit(f"plain build failed (exit {child.returncode}); see {child.stderr_path}")
    rep = json.loads(steps_json.read_text())
    s = child.sampler
    phases: dict[str, list[tuple[float, float]]] = {"startup": [(child.t_spawn, rep["t_build_start"])]}
    for st in rep["steps"]:
        phases.setdefault(st["group"], []).append((st["start"], st["end"]))
    phases["teardown"] = [(rep["t_build_end"], child.t_exit)]
    groups = summarise(phases, s)
    step_total = sum(st["seconds"] for st in rep["steps"])
    groups["between_steps"] = {
        "seconds": (rep["t_build_end"] - rep["t_build_start"]) - step_total,
        "cpu_s": None,
        "peak_rss_mb": None,
    }
    return {
        "argv": child.argv,
        "nba_home": str(home),
        "wall_s": child.wall,
        "maxrss_mb": child.maxrss_mb,
        "cpu_s": child.cpu_user + child.cpu_sys,
        "cpu_user_s": child.cpu_user,
        "cpu_sys_s": child.cpu_sys,
        "sampled_peak_tree_rss_mb": s.peak_rss_mb(0, float("inf")),
        "max_processes_in_tree": s.max_procs,
        "mean_loadavg_1m": s.mean_load(),
        "imports_in_child_s": rep["t_imports_done"] - rep["t_main_start"],
        "interpreter_start_s": rep["t_main_start"] - child.t_spawn,
        "steps": rep["steps"],
        "summary": rep["summary"],
        "groups": groups,
        "stdout": [line for _, line in child.lines],
        "stderr_log": child.stderr_path,
    }


# ------------------------------------------------------------------ parity


PARITY = r"""
import json, sqlite3, sys
from pathlib import Path
import pandas as pd, pyarrow.parquet as pq
a, b = Path(sys.argv[1]), Path(sys.argv[2])
fa = {p.relative_to(a / "lake").as_posix() for p in (a / "lake").rglob("*.parquet")}
fb = {p.relative_to(b / "lake").as_posix() for p in (b / "lake").rglob("*.parquet")}
differing = []
for f in sorted(fa & fb):
    x, y = pq.read_table(a / "lake" / f).to_pandas(), pq.read_table(b / "lake" / f).to_pandas()
    drop = [c for c in ("run_id",) if c in x.columns]  # MLflow run ids are random
    try:
        pd.testing.assert_frame_equal(x.drop(columns=drop), y.drop(columns=drop))
    except AssertionError as exc:
        differing.append([f, str(exc).splitlines()[:3]])
def db(home):
    m = sqlite3.connect(home / "mlflow" / "mlflow.db"); s = sqlite3.connect(home / "serving" / "serving.db")
    return {"mlflow_runs": m.execute("select count(*) from runs").fetchone()[0],
            "mlflow_model_versions": m.execute("select count(*) from model_versions").fetchone()[0],
            "serving_games": s.execute("select count(*) from games").fetchone()[0],
            "serving_predictions": s.execute("select count(*) from game_predictions").fetchone()[0]}
da, dbb = db(a), db(b)
json.dump({"lake_files_platform": len(fa), "lake_files_plain": len(fb), "only_platform": sorted(fa - fb),
           "only_plain": sorted(fb - fa), "differing": differing, "platform": da, "plain": dbb,
           "identical": fa == fb and not differing and da == dbb}, sys.stdout)
"""


def parity(platform_home: Path, plain_home: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PARITY, str(platform_home), str(plain_home)],
        capture_output=True,
        text=True,
        env=child_env(platform_home.parent),
        check=True,
    ).stdout
    return json.loads(out)


# ------------------------------------------------------------------ reporting


def fmt(v, spec=".1f", none="—") -> str:
    return none if v is None else format(v, spec)


def table_rows(p: dict, q: dict) -> list[dict]:
    rows = []
    for g, label in GROUPS:
        a, b = p["groups"].get(g), q["groups"].get(g)
        if a is None and b is None:
            continue
        pw, qw = (a or {}).get("seconds"), (b or {}).get("seconds")
        rows.append(
            {
                "group": g,
                "step": label,
                "platform_wall_s": pw,
                "plain_wall_s": qw,
                "ratio": pw / qw if pw is not None and qw and qw > 0.05 and g != "between_steps" else None,
                "platform_cpu_s": (a or {}).get("cpu_s"),
                "plain_cpu_s": (b or {}).get("cpu_s"),
                "platform_peak_rss_mb": (a or {}).get("peak_rss_mb"),
                "plain_peak_rss_mb": (b or {}).get("peak_rss_mb"),
                "platform_input_load_s": p.get("input_load_s_by_group", {}).get(g),
            }
        )
    # sklearn fits (OpenMP/BLAS threads) swing by 2-3x with other load on a small machine; the
    # rest of the build is where orchestration shows, so give it its own subtotal.
    fit = ("model", "evaluation", "predictions")

    def without_fits(run: dict) -> float:
        return run["wall_s"] - sum(run["groups"].get(g, {}).get("seconds", 0.0) for g in fit)

    def cpu_without_fits(run: dict) -> float:
        return run["cpu_s"] - sum(run["groups"].get(g, {}).get("cpu_s") or 0.0 for g in fit)

    pw, qw = without_fits(p), without_fits(q)
    rows.append(
        {
            "group": "subtotal_no_fits",
            "step": "TOTAL without model/evaluation/predictions",
            "platform_wall_s": pw,
            "plain_wall_s": qw,
            "ratio": pw / qw,
            "platform_cpu_s": cpu_without_fits(p),
            "plain_cpu_s": cpu_without_fits(q),
            "platform_peak_rss_mb": None,
            "plain_peak_rss_mb": None,
            "platform_input_load_s": None,
        }
    )
    rows.append(
        {
            "group": "total",
            "step": "TOTAL (process spawn -> exit)",
            "platform_wall_s": p["wall_s"],
            "plain_wall_s": q["wall_s"],
            "ratio": p["wall_s"] / q["wall_s"],
            "platform_cpu_s": p["cpu_s"],
            "plain_cpu_s": q["cpu_s"],
            "platform_peak_rss_mb": p["maxrss_mb"],
            "plain_peak_rss_mb": q["maxrss_mb"],
            "platform_input_load_s": sum(p.get("input_load_s_by_group", {}).values()),
        }
    )
    return rows


def overhead_breakdown(p: dict, q: dict) -> list[tuple[str, float]]:
    """The platform-minus-plain wall time of the build without the model fits, split by cause
    (estimates from the platform's event log; 'rest' is whatever they do not explain)."""
    fit = ("model", "evaluation", "predictions")

    def sec(group: str, run: dict = p) -> float:
        return run["groups"].get(group, {}).get("seconds", 0.0)

    planned = p.get("planned_events_at_launch_s", 0.0)
    loads = sum(v for k, v in p["input_load_s_by_group"].items() if k not in fit)
    writes = sum(v for k, v in p.get("event_write_s_by_group", {}).items() if k not in fit)
    counts = p["event_counts"]
    parts = [
        ("start-up difference (dagster imports, instance)", sec("startup") - sec("startup", q)),
        ("scan of the landing zone for seasons (platform minus plain)", sec("cli_scan") - sec("cli_scan", q)),
        (
            f"load definitions + launch run (incl. ~{planned:.1f}s storing "
            f"{counts.get('ASSET_MATERIALIZATION_PLANNED', 0)} planned events)",
            sec("run_setup"),
        ),
        ("steps reading their inputs back from the Parquet lake", loads),
        (f"storing {counts.get('ASSET_MATERIALIZATION', 0)} ASSET_MATERIALIZATION events (est.)", writes),
        ("between steps", sec("between_steps")),
        ("teardown + exit difference", sec("teardown") - sec("teardown", q)),
        ("import MlflowTracking, paid by the plain run only", -sec("mlflow_import", q)),
    ]
    nofit_p = p["wall_s"] - sum(sec(k) for k in fit)
    nofit_q = q["wall_s"] - sum(sec(k, q) for k in fit)
    parts.append(
        (
            "rest: inside steps (step machinery, metadata, dtypes after the lake round trip, noise)",
            (nofit_p - nofit_q) - sum(v for _, v in parts),
        )
    )
    return parts


def print_table(rows: list[dict]) -> str:
    head = (
        "step",
        "platform wall s",
        "plain wall s",
        "ratio",
        "platform CPU s",
        "plain CPU s",
        "platform peak RSS MB",
        "plain peak RSS MB",
    )
    body = [
        (
            r["step"],
            fmt(r["platform_wall_s"], ".2f"),
            fmt(r["plain_wall_s"], ".2f"),
            fmt(r["ratio"], ".2f"),
            fmt(r["platform_cpu_s"]),
            fmt(r["plain_cpu_s"]),
            fmt(r["platform_peak_rss_mb"], ".0f"),
            fmt(r["plain_peak_rss_mb"], ".0f"),
        )
        for r in rows
    ]
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    lines = [
        "| "
        + " | ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        + " |"
        for row in [head, *body]
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    text = "\n".join(lines)
    say(text)
    return text


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return open("/proc/loadavg").read().strip()


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for pkg in ("dagster", "pandas", "pyarrow", "scikit-learn", "mlflow", "great_expectations", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def source_drift() -> dict:
    changed = {}
    for rel, digest in MIRRORED_SOURCES.items():
        path = REPO / rel
        now = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "missing"
        if now != digest:
            changed[rel] = {"written_against": digest, "now": now}
    return changed


def land_shared_boxscores(landing: Path) -> list[dict]:
    """Copy the shared box-score archives that are not byte-identical to a shipped sample file."""
    shipped = {
        hashlib.sha256(p.read_bytes()).hexdigest(): p.relative_to(SAMPLE_LANDING).as_posix()
        for p in SAMPLE_LANDING.rglob("*")
        if p.is_file()
    }
    landing.mkdir(parents=True, exist_ok=True)
    report = []
    for src in sorted(SHARED_BOXSCORES.glob("*.tar.gz")):
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        if digest in shipped:
            report.append(
                {"file": src.name, "landed": False, "reason": f"byte-identical to shipped sample/{shipped[digest]}"}
            )
            continue
        shutil.copyfile(src, landing / src.name)
        report.append({"file": src.name, "landed": True, "bytes": src.stat().st_size})
    return report


def land_smoke_subset(landing: Path) -> list[dict]:
    """--smoke: only the three shipped LeagueGameLog seasons (2021-22 .. 2023-24), sample otherwise off."""
    landing.mkdir(parents=True, exist_ok=True)
    report = []
    for src in sorted((SAMPLE_LANDING / "nba_api_league_gamelog_2021_2024").glob("*.csv.gz")):
        shutil.copyfile(src, landing / src.name)
        report.append({"file": src.name, "landed": True, "bytes": src.stat().st_size})
    return report


def run_pair(name: str, i: int, tmp: Path, interval: float, extra_landing=None, env_extra: dict | None = None) -> dict:
    """One platform run and one plain run, each in its own fresh NBA_HOME, then the parity check.
    Repeat i runs the platform first when i is even, the plain build first when odd."""
    out: dict = {"name": name, "repeat": i}
    homes = {}
    for kind in ("platform", "plain"):
        home = tmp / f"{name}_{i}_{kind}" / "nba_home"
        home.mkdir(parents=True)
        if extra_landing:
            out["landed_extra"] = extra_landing(home / "landing")  # not timed
        homes[kind] = home
    order = ("platform", "plain") if i % 2 == 0 else ("plain", "platform")
    for kind in order:
        out[f"uptime_before_{kind}"] = uptime()
        if kind == "platform":
            say(
                f"\n[{name} #{i + 1}] platform run: python -m nba_platform.cli build (NBA_HOME={homes[kind]}, DAGSTER_HOME unset)"
            )
            out[kind] = platform_run(homes[kind], interval, env_extra)
        else:
            say(f"\n[{name} #{i + 1}] plain run: bench/plain_build.py (NBA_HOME={homes[kind]})")
            out[kind] = plain_run(homes[kind], interval, env_extra)
        r = out[kind]
        say(
            f"  {kind}: {r['wall_s']:.1f}s wall, {r['cpu_s']:.1f}s CPU, peak RSS {r['maxrss_mb']:.0f} MB, "
            f"mean 1-min load {fmt(r['mean_loadavg_1m'], '.2f')}"
        )
    out["uptime_after"] = uptime()
    out["parity"] = parity(homes["platform"], homes["plain"])
    par = out["parity"]
    say(
        f"[{name} #{i + 1}] parity: {'IDENTICAL outputs' if par['identical'] else 'OUTPUTS DIFFER'}: "
        f"{par['lake_files_platform']} vs {par['lake_files_plain']} lake files, {len(par['differing'])} differing; "
        f"platform {par['platform']} / plain {par['plain']}"
    )
    out["rows"] = table_rows(out["platform"], out["plain"])
    return out


def median_rows(pairs: list[dict]) -> list[dict]:
    """Per table row, the median of each figure over the repeats (the row itself when there is one)."""
    if len(pairs) == 1:
        return pairs[0]["rows"]
    import statistics

    order = [r["group"] for r in pairs[0]["rows"]]
    for pr in pairs[1:]:
        order += [r["group"] for r in pr["rows"] if r["group"] not in order]
    out = []
    for g in order:
        rows = [r for pr in pairs for r in pr["rows"] if r["group"] == g]
        row = {"group": g, "step": rows[0]["step"]}
        for k in rows[0]:
            if k in ("group", "step"):
                continue
            vals = [r.get(k) for r in rows if r.get(k) is not None]
            row[k] = statistics.median(vals) if vals else None
        pw, qw = row.get("platform_wall_s"), row.get("plain_wall_s")
        row["ratio"] = (
            pw / qw if pw is not None and qw and qw > 0.05 and g != "between_steps" else None
        )  # ratio of medians
        out.append(row)
    return out


def run_dataset(
    name: str, tmp: Path, interval: float, repeats: int, extra_landing=None, env_extra: dict | None = None
) -> dict:
    pairs = [run_pair(name, i, tmp, interval, extra_landing, env_extra) for i in range(repeats)]
    return {
        "name": name,
        "repeats": repeats,
        "pairs": pairs,
        "rows": median_rows(pairs),
        "landed_extra": pairs[0].get("landed_extra"),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Cold build: nba-platform build (Dagster) vs the same transforms as plain functions."
    )
    ap.add_argument(
        "--shared-data",
        action="store_true",
        help=f"also run both builds with the box-score seasons of {SHARED_BOXSCORES} landed (skipped if absent)",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="platform+plain pairs per dataset, alternating which goes first; the table shows medians",
    )
    ap.add_argument(
        "--import-repeats", type=int, default=3, help="fresh interpreters per import target (best is reported)"
    )
    ap.add_argument(
        "--sample-interval", type=float, default=0.2, help="seconds between /proc samples of the child's process tree"
    )
    ap.add_argument(
        "--omp-threads",
        type=int,
        default=None,
        help="set OMP_NUM_THREADS for both builds (default: unset, as a user runs it). scikit-learn's "
        "OpenMP fits swing 3-7x on a busy 2-core machine; 1 makes the model steps comparable",
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep the temp NBA_HOMEs (lakes, Dagster instances, MLflow DBs)"
    )
    ap.add_argument("--skip-imports", action="store_true", help="skip the cold-start import measurements")
    ap.add_argument(
        "--season",
        action="append",
        default=[],
        help="limit both builds to this season (repeatable), as `nba-platform build --season`",
    )
    ap.add_argument("--json-out", help="also write the result JSON here")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="self-test of the harness on 3 seasons of one source (about a minute a run); numbers not meaningful",
    )
    args = ap.parse_args(argv)
    BUILD_SEASONS[:] = args.season

    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"nba_cold_build_{stamp}_"))
    result: dict = {
        "started_utc": started.isoformat(),
        "tmp": str(tmp),
        "args": vars(args),
        "versions": versions(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": pyplatform.platform(),
            "mem_total_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        },
        "uptime_before": uptime(),
        "datasets": {},
    }
    say(f"cold_build benchmark, {started:%Y-%m-%d %H:%M:%S} UTC, {os.cpu_count()} CPUs, temp dir {tmp}")
    say(f"uptime before: {result['uptime_before']}")
    for k in SETTINGS_ENV:
        if k in os.environ:
            say(f"note: {k} is set in this environment; it is removed for the child runs")
    drift = source_drift()
    result["source_drift"] = drift
    if drift:
        say(
            "WARNING: platform sources changed since bench/plain_build.py was written against them; re-read the mirror:"
        )
        for rel, d in drift.items():
            say(f"  {rel}: {d['written_against']} -> {d['now']}")

    error = None
    try:
        if not args.skip_imports:
            say(f"\ncold-start imports (fresh interpreter each, best of {args.import_repeats}):")
            result["imports"] = measure_imports(args.import_repeats, tmp)

        env_extra = {"OMP_NUM_THREADS": str(args.omp_threads)} if args.omp_threads else {}
        if args.omp_threads:
            say(f"\nOMP_NUM_THREADS={args.omp_threads} for both builds (not how a user runs it by default)")
        if args.smoke:
            result["datasets"]["smoke"] = run_dataset(
                "smoke",
                tmp,
                args.sample_interval,
                args.repeats,
                extra_landing=land_smoke_subset,
                env_extra={"NBA_INCLUDE_SAMPLE": "false", **env_extra},
            )
        else:
            result["datasets"]["sample"] = run_dataset(
                "sample", tmp, args.sample_interval, args.repeats, env_extra=env_extra
            )

        if args.shared_data:
            if not SHARED_BOXSCORES.is_dir():
                what = SHARED_DATA if not SHARED_DATA.is_dir() else SHARED_BOXSCORES
                msg = f"--shared-data: {what} is ABSENT; skipping the larger-data runs (the sample-data results stand)"
                say("\n" + msg)
                result["datasets"]["shared"] = {"skipped": msg}
            elif args.smoke:
                say("\n--shared-data: present, but --smoke skips the larger-data runs")
            else:
                result["datasets"]["shared"] = run_dataset(
                    "shared",
                    tmp,
                    args.sample_interval,
                    args.repeats,
                    extra_landing=land_shared_boxscores,
                    env_extra=env_extra,
                )
                landed = result["datasets"]["shared"]["landed_extra"]
                say(
                    "  landed from shared data: "
                    + ", ".join(f"{r['file']} ({'landed' if r['landed'] else r['reason']})" for r in landed)
                )
    except BaseException as exc:  # keep what was measured, report, then fail
        error = f"{type(exc).__name__}: {exc}"
        result["error"] = error
        say(f"\nERROR: {error}")
    finally:
        result["uptime_after"] = uptime()
        result["finished_utc"] = datetime.now(UTC).isoformat()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    # ---------------------------------------------------------------- report
    say("\n" + "=" * 100)
    say(f"uptime before: {result['uptime_before']}")
    say(f"uptime after:  {result['uptime_after']}")
    if "imports" in result:
        say(f"\nCold-start import cost (fresh interpreter, best of {args.import_repeats}):")
        say("| target | process wall s | import s | peak RSS MB |")
        say("|---|---:|---:|---:|")
        for r in result["imports"]:
            say(
                f"| {r['target']} | {r['best_process_wall_s']:.2f} | {r['best_import_s']:.2f} | {r['min_maxrss_mb']:.0f} |"
            )
    texts = {}
    for name, ds in result["datasets"].items():
        if "skipped" in ds:
            say(f"\n[{name}] skipped: {ds['skipped']}")
            continue
        q0 = ds["pairs"][0]["plain"]
        how = f"median of {ds['repeats']} repeats" if ds["repeats"] > 1 else "one run each"
        say(
            f"\n[{name}] {len(q0['summary']['seasons'])} seasons, {how}. ratio = platform / plain wall time. "
            "Per-step RSS: sampled peak of the process tree during the step; TOTAL RSS: ru_maxrss from wait4."
        )
        texts[name] = print_table(ds["rows"])
        for pr in ds["pairs"]:
            p, q = pr["platform"], pr["plain"]
            tag = f"  #{pr['repeat'] + 1}" if ds["repeats"] > 1 else " "
            say(
                f"{tag} mean 1-min load average during the run: platform {fmt(p['mean_loadavg_1m'], '.2f')}, "
                f"plain {fmt(q['mean_loadavg_1m'], '.2f')} ({os.cpu_count()} CPUs); totals platform {p['wall_s']:.1f}s / plain {q['wall_s']:.1f}s"
            )
            say(
                f"{tag} platform: run {p['run_s']:.1f}s, {p['events']} Dagster events, inputs read back from the lake "
                f"{sum(p['input_load_s_by_group'].values()):.1f}s of step time, max processes in tree {p['max_processes_in_tree']}"
            )
            nf = next(r for r in pr["rows"] if r["group"] == "subtotal_no_fits")
            p_nf, q_nf = nf["platform_wall_s"], nf["plain_wall_s"]
            other = [st["step_key"] for st in p["steps"] if st["group"] == "other"]
            if other:
                say(f'{tag} steps in the "other" row (no group of their own): {", ".join(other)}')
            say(f"{tag} where the platform's extra time goes (TOTAL without fits: {p_nf - q_nf:+.1f}s):")
            for label, sec in overhead_breakdown(p, q):
                say(f"{tag}     {label:88s} {sec:6.1f}s")
            say(
                f"{tag} plain: {q['summary']['mlflow_models_logged']} MLflow models logged, {q['summary']['lake_files_written']} lake files, "
                f"dagster import via MlflowTracking {q['groups'].get('mlflow_import', {}).get('seconds', 0):.1f}s; "
                f"outputs {'IDENTICAL' if pr['parity']['identical'] else 'DIFFERENT'} to the platform's"
            )
    result["tables"] = texts
    suffix = ("-smoke" if args.smoke else "") + (f"-omp{args.omp_threads}" if args.omp_threads else "")
    out = RESULTS / f"cold_build-{stamp}{suffix}.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1, default=str))
    say(f"\nJSON: {out}")
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
