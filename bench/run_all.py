"""Every benchmark of issue 8 in one command, each in its own subprocess, then one table.

    .venv/bin/python bench/run_all.py            # full: scaling with plain builds at 4/8/16 seasons
    .venv/bin/python bench/run_all.py --quick    # < 10 min: scaling platform-only at 4/8 seasons, fewer repeats
    .venv/bin/python bench/run_all.py --shared-data   # + cold build with ../shared/data box scores; 10x from them

Order (later steps reuse the cold build's platform home, so one cold build feeds four figures):
  1. cold_build.py   platform (`nba-platform build`) vs plain functions, parity of outputs
  2. incremental.py  one new game day through `nba-platform ingest` on that home
  3. startup.py      definitions load vs `import dagster`; sensor ticks on that instance
  4. publish.py      the home's serving rows into a throwaway Postgres DB vs raw COPY
  5. tenx_boxscores.py  validation + dedup at 1x/3x/10x vs DuckDB SQL
  6. scaling.py      cold build at 4, 8 (, 16) seasons
Prints `figure | value | reference | ratio | target | met? | load` and writes
bench/results/latest.json and latest.md (plus timestamped copies). Each figure carries the
1-minute load average when it was measured: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(BENCH))


def say(msg: str = "") -> None:
    print(msg, flush=True)


def step(name: str, argv: list[str], log_dir: Path, results: dict) -> dict | None:
    """Run one benchmark script; its JSON (--json-out) becomes results[name]."""
    out = log_dir / f"{name}.json"
    load = os.getloadavg()
    say(f"\n=== {name}: {' '.join(Path(a).name if a.endswith('.py') else a for a in argv)}   (load {load[0]:.2f})")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *argv, "--json-out", str(out)],
        cwd=str(BENCH.parent),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wall = time.perf_counter() - t0
    (log_dir / f"{name}.log").write_text(proc.stdout)
    tail = [line for line in proc.stdout.splitlines() if line.strip()][-14:]
    for line in tail:
        say(f"  | {line[:220]}")
    entry = {"exit": proc.returncode, "wall_s": wall, "loadavg_before": load}
    if out.exists():
        entry["result"] = json.loads(out.read_text())
    else:
        say(f"  !! {name} wrote no result (exit {proc.returncode}); log: {log_dir / (name + '.log')}")
    results[name] = entry
    return entry.get("result")


def row(
    figure: str,
    value: float | None,
    unit: str,
    reference: str,
    ratio: float | None,
    target: str,
    met: bool | None,
    load: float | None,
    note: str = "",
) -> dict:
    return {
        "figure": figure,
        "value": value,
        "unit": unit,
        "reference": reference,
        "ratio": ratio,
        "target": target,
        "met": met,
        "load_1m": load,
        "note": note,
    }


def figures(r: dict) -> list[dict]:
    rows: list[dict] = []
    cold = (r.get("cold_build") or {}).get("result")
    if cold and "sample" in cold.get("datasets", {}):
        ds = cold["datasets"]["sample"]
        pair = ds["pairs"][0]
        p, q = pair["platform"], pair["plain"]
        load = p.get("mean_loadavg_1m")
        par = pair["parity"]
        note = f"outputs {'identical' if par['identical'] else 'DIFFER (' + str(len(par['differing'])) + ' files)'}"
        rows.append(
            row("cold build, 21 seasons (wall)", p["wall_s"], "s", "—", None, "< 90 s", p["wall_s"] < 90, load, note)
        )
        rows.append(
            row(
                "cold build: platform / plain functions",
                p["wall_s"],
                "s",
                f"plain {q['wall_s']:.1f} s",
                p["wall_s"] / q["wall_s"],
                "<= 1.3x",
                p["wall_s"] / q["wall_s"] <= 1.3,
                load,
                f"plain load {q.get('mean_loadavg_1m') or 0:.2f}",
            )
        )
        nf = next(x for x in ds["rows"] if x["group"] == "subtotal_no_fits")
        rows.append(
            row(
                "  (same, without the sklearn fits)",
                nf["platform_wall_s"],
                "s",
                f"plain {nf['plain_wall_s']:.1f} s",
                nf["ratio"],
                "info",
                None,
                load,
            )
        )
        if "shared" in cold["datasets"] and "pairs" in cold["datasets"]["shared"]:
            sp = cold["datasets"]["shared"]["pairs"][0]
            rows.append(
                row(
                    "cold build + shared box scores (wall)",
                    sp["platform"]["wall_s"],
                    "s",
                    f"plain {sp['plain']['wall_s']:.1f} s",
                    sp["platform"]["wall_s"] / sp["plain"]["wall_s"],
                    "info",
                    None,
                    sp["platform"].get("mean_loadavg_1m"),
                )
            )
    inc = (r.get("incremental") or {}).get("result")
    if inc:
        rows.append(
            row(
                "daily incremental (one new game day)",
                inc["ingest_wall_s"],
                "s",
                f"cold build {inc['cold_wall_s']:.1f} s",
                inc["ratio"],
                "<= 0.10x",
                inc["ratio"] <= 0.10,
                inc.get("mean_loadavg_1m"),
                f"{len(inc['materialized'])} assets ran: job {inc['run']['job']}",
            )
        )
    st = (r.get("startup") or {}).get("result")
    if st:
        by = {t["target"]: t for t in st["targets"]}
        d, g = by["load definitions: defs()"], by["import dagster"]
        rows.append(
            row(
                "start-up: load definitions (fresh process)",
                d["median_s"],
                "s",
                f"import dagster {g['median_s']:.2f} s",
                st["ratio_defs_vs_dagster"],
                f"<= {st.get('target_defs_vs_dagster', 2.0):g}x",
                st["ratio_defs_vs_dagster"] <= st.get("target_defs_vs_dagster", 2.0),
                d["loadavg"][0],
                f"median of {st['repeats']}",
            )
        )
        for name in ("landing_zone_sensor", "retraining_sensor"):
            t = st["sensor_ticks"][name]
            worst = max(t["first_tick_s"], t["median_tick_s"], t.get("new_file_tick_s", 0))
            rows.append(
                row(
                    f"sensor tick: {name}",
                    worst,
                    "s",
                    "—",
                    None,
                    "< 1 s",
                    worst < 1.0,
                    st["sensor_ticks"]["loadavg"][0],
                    f"first {t['first_tick_s']:.3f}, median {t['median_tick_s']:.3f}"
                    + (f", new file {t['new_file_tick_s']:.3f}" if "new_file_tick_s" in t else ""),
                )
            )
    pub = (r.get("publish") or {}).get("result")
    if pub:
        for run in pub["runs"]:
            rows.append(
                row(
                    f"publish to Postgres, x{run['scale']} ({run['rows']['games'] + run['rows']['game_predictions']:,} rows)",
                    run["platform_s"],
                    "s",
                    f"raw COPY {run['reference_s']:.2f} s",
                    run["ratio"],
                    "<= 1.5x",
                    run["ratio"] <= 1.5,
                    run["loadavg"][0],
                    "same rows" if run["same_rows"] else "ROWS DIFFER",
                )
            )
    tenx = (r.get("tenx_boxscores") or {}).get("result")
    if tenx:
        for c in tenx["comparison"]:
            main = c["scale"] == max(x["scale"] for x in tenx["comparison"])
            rows.append(
                row(
                    f"box scores x{c['scale']} ({c['rows']:,} rows): validate + dedup",
                    c["platform_s"],
                    "s",
                    f"DuckDB {c['duckdb_s']:.2f} s",
                    c["ratio"],
                    "<= 2x" if main else "info",
                    c["ratio"] <= 2 if main else None,
                    c["loadavg"][0],
                    "same outputs" if c["outputs_identical"] else "OUTPUTS DIFFER",
                )
            )
            if main:
                rows.append(
                    row(
                        f"box scores x{c['scale']}: peak RSS",
                        c["platform_peak_rss_mb"],
                        "MB",
                        f"DuckDB {c['duckdb_peak_rss_mb']:.0f} MB",
                        None,
                        "< 2048 MB",
                        c["platform_peak_rss_mb"] < 2048,
                        c["loadavg"][0],
                        tenx["base"],
                    )
                )
    sc = (r.get("scaling") or {}).get("result")
    if sc:
        for p in sc["points"]:
            ratio = p.get("ratio")
            rows.append(
                row(
                    f"scaling: cold build, {p['seasons']} seasons",
                    p["platform"]["wall_s"],
                    "s",
                    f"plain {p['plain']['wall_s']:.1f} s" if "plain" in p else "—",
                    ratio,
                    "info",
                    None,
                    p["platform"]["loadavg"][0],
                    f"peak RSS {p['platform']['maxrss_mb']:.0f} MB",
                )
            )
    return rows


def fmt(v, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def table(rows: list[dict]) -> str:
    lines = [
        "| figure | value | reference | ratio | target | met? | load 1m | note |",
        "|---|---:|---|---:|---|---|---:|---|",
    ]
    for x in rows:
        met = {True: "yes", False: "**NO**", None: ""}[x["met"]]
        value = f"{fmt(x['value'], '.2f')} {x['unit']}" if x["value"] is not None else "—"
        lines.append(
            f"| {x['figure']} | {value} | {x['reference']} | {fmt(x['ratio'], '.2f')} | {x['target']} | {met} | "
            f"{fmt(x['load_1m'], '.2f')} | {x['note']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="All issue-8 benchmarks, one table.")
    ap.add_argument(
        "--quick", action="store_true", help="< 10 min: platform-only scaling at 4 and 8 seasons, fewer repeats"
    )
    ap.add_argument("--shared-data", action="store_true", help="use ../shared/data box scores where a benchmark can")
    ap.add_argument(
        "--only", help="comma-separated subset: cold_build,incremental,startup,publish,tenx_boxscores,scaling"
    )
    args = ap.parse_args(argv)
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_dir = RESULTS / f"run_all-{stamp}"
    log_dir.mkdir()
    only = set(args.only.split(",")) if args.only else None

    def want(n):
        return only is None or n in only

    t0 = time.perf_counter()
    r: dict = {}
    say(
        f"run_all {'--quick ' if args.quick else ''}{stamp}: {os.cpu_count()} CPUs, load {os.getloadavg()}, logs in {log_dir}"
    )
    home = None
    cold_tmp = None
    try:
        if want("cold_build"):
            cold = step(
                "cold_build",
                ["bench/cold_build.py", "--skip-imports", "--keep"] + (["--shared-data"] if args.shared_data else []),
                log_dir,
                r,
            )
            if cold and "sample" in cold.get("datasets", {}):
                cold_tmp = Path(cold["tmp"])
                pair = cold["datasets"]["sample"]["pairs"][0]
                home, cold_wall = Path(pair["platform"]["nba_home"]), pair["platform"]["wall_s"]
        if want("incremental"):
            step(
                "incremental",
                ["bench/incremental.py"] + (["--home", str(home), "--cold-wall", f"{cold_wall:.3f}"] if home else []),
                log_dir,
                r,
            )
        if want("startup"):
            step(
                "startup",
                ["bench/startup.py", "--repeats", "5" if args.quick else "9"] + (["--home", str(home)] if home else []),
                log_dir,
                r,
            )
        if want("publish"):
            step(
                "publish",
                ["bench/publish.py", "--repeats", "3" if args.quick else "5"]
                + (["--lake", str(home / "lake")] if home else []),
                log_dir,
                r,
            )
    finally:
        if cold_tmp is not None:
            shutil.rmtree(cold_tmp, ignore_errors=True)
    if want("tenx_boxscores"):
        step(
            "tenx_boxscores",
            ["bench/tenx_boxscores.py", "--scales", "1,3,10"] + (["--shared-data"] if args.shared_data else []),
            log_dir,
            r,
        )
    if want("scaling"):
        step(
            "scaling",
            ["bench/scaling.py"] + (["--platform-only", "--seasons", "4,8"] if args.quick else ["--seasons", "4,8,16"]),
            log_dir,
            r,
        )

    rows = figures(r)
    total = time.perf_counter() - t0
    text = table(rows)
    say("\n" + text)
    say(f"\nrun_all{' --quick' if args.quick else ''}: {total / 60:.1f} min; load now {os.getloadavg()}")
    summary = {
        "started_utc": started.isoformat(),
        "quick": args.quick,
        "shared_data": args.shared_data,
        "total_s": total,
        "cpus": os.cpu_count(),
        "rows": rows,
        "steps": r,
    }
    md = (
        f"# bench/run_all.py{' --quick' if args.quick else ''} — {started:%Y-%m-%d %H:%M} UTC\n\n"
        f"{os.cpu_count()} CPUs; total {total / 60:.1f} min; every figure with the 1-minute load average when it was taken.\n\n{text}\n"
    )
    for name in ("latest", f"run_all-{stamp}"):
        (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=1, default=str))
        (RESULTS / f"{name}.md").write_text(md)
    say(f"wrote {RESULTS / 'latest.json'} and {RESULTS / 'latest.md'}")
    failed = [n for n, e in r.items() if e["exit"] != 0]
    if failed:
        say(f"benchmarks that exited non-zero: {', '.join(failed)} (see their logs in {log_dir})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
