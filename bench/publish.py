"""Publishing the serving tables to Postgres against a raw COPY of the same rows.

    .venv/bin/python bench/publish.py --lake /path/to/nba_home/lake     # rows of a built lake
    .venv/bin/python bench/publish.py                                  # builds the rows from the shipped data first

The inputs are a built lake's tables/team_games and serving/game_predictions partitions; the
rows published are the home rows of team_games as `games` and the predictions (+ published_at)
as `game_predictions`. --scales N adds copies with re-keyed game ids ('<id>-<k>', N x the rows).

Against a throwaway database on 127.0.0.1:5432 (created and dropped here; trust auth, user
postgres unless --admin-dsn says otherwise), each repeat starts from empty tables:
  * platform: the body of `serving/published_predictions` called directly with these inputs
    for every season (its ServingDatabase.publish: connect, DDL if missing, delete the season
    slices being replaced, COPY straight into the table, commit; one transaction per table);
  * reference: one raw COPY per table of the same rows (CSV from pyarrow, COPY FROM STDIN) into
    tables with the same DDL (primary keys, indexes) created beforehand, in one transaction.
Figure: median over --repeats of platform / reference wall time. Both sides end with the same
rows in the tables (checked: counts and a digest of every column as text).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from cold_build import say  # noqa: E402

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def frames_from_lake(lake: Path) -> dict[str, dict]:
    """{season: {"games": team_games partition, "predictions": game_predictions partition}}: the
    asset's inputs, and (rows_for_reference) the rows it publishes."""
    import pandas as pd

    from nba_platform.lib.storage import Store
    from nba_platform.resources.lake import read_lake_frame

    store, out = Store(str(lake)), {}
    for folder in sorted((lake / "tables" / "team_games").glob("season=*")):
        season = folder.name.removeprefix("season=")
        predictions = lake / "serving" / "game_predictions" / folder.name
        out[season] = {
            "team_games": read_lake_frame(store, ["tables", "team_games"], season),
            "predictions": read_lake_frame(store, ["serving", "game_predictions"], season)
            if predictions.exists()
            else pd.DataFrame(),
        }
    return out


def rows_for_reference(inputs: dict[str, dict]) -> dict[str, dict]:
    """The rows serving/published_predictions publishes (home rows of team_games as `games`;
    predictions + published_at), for the raw COPY."""
    import pandas as pd

    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    out = {}
    for season, d in inputs.items():
        tg = d["team_games"]
        home = tg[tg["is_home"] == True]  # noqa: E712
        games = pd.DataFrame(
            {
                "game_id": home["game_id"],
                "season": home["season"],
                "season_type": home["season_type"],
                "game_date": home["game_date"],
                "home_team_id": home["team_id"],
                "away_team_id": home["opponent_id"],
                "home_pts": home["pts"],
                "away_pts": home["opp_pts"],
            }
        )
        preds = d["predictions"]
        out[season] = {"games": games, "game_predictions": preds.assign(published_at=now) if len(preds) else preds}
    return out


def scaled(inputs: dict[str, dict], copies: int) -> dict[str, dict]:
    """copies x the rows: every team_games and predictions row again with re-keyed game ids."""
    import pandas as pd

    if copies == 1:
        return inputs
    out = {}
    for season, tables in inputs.items():
        out[season] = {}
        for name, f in tables.items():
            if not len(f):
                out[season][name] = f
                continue
            ids = f["game_id"].astype(str)
            # a suffix, not a new game number: unique whatever ids the lake already holds (game_id is TEXT)
            parts = [f] + [
                f.assign(game_id=pd.array([f"{g}-{k}" for g in ids], dtype=f["game_id"].dtype))
                for k in range(1, copies)
            ]
            out[season][name] = pd.concat(parts, ignore_index=True)
    return out


def platform_publish(dsn: str, inputs: dict[str, dict]) -> tuple[float, dict]:
    """serving/published_predictions itself (its body, called directly) for every season, into `dsn`."""
    import dagster as dg

    from nba_platform.defs.serving.assets import published_predictions
    from nba_platform.resources.secrets import Secrets
    from nba_platform.resources.serving_db import ServingDatabase

    seasons = sorted(inputs)
    instance = dg.DagsterInstance.ephemeral()  # only resolves the run's season partition keys
    instance.add_dynamic_partitions("season", seasons)
    ctx = dg.build_asset_context(partition_key_range=dg.PartitionKeyRange(seasons[0], seasons[-1]), instance=instance)
    db = ServingDatabase(url=dsn, secrets=Secrets(source="env"))
    t0 = time.perf_counter()
    result = published_predictions(
        ctx,
        serving_db=db,
        predictions={s: inputs[s]["predictions"] for s in seasons},
        games={s: inputs[s]["team_games"] for s in seasons},
    )
    sec = time.perf_counter() - t0
    meta = result.metadata
    return sec, {
        "games": int(
            meta["games_upserted"].value if hasattr(meta["games_upserted"], "value") else meta["games_upserted"]
        ),
        "game_predictions": int(
            meta["predictions_upserted"].value
            if hasattr(meta["predictions_upserted"], "value")
            else meta["predictions_upserted"]
        ),
    }


def create_tables(dsn: str) -> None:
    import psycopg

    from nba_platform.lib.serving_db import SERVING_TABLES

    with psycopg.connect(dsn) as con, con.cursor() as cur:
        for table in SERVING_TABLES.values():
            for stmt in table.create_sql("postgres"):
                cur.execute(stmt)


