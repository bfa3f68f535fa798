"""10x box scores: the platform's validation + dedup of player box scores against a DuckDB SQL
reference doing the same rules on the same files.

    .venv/bin/python bench/tenx_boxscores.py                       # 1x, 3x, 10x of the shipped box scores
    .venv/bin/python bench/tenx_boxscores.py --shared-data         # base = the 6 archives in ../shared/data
    .venv/bin/python bench/tenx_boxscores.py --scales 10 --json-out /tmp/tenx.json

The data set: every row of the base box-score archives (shipped: 2019-20, 2020-21; with
--shared-data: 2015-16 .. 2020-21 from ../shared/data when present), copied N times; copy k gets
new game ids (game number + k*10000: '0021900001' -> '0021910001', season and game type kept),
so every copy is a distinct set of games and nothing collapses as a duplicate. Copies are written
as one gzipped CSV per (season, copy) with the archives' columns as text. DuckDB cannot read tar
archives, so CSV is the format both sides read. The team-game table the dedup joins against
(date, opponent, venue) is built once from the shipped team sources with the platform's own lib
and re-keyed the same way (setup, not timed).

Both sides run in fresh subprocesses (peak RSS from wait4) and do, season by season:
  read the files as text -> normalise (ids, minutes '41:05'/'PT41M05.00S'/'41', counts as
  integers, parse errors) -> the 9 player-game row rules (first failing rule, every failing rule,
  reason, the row as JSON) -> dedup on (game_id, player_id) (exact copies collapse, differing
  copies quarantined) -> attach date/opponent/venue from team_games (no team game: quarantined)
  -> write validated, quarantine, player_games and dedup-quarantine as zstd Parquet.
  * platform: `lib.landing.read_landed_bytes`, `lib.normalise.normalise_player_games`,
    `lib.quality.apply_rules`, `lib.dedup.dedup_player_games` (what tables/player_games_validated
    and tables/player_games run), one season partition at a time;
  * reference: the same rules in DuckDB SQL (`REFERENCE_SQL` below), 2 threads.
Not included on either side: the GX contracts and nothing-lost/keys-accounted checks (the cold
build measures them), Dagster itself (ditto).
Parity: accepted/quarantined counts by rule, deduplicated rows, and a digest of the
deduplicated (game_id, player_id, pts, minutes) must match, else the figure is flagged.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from cold_build import SAMPLE_LANDING, SHARED_BOXSCORES, child_env, run_child, say  # noqa: E402

REPO = BENCH.parent
SAMPLE_BOXSCORES = SAMPLE_LANDING / "nba_api_player_boxscores_2015_2021"
KEY_STEP = 10000  # copy k: game number + k * KEY_STEP (regular-season numbers end at 01230)


def rekey(game_id: str, k: int) -> str:
    if k == 0 or not game_id.isdigit():
        return game_id  # malformed ids are quarantined at validation whatever the copy
    return str(int(game_id) + k * KEY_STEP).zfill(len(game_id))


# ------------------------------------------------------------------ data set (setup, not timed)


def team_games_for(seasons: set[str]):
    """tables/team_games of these seasons, built from the shipped team sources with the platform's lib."""
    import pandas as pd

    from nba_platform.lib.dedup import dedup_team_games
    from nba_platform.lib.landing import detect_shape, read_landed_bytes, split_by_season
    from nba_platform.lib.normalise import normalise_team_games
    from nba_platform.lib.quality import RULES_BY_ENTITY, apply_rules
    from nba_platform.lib.schema import TEAM_GAME_SCHEMA

    raw: dict[str, dict[str, list]] = {s: {} for s in seasons}
    for f in sorted(SAMPLE_LANDING.rglob("*")):
        if not f.is_file():
            continue
        frame = read_landed_bytes(f.read_bytes(), f.name)
        shape = detect_shape(frame.columns, f.name)
        if shape.entity != "team_game":
            continue
        for season, part in split_by_season(frame, shape).items():
            if season in raw:
                raw[season].setdefault(shape.name, []).append(part)
    out = {}
    for season, by_shape in raw.items():
        norm = pd.concat(
            [
                normalise_team_games(pd.concat(parts, ignore_index=True), shape).assign(season=season)
                for shape, parts in by_shape.items()
            ],
            ignore_index=True,
        )
        accepted = apply_rules(norm, RULES_BY_ENTITY["team_game"], "team_game", TEAM_GAME_SCHEMA).accepted
        out[season] = dedup_team_games(accepted).table
    return out


