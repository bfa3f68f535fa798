"""Peak memory of `nba-platform ingest` on a large game log (issue 16: a 100 MB shaped CSV lands with
peak RSS < 1.5 GB).

    .venv/bin/python bench/ingest_memory.py                 # 100 MB, landing only and landing + build
    .venv/bin/python bench/ingest_memory.py --mb 35 --no-build

The file: the shipped 2021-22 .. 2023-24 league game logs (7,380 team-game rows, 29 columns),
re-keyed and copied until it reaches the size: copy (j, k) moves the three seasons back 3*(j+1)
years (game ids, SEASON_ID and dates; seasons 1949-50 .. 2020-21) and adds 2000*k to the game
number, so every row is a distinct, valid team game and nothing collapses as a duplicate.

Each figure is one fresh `nba-platform ingest FILE` process in a new home (NBA_INCLUDE_SAMPLE=false):
`--no-run` (read, detect, split by season, land, index, write the season pieces) and the full command
(then the build of every season it touches, in runs of at most MAX_SEASONS_PER_RUN seasons, whose raw
asset reads only the pieces of its seasons). Peak RSS is the process's
ru_maxrss from wait4 (KiB on Linux).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SOURCE = ROOT / "nba_platform" / "data" / "landing" / "nba_api_league_gamelog_2021_2024"
TARGET_MB = 1500


def make_file(path: Path, megabytes: float) -> int:
    base = pd.concat(
        [
            pd.read_csv(io.BytesIO(gzip.decompress((SOURCE / f"nba-gamelog-{s}.csv.gz").read_bytes())), dtype=str)
            for s in ("2021-22", "2022-23", "2023-24")
        ],
        ignore_index=True,
    )
    one = len(base.to_csv(index=False))
    copies = []
    for j in range(24):
        for k in range(4):
            if one * len(copies) >= megabytes * 1e6:
                break
            c = base.copy()
            shift = 3 * (j + 1)
            years = 2000 + c["game_id"].str.slice(3, 5).astype(int) - shift
            number = c["game_id"].str.slice(5).astype(int) + 2000 * k
            c["game_id"] = (
                c["game_id"].str.slice(0, 3) + (years % 100).map("{:02d}".format) + number.map("{:05d}".format)
            )
            c["season_id"] = c["season_id"].str.slice(0, 1) + years.astype(str)
            c["game_date"] = (pd.to_datetime(c["game_date"]) - pd.DateOffset(years=shift)).dt.strftime("%Y-%m-%d")
            copies.append(c)
    frame = pd.concat(copies, ignore_index=True)
    frame.to_csv(path, index=False)
    return len(frame)


def ingest(path: Path, home: Path, no_run: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "DAGSTER_"))}
    env.update(NBA_HOME=str(home), NBA_INCLUDE_SAMPLE="false", NBA_PLATFORM_ENV="local")
    args = [sys.executable, "-m", "nba_platform.cli", "ingest", str(path)] + (["--no-run"] if no_run else [])
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"ingest failed ({code}):\n{out[-3000:]}")
    runs = out.count(": SUCCESS in")
    return {"no_run": no_run, "seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=100.0, help="file size in MB (default 100)")
    parser.add_argument("--no-build", action="store_true", help="measure the landing (`--no-run`) only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-memory-"))
    path = work / f"gamelog-{int(args.mb)}mb.csv"
    rows = make_file(path, args.mb)
    size_mb = path.stat().st_size / 1e6
    print(f"{path.name}: {size_mb:.1f} MB, {rows} rows", flush=True)
    results = [ingest(path, work / "home-landing", no_run=True)]
    if not args.no_build:
        results.append(ingest(path, work / "home-build", no_run=False))
    print("command | seconds | peak RSS | runs | target | met? | load 1m")
    for r in results:
        label = "ingest --no-run" if r["no_run"] else "ingest (land + build)"
        r.update(file_mb=round(size_mb, 1), rows=rows, target_mb=TARGET_MB, met=r["peak_rss_mb"] < TARGET_MB)
        r["load_1m"] = round(os.getloadavg()[0], 1)
        print(
            f"{label} | {r['seconds']} s | {r['peak_rss_mb']} MB | {r['runs']} | < {TARGET_MB} MB | {r['met']} | {r['load_1m']}"
        )
    out = BENCH / "results" / "ingest_memory.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
