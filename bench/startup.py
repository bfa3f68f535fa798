"""Start-up: loading the definitions against a bare `import dagster`, and sensor ticks.

    .venv/bin/python bench/startup.py                      # 7 fresh interpreters per target, median
    .venv/bin/python bench/startup.py --home NBA_HOME      # ticks against a built instance (else a fresh one)

1. Fresh interpreters (`python -c ...`, cwd and NBA_HOME in a temp dir), median of --repeats
   process wall times, the targets interleaved round by round: bare `python`, `import dagster`, and loading the definitions
   (`from nba_platform.definitions import defs; defs()`, what the webserver, the daemon's code
   server and every run worker pay), plus, for reference, `defs().get_repository_def()`
   (resolving and validating every job and asset graph, which a code server does next).
   Figure: definitions / import dagster (target <= 2.0: pandas, numpy and pyarrow load with the
   definitions, like any data project; only the heavy, rarely needed libraries stay lazy). Like for like, the project's modules are
   byte-compiled first (`compileall` into their git-ignored `__pycache__/`), as Dagster's are in
   site-packages and as `pip install .` in the Dockerfile leaves them. This environment sets
   PYTHONDONTWRITEBYTECODE=1, so an editable checkout would otherwise compile the project from
   source in every process (about 0.09 s here); that figure is printed too, as information.
2. Sensor ticks, in one process after the definitions are loaded (as in a code server): each
   sensor evaluated against the instance with its resources. Reported: the first tick and the
   median of the next --ticks. landing_zone_sensor is ticked with nothing new (steady state) and
   once with a newly landed file; retraining_sensor with and without a cursor. Target < 1 s.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from cold_build import child_env, say  # noqa: E402

TARGET_DEFS_VS_DAGSTER = 2.0  # definitions load / bare `import dagster`
TARGETS = [
    ("python (no imports)", "pass"),
    ("import dagster", "import dagster"),
    ("load definitions: defs()", "from nba_platform.definitions import defs; defs()"),
    (
        "defs().get_repository_def() (reference)",
        "from nba_platform.definitions import defs; defs().get_repository_def()",
    ),
]

TICKS = r"""
import json, os, shutil, statistics, sys, time
from pathlib import Path
t0 = time.perf_counter()
import dagster as dg
from nba_platform.definitions import defs
from nba_platform.cli.runs import get_instance
d = defs()
t_defs = time.perf_counter() - t0
instance = get_instance()
resources = d.resources
n = int(sys.argv[1]); new_file = sys.argv[2]
out = {"defs_load_s": t_defs}

def tick(name, cursor):
    sensor = d.resolve_sensor_def(name)
    t = time.perf_counter()
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
        result = sensor(ctx)  # the sensor's evaluation function, as a tick runs it in the code server
    return time.perf_counter() - t, result

for name in ("landing_zone_sensor", "retraining_sensor"):
    first, result = tick(name, None)
    cursor = result.cursor
    rest = []
    for _ in range(n):
        sec, result = tick(name, cursor)
        rest.append(sec)
        cursor = result.cursor
    out[name] = {"first_tick_s": first, "median_tick_s": statistics.median(rest), "ticks": rest,
                 "skip_reason": str(getattr(result, "skip_reason", None))[:200]}
    if name == "landing_zone_sensor":
        landing = resources["landing"]
        target = Path(landing.uri) / Path(new_file).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(new_file, target)
        sec, result = tick(name, cursor)
        out[name]["new_file_tick_s"] = sec
        out[name]["new_file_runs_requested"] = len(result.run_requests or [])
        target.unlink()