def prepare(workdir: Path, archives: list[Path], copies: int) -> dict:
    """Write `copies` re-keyed copies of every base archive, and the matching team_games."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nba_platform.lib.landing import LINEAGE, read_landed_bytes

    t0 = time.perf_counter()
    files: list[dict] = []
    seasons: set[str] = set()
    (workdir / "landing").mkdir(parents=True, exist_ok=True)
    (workdir / "team_games").mkdir(parents=True, exist_ok=True)
    base_rows = 0
    for archive in archives:
        season = archive.name.removeprefix("boxscores_").split(".")[0]  # boxscores_2019-20.tar.gz
        seasons.add(season)
        frame = read_landed_bytes(archive.read_bytes(), archive.name).drop(columns=LINEAGE)
        frame = frame.fillna("")
        base_rows += len(frame)
        ids = frame["GAME_ID"].astype(str)
        for k in range(copies):
            name = f"boxscores_{season}_copy{k:02d}.csv.gz"
            copy = frame.assign(GAME_ID=[rekey(g, k) for g in ids]) if k else frame
            with gzip.open(workdir / "landing" / name, "wt", compresslevel=6, newline="") as fh:
                copy.to_csv(fh, index=False)
            files.append(
                {
                    "file": name,
                    "season": season,
                    "copy": k,
                    "rows": len(frame),
                    "bytes": (workdir / "landing" / name).stat().st_size,
                }
            )
    for season, table in team_games_for(seasons).items():
        ids = table["game_id"].astype(str)
        copies_tg = [
            table.assign(game_id=pd.array([rekey(g, k) for g in ids], dtype="string[pyarrow]")) for k in range(copies)
        ]
        tg = pd.concat(copies_tg, ignore_index=True)
        pq.write_table(pa.Table.from_pandas(tg, preserve_index=False), workdir / "team_games" / f"{season}.parquet")
    manifest = {
        "archives": [str(a) for a in archives],
        "copies": copies,
        "base_rows": base_rows,
        "seasons": sorted(seasons),
        "files": files,
        "prepare_s": time.perf_counter() - t0,
    }
    (workdir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def files_for(workdir: Path, scale: int) -> dict[str, list[Path]]:
    manifest = json.loads((workdir / "manifest.json").read_text())
    by_season: dict[str, list[Path]] = {}
    for f in manifest["files"]:
        if f["copy"] < scale:
            by_season.setdefault(f["season"], []).append(workdir / "landing" / f["file"])
    return by_season


# ------------------------------------------------------------------ summary (both sides, same code)


def summarise(out: Path) -> dict:
    """Counts and a content digest of what a side wrote (read back with pyarrow, not timed)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    def rules(name: str) -> dict:
        files = sorted(out.glob(f"{name}/*.parquet"))
        counts: dict[str, int] = {}
        for f in files:
            t = pq.read_table(f, columns=["rule"])
            for row in pc.value_counts(t["rule"]).to_pylist():
                counts[row["values"]] = counts.get(row["values"], 0) + row["counts"]
        return dict(sorted(counts.items()))

    def rows(name: str) -> int:
        return sum(pq.read_metadata(f).num_rows for f in out.glob(f"{name}/*.parquet"))

    digest = hashlib.sha256()
    for f in sorted(out.glob("player_games/*.parquet")):
        t = pq.read_table(f, columns=["game_id", "player_id", "pts", "minutes"]).sort_by(
            [("game_id", "ascending"), ("player_id", "ascending")]
        )
        for col in t.columns:
            digest.update(str(col.to_pylist()).encode())
    lineage = hashlib.sha256()
    for f in sorted(out.glob("quarantine/*.parquet")):
        t = pq.read_table(f, columns=["source_file", "source_row", "rule"]).sort_by(
            [("source_file", "ascending"), ("source_row", "ascending")]
        )
        for col in t.columns:
            lineage.update(str(col.to_pylist()).encode())
    return {
        "validated_rows": rows("validated"),
        "quarantined_by_rule": rules("quarantine"),
        "player_games_rows": rows("player_games"),
        "dedup_quarantined_by_rule": rules("player_games_dedup"),
        "player_games_digest": digest.hexdigest()[:16],
        "quarantine_lineage_digest": lineage.hexdigest()[:16],
    }


