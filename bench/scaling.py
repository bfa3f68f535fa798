"""How the cold build's cost grows with the seasons built.

    .venv/bin/python bench/scaling.py                 # platform + plain at 4, 8, 16 seasons
    .venv/bin/python bench/scaling.py --platform-only --seasons 4,8

Each point is `nba-platform build --season ...` for the N most recent shipped seasons (ending
2023-24) in a fresh NBA_HOME, and the plain build (bench/plain_build.py --season ...) of the same
seasons, both in fresh processes (bench/cold_build.py's harness). The unit is 4 seasons, not 1:
a cold build of every asset needs at least 3 (the game model trains on 2 seasons and validates
on the next; walk-forward predictions need 2 earlier seasons), so 1 or 2 seasons stop at the
model step. The full 21-season build is bench/cold_build.py's figure; the 10x box-score slope
(1x/3x/10x) is bench/tenx_boxscores.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import cold_build  # noqa: E402
from cold_build import say  # noqa: E402

LAST_SEASON_START = 2023  # 2023-24, the newest shipped season


def recent_seasons(n: int) -> list[str]:
    from nba_platform.lib.seasons import season_label

    return [season_label(y) for y in range(LAST_SEASON_START - n + 1, LAST_SEASON_START + 1)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Cold build at 4, 8, 16 seasons: platform (and plain) wall time and peak RSS."
    )
    ap.add_argument("--seasons", default="4,8,16", help="numbers of most recent seasons, comma-separated")
    ap.add_argument("--platform-only", action="store_true", help="skip the plain builds (faster; no ratio)")
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="nba_scaling_"))
    result: dict = {"benchmark": "scaling", "points": []}
    try:
        for n in [int(x) for x in args.seasons.split(",")]:
            seasons = recent_seasons(n)
            cold_build.BUILD_SEASONS[:] = seasons
            point: dict = {"seasons": n, "first": seasons[0], "last": seasons[-1]}
            for kind in ("platform",) if args.platform_only else ("platform", "plain"):
                home = tmp / f"s{n}_{kind}" / "nba_home"
                home.mkdir(parents=True)
                load = os.getloadavg()
                say(f"[{n} seasons {seasons[0]}..{seasons[-1]}] {kind} build ...")
                run = cold_build.platform_run(home, 0.5) if kind == "platform" else cold_build.plain_run(home, 0.5)
                point[kind] = {
                    "wall_s": run["wall_s"],
                    "maxrss_mb": run["maxrss_mb"],
                    "cpu_s": run["cpu_s"],
                    "loadavg": load,
                    "mean_loadavg_1m": run["mean_loadavg_1m"],
                }
                say(f"  {kind}: {run['wall_s']:.1f}s wall, peak RSS {run['maxrss_mb']:.0f} MB, load {load[0]:.2f}")
                shutil.rmtree(home.parent, ignore_errors=True)
            if "plain" in point:
                point["ratio"] = point["platform"]["wall_s"] / point["plain"]["wall_s"]
            result["points"].append(point)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say("\n| seasons | platform s | plain s | ratio | platform peak RSS MB | load |")
    say("|---:|---:|---:|---:|---:|---:|")
    for p in result["points"]:
        q = p.get("plain", {})
        say(
            f"| {p['seasons']} ({p['first']}..{p['last']}) | {p['platform']['wall_s']:.1f} | "
            f"{q.get('wall_s', float('nan')):.1f} | {p.get('ratio', float('nan')):.2f} | {p['platform']['maxrss_mb']:.0f} | "
            f"{p['platform']['loadavg'][0]:.2f} |"
        )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
