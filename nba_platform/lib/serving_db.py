"""Publishing serving tables to a SQL database: Postgres (RDS) in prod, SQLite embedded locally.

One transaction per publish, so a publish is atomic (readers see the old rows until it commits)
and re-publishing the same rows is idempotent. Tables carry the primary keys and indexes a
dashboard's queries need (latest predictions by date, by team).

Postgres: a publish replaces whole slices. A table's `replace_keys` (season, and model name
for predictions) name the slices the frame holds; their rows are deleted and the frame is COPYed
straight into the table, so every row is written once and rows a republished slice no longer has
disappear; rows of other slices (other seasons, other model versions) are kept. If a key of the
frame is held by a row outside those slices (e.g. a game moved to another season), the publish
falls back, in the same transaction, to deleting the slices, COPY into a staging table and an
upsert on the primary key. A table without `replace_keys`, or a frame with a NULL in one, is
upserted that way only.

SQLite: rows go to a staging table, then an upsert on the primary key (rows the frame lacks are
kept).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from nba_platform.lib.tracing import span


@dataclass(frozen=True)
class ServingTable:
    name: str
    columns: dict[str, str]  # column -> SQL type (portable subset: TEXT, DATE, BIGINT, DOUBLE PRECISION, BOOLEAN)
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    replace_keys: tuple[str, ...] = ()  # TEXT columns naming the slices a publish replaces whole (Postgres)

    def __post_init__(self):
        bad = [c for c in self.replace_keys if self.columns.get(c) != "TEXT"]
        if bad:
            raise ValueError(f"{self.name}: replace_keys must be TEXT columns, not {bad}")

    def create_sql(self, dialect: str) -> list[str]:
        cols = ", ".join(f"{c} {_type(t, dialect)}" for c, t in self.columns.items())
        stmts = [f"CREATE TABLE IF NOT EXISTS {self.name} ({cols}, PRIMARY KEY ({', '.join(self.primary_key)}))"]
        if dialect == "postgres":  # columns added since a table was created (SQLite: see _add_missing_columns_sqlite)
            stmts += [
                f"ALTER TABLE {self.name} ADD COLUMN IF NOT EXISTS {c} {_type(t, dialect)}"
                for c, t in self.columns.items()
            ]
        for idx in self.indexes:
            stmts.append(f"CREATE INDEX IF NOT EXISTS ix_{self.name}_{'_'.join(idx)} ON {self.name} ({', '.join(idx)})")
        return stmts

    def upsert_sql(self, staging: str) -> str:
        cols = list(self.columns)
        updates = [c for c in cols if c not in self.primary_key]
        # "WHERE true": SQLite needs it to parse ON CONFLICT after INSERT ... SELECT.
        set_clause = ", ".join(f"{c} = excluded.{c}" for c in updates)
        return (
            f"INSERT INTO {self.name} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {staging} WHERE true "
            f"ON CONFLICT ({', '.join(self.primary_key)}) DO UPDATE SET {set_clause}"
        )


def _type(sql_type: str, dialect: str) -> str:
    if dialect == "sqlite":
        return {
            "DOUBLE PRECISION": "REAL",
            "BIGINT": "INTEGER",
            "BOOLEAN": "INTEGER",
            "DATE": "TEXT",
            "TIMESTAMP": "TEXT",
        }.get(sql_type, sql_type)
    return sql_type


GAMES = ServingTable(
    "games",
    {
        "game_id": "TEXT",
        "season": "TEXT",
        "season_type": "TEXT",
        "game_date": "DATE",
        "home_team_id": "BIGINT",
        "away_team_id": "BIGINT",
        "home_pts": "BIGINT",
        "away_pts": "BIGINT",
    },
    ("game_id",),
    (("game_date",), ("home_team_id",), ("away_team_id",)),
    replace_keys=("season",),
)
GAME_PREDICTIONS = ServingTable(
    "game_predictions",
    {
        "game_id": "TEXT",
        "season": "TEXT",
        "game_date": "DATE",
        "home_team_id": "BIGINT",
        "away_team_id": "BIGINT",
        "p_home_win": "DOUBLE PRECISION",
        "elo_p_home_win": "DOUBLE PRECISION",
        "model_name": "TEXT",  # nba_game_outcome (served live) | nba_game_outcome_backfill (walk-forward)
        "model_version": "BIGINT",  # the registered version of model_name: max() and ORDER BY are numeric
        "published_at": "TIMESTAMP",
        "top_factors": "TEXT",
    },  # top_factors: JSON [{feature, value, shap}] (SHAP, log-odds)
    ("game_id", "model_name"),
    (
        ("game_date",),
        # "latest forecasts for a team": one index per side, read newest first (README: Serving queries)
        ("home_team_id", "game_date"),
        ("away_team_id", "game_date"),
        ("season",),
        ("model_name", "model_version"),
    ),
    # A publish replaces the season's predictions by that model name: a refit's rows replace the
    # previous refit's, never stack beside them; backfill and live forecasts of a season are kept apart.
    replace_keys=("season", "model_name"),
)


# ---------------------------------------------------------------------------
# Migration of game_predictions from text labels ("nba_game_outcome/v19", primary key
# (game_id, model_version)) to model_name + integer model_version, primary key (game_id, model_name).
# Runs inside the publish transaction; rows stacked per game and model name keep the newest version.
# ---------------------------------------------------------------------------


def _needs_label_migration(column_types: dict[str, str]) -> bool:
    declared = column_types.get("model_version", "").lower()
    return bool(column_types) and declared.startswith(("text", "char", "varchar"))


def _migrate_game_predictions_sqlite(con: sqlite3.Connection) -> bool:
    table = GAME_PREDICTIONS
    existing = {r[1]: r[2] for r in con.execute(f"PRAGMA table_info({table.name})")}
    if not _needs_label_migration(existing):
        return False
    cut = "instr(model_version, '/v')"
    parsed = {
        "model_name": f"CASE WHEN {cut} > 0 THEN substr(model_version, 1, {cut} - 1) ELSE model_version END",
        "model_version": f"CASE WHEN {cut} > 0 THEN CAST(substr(model_version, {cut} + 2) AS INTEGER) END",
    }
    select = ", ".join(f"{parsed.get(c) or (c if c in existing else 'NULL')} AS {c}" for c in table.columns)
    legacy = f"{table.name}_text_versions"
    con.execute(f"ALTER TABLE {table.name} RENAME TO {legacy}")
    for name in [
        r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (legacy,))
    ]:
        if not name.startswith("sqlite_autoindex"):
            con.execute(f"DROP INDEX {name}")
    con.execute(table.create_sql("sqlite")[0])
    columns = ", ".join(table.columns)
    con.execute(
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM ("
        f"SELECT *, row_number() OVER (PARTITION BY game_id, model_name ORDER BY model_version DESC, published_at DESC) AS rank_ "
        f"FROM (SELECT {select} FROM {legacy})) WHERE rank_ = 1"
    )
    con.execute(f"DROP TABLE {legacy}")
    return True


def _migrate_game_predictions_postgres(cur) -> bool:
    table = GAME_PREDICTIONS
    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s",
        (table.name,),
    )
    if not _needs_label_migration(dict(cur.fetchall())):
        return False
    name_of = "coalesce(substring(model_version from '^(.*)/v[0-9]+$'), model_version)"
    version_of = "substring(model_version from '/v([0-9]+)$')::bigint"
    cur.execute(f"LOCK TABLE {table.name} IN ACCESS EXCLUSIVE MODE")
    cur.execute(f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS model_name TEXT")
    cur.execute(f"UPDATE {table.name} SET model_name = {name_of}")
    # Stacked rows (one per refit) of a game and model name: the newest version stays.
    cur.execute(
        f"DELETE FROM {table.name} t USING (SELECT ctid, row_number() OVER (PARTITION BY game_id, model_name "
        f"ORDER BY {version_of} DESC NULLS LAST, published_at DESC NULLS LAST) AS rank_ FROM {table.name}) r "
        "WHERE t.ctid = r.ctid AND r.rank_ > 1"
    )
    cur.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'", (table.name,))
    for (constraint,) in cur.fetchall():
        cur.execute(f'ALTER TABLE {table.name} DROP CONSTRAINT "{constraint}"')
    cur.execute(f"ALTER TABLE {table.name} ALTER COLUMN model_version DROP NOT NULL")  # no longer a key column
    cur.execute(f"ALTER TABLE {table.name} ALTER COLUMN model_version TYPE BIGINT USING {version_of}")
    cur.execute(f"ALTER TABLE {table.name} ALTER COLUMN model_name SET NOT NULL")
    cur.execute(f"ALTER TABLE {table.name} ADD PRIMARY KEY ({', '.join(table.primary_key)})")
    return True


SERVING_TABLES = {t.name: t for t in (GAMES, GAME_PREDICTIONS)}


def _require_columns(frame: pd.DataFrame, table: ServingTable) -> None:
    missing = [c for c in table.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{table.name}: frame lacks columns {missing}")


def _rows(frame: pd.DataFrame, table: ServingTable) -> list[tuple]:
    _require_columns(frame, table)
    out = frame[list(table.columns)].copy()
    for c, t in table.columns.items():
        if t == "DATE":
            out[c] = pd.to_datetime(out[c]).dt.strftime("%Y-%m-%d")
        elif t == "TIMESTAMP":
            out[c] = pd.to_datetime(out[c]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    out = out.astype(object).where(out.notna(), None)
    return [
        tuple(v.item() if isinstance(v, np.generic) else v for v in row)
        for row in out.itertuples(index=False, name=None)
    ]


def publish_sqlite(path: str, table: ServingTable, frame: pd.DataFrame) -> int:
    rows = _rows(frame, table)
    con = sqlite3.connect(path)
    try:
        with con:  # one transaction
            if table is GAME_PREDICTIONS:
                _migrate_game_predictions_sqlite(con)
            for stmt in table.create_sql("sqlite"):
                con.execute(stmt)
            existing = {r[1] for r in con.execute(f"PRAGMA table_info({table.name})")}
            for c, t in table.columns.items():
                if c not in existing:  # a column added since the table was created (appended, as in the dict)
                    con.execute(f"ALTER TABLE {table.name} ADD COLUMN {c} {_type(t, 'sqlite')}")
            staging = f"stage_{table.name}"
            con.execute(f"CREATE TEMP TABLE {staging} AS SELECT * FROM {table.name} WHERE 0")
            con.executemany(f"INSERT INTO {staging} VALUES ({', '.join('?' * len(table.columns))})", rows)
            con.execute(table.upsert_sql(staging))
            con.execute(f"DROP TABLE {staging}")
    finally:
        con.close()
    return len(rows)


def _copy_csv(frame: pd.DataFrame, table: ServingTable) -> bytes:
    """The rows of `_rows` as CSV for COPY (FORMAT csv), built column-wise by pyarrow: every present
    value quoted and NULL an unquoted empty field, so '' stays '' and NaN/NA become NULL."""

    _require_columns(frame, table)
    out = pa.Table.from_pandas(frame[list(table.columns)], preserve_index=False)
    # date32 / timestamp[s] columns, written by the CSV writer as 2023-10-24 / 2023-10-24 10:00:07: the
    # values _rows sends (whole seconds), several times faster than pc.strftime.
    units = {"DATE": "datetime64[D]", "TIMESTAMP": "datetime64[s]"}
    for i, (c, t) in enumerate(table.columns.items()):
        if t in units:
            out = out.set_column(i, c, pa.array(pd.to_datetime(frame[c]).to_numpy(dtype=units[t])))
    buf = pa.BufferOutputStream()
    pacsv.write_csv(out, buf, write_options=pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    return buf.getvalue().to_pybytes()


def _slices(frame: pd.DataFrame, table: ServingTable) -> list[list[str]] | None:
    """The distinct values of `table.replace_keys` in the frame, one list per key column (rows of
    the slices a publish replaces); None when they cannot name slices (no replace keys, a NULL,
    a non-text value): the publish is then a plain upsert."""
    if not table.replace_keys or any(k not in frame.columns for k in table.replace_keys):
        return None
    keys = frame[list(table.replace_keys)].drop_duplicates()
    cols = [keys[k].tolist() for k in table.replace_keys]
    if any(not isinstance(v, str) for col in cols for v in col):  # NaN/None/NA included
        return None
    return cols


def _copy_rows(cur, target: str, table: ServingTable, frame: pd.DataFrame, data: bytes | None) -> None:
    with span(f"postgres COPY {table.name}", **{"db.system": "postgresql", "db.operation": "COPY"}) as current:
        current.set_attribute("db.sql.table", target)
        current.set_attribute("db.rows", len(frame))
        _copy(cur, target, table, frame, data)


def _copy(cur, target: str, table: ServingTable, frame: pd.DataFrame, data: bytes | None) -> None:
    columns = ", ".join(table.columns)
    if data is not None:
        with cur.copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(data)
    else:  # values pyarrow cannot type (e.g. text in a number column): sent row by row, the server judges them
        with cur.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for row in _rows(frame, table):
                copy.write_row(row)


def publish_postgres(conninfo: str, table: ServingTable, frame: pd.DataFrame, password: str | None = None) -> int:
    """One transaction: DDL if missing, then the frame's slices replaced (DELETE + COPY into the
    table), or upserted through a staging table (see the module docstring for when)."""
    import psycopg  # the Postgres driver: the embedded default never loads it

    try:
        data = _copy_csv(frame, table)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        data = None
    slices = _slices(frame, table)
    keys = table.replace_keys
    delete = (
        f"DELETE FROM {table.name} WHERE ({', '.join(keys)}) IN "
        f"(SELECT * FROM unnest({', '.join(['%s::text[]'] * len(keys))}))"
    )
    with psycopg.connect(conninfo, password=password) as con:  # commits on success, rolls back on error
        with con.cursor() as cur:
            if table is GAME_PREDICTIONS:
                _migrate_game_predictions_postgres(cur)
            cur.execute("; ".join(table.create_sql("postgres")))  # idempotent DDL, one round trip
            if slices is not None:
                try:
                    with con.transaction():  # a savepoint: undone whole if a key is held outside the slices
                        cur.execute(delete, slices)
                        _copy_rows(cur, table.name, table, frame, data)
                    return len(frame)
                except psycopg.errors.UniqueViolation:
                    cur.execute(delete, slices)  # the slices are still replaced; other rows upserted below
            staging = f"stage_{table.name}"
            cur.execute(f"CREATE TEMP TABLE {staging} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP")
            _copy_rows(cur, staging, table, frame, data)
            cur.execute(table.upsert_sql(staging))
    return len(frame)


def query_sqlite(path: str, sql: str, params: Iterable = ()) -> pd.DataFrame:
    con = sqlite3.connect(path)
    try:
        return pd.read_sql_query(sql, con, params=tuple(params))
    finally:
        con.close()


# --- forecasts and the champion model (append-only, read by the forecast API / MCP server) ---

# Forecasts of games (played or not) as they were made: one row per game, forecast time and model
# version. Never updated: a new forecast is a new row (as_of), so the history of a game is kept.
GAME_FORECASTS = ServingTable(
    "game_forecasts",
    {
        "game_id": "TEXT",
        "game_date": "DATE",
        "as_of": "TIMESTAMP",
        "home_team_id": "BIGINT",
        "away_team_id": "BIGINT",
        "neutral": "BOOLEAN",
        "p_home_win": "DOUBLE PRECISION",
        "model_name": "TEXT",
        "model_version": "BIGINT",
        "top_factors": "TEXT",  # JSON [{feature, value, shap}], as game_predictions
    },
    ("game_id", "as_of", "model_name", "model_version"),
    (("game_date",), ("home_team_id", "game_date"), ("away_team_id", "game_date")),
)
# A game that left the schedule (postponed) retires the forecasts made for it until then: one row
# per retirement, appended. Forecasts made after it (the game rescheduled, same id) count again.
FORECAST_RETIREMENTS = ServingTable(
    "game_forecast_retirements",
    {"game_id": "TEXT", "retired_at": "TIMESTAMP", "reason": "TEXT"},
    ("game_id", "retired_at"),
)
# Every champion change of a registered model (first registration, promotion, rollback), appended.
MODEL_CHAMPIONS = ServingTable(
    "model_champions",
    {
        "model_name": "TEXT",
        "model_version": "BIGINT",
        "promoted_at": "TIMESTAMP",
        "train_first_season": "TEXT",
        "train_last_season": "TEXT",
        "validation_brier": "DOUBLE PRECISION",
        "reason": "TEXT",
    },
    ("model_name", "promoted_at", "model_version"),
)
APPEND_ONLY_TABLES = {t.name: t for t in (GAME_FORECASTS, FORECAST_RETIREMENTS, MODEL_CHAMPIONS)}

# The last forecast of each game and model made before the game's date (as_of < game_date, i.e.
# before midnight of game day) and not retired since (a postponement at or after its as_of): what a
# bettor could have read the day before. One row per (game_id, model_name, model_version). Plain SQL
# both dialects run (TIMESTAMP/DATE compare as ISO text in SQLite, as timestamps in Postgres).
LATEST_PREGAME_FORECAST_VIEW = """
CREATE VIEW latest_pregame_forecast AS
SELECT f.* FROM game_forecasts f
WHERE f.as_of < f.game_date
  AND NOT EXISTS (
    SELECT 1 FROM game_forecast_retirements r WHERE r.game_id = f.game_id AND r.retired_at >= f.as_of
  )
  AND f.as_of = (
    SELECT max(g.as_of) FROM game_forecasts g
    WHERE g.game_id = f.game_id AND g.model_name = f.model_name
      AND g.model_version = f.model_version AND g.as_of < g.game_date
      AND NOT EXISTS (
        SELECT 1 FROM game_forecast_retirements r WHERE r.game_id = g.game_id AND r.retired_at >= g.as_of
      )
  )