# ------------------------------------------------------------------ the platform side


def child_platform(workdir: Path, scale: int, out: Path) -> dict:
    t_start = time.perf_counter()
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nba_platform.lib.dedup import dedup_player_games
    from nba_platform.lib.landing import detect_shape, read_landed_bytes
    from nba_platform.lib.normalise import normalise_player_games
    from nba_platform.lib.quality import RULES_BY_ENTITY, apply_rules
    from nba_platform.lib.schema import PLAYER_GAME_SCHEMA

    def write(frame: pd.DataFrame, name: str, season: str) -> None:
        (out / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), out / name / f"{season}.parquet", compression="zstd"
        )

    t0 = time.perf_counter()
    steps = {"read": 0.0, "normalise": 0.0, "rules": 0.0, "dedup": 0.0, "write": 0.0}
    rows_in = 0
    for season, files in sorted(files_for(workdir, scale).items()):
        a = time.perf_counter()
        frames = []
        for f in files:
            frame = read_landed_bytes(f.read_bytes(), f.name)
            detect_shape(frame.columns, f.name)  # as the raw asset does
            frames.append(frame)
        raw = pd.concat(frames, ignore_index=True)
        del frames
        rows_in += len(raw)
        b = time.perf_counter()
        normalised = normalise_player_games(raw, "box_score_traditional").assign(season=season)  # validate_season
        del raw
        c = time.perf_counter()
        split = apply_rules(normalised, RULES_BY_ENTITY["player_game"], "player_game", PLAYER_GAME_SCHEMA)
        del normalised
        d = time.perf_counter()
        team_games = pd.read_parquet(workdir / "team_games" / f"{season}.parquet")
        result = dedup_player_games(split.accepted, team_games)
        e = time.perf_counter()
        write(split.accepted, "validated", season)
        write(split.quarantined, "quarantine", season)
        write(result.table, "player_games", season)
        write(result.quarantined, "player_games_dedup", season)
        del split, result
        f_ = time.perf_counter()
        for k, v in zip(steps, (b - a, c - b, d - c, e - d, f_ - e)):
            steps[k] += v
    t1 = time.perf_counter()
    return {"rows_in": rows_in, "pipeline_s": t1 - t0, "imports_s": t0 - t_start, "steps_s": steps}


# ------------------------------------------------------------------ the DuckDB reference

