"""Compare the tables and quarantines of two builds of the shipped data, e.g. a build at a commit
before a change and one after it (issue 16: "a build on the shipped data gives the same tables, plus
whatever was wrongly quarantined before").

    NBA_HOME=/tmp/before .venv/bin/nba-platform build     # in a worktree at the earlier commit
    NBA_HOME=/tmp/after  .venv/bin/nba-platform build
    .venv/bin/python bench/compare_builds.py /tmp/before /tmp/after

Reads both lakes with pandas only (flat `<season>.parquet` files or Hive `season=<s>/` folders).
For each table: rows, keys only in one build (by season), columns only in one build, and values
that differ in the common rows (numbers compared as numbers, dates as dates: the lake's storage
types changed over time, its values must not). For each quarantine: rows by rule.
"""

from __future__ import annotations

import argparse
import glob
import os

import pandas as pd

TABLE_KEYS = {"team_games": ["game_id", "team_id"], "player_games": ["game_id", "player_id"], "players": ["player_id"]}
QUARANTINES = [
    "team_games",
    "team_games_dedup",
    "player_games",
    "player_games_dedup",
    "player_seasons",
    "players_dedup",
]


def read_table(home: str, area: str, table: str) -> pd.DataFrame:
    root = f"{home}/lake/{area}/{table}"
    files = sorted(glob.glob(f"{root}/*.parquet") + glob.glob(f"{root}/season=*/*.parquet"))
    if not files and os.path.exists(f"{root}.parquet"):
        files = [f"{root}.parquet"]
    frames = []
    for path in files:
        frame = pd.read_parquet(path)
        if "season" not in frame.columns:
            folder = os.path.basename(os.path.dirname(path))
            frame["season"] = (
                folder.removeprefix("season=") if folder.startswith("season=") else os.path.basename(path)[:-8]
            )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def differing(before: pd.Series, after: pd.Series, column: str) -> int:
    if "date" in column:
        b, a = pd.to_datetime(before, errors="coerce").dt.date, pd.to_datetime(after, errors="coerce").dt.date
    else:
        b_num, a_num = pd.to_numeric(before, errors="coerce"), pd.to_numeric(after, errors="coerce")
        numeric = b_num.notna() | a_num.notna()
        b = b_num.astype("float64").where(numeric, before.astype(str))
        a = a_num.astype("float64").where(numeric, after.astype(str))
    both_missing = before.isna() & after.isna()
    return int((~((b == a) | both_missing)).sum())


def rule_column(frame: pd.DataFrame) -> str | None:
    return next((c for c in ("rule", "_rule", "failed_rule") if c in frame.columns), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args()
    for table, keys in TABLE_KEYS.items():
        b, a = read_table(args.before, "tables", table), read_table(args.after, "tables", table)
        b_keys = set(map(tuple, b[keys].astype(str).to_numpy()))
        a_keys = set(map(tuple, a[keys].astype(str).to_numpy()))
        print(
            f"tables/{table}: before {len(b)} rows, after {len(a)}; keys only before {len(b_keys - a_keys)}, only after {len(a_keys - b_keys)}"
        )
        for label, frame, only in (("before", b, b_keys - a_keys), ("after", a, a_keys - b_keys)):
            if only:
                rows = frame[[tuple(k) in only for k in frame[keys].astype(str).to_numpy()]]
                print(f"  rows only {label}, by season: {rows.groupby('season').size().to_dict()}")
        print(
            f"  columns only before: {sorted(set(b.columns) - set(a.columns))}; only after: {sorted(set(a.columns) - set(b.columns))}"
        )
        merged = b.merge(a, on=keys, suffixes=("_b", "_a"))
        common = [c for c in b.columns if c in a.columns and c not in keys]
        diffs = {c: n for c in common if (n := differing(merged[f"{c}_b"], merged[f"{c}_a"], c))}
        print(f"  values differing in the {len(merged)} common rows: {diffs or 'none'}")
    for name in QUARANTINES:
        b, a = read_table(args.before, "quarantine", name), read_table(args.after, "quarantine", name)
        by_rule = [f.groupby(col).size().to_dict() if (col := rule_column(f)) and len(f) else {} for f in (b, a)]
        print(f"quarantine/{name}: before {len(b)}, after {len(a)}; by rule before {by_rule[0]}, after {by_rule[1]}")


if __name__ == "__main__":
    main()
