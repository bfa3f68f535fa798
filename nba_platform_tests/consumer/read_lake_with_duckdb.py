"""Reads a lake the way an analyst does: DuckDB only, no project code (run as a script with
`python -I`, so neither this folder nor PYTHONPATH is on sys.path). Prints JSON.

usage: read_lake_with_duckdb.py LAKE_DIR TABLES_JSON   (TABLES_JSON: {"tables/team_games": true, ...},
true = season-partitioned folder, false = one file <table>.parquet)
"""

import json
import sys

import duckdb


def describe(con, source: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}


def main() -> None:
    lake, tables = sys.argv[1], json.loads(sys.argv[2])
    con = duckdb.connect()
    out = {}
    for name, partitioned in sorted(tables.items()):
        if not partitioned:
            source = f"read_parquet('{lake}/{name}.parquet')"
            out[name] = {
                "rows": con.execute(f"SELECT count(*) FROM {source}").fetchone()[0],
                "columns": describe(con, source),
            }
            continue
        pattern = f"{lake}/{name}/**/*.parquet"
        hive = f"read_parquet('{pattern}', hive_partitioning = true)"
        files = [row[0] for row in con.execute(f"SELECT file FROM glob('{pattern}') ORDER BY 1").fetchall()]
        out[name] = {
            "by_season": con.execute(f"SELECT season, count(*) FROM {hive} GROUP BY 1 ORDER BY 1").fetchall(),
            "columns": describe(con, hive),
            # every file in one scan, without union_by_name: only works if the files agree
            "union_rows": con.execute(f"SELECT count(*) FROM read_parquet('{pattern}')").fetchone()[0],
            "files": [f[len(lake) + 1 :] for f in files],
            "file_columns": [describe(con, f"read_parquet('{f}', hive_partitioning = false)") for f in files],
            "pruned_rows": con.execute(
                f"SELECT count(*) FROM {hive} WHERE season = (SELECT max(season) FROM {hive})"
            ).fetchone()[0],
        }
    out["_modules"] = sorted(m for m in sys.modules if m.startswith("nba_platform"))
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