# The same normalisation and rules as lib/normalise.py (normalise_player_games), lib/quality.py
# (PLAYER_GAME_RULES, apply_rules) and lib/dedup.py (dedup_player_games), in SQL.
NULL_TEXT = ["", "nan", "NaN", "NAN", "none", "None", "NONE", "null", "NULL", "NA", "N/A", "<NA>"]
COUNTS = ["fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "reb", "ast", "stl", "blk", "tov", "pf", "pts"]


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def reference_sql(files: list[Path], season: str, out: Path, team_games: Path) -> list[str]:
    from nba_platform.lib.quality import MAX_PLAYER_PTS, PLAYER_GAME_RULES
    from nba_platform.lib.schema import TEAM_ID_MAX, TEAM_ID_MIN
    from nba_platform.lib.seasons import SEASON_TYPE_BY_GAME_ID_DIGIT

    nulls = ", ".join(f"'{v}'" for v in NULL_TEXT)
    reads = " UNION ALL ".join(
        f"SELECT *, '{f.name}' AS _source_file, row_number() OVER () AS _source_row "
        f"FROM read_csv('{f}', all_varchar = true, header = true, union_by_name = true)"
        for f in files
    )
    col = {c: c.upper() for c in COUNTS}
    col["tov"] = '"TO"'  # the archives say TO (normalise: TOV if present, else TO)

    def txt(expr: str) -> str:
        return f"CASE WHEN trim({expr}) IN ({nulls}) THEN NULL ELSE trim({expr}) END"

    def num(c: str) -> str:
        return f"TRY_CAST(t_{c} AS DOUBLE)"

    types = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in SEASON_TYPE_BY_GAME_ID_DIGIT.items())
    # parse errors, in the order normalise_player_games flags them
    flagged = ["GAME_ID", "MIN", "TEAM_ID", "PLAYER_ID", *[col[c].strip('"') for c in COUNTS], "PLUS_MINUS"]
    integer_cols = ["TEAM_ID", "PLAYER_ID", *[col[c].strip('"') for c in COUNTS]]
    err_parts = []
    for c in flagged:
        if c == "GAME_ID":
            bad = "t_GAME_ID IS NOT NULL AND game_id IS NULL"
        elif c == "MIN":
            bad = "t_MIN IS NOT NULL AND minutes IS NULL"
        elif c in integer_cols:
            bad = f"t_{c} IS NOT NULL AND ({num(c)} IS NULL OR {num(c)} <> round({num(c)}))"
        else:
            bad = f"t_{c} IS NOT NULL AND {num(c)} IS NULL"
        err_parts.append(f"CASE WHEN {bad} THEN '{c};' ELSE '' END")
    descriptions = {r.name: r.description for r in PLAYER_GAME_RULES}

    def intval(c: str) -> str:
        return f"CASE WHEN {num(c)} = round({num(c)}) THEN CAST({num(c)} AS BIGINT) END"

    fails = {
        "value_unparseable": "_parse_errors <> ''",
        "game_id_valid": "game_id IS NULL",
        "team_id_valid": f"coalesce(team_id IS NULL OR team_id < {TEAM_ID_MIN} OR team_id > {TEAM_ID_MAX}, true)",
        "player_id_valid": "coalesce(player_id IS NULL OR player_id <= 0, true)",
        "box_consistent": "("
        + " OR ".join(
            [
                *[f"coalesce({c} < 0, false)" for c in COUNTS],
                *[
                    f"coalesce({m} > {a}, false)"
                    for m, a in (("fgm", "fga"), ("fg3m", "fg3a"), ("ftm", "fta"), ("fg3m", "fgm"))
                ],
                "coalesce(oreb + dreb <> reb, false)",
            ]
        )
        + ")",
        "pts_range": f"coalesce(pts < 0 OR pts > {MAX_PLAYER_PTS}, false)",
        "pts_consistent": "coalesce(pts <> 2 * fgm + fg3m + ftm, false)",
        "minutes_range": "coalesce(minutes < 0 OR minutes > 70, false)",
        "dnp_consistent": "coalesce(NOT did_play AND pts IS NOT NULL, false)",
    }
    assert list(fails) == [r.name for r in PLAYER_GAME_RULES], "reference rules out of step with lib/quality.py"
    rule_names = list(fails)
    first_rule = "CASE " + " ".join(f"WHEN f_{r} THEN '{r}'" for r in rule_names) + " END"
    failed_rules = "concat_ws(',', " + ", ".join(f"CASE WHEN f_{r} THEN '{r}' END" for r in rule_names) + ")"
    reason = (
        "CASE WHEN f_value_unparseable THEN 'unparseable value in: ' || rtrim(_parse_errors, ';') "
        + " ".join(f"WHEN f_{r} THEN {lit(descriptions[r])}" for r in rule_names[1:])
        + " END"
    )
    canon = [
        "game_id",
        "season",
        "season_type",
        "team_id",
        "player_id",
        "player_name",
        "start_position",
        "comment",
        "did_play",
        "minutes",
        *COUNTS,
        "plus_minus",
        "source",
        "source_file",
        "source_row",
    ]
    record = "to_json(struct_pack(" + ", ".join(f"{c} := {c}" for c in canon) + "))"
    content = (
        "hash(" + ", ".join(c if c not in ("minutes", "plus_minus") else f"round({c}, 3)" for c in canon[:-3]) + ")"
    )
    tmp = f"s_{season.replace('-', '_')}"
    raw_cols = [
        "GAME_ID",
        "TEAM_ID",
        "PLAYER_ID",
        "PLAYER_NAME",
        "START_POSITION",
        "COMMENT",
        "MIN",
        *[col[c].strip('"') for c in COUNTS],
        "PLUS_MINUS",
    ]
    return [
        f"CREATE OR REPLACE TEMP TABLE {tmp}_text AS SELECT "
        + ", ".join(f"{txt(chr(34) + c + chr(34))} AS t_{c}" for c in raw_cols)
        + f", _source_file, _source_row FROM ({reads})",
        # normalise_player_games
        f"""CREATE OR REPLACE TEMP TABLE {tmp}_norm AS
        WITH ids AS (
          SELECT *, regexp_replace(t_GAME_ID, '\\.0+$', '') AS gid_text FROM {tmp}_text
        ), parsed AS (
          SELECT *,
            CASE WHEN regexp_full_match(gid_text, '\\d{{1,10}}') AND regexp_full_match(lpad(gid_text, 10, '0'), '00[1-5]\\d{{7}}')
                 THEN lpad(gid_text, 10, '0') END AS game_id,
            CASE WHEN regexp_full_match(t_MIN, '(\\d{{1,3}}):([0-5]?\\d|60)')
                   THEN CAST(regexp_extract(t_MIN, '^(\\d{{1,3}}):', 1) AS DOUBLE) + CAST(regexp_extract(t_MIN, ':(\\d+)$', 1) AS DOUBLE) / 60.0
                 WHEN regexp_full_match(t_MIN, 'PT(\\d+)M([0-5]?\\d(?:\\.\\d+)?)S')
                   THEN CAST(regexp_extract(t_MIN, '^PT(\\d+)M', 1) AS DOUBLE) + CAST(regexp_extract(t_MIN, 'M([0-9.]+)S$', 1) AS DOUBLE) / 60.0
                 WHEN NOT contains(t_MIN, ':') THEN TRY_CAST(t_MIN AS DOUBLE) END AS minutes_raw
          FROM ids
        ), typed AS (
          SELECT *, round(minutes_raw, 3) AS minutes FROM parsed
        )
        SELECT
          game_id, '{season}' AS season,
          CASE substr(game_id, 3, 1) {types} END AS season_type,
          {intval("TEAM_ID")} AS team_id, {intval("PLAYER_ID")} AS player_id,
          t_PLAYER_NAME AS player_name, coalesce(t_START_POSITION, '') AS start_position, t_COMMENT AS comment,
          minutes IS NOT NULL AS did_play, minutes,
          {", ".join(f"{intval(col[c].strip(chr(34)))} AS {c}" for c in COUNTS)},
          {num("PLUS_MINUS")} AS plus_minus,
          'box_score_traditional' AS source, _source_file AS source_file, _source_row AS source_row,
          concat({", ".join(err_parts)}) AS _parse_errors
        FROM typed""",
        # apply_rules
        f"CREATE OR REPLACE TEMP TABLE {tmp}_flags AS SELECT *, "
        + ", ".join(f"({e}) AS f_{r}" for r, e in fails.items())
        + f" FROM {tmp}_norm",
        f"COPY (SELECT {', '.join(canon)} FROM {tmp}_flags WHERE NOT ({' OR '.join('f_' + r for r in rule_names)}) ORDER BY source_file, source_row) "
        f"TO '{out}/validated/{season}.parquet' (FORMAT parquet, COMPRESSION zstd)",
        f"COPY (SELECT 'player_game' AS entity, 'validation' AS stage, {first_rule} AS rule, {failed_rules} AS failed_rules, "
        f"{reason} AS reason, season, source, source_file, source_row, {record} AS record FROM {tmp}_flags "
        f"WHERE {' OR '.join('f_' + r for r in rule_names)} ORDER BY source_file, source_row) "
        f"TO '{out}/quarantine/{season}.parquet' (FORMAT parquet, COMPRESSION zstd)",
        # dedup_player_games: exact copies collapse, differing copies of a key are quarantined
        f"""CREATE OR REPLACE TEMP TABLE {tmp}_keyed AS
        SELECT *, count(DISTINCT _content) OVER (PARTITION BY source, game_id, player_id) AS _versions,
               row_number() OVER (PARTITION BY source, game_id, player_id ORDER BY source_file, source_row) AS _nth
        FROM (SELECT {", ".join(canon)}, {content} AS _content FROM {tmp}_flags
              WHERE NOT ({" OR ".join("f_" + r for r in rule_names)}))""",
        f"""CREATE OR REPLACE TEMP TABLE {tmp}_kept AS
        SELECT k.* EXCLUDE (_content, _versions, _nth),
               count(*) OVER (PARTITION BY k.game_id, k.player_id) AS _sources
        FROM {tmp}_keyed k WHERE _versions = 1 AND _nth = 1""",
        f"""CREATE OR REPLACE TEMP TABLE {tmp}_joined AS
        SELECT k.* EXCLUDE (_sources), t.game_date, t.opponent_id, t.is_home
        FROM {tmp}_kept k LEFT JOIN (SELECT game_id, team_id, game_date, opponent_id, is_home FROM read_parquet('{team_games}')) t
          ON k.game_id = t.game_id AND k.team_id = t.team_id
        WHERE k._sources = 1""",
        f"COPY (SELECT * FROM {tmp}_joined WHERE game_date IS NOT NULL ORDER BY game_date, game_id, team_id, player_id) "
        f"TO '{out}/player_games/{season}.parquet' (FORMAT parquet, COMPRESSION zstd)",
        f"""COPY (
          SELECT 'player_game' AS entity, 'dedup' AS stage, 'source_conflict' AS rule, 'source_conflict' AS failed_rules,
                 'the same player-game appears with different values' AS reason, season, source, source_file, source_row,
                 {record} AS record
          FROM (SELECT * EXCLUDE (_content, _versions, _nth) FROM {tmp}_keyed WHERE _versions > 1
                UNION ALL SELECT * EXCLUDE (_sources) FROM {tmp}_kept WHERE _sources > 1)
          UNION ALL
          SELECT 'player_game', 'dedup', 'game_not_in_team_games', 'game_not_in_team_games',
                 'no accepted team-game row for this game and team', season, source, source_file, source_row, {record}
          FROM {tmp}_joined WHERE game_date IS NULL
        ) TO '{out}/player_games_dedup/{season}.parquet' (FORMAT parquet, COMPRESSION zstd)""",
        f"DROP TABLE {tmp}_text; DROP TABLE {tmp}_norm; DROP TABLE {tmp}_flags; DROP TABLE {tmp}_keyed; "
        f"DROP TABLE {tmp}_kept; DROP TABLE {tmp}_joined",
    ]


