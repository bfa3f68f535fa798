"""`nba-platform build` without the orchestration: every asset and blocking check of `build_all`,
its body called directly as a function, data handed over in memory.

Run by `bench/cold_build.py` in a fresh subprocess (env NBA_HOME=<tmp>, like the platform run),
so interpreter start-up and imports are paid the same way. By hand:

    NBA_HOME=/tmp/plain .venv/bin/python bench/plain_build.py --steps-json /tmp/plain/steps.json

What runs: the same function bodies as the platform (Dagster's direct invocation of each asset
and asset check of the `build_all` job, in dependency order), with the same resources
(`build_resources`), config defaults, partition keys and inputs, so nothing is re-implemented
and nothing drifts when an asset changes. A failing blocking check stops the build, as in the
platform run. Every output is written to a Parquet lake under NBA_HOME/lake exactly like
ParquetLakeIOManager.handle_output (one zstd file per partition), and the serving rows go to
the same SQLite serving DB.

What is NOT done here (what the platform adds as orchestration):
  * the Dagster instance: run and event-log storage, step events, asset materialization and
    check-evaluation records, the run's planned-materialization events;
  * the executor's step machinery (step contexts, retries, log capture, hooks);
  * reading each step's inputs back from the Parquet lake (ParquetLakeIOManager.load_input):
    here each step gets its upstream outputs from memory.
The landing zone is scanned for seasons first, as `nba-platform build` does (both sides pay it):
the raw assets need their partition keys before they run. The in-memory ephemeral
DagsterInstance below only holds the season partition keys that `context.partition_keys`
resolves against; nothing is stored in it.
"""

from __future__ import annotations

import time

T_MAIN_START = time.time()  # interpreter is up, nothing of ours imported yet

import argparse  # noqa: E402
import contextlib  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import dagster as dg  # noqa: E402
import pyarrow as pa  # noqa: E402

from nba_platform.definitions import defs  # noqa: E402
from nba_platform.lib.lake_layout import to_lake_table, write_partitions, write_single_file  # noqa: E402
from nba_platform.lib.storage import Store  # noqa: E402
from nba_platform.resources.environment import build_resources  # noqa: E402
from nba_platform.settings import load_settings  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cold_build import platform_group  # noqa: E402  (the same step grouping as the platform's table)

T_IMPORTS_DONE = time.time()
ONLY_SEASONS: list[str] = []  # --season
JOB = "build_all"


