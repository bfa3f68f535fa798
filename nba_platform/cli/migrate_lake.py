"""`nba-platform migrate-lake`: move a lake from the layout before Hive-style season folders
(`<asset>/<season>.parquet`) to the current one (`<asset>/season=<season>/data.parquet`,
`lib/lake_layout.py`). The IO manager refuses old-layout files rather than ignore them; this
command rewrites them once, asset by asset (each file written atomically before any old file is
deleted, so an interrupted migration is resumed by running it again), and registers the
migrated tables and their partitions in Glue when the lake has a Glue database. Unpartitioned
assets' files written before this format are rewritten in place with DATE dates.
"""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "migrate-lake",
        help="move lake partitions to season=<season>/ folders (once)",
        description="Rewrite every season-partitioned asset's old-layout files (<asset>/<season>.parquet) as "
        "<asset>/season=<season>/data.parquet with DATE dates and one schema per table, then delete them. "
        "Run it with no run in progress. Safe to re-run; a lake already migrated is left as it is.",
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be moved, change nothing")
    parser.set_defaults(fn=cmd_migrate_lake)


def asset_paths() -> tuple[list[list[str]], list[list[str]]]:
    """Key paths of the season-partitioned and of the unpartitioned assets the platform defines."""
    from nba_platform.definitions import defs

    partitioned, single = set(), set()
    for assets_def in defs().assets or []:
        paths = {tuple(key.path) for key in assets_def.keys}
        if getattr(assets_def, "partitions_def", None) is None:
            single |= paths
        else:
            partitioned |= paths
    return [list(p) for p in sorted(partitioned)], [list(p) for p in sorted(single)]


def cmd_migrate_lake(args: argparse.Namespace) -> int:
    from nba_platform.lib.lake_layout import LakeLayoutError, migrate_legacy_partitions, migrate_single_file
    from nba_platform.lib.storage import Store
    from nba_platform.resources.catalog import GlueCatalog, register_lake_asset
    from nba_platform.resources.environment import build_resources

    io_manager = build_resources()["io_manager"]
    store = Store(io_manager.root, io_manager.endpoint_url, io_manager.region)
    catalog = None
    if io_manager.glue_database and not args.dry_run:
        catalog = GlueCatalog(io_manager.glue_database, io_manager.endpoint_url, io_manager.region)
        catalog.require_database()
    verb = "would move" if args.dry_run else "moved"
    moved = failed = 0
    print(f"lake {store.uri}: {'dry run, ' if args.dry_run else ''}season-partitioned assets", flush=True)
    partitioned, single = asset_paths()
    for path in partitioned:
        try:
            result = migrate_legacy_partitions(store, path, dry_run=args.dry_run)
            if result.moved and catalog is not None:
                registered = register_lake_asset(store, catalog, path)
                glue = f"; Glue {registered.qualified_name} {registered.change}, partitions {registered.partitions}"
            else:
                glue = ""
        except (LakeLayoutError, OSError, ValueError) as exc:
            failed += 1
            print(f"  {'/'.join(path)}: FAILED: {exc}", flush=True)
            continue
        if result.moved:
            moved += len(result.moved)
            seasons = [rel.rsplit("/", 1)[1].removesuffix(".parquet") for rel in result.moved]
            print(
                f"  {result.asset}: {verb} {len(seasons)} partition(s) {seasons[0]} .. {seasons[-1]}{glue}", flush=True
            )
    rewritten = []
    for path in single:
        try:
            rewritten += migrate_single_file(store, path, dry_run=args.dry_run).moved
        except (LakeLayoutError, OSError, ValueError) as exc:
            failed += 1
            print(f"  {'/'.join(path)}: FAILED: {exc}", flush=True)
    if rewritten:
        print(
            f"  unpartitioned assets: {'would rewrite' if args.dry_run else 'rewrote'} {len(rewritten)} file(s) "
            f"with DATE dates: {', '.join(rewritten)}",
            flush=True,
        )
    print(f"{verb} {moved} file(s)" + (f"; {failed} asset(s) FAILED (fix, then re-run)" if failed else ""), flush=True)
    return 1 if failed else 0