def child_duckdb(workdir: Path, scale: int, out: Path, threads: int) -> dict:
    t_start = time.perf_counter()
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET temp_directory = '{out / '_duckdb_tmp'}'")
    for name in ("validated", "quarantine", "player_games", "player_games_dedup"):
        (out / name).mkdir(parents=True, exist_ok=True)
    rows_in = 0
    for season, files in sorted(files_for(workdir, scale).items()):
        for stmt in reference_sql(files, season, out, workdir / "team_games" / f"{season}.parquet"):
            con.execute(stmt)
            if stmt.startswith("CREATE OR REPLACE TEMP TABLE") and "_text AS" in stmt[:60]:
                rows_in += con.execute(f"SELECT count(*) FROM s_{season.replace('-', '_')}_text").fetchone()[0]
    con.close()
    t1 = time.perf_counter()
    return {"rows_in": rows_in, "pipeline_s": t1 - t0, "imports_s": t0 - t_start, "threads": threads}


# ------------------------------------------------------------------ driver


def run_side(side: str, workdir: Path, scale: int, threads: int) -> dict:
    out = workdir / f"out_{side}_x{scale}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    summary = workdir / f"summary_{side}_x{scale}.json"
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        side,
        "--workdir",
        str(workdir),
        "--scale",
        str(scale),
        "--out",
        str(out),
        "--summary",
        str(summary),
        "--threads",
        str(threads),
    ]
    load_before = os.getloadavg()
    child = run_child(
        argv, child_env(workdir / "nba_home"), str(workdir), workdir / f"{side}_x{scale}.stderr.log", 0.2, echo=False
    )
    if child.returncode != 0:
        raise SystemExit(f"{side} x{scale} failed (exit {child.returncode}); see {child.stderr_path}")
    rep = json.loads(summary.read_text())
    rep.update(
        {
            "process_wall_s": child.wall,
            "maxrss_mb": child.maxrss_mb,
            "cpu_s": child.cpu_user + child.cpu_sys,
            "loadavg_before": load_before,
            "mean_loadavg_1m": child.sampler.mean_load(),
            "outputs": summarise(out),
        }
    )
    shutil.rmtree(out, ignore_errors=True)
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="10x box scores: platform validation+dedup vs a DuckDB SQL reference.")
    ap.add_argument("--scales", default="1,3,10", help="comma-separated copies of the base box scores (default 1,3,10)")
    ap.add_argument(
        "--shared-data", action="store_true", help=f"base = the archives in {SHARED_BOXSCORES} (if present)"
    )
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="DuckDB threads (default: every CPU)")
    ap.add_argument("--json-out", help="also write the result JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--child", choices=("platform", "duckdb"), help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--summary", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        workdir, out = Path(args.workdir), Path(args.out)
        rep = (
            child_platform(workdir, args.scale, out)
            if args.child == "platform"
            else child_duckdb(workdir, args.scale, out, args.threads)
        )
        Path(args.summary).write_text(json.dumps(rep))
        return 0

    scales = sorted({int(s) for s in args.scales.split(",")})
    if (max(scales) - 1) * KEY_STEP + 1300 > 99999:
        raise SystemExit("copy k adds k*10000 to 5-digit game numbers: at most 10 copies (scales <= 10)")
    result: dict = {"benchmark": "tenx_boxscores", "scales": scales, "threads": args.threads, "runs": []}
    if args.shared_data and SHARED_BOXSCORES.is_dir():
        archives, result["base"] = sorted(SHARED_BOXSCORES.glob("*.tar.gz")), f"shared: {SHARED_BOXSCORES}"
    else:
        if args.shared_data:
            result["shared_data"] = f"ABSENT: {SHARED_BOXSCORES} does not exist; base = the shipped box scores"
            say(result["shared_data"])
        archives, result["base"] = (
            sorted(SAMPLE_BOXSCORES.glob("*.tar.gz")),
            f"shipped: {SAMPLE_BOXSCORES.relative_to(REPO)}",
        )
    workdir = Path(tempfile.mkdtemp(prefix="nba_tenx_"))
    try:
        say(
            f"tenx_boxscores: base {result['base']} ({len(archives)} archives); generating {max(scales)} re-keyed copies in {workdir} ..."
        )
        manifest = prepare(workdir, archives, max(scales))
        result["base_rows"], result["prepare_s"] = manifest["base_rows"], manifest["prepare_s"]
        say(
            f"  {manifest['base_rows']} base rows, {len(manifest['files'])} files, {manifest['prepare_s']:.1f}s (setup, not timed)"
        )
        for scale in scales:
            for side in ("platform", "duckdb"):
                rep = run_side(side, workdir, scale, args.threads)
                rep.update({"side": side, "scale": scale})
                result["runs"].append(rep)
                say(
                    f"  x{scale:<2d} {side:8s}: {rep['rows_in']:>9,d} rows  pipeline {rep['pipeline_s']:6.2f}s  process {rep['process_wall_s']:6.2f}s  "
                    f"peak RSS {rep['maxrss_mb']:6.0f} MB  load {rep['loadavg_before'][0]:.2f}"
                )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            result["workdir"] = str(workdir)

    result["comparison"] = []
    say("\n| scale | rows | platform s | DuckDB s | ratio | platform peak RSS MB | DuckDB peak RSS MB | outputs |")
    say("|---:|---:|---:|---:|---:|---:|---:|---|")
    for scale in scales:
        p = next(r for r in result["runs"] if r["scale"] == scale and r["side"] == "platform")
        d = next(r for r in result["runs"] if r["scale"] == scale and r["side"] == "duckdb")
        same = p["outputs"] == d["outputs"]
        diff = {k: (p["outputs"][k], d["outputs"][k]) for k in p["outputs"] if p["outputs"][k] != d["outputs"][k]}
        row = {
            "scale": scale,
            "rows": p["rows_in"],
            "platform_s": p["pipeline_s"],
            "duckdb_s": d["pipeline_s"],
            "ratio": p["pipeline_s"] / d["pipeline_s"],
            "platform_process_s": p["process_wall_s"],
            "duckdb_process_s": d["process_wall_s"],
            "platform_peak_rss_mb": p["maxrss_mb"],
            "duckdb_peak_rss_mb": d["maxrss_mb"],
            "outputs_identical": same,
            "differences": diff,
            "loadavg": p["loadavg_before"],
        }
        result["comparison"].append(row)
        say(
            f"| x{scale} | {row['rows']:,} | {row['platform_s']:.2f} | {row['duckdb_s']:.2f} | {row['ratio']:.2f} | "
            f"{row['platform_peak_rss_mb']:.0f} | {row['duckdb_peak_rss_mb']:.0f} | {'same' if same else 'DIFFER: ' + json.dumps(diff)} |"
        )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1, default=str))
    return 0 if all(r["outputs_identical"] for r in result["comparison"]) else 1


if __name__ == "__main__":
    sys.exit(main())