class Steps:
    """Wall time of each step, and this process's peak RSS so far when it ended."""

    def __init__(self):
        self.rows: list[dict] = []

    @contextlib.contextmanager
    def __call__(self, group: str, name: str):
        t0 = time.time()
        yield
        t1 = time.time()
        self.rows.append(
            {
                "group": group,
                "name": name,
                "start": t0,
                "end": t1,
                "seconds": t1 - t0,
                "maxrss_mb_so_far": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
        print(f"  {name}: {t1 - t0:.2f}s", flush=True)


class Lake:
    """ParquetLakeIOManager.handle_output (resources/lake.py): one Parquet file per partition, in
    the lake's layout and format (lib/lake_layout.py)."""

    def __init__(self, root: str):
        self.store = Store(root)
        self.files_written = 0

    def write(self, key: dg.AssetKey, obj) -> None:
        if obj is None:
            return
        if isinstance(obj, dict):  # a partitioned asset's {partition: frame}
            tables = {p: to_lake_table(pa.Table.from_pandas(f, preserve_index=False), p) for p, f in obj.items()}
            self.files_written += len(write_partitions(self.store, key.path, tables).partitions)
        else:
            write_single_file(
                self.store, key.path, to_lake_table(pa.Table.from_pandas(obj, preserve_index=False), None)
            )
            self.files_written += 1


def scan_seasons(landing) -> list[str]:
    """Every season in the landing zone (what cmd_build does before launching its run)."""
    seasons: set[str] = set()
    for f in landing.list_files():
        _, by_season = landing.read_rows(f.name)
        seasons |= set(by_season)
    if ONLY_SEASONS:
        seasons &= set(ONLY_SEASONS)
    return sorted(seasons)


def config_kwargs(fn) -> dict:
    """Pythonic config parameters get their defaults, as a run without run config does."""
    out = {}
    for name, p in inspect.signature(fn).parameters.items():
        ann = p.annotation
        if (
            inspect.isclass(ann)
            and issubclass(ann, dg.Config)
            and not issubclass(ann, (dg.ConfigurableResource, dg.ConfigurableIOManager))
        ):
            out[name] = ann()
    return out


def resource_kwargs(fn, resources: dict) -> dict:
    return {name: resources[name] for name in inspect.signature(fn).parameters if name in resources}


def outputs_of(result) -> list:
    if result is None:
        return []
    if inspect.isgenerator(result) or isinstance(result, list):  # (results are NamedTuples: not unpacked)
        return list(result)
    return [result]


def build(step: Steps) -> dict:
    settings = load_settings()
    d = defs()
    resources = build_resources(settings)
    lake = Lake(settings.lake_uri)
    job = d.resolve_job_def(JOB)
    graph = d.resolve_asset_graph()
    selected = job.asset_layer.selected_asset_keys
    with step("cli_scan", "scan of the landing zone for seasons"):
        seasons = scan_seasons(resources["landing"])
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("season", seasons)
    key_range = dg.PartitionKeyRange(seasons[0], seasons[-1])

    # Asset definitions (multi-assets once) in dependency order; checks right after their inputs exist.
    order, seen = [], set()
    for key in graph.toposorted_asset_keys:
        if key not in selected:
            continue
        ad = d.resolve_assets_def(key)
        if id(ad) not in seen:
            seen.add(id(ad))
            order.append(ad)
    checks = [c for c in d.asset_checks if any(k.asset_key in selected for k in c.check_keys)]
    memory: dict[dg.AssetKey, object] = {}
    check_results: dict[str, bool] = {}
    mlflow_logged = 0

    def run_checks() -> None:
        for c in list(checks):
            ins = dict(c.keys_by_input_name.items())
            if not all(k in memory for k in ins.values()):
                continue
            checks.remove(c)
            with step(platform_group(c.node_def.name), c.node_def.name):
                kwargs = {name: memory[key] for name, key in ins.items()}
                result = c(**kwargs, **resource_kwargs(c.node_def.compute_fn.decorated_fn, resources))
                for r in outputs_of(result):
                    check_results[c.node_def.name] = bool(r.passed)
                    if not r.passed:
                        raise SystemExit(
                            f"blocking check {c.node_def.name} failed: {json.dumps(r.metadata, default=str)[:2000]}"
                        )

    for ad in order:
        fn = ad.op.compute_fn.decorated_fn
        params = inspect.signature(fn).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        inputs = {name: memory[key] for name, key in ad.keys_by_input_name.items() if takes_any or name in params}
        ctx = (
            dg.build_asset_context(partition_key_range=key_range, instance=instance)
            if ad.partitions_def is not None
            else dg.build_asset_context(instance=instance)
        )
        name = ad.node_def.name
        with step(platform_group(name), name):
            result = ad(ctx, **inputs, **resource_kwargs(fn, resources), **config_kwargs(fn))
            produced = outputs_of(result)
            for out in produced:
                if isinstance(out, dg.MaterializeResult):
                    continue
                output_name = out.output_name if isinstance(out, dg.Output) else "result"
                value = out.value if isinstance(out, dg.Output) else out
                key = ad.keys_by_output_name[output_name]
                memory[key] = value
                lake.write(key, value)
            if not produced or all(isinstance(o, dg.MaterializeResult) for o in produced):
                for key in ad.keys:
                    memory.setdefault(key, None)
        run_checks()
    if checks:
        raise SystemExit(f"checks never ran (inputs missing): {[c.node_def.name for c in checks]}")
    with contextlib.closing(sqlite3.connect(Path(settings.home) / "mlflow" / "mlflow.db")) as con:
        mlflow_logged = con.execute("select count(*) from model_versions").fetchone()[0]
    return {
        "seasons": seasons,
        "lake_files_written": lake.files_written,
        "mlflow_models_logged": mlflow_logged,
        "assets": len(order),
        "checks_passed": sum(check_results.values()),
        "checks": len(check_results),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps-json", required=True, help="where to write the step timings (JSON)")
    parser.add_argument(
        "--season",
        action="append",
        default=[],
        help="limit to this season (repeatable), as nba-platform build --season",
    )
    args = parser.parse_args(argv)
    ONLY_SEASONS[:] = args.season
    step = Steps()
    print(f"plain build: NBA_HOME={load_settings().home} (imports {T_IMPORTS_DONE - T_MAIN_START:.2f}s)", flush=True)
    t0 = time.time()
    summary = build(step)
    t1 = time.time()
    print(
        f"plain build done in {t1 - t0:.1f}s: {len(summary['seasons'])} seasons, {summary['assets']} asset steps, "
        f"{summary['checks_passed']}/{summary['checks']} checks passed, {summary['lake_files_written']} Parquet files, "
        f"{summary['mlflow_models_logged']} MLflow model versions",
        flush=True,
    )
    with open(args.steps_json, "w") as f:
        json.dump(
            {
                "t_main_start": T_MAIN_START,
                "t_imports_done": T_IMPORTS_DONE,
                "t_build_start": t0,
                "t_build_end": t1,
                "steps": step.rows,
                "summary": summary,
                "maxrss_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            },
            f,
            indent=1,
            default=str,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
