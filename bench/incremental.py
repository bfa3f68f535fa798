"""Daily incremental: landing one new game day on a built platform, against the cold build.

    .venv/bin/python bench/incremental.py --home NBA_HOME --cold-wall 105.4   # on a built home
    .venv/bin/python bench/incremental.py                                      # cold-builds one first (timed)

The new day: the 15 games of 2024-04-14 from the shipped LeagueGameLog 2023-24 export,
re-keyed (game number + 10000, so 0022301196 -> 0022311196: new regular-season games of
2023-24) and dated 2024-04-15, written as a LeagueGameLog CSV.

Two fresh processes, as the daemon runs them (each run is its own process there too):
1. `nba-platform ingest --no-drift FILE` lands it and runs what the landing sensor would
   (job_for_new_data: `season_update` once a model exists) for the 2023-24 partition: its tables,
   the features, champion predictions, shadow scores, the publish, live skill and the promotion
   check; no retraining. Its wall time over the cold build's is the figure (target <= 0.10).
2. the `season_drift` run that `drift_after_season_update` requests when (1) succeeds (the Evidently
   report of 2023-24), timed on its own and reported beside it.
The runs' steps and every materialized asset (with partition) are read back from the instance.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from cold_build import SAMPLE_LANDING, child_env, run_child, say  # noqa: E402

SOURCE = SAMPLE_LANDING / "nba_api_league_gamelog_2021_2024" / "nba-gamelog-2023-24.csv.gz"
SOURCE_DAY, NEW_DAY = "2024-04-14", "2024-04-15"

RUN_STATS = r"""
import json, sys
import dagster as dg
inst = dg.DagsterInstance.get()
run = inst.get_run_records(dg.RunsFilter(tags={"nba/trigger": sys.argv[1]}), limit=1)[0].dagster_run
stats = inst.get_run_stats(run.run_id)
steps = [{"step_key": s.step_key, "status": str(s.status), "seconds": (s.end_time or 0) - (s.start_time or 0)}
         for s in inst.get_run_step_stats(run.run_id)]
mats = []
for rec in inst.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=100000).records:
    m = rec.event_log_entry.dagster_event.event_specific_data.materialization
    mats.append([m.asset_key.to_user_string(), m.partition])
json.dump({"run_id": run.run_id, "job": run.job_name, "status": str(run.status), "tags": {k: v for k, v in run.tags.items() if k.startswith(("nba/", "dagster/partition"))},
           "run_s": (stats.end_time or 0) - (stats.start_time or 0), "steps": steps, "materialized": mats,
           "runs_in_instance": len(inst.get_runs())}, sys.stdout)