"""


def append_only_ddl(table: ServingTable, dialect: str) -> list[str]:
    """The table's DDL; for game_forecasts also its retirements and the view over both (replaced,
    so a database made before retirements existed gets the current view)."""
    stmts = table.create_sql(dialect)
    if table is GAME_FORECASTS:
        stmts += FORECAST_RETIREMENTS.create_sql(dialect)
        if dialect == "postgres":
            stmts.append(LATEST_PREGAME_FORECAST_VIEW.strip().replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
        else:
            stmts += ["DROP VIEW IF EXISTS latest_pregame_forecast", LATEST_PREGAME_FORECAST_VIEW.strip()]
    return stmts


def _insert_new_sql(table: ServingTable) -> str:
    cols = ", ".join(table.columns)
    values = ", ".join(["?"] * len(table.columns))
    return (
        f"INSERT INTO {table.name} ({cols}) VALUES ({values}) ON CONFLICT ({', '.join(table.primary_key)}) DO NOTHING"
    )


def _check_append_rows(table: ServingTable, rows: list[tuple]) -> None:
    key_at = [list(table.columns).index(k) for k in table.primary_key]
    for row in rows:
        missing = [table.primary_key[i] for i, at in enumerate(key_at) if row[at] is None]
        if missing:
            raise ValueError(f"{table.name}: a row lacks its key column(s) {missing}: {row[:4]}")


def append_sqlite(path: str, table: ServingTable, frame: pd.DataFrame) -> int:
    """Insert the rows whose key is new, in one transaction; rows already there are left as they
    are (append-only: a re-run adds nothing). Returns the number of rows inserted."""
    rows = _rows(frame, table)
    _check_append_rows(table, rows)
    con = sqlite3.connect(path)
    try:
        with con:
            for stmt in append_only_ddl(table, "sqlite"):
                con.execute(stmt)
            before = con.total_changes
            con.executemany(_insert_new_sql(table), rows)
            return con.total_changes - before
    finally:
        con.close()


def append_postgres(conninfo: str, table: ServingTable, frame: pd.DataFrame, password: str | None = None) -> int:
    import psycopg

    rows = _rows(frame, table)
    _check_append_rows(table, rows)
    with psycopg.connect(conninfo, password=password) as con, con.cursor() as cur:  # one transaction
        cur.execute("; ".join(append_only_ddl(table, "postgres")))
        staging = f"stage_{table.name}"
        cur.execute(f"CREATE TEMP TABLE {staging} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP")
        _copy_rows(cur, staging, table, frame, None)
        cols = ", ".join(table.columns)
        cur.execute(
            f"INSERT INTO {table.name} ({cols}) SELECT DISTINCT ON ({', '.join(table.primary_key)}) {cols} "
            f"FROM {staging} ON CONFLICT ({', '.join(table.primary_key)}) DO NOTHING"
        )
        return cur.rowcount


def ensure_append_only_sqlite(path: str) -> None:
    """Create the append-only tables and the view if missing, so readers (the forecast API) find
    them empty before the first forecast is published rather than failing."""
    con = sqlite3.connect(path)
    try:
        with con:
            for table in APPEND_ONLY_TABLES.values():
                for stmt in append_only_ddl(table, "sqlite"):
                    con.execute(stmt)
    finally:
        con.close()


def ensure_append_only_postgres(conninfo: str, password: str | None = None) -> None:
    import psycopg

    with psycopg.connect(conninfo, password=password) as con, con.cursor() as cur:  # one transaction
        for table in APPEND_ONLY_TABLES.values():
            cur.execute("; ".join(append_only_ddl(table, "postgres")))
