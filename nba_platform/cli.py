"""`nba-platform`: the command line for what is quicker outside the UI.

  nba-platform build              every asset, every season found in the landing zone
  nba-platform ingest PATH...     land file(s) and build the season partitions they touch
  nba-platform seasons            the season partitions the instance knows
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _print(msg: str) -> None:
    print(msg, flush=True)


def cmd_build(args) -> int:
    from nba_platform.ops_runner import get_instance, register_seasons, run_job
    from nba_platform.resources.environment import build_resources

    instance = get_instance()
    landing = build_resources()["landing"]
    seasons: set[str] = set()
    _print("scanning the landing zone ...")
    for f in landing.list_files():
        _, by_season = landing.read_rows(f.name)
        seasons |= set(by_season)
        _print(f"  {f.name}: {len(by_season)} season(s)")
    if args.season:
        seasons &= set(args.season)
    if not seasons:
        _print("no landed data: nothing to build")
        return 1
    added = register_seasons(instance, seasons)
    _print(f"{len(seasons)} season partition(s) ({len(added)} new): {min(seasons)} .. {max(seasons)}")
    t0 = time.perf_counter()
    _print("materializing every asset in one in-process run ...")
    outcome = run_job("build_all", sorted(seasons), instance)
    _print(f"run {outcome.run_id}: {'SUCCESS' if outcome.success else 'FAILED'} in {time.perf_counter() - t0:.1f}s")
    _print(f"lake: {build_resources()['io_manager'].root}   Dagster home: {instance.root_directory}")
    return 0 if outcome.success else 1


def cmd_ingest(args) -> int:
    from nba_platform.lib.landing import LandingError
    from nba_platform.ops_runner import get_instance, register_seasons, run_job
    from nba_platform.resources.environment import build_resources

    landing = build_resources()["landing"]
    instance = get_instance()
    touched: set[str] = set()
    for path in args.paths:
        p = Path(path)
        if not p.is_file():
            _print(f"error: {path}: no such file")
            return 2
        data = p.read_bytes()
        try:
            # Read everything before landing anything: a bad file never enters the zone.
            shape, by_season = landing.read_rows(p.name, data)
            name = landing.accept(p.name, data, replace=args.replace)
        except LandingError as exc:
            _print(f"error: {exc}")
            return 2
        rows = sum(len(f) for f in by_season.values())
        _print(f"landed {name}: shape {shape.name}, {rows} rows, seasons {', '.join(sorted(by_season))}")
        touched |= set(by_season)
    added = register_seasons(instance, touched)
    if added:
        _print(f"new season partition(s): {', '.join(added)}")
    if args.no_run:
        return 0
    _print(f"building season partition(s) {', '.join(sorted(touched))} ...")
    outcome = run_job("season_tables", sorted(touched), instance, tags={"nba/trigger": "cli-ingest"})
    _print(f"run {outcome.run_id}: {'SUCCESS' if outcome.success else 'FAILED'} (covered {', '.join(outcome.seasons)})")
    return 0 if outcome.success else 1


def cmd_seasons(args) -> int:
    from nba_platform.ops_runner import SEASON_PARTITIONS, get_instance

    for s in get_instance().get_dynamic_partitions(SEASON_PARTITIONS):
        print(s)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nba-platform", description="NBA data platform (Dagster) command line")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="materialize every asset for every landed season")
    b.add_argument("--season", action="append", help="limit to this season (repeatable)")
    b.set_defaults(fn=cmd_build)
    i = sub.add_parser("ingest", help="land file(s) (CSV, JSON, Parquet, tar.gz of CSVs) and build their seasons")
    i.add_argument("paths", nargs="+")
    i.add_argument("--replace", action="store_true", help="replace a landed file of the same name")
    i.add_argument("--no-run", action="store_true", help="land and register partitions only")
    i.set_defaults(fn=cmd_ingest)
    s = sub.add_parser("seasons", help="list season partitions")
    s.set_defaults(fn=cmd_seasons)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