"""


# The request drift_after_season_update makes for the update run, executed as the daemon would.
DRIFT_RUN = r"""
import sys
import dagster as dg
from nba_platform.defs.monitoring.sensors import drift_request_for
from nba_platform.cli.runs import get_instance, run_job
inst = get_instance()
update = inst.get_run_by_id(sys.argv[1])
request = drift_request_for(update.with_tags({k: v for k, v in update.tags.items() if k != "nba/drift_by"}))
seasons = inst.get_dynamic_partitions("season")
lo, hi = (request.tags.get("dagster/asset_partition_range_start"), request.tags.get("dagster/asset_partition_range_end"))
keys = seasons[seasons.index(lo): seasons.index(hi) + 1] if lo else [request.tags["dagster/partition"]]
sys.exit(0 if run_job(request.job_name, keys, inst, tags={k: v for k, v in request.tags.items() if not k.startswith("dagster/")}).success else 1)
"""


def new_day_file(out_dir: Path) -> tuple[Path, int]:
    import pandas as pd
    from tenx_boxscores import rekey

    frame = pd.read_csv(SOURCE, dtype=str, keep_default_na=False)
    day = frame[frame["game_date"] == SOURCE_DAY].copy()
    day["game_id"] = [rekey(g, 1) for g in day["game_id"]]
    day["game_date"] = NEW_DAY
    path = out_dir / f"nba-gamelog-2023-24-{NEW_DAY}.csv"
    day.to_csv(path, index=False)
    return path, day["game_id"].nunique()


def cold_build(home: Path) -> float:
    say(f"  no --home: cold build first (nba-platform build, NBA_HOME={home}) ...")
    home.mkdir(parents=True, exist_ok=True)
    child = run_child(
        [sys.executable, "-m", "nba_platform.cli", "build"],
        child_env(home),
        str(home.parent),
        home.parent / "cold.stderr.log",
        0.5,
        echo=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"cold build failed; see {child.stderr_path}")
    say(f"  cold build: {child.wall:.1f}s")
    return child.wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Daily incremental (one new game day) vs the cold build.")
    ap.add_argument("--home", help="NBA_HOME of a cold-built platform (with a game model); default: build one")
    ap.add_argument("--cold-wall", type=float, help="the cold build's wall time, seconds (needed with --home)")
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="nba_incremental_"))
    if args.home:
        home = Path(args.home)
        if args.cold_wall is None:
            raise SystemExit("--home needs --cold-wall (the cold build's wall time from the same run)")
        cold_wall = args.cold_wall
    else:
        home = tmp / "nba_home"
        cold_wall = cold_build(home)
    day_file, games = new_day_file(tmp)
    env = child_env(home)
    load = os.getloadavg()
    say(f"incremental: nba-platform ingest {day_file.name} ({games} new games of 2023-24) on {home}")
    child = run_child(
        [sys.executable, "-m", "nba_platform.cli", "ingest", "--no-drift", str(day_file)],
        env,
        str(tmp),
        tmp / "ingest.stderr.log",
        0.2,
        echo=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"ingest failed (exit {child.returncode}); see {child.stderr_path}")

    def run_stats(trigger):
        return json.loads(
            subprocess.run(
                [sys.executable, "-c", RUN_STATS, trigger],
                env=dict(env, DAGSTER_HOME=str(home / "dagster")),
                cwd=str(tmp),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )

    stats = run_stats("cli-ingest")
    say("  then the season_drift run the drift_after_season_update sensor requests (fresh process) ...")
    drift = run_child(
        [sys.executable, "-c", DRIFT_RUN, stats["run_id"]], env, str(tmp), tmp / "drift.stderr.log", 0.2, echo=False
    )
    if drift.returncode != 0:
        raise SystemExit(f"drift run failed (exit {drift.returncode}); see {drift.stderr_path}")
    drift_stats = run_stats("after_season_update")
    assets = sorted({a for a, _ in stats["materialized"]})
    by_asset: dict[str, list] = {}
    for a, p in stats["materialized"]:
        by_asset.setdefault(a, []).append(p)
    result = {
        "benchmark": "incremental",
        "home": str(home),
        "new_day_file": day_file.name,
        "new_games": games,
        "ingest_wall_s": child.wall,
        "ingest_maxrss_mb": child.maxrss_mb,
        "cold_wall_s": cold_wall,
        "ratio": child.wall / cold_wall,
        "loadavg": load,
        "mean_loadavg_1m": child.sampler.mean_load(),
        "run": {k: v for k, v in stats.items() if k != "materialized"},
        "drift_wall_s": drift.wall,
        "drift_ratio": drift.wall / cold_wall,
        "drift_maxrss_mb": drift.maxrss_mb,
        "drift_run": {k: v for k, v in drift_stats.items() if k != "materialized"},
        "update_plus_drift_ratio": (child.wall + drift.wall) / cold_wall,
        "materialized": {a: sorted(str(p) for p in ps) for a, ps in by_asset.items()},
        "stdout": [line for _, line in child.lines],
    }
    say(
        f"  ingest wall {child.wall:.1f}s (run {stats['run_s']:.1f}s, job {stats['job']}, {stats['tags']}), cold build {cold_wall:.1f}s: "
        f"ratio {result['ratio']:.3f} (target <= 0.10); load {load[0]:.2f}"
    )
    say(f"  {len(assets)} assets materialized ({len(stats['materialized'])} asset partitions):")
    for a in assets:
        parts = sorted({str(p) for p in by_asset[a]})
        say(f"    {a}  [{', '.join(parts) if parts != ['None'] else 'unpartitioned'}]")
    slow = sorted(stats["steps"], key=lambda s: -s["seconds"])[:8]
    say("  slowest steps: " + ", ".join(f"{s['step_key']} {s['seconds']:.1f}s" for s in slow))
    say(
        f"  drift run (job {drift_stats['job']}, {drift_stats['tags']}): wall {drift.wall:.1f}s (run {drift_stats['run_s']:.1f}s), "
        f"ratio {result['drift_ratio']:.3f}; update + drift {result['update_plus_drift_ratio']:.3f} of the cold build"
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1, default=str))
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)  # the day file, logs, and a home built here (kept on failure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