def reference_copy(dsn: str, frames: dict[str, dict]) -> tuple[float, dict]:
    """One COPY per table of every row, CSV from pyarrow, into the (empty) tables."""
    import pandas as pd
    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from nba_platform.lib.serving_db import SERVING_TABLES

    counts = {}
    t0 = time.perf_counter()
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        for name, table in SERVING_TABLES.items():
            parts = [frames[s][name] for s in sorted(frames) if len(frames[s][name])]
            frame = pd.concat(parts, ignore_index=True)[list(table.columns)]
            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            for i, (c, t) in enumerate(table.columns.items()):
                if t in ("DATE", "TIMESTAMP"):  # typed date32 / timestamp[s]: pyarrow's CSV writer formats them fastest
                    unit = "datetime64[D]" if t == "DATE" else "datetime64[s]"
                    arrow = arrow.set_column(i, c, pa.array(pd.to_datetime(frame[c]).to_numpy(unit)))
            buf = pa.BufferOutputStream()
            pacsv.write_csv(
                arrow, buf, write_options=pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
            )
            with cur.copy(f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(buf.getvalue().to_pybytes())
            counts[name] = len(frame)
    return time.perf_counter() - t0, counts


def table_digest(dsn: str) -> dict:
    import psycopg

    from nba_platform.lib.serving_db import SERVING_TABLES

    out = {}
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        for name, table in SERVING_TABLES.items():
            cols = ", ".join(f"coalesce({c}::text, '~')" for c in table.columns if c != "published_at")
            key = ", ".join(table.primary_key)
            cur.execute(f"SELECT count(*), md5(string_agg(concat_ws('|', {cols}), ',' ORDER BY {key})) FROM {name}")
            out[name] = list(cur.fetchone())
    return out


def reset(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS games, game_predictions")


def run(admin_dsn: str, lake: Path, scales: list[int], repeats: int) -> dict:
    import psycopg

    base = frames_from_lake(lake)
    db_name = f"nba_bench_publish_{os.getpid()}"
    admin = psycopg.connect(admin_dsn, autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {db_name}")
    admin.execute(f"CREATE DATABASE {db_name}")
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{db_name}"
    result = {"benchmark": "publish", "database": f"{dsn} (throwaway)", "runs": []}
    try:
        for scale in scales:
            inputs = scaled(base, scale)
            frames = rows_for_reference(inputs)
            rows = {t: sum(len(frames[s][t]) for s in frames) for t in ("games", "game_predictions")}
            plat, ref, digests = [], [], {}
            for i in range(repeats):
                for side in ("platform", "reference") if i % 2 == 0 else ("reference", "platform"):
                    reset(dsn)
                    load = os.getloadavg()
                    if side == "platform":
                        sec, counts = platform_publish(dsn, inputs)
                        plat.append({"s": sec, "loadavg": load})
                    else:
                        create_tables(dsn)  # DDL outside the timing: the reference is the COPY alone
                        sec, counts = reference_copy(dsn, frames)
                        ref.append({"s": sec, "loadavg": load})
                    digests[side] = table_digest(dsn)
                    assert counts == rows, (side, counts, rows)
            p, r = statistics.median(x["s"] for x in plat), statistics.median(x["s"] for x in ref)
            run_ = {
                "scale": scale,
                "rows": rows,
                "seasons": len(frames),
                "platform_s": p,
                "reference_s": r,
                "ratio": p / r,
                "platform_all_s": [x["s"] for x in plat],
                "reference_all_s": [x["s"] for x in ref],
                "loadavg": plat[0]["loadavg"],
                "same_rows": digests["platform"] == digests["reference"],
                "digests": digests,
            }
            result["runs"].append(run_)
            say(
                f"  x{scale}: {rows['games']:,} games + {rows['game_predictions']:,} predictions over {len(frames)} seasons: "
                f"platform {p:.2f}s, raw COPY {r:.2f}s, ratio {p / r:.2f} (median of {repeats}); "
                f"tables {'identical' if run_['same_rows'] else 'DIFFER'}; load {run_['loadavg'][0]:.2f}"
            )
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        admin.close()
    return result


def build_lake(home: Path) -> Path:
    """No lake given: build one with `nba-platform build` (the rows must be the real serving rows)."""
    import subprocess

    from cold_build import child_env

    say(f"  no --lake: building one with nba-platform build in {home} (not timed) ...")
    subprocess.run(
        [sys.executable, "-m", "nba_platform.cli", "build"],
        env=child_env(home),
        cwd=str(home.parent),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return home / "lake"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Publishing serving tables to Postgres vs a raw COPY of the same rows.")
    ap.add_argument("--lake", help="a built lake (NBA_HOME/lake); default: build one first")
    ap.add_argument("--scales", default="1,10", help="copies of the rows (re-keyed game ids), comma-separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--admin-dsn", default=DEFAULT_ADMIN_DSN, help="a Postgres DSN allowed to CREATE/DROP DATABASE")
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)
    tmp = None
    if args.lake:
        lake = Path(args.lake)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="nba_publish_"))
        lake = build_lake(tmp / "nba_home")
    say(f"publish: rows from {lake}")
    result = run(args.admin_dsn, lake, [int(s) for s in args.scales.split(",")], args.repeats)
    result["lake"] = str(lake)
    if tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1, default=str))
    return 0 if all(r["same_rows"] for r in result["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