print(json.dumps(out))
"""


def median_wall(code: str, env: dict, cwd: str, repeats: int) -> dict:
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        walls.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(walls), "min_s": min(walls), "all_s": walls}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Definitions load vs import dagster; sensor tick times.")
    ap.add_argument("--repeats", type=int, default=7, help="fresh interpreters per target (median)")
    ap.add_argument("--ticks", type=int, default=5, help="ticks per sensor after the first (median)")
    ap.add_argument("--home", help="NBA_HOME of a built platform (its Dagster instance); default: a fresh one")
    ap.add_argument("--new-file", help="the file landed for the 'new file' tick (default: a shipped league game log)")
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="nba_startup_"))
    env = child_env(tmp / "nba_home")
    result: dict = {"benchmark": "startup", "repeats": args.repeats, "targets": []}
    say(f"startup: {args.repeats} fresh interpreters per target (median of process wall time)")
    project = Path(__file__).resolve().parents[1] / "nba_platform"
    for cache in project.rglob("__pycache__"):
        shutil.rmtree(cache)
    no_bytecode = median_wall(TARGETS[2][1], {**env, "PYTHONDONTWRITEBYTECODE": "1"}, str(tmp), args.repeats)
    no_bytecode.update({"target": "load definitions, no bytecode (info)", "loadavg": os.getloadavg()})
    result["no_bytecode"] = no_bytecode
    say(f"  {no_bytecode['target']:45s} median {no_bytecode['median_s']:.2f}s  (min {no_bytecode['min_s']:.2f}s)")
    compileall.compile_dir(str(project), quiet=1)
    # Interleaved rounds (one process per target per round), so a load change during the
    # measurement hits every target alike instead of whichever ran then.
    load = os.getloadavg()
    walls: dict[str, list[float]] = {label: [] for label, _ in TARGETS}
    for _ in range(args.repeats):
        for label, code in TARGETS:
            walls[label].append(median_wall(code, env, str(tmp), 1)["median_s"])
    for label, _ in TARGETS:
        w = walls[label]
        r = {"median_s": statistics.median(w), "min_s": min(w), "all_s": w, "target": label, "loadavg": load}
        result["targets"].append(r)
        say(f"  {label:45s} median {r['median_s']:.2f}s  (min {r['min_s']:.2f}s)  load {load[0]:.2f}")
    by = {r["target"]: r for r in result["targets"]}
    result["ratio_defs_vs_dagster"] = by["load definitions: defs()"]["median_s"] / by["import dagster"]["median_s"]
    result["target_defs_vs_dagster"] = TARGET_DEFS_VS_DAGSTER
    met = "met" if result["ratio_defs_vs_dagster"] <= TARGET_DEFS_VS_DAGSTER else "NOT met"
    say(
        f"  definitions / import dagster = {result['ratio_defs_vs_dagster']:.2f} "
        f"(target <= {TARGET_DEFS_VS_DAGSTER:g}: {met})"
    )

    home = Path(args.home) if args.home else tmp / "nba_home"
    new_file = args.new_file or str(
        next(
            (
                Path(__file__).resolve().parents[1]
                / "nba_platform"
                / "data"
                / "landing"
                / "nba_api_league_gamelog_2021_2024"
            ).glob("*2023-24*")
        )
    )
    tick_env = child_env(home)
    load = os.getloadavg()
    out = subprocess.run(
        [sys.executable, "-c", TICKS, str(args.ticks), new_file],
        env=tick_env,
        cwd=str(tmp),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"sensor ticks failed:\n{out.stderr[-3000:]}")
    ticks = json.loads(out.stdout.strip().splitlines()[-1])
    ticks.update({"home": str(home), "loadavg": load, "new_file": new_file})
    result["sensor_ticks"] = ticks
    for name in ("landing_zone_sensor", "retraining_sensor"):
        t = ticks[name]
        extra = (
            f", new file {t['new_file_tick_s']:.3f}s ({t['new_file_runs_requested']} run(s) requested)"
            if "new_file_tick_s" in t
            else ""
        )
        say(
            f"  {name}: first tick {t['first_tick_s']:.3f}s, then median {t['median_tick_s']:.3f}s{extra}  (instance {home})"
        )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1, default=str))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
