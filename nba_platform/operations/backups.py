"""Backups, the doing part: dump each database from one consistent snapshot, upload it, download
what was stored, restore that into a scratch database and compare it table by table with the
source, write the lake manifest, then the backup manifest (last), then apply retention.

One code path, two small adapters per concern, chosen from the URL/URI the settings give:
    database  PostgresDatabase  pg_dump --format=custom from an exported snapshot; pg_restore into
                                CREATE DATABASE scratch_<random> (TEMPLATE template0), then DROP
              SqliteDatabase    sqlite3 online backup API into a snapshot file (one file, or every
                                *.db of a directory: Dagster's SQLite storage); restore = extract
    location  lib/storage.Store, the lake's storage API: a local directory or an S3 prefix
              (endpoint_url for S3-compatible endpoints / moto); streamed, atomic writes

Passwords are passed to pg_dump / pg_restore through PGPASSWORD in the child's environment and to
psycopg as a keyword: never on a command line, in a URL, a log line, an error or metadata.
psycopg is imported by the Postgres functions only: the embedded default never loads the driver.

Verification statistics per table: the row count and an order-independent digest of every row
(md5 of the row's text, its two 64-bit halves summed), computed in SQL on Postgres. Unlike an
md5 over ordered rows it needs no sort and constant memory (Dagster's event log grows to tens of
millions of rows), covers tables without a primary key too, and is equally exact for tables with
one (their rows are distinct). The source side is computed inside the very snapshot pg_dump
exported, so writes during the backup (the backup run itself writes Dagster events) cannot make
source and dump disagree.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nba_platform.lib import backup
from nba_platform.lib.storage import Store

Log = Callable[[str], None]
DEFAULT_TIMEOUT_S = 6 * 3600


class BackupError(RuntimeError):
    """A backup or restore step failed (the message names the step and the object, never a secret)."""


class BackupVerificationError(BackupError):
    """What was stored does not restore to what was backed up."""


def _tail(text: str, limit: int = 1500) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# ================================================================ backup locations


def open_backup_store(uri: str, endpoint_url: str | None = None, region: str | None = None) -> Store:
    """The backup location as a `Store` (lib/storage.py, the lake's storage API too)."""
    if not uri:
        raise BackupError("no backup location configured: set NBA_BACKUP_URI (s3://bucket/backups in prod)")
    return Store(uri, endpoint_url, region)


def fetch_file(store: Store, key: str, path: Path) -> None:
    try:
        store.get_file(key, path)
    except OSError as exc:  # FileNotFoundError locally; an S3 error names the missing key
        raise BackupError(f"cannot read {store.url(key)}: {type(exc).__name__}") from None


def fetch_bytes(store: Store, key: str) -> bytes:
    try:
        return store.read_bytes(key)
    except OSError as exc:
        raise BackupError(f"cannot read {store.url(key)}: {type(exc).__name__}") from None


# ================================================================ the lake manifest


def list_lake(lake_uri: str, endpoint_url: str | None = None, region: str | None = None) -> list[backup.LakeObject]:
    """Every lake object: S3 -> size + ETag from the listing (nothing downloaded); local -> size + sha256.
    Hidden/temp files are skipped, as the lake's Store does."""
    if not lake_uri:
        return []
    store = Store(lake_uri, endpoint_url, region)
    if not store.is_local:
        return [backup.LakeObject(f.path, f.size, etag=etag) for f, etag in store.list_with_etags()]
    root = Path(store.root)
    return [backup.LakeObject(f.path, f.size, sha256=backup.sha256_file(root / f.path)) for f in store.list()]


# ================================================================ databases: Postgres

# Fixed session settings so a row's text is the same on every connection that computes it.
_PG_SESSION = (
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
)

_PG_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence <> 't'
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""

_PG_TABLE_DIGEST = """
SELECT count(*),
       coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint), 0)::text,
       coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint), 0)::text
FROM (SELECT md5(t::text) AS h FROM {} t) s
"""


def postgres_stats(con) -> dict[str, backup.TableStats]:
    """Per-table row count and row digest of every user table, on an open psycopg connection
    (inside its current transaction / snapshot)."""
    from psycopg import sql

    for stmt in _PG_SESSION:
        con.execute(stmt)
    out = {}
    for schema, table in con.execute(_PG_TABLES).fetchall():
        q = sql.SQL(_PG_TABLE_DIGEST).format(sql.Identifier(schema, table))
        rows, hi, lo = con.execute(q).fetchone()
        out[f"{schema}.{table}"] = backup.TableStats(int(rows), f"{hi}:{lo}")
    return out


def _pg_conninfo(url: str, dbname: str | None = None) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    if params.get("password"):
        raise BackupError("database URLs must not hold a password: it comes from the secrets resource")
    if dbname:
        params["dbname"] = dbname
    return make_conninfo(**params)


def describe_pg(url: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    p = conninfo_to_dict(url)
    return f"postgresql://{p.get('host', 'localhost')}:{p.get('port', 5432)}/{p.get('dbname', '')}"


def _run_pg_tool(args: list[str], password: str | None, what: str, timeout_s: float) -> None:
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    exe = shutil.which(args[0])
    if exe is None:
        raise BackupError(f"{args[0]} is not installed (PostgreSQL client tools are needed for {what})")
    try:
        proc = subprocess.run(
            [exe, *args[1:]], env=env, capture_output=True, text=True, errors="replace", timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what}: {args[0]} did not finish within {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        raise BackupError(f"{what}: {args[0]} exited {proc.returncode}: {_tail(proc.stderr)}")


def pg_restore(
    artifact: Path, conninfo: str, password: str | None, what: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> None:
    # One transaction: a restore either lands completely or not at all. Objects are owned by the
    # restoring user (the roles of the source need not exist on the target).
    _run_pg_tool(
        [
            "pg_restore",
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            "--no-password",
            f"--dbname={conninfo}",
            str(artifact),
        ],
        password,
        what,
        timeout_s,
    )


@dataclass
class PostgresDatabase:
    name: str  # serving | dagster: names the artifact
    url: str  # postgresql://user@host:port/db, no password
    password: str | None = field(default=None, repr=False)
    # Where scratch databases are created for verification (the role needs CREATEDB); default:
    # the source's own server and role.
    scratch_url: str | None = None
    scratch_password: str | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    kind: str = "postgres"

    @property
    def artifact_name(self) -> str:
        return f"{self.name}.dump"

    def describe(self) -> str:
        return describe_pg(self.url)

    def _connect(self, url: str, password: str | None, dbname: str | None = None, **kw):
        import psycopg

        try:
            return psycopg.connect(_pg_conninfo(url, dbname), password=password, connect_timeout=15, **kw)
        except psycopg.OperationalError as exc:
            raise BackupError(
                f"cannot connect to {dbname if dbname else describe_pg(url)}: {_tail(str(exc), 400)}"
            ) from None

    def dump(self, dest: Path) -> dict[str, backup.TableStats]:
        """pg_dump from an exported snapshot; the source's stats computed inside the same snapshot."""
        from psycopg import IsolationLevel

        con = self._connect(self.url, self.password)
        try:
            con.isolation_level = IsolationLevel.REPEATABLE_READ
            con.read_only = True
            snapshot = con.execute("SELECT pg_export_snapshot()").fetchone()[0]
            _run_pg_tool(
                [
                    "pg_dump",
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    "--no-password",
                    f"--file={dest}",
                    f"--dbname={_pg_conninfo(self.url)}",
                ],
                self.password,
                f"dumping {self.describe()}",
                self.timeout_s,
            )
            stats = postgres_stats(con)
            con.rollback()
        finally:
            con.close()
        return stats

    def verify_in_scratch(self, artifact: Path) -> dict[str, backup.TableStats]:
        """Restore into CREATE DATABASE scratch_<random>, read its stats, DROP it (always)."""
        from psycopg import sql

        url = self.scratch_url or self.url
        password = self.scratch_password if self.scratch_url else self.password
        scratch = f"scratch_{self.name}_{uuid.uuid4().hex[:12]}"
        with self._connect(url, password, autocommit=True) as con:
            try:
                con.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch)))
            except Exception as exc:
                raise BackupError(
                    f"cannot create scratch database on {describe_pg(url)} (the role needs CREATEDB, "
                    f"or set NBA_BACKUP_SCRATCH_DB_URL): {_tail(str(exc), 300)}"
                ) from None
        try:
            pg_restore(
                artifact,
                _pg_conninfo(url, scratch),
                password,
                f"restoring {self.artifact_name} into {scratch}",
                self.timeout_s,
            )
            with self._connect(url, password, dbname=scratch) as con:
                return postgres_stats(con)
        finally:
            with self._connect(url, password, autocommit=True) as con:
                con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))


def restore_postgres(
    artifact: Path, target_url: str, password: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[str, backup.TableStats]:
    """Restore a custom-format dump into `target_url`: created if it does not exist; refused if it
    already holds tables (a restore never overwrites data). Returns the target's stats."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    dbname = conninfo_to_dict(target_url).get("dbname")
    if not dbname:
        raise BackupError(f"--target-db must name a database: {describe_pg(target_url)}")
    try:
        con = psycopg.connect(_pg_conninfo(target_url), password=password, connect_timeout=15)
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise BackupError(f"cannot connect to {describe_pg(target_url)}: {_tail(str(exc), 400)}") from None
        try:
            with psycopg.connect(
                _pg_conninfo(target_url, "postgres"), password=password, connect_timeout=15, autocommit=True
            ) as admin:
                admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(dbname)))
        except psycopg.Error as exc2:
            raise BackupError(f"cannot create {describe_pg(target_url)}: {_tail(str(exc2), 400)}") from None
        con = psycopg.connect(_pg_conninfo(target_url), password=password, connect_timeout=15)
    with con:
        existing = postgres_stats(con)
    if existing:
        raise BackupError(
            f"{describe_pg(target_url)} already holds {len(existing)} table(s) "
            f"(e.g. {sorted(existing)[0]}): restore into a new or empty database"
        )
    pg_restore(artifact, _pg_conninfo(target_url), password, f"restoring into {describe_pg(target_url)}", timeout_s)
    with psycopg.connect(_pg_conninfo(target_url), password=password, connect_timeout=15) as con:
        return postgres_stats(con)


# ================================================================ databases: SQLite (embedded)

_SQLITE_MAGIC = b"SQLite format 3\x00"


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


def sqlite_stats(path: Path, label: str) -> dict[str, backup.TableStats]:
    """Integrity check, then per-table row count and row digest (same definition as on Postgres,
    computed in Python: SQLite has no md5). Table keys are `<label>:<table>`."""
    con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        try:
            check = con.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{label}: not a readable SQLite database ({exc})") from None
        if check != [("ok",)]:
            raise BackupError(f"{label}: SQLite integrity check failed: {'; '.join(r[0] for r in check[:3])}")
        out = {}
        tables = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
        ]
        for table in tables:
            acc, n = (0, 0), 0
            for row in con.execute(f'SELECT * FROM "{table.replace(chr(34), chr(34) * 2)}"'):
                acc = backup.add_row_digest(acc, repr(row))
                n += 1
            out[f"{label}:{table}"] = backup.TableStats(n, backup.format_digest(acc))
        return out
    finally:
        con.close()


def _sqlite_snapshot(src: Path, dest: Path) -> None:
    """sqlite3's online backup API: a consistent copy while writers keep going (WAL), made
    self-contained (rollback journal) so the artifact is one file per database."""
    source = sqlite3.connect(str(src), timeout=60)
    target = sqlite3.connect(str(dest))
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()


def _safe_extract(artifact: Path, into: Path) -> list[str]:
    """Extract a .tar.gz artifact (regular files only, no absolute or '..' paths); returns member names."""
    try:
        with gzip.open(artifact, "rb") as g:  # the whole stream first: tarfile stops before gzip's CRC trailer
            while g.read(1 << 20):
                pass
        with tarfile.open(artifact, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                if not m.isfile() or m.name.startswith("/") or ".." in Path(m.name).parts:
                    raise BackupError(f"{artifact.name}: unexpected archive member {m.name!r}")
            tar.extractall(into, filter="data")
            return sorted(m.name for m in members)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BackupError(f"{artifact.name}: unreadable archive ({type(exc).__name__}: {exc})") from None


@dataclass
class SqliteDatabase:
    name: str
    path: Path  # one SQLite file (serving.db) or a directory of them (DAGSTER_HOME: runs, event shards, schedules)
    kind: str = "sqlite"

    @property
    def artifact_name(self) -> str:
        return f"{self.name}.sqlite.tar.gz"

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    def files(self) -> list[tuple[str, Path]]:
        p = Path(self.path)
        if p.is_file():
            return [(p.name, p)]
        if p.is_dir():
            found = [
                (x.relative_to(p).as_posix(), x)
                for x in sorted(p.rglob("*.db"))
                if x.is_file() and _is_sqlite(x) and not any(s.startswith(".") for s in x.relative_to(p).parts)
            ]
            if found:
                return found
        raise BackupError(
            f"{self.name}: no SQLite database at {p} (nothing to back up; for the serving "
            f"database run `nba-platform build` first)"
        )

    def dump(self, dest: Path) -> dict[str, backup.TableStats]:
        stats: dict[str, backup.TableStats] = {}
        with tempfile.TemporaryDirectory(prefix="nba-sqlite-") as tmp:
            with tarfile.open(dest, "w:gz") as tar:
                for rel, src in self.files():
                    snap = Path(tmp) / rel
                    snap.parent.mkdir(parents=True, exist_ok=True)
                    _sqlite_snapshot(src, snap)
                    stats |= sqlite_stats(snap, rel)
                    tar.add(snap, arcname=rel, recursive=False)
        return stats

    def verify_in_scratch(self, artifact: Path) -> dict[str, backup.TableStats]:
        with tempfile.TemporaryDirectory(prefix="scratch-sqlite-") as tmp:
            stats: dict[str, backup.TableStats] = {}
            for rel in _safe_extract(artifact, Path(tmp)):
                stats |= sqlite_stats(Path(tmp) / rel, rel)
            return stats


def restore_sqlite(artifact: Path, target: Path) -> dict[str, backup.TableStats]:
    """One database in the archive -> `target` is that file; several -> `target` is a directory.
    Refuses to overwrite anything."""
    with tempfile.TemporaryDirectory(
        prefix="restore-sqlite-", dir=target.parent if target.parent.exists() else None
    ) as tmp:
        names = _safe_extract(artifact, Path(tmp))
        stats: dict[str, backup.TableStats] = {}
        for rel in names:
            stats |= sqlite_stats(Path(tmp) / rel, rel)
        if len(names) == 1:
            if target.exists():
                raise BackupError(f"{target} already exists: restore into a new path")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(Path(tmp) / names[0]), target)
        else:
            if target.exists() and any(target.iterdir()):
                raise BackupError(f"{target} is not empty: restore into a new directory")
            for rel in names:
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(Path(tmp) / rel), target / rel)
    return stats


Database = PostgresDatabase | SqliteDatabase


def database_from_url(
    name: str,
    url: str,
    password: str | None = None,
    scratch_url: str | None = None,
    scratch_password: str | None = None,
) -> Database:
    if not url:
        raise BackupError(f"no URL configured for the {name} database")
    if url.startswith("sqlite:///"):
        return SqliteDatabase(name, Path(url[len("sqlite:///") :]))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(name, url, password, scratch_url, scratch_password)
    raise BackupError(f"{name}: unsupported database URL scheme {url.split(':', 1)[0]!r} (sqlite:/// or postgresql://)")


# ================================================================ one backup


@dataclass
class BackupPlan:
    store: Store
    databases: list[Database]
    lake_uri: str = ""
    lake_endpoint_url: str | None = None
    lake_region: str | None = None
    policy: backup.RetentionPolicy = field(default_factory=backup.RetentionPolicy)


@dataclass
class BackupReport:
    manifest: backup.BackupManifest
    written: dict[str, int]  # url -> bytes
    verified: dict[str, dict]  # database -> {tables, rows, per_table}
    lake_diff: backup.ManifestDiff | None
    retention: backup.RetentionPlan
    deleted_keys: int
    seconds: float


def verify_artifact(
    db: Database,
    path: Path,
    key: str,
    expected_sha: str,
    expected: dict[str, backup.TableStats],
    check_sha: bool = True,
) -> dict[str, backup.TableStats]:
    """Checksum of the stored bytes, then a restore into scratch compared table by table."""
    if check_sha:
        got = backup.sha256_file(path)
        if got != expected_sha:
            raise BackupVerificationError(
                f"{db.name}: {key} is corrupt: sha256 of the stored object is {got[:16]}..., the backup "
                f"recorded {expected_sha[:16]}..."
            )
    try:
        restored = db.verify_in_scratch(path)
    except BackupVerificationError:
        raise
    except BackupError as exc:
        raise BackupVerificationError(f"{db.name}: {key} does not restore: {exc}") from None
    problems = backup.compare_stats(expected, restored)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... {len(problems) - 5} more" if len(problems) > 5 else "")
        raise BackupVerificationError(f"{db.name}: restored {key} differs from the source: {shown}")
    return restored


def _latest_complete_before(store: Store, day: dt.date) -> dt.date | None:
    found = backup.backups_in(f.path for f in store.list(backup.DAILY))
    earlier = [d for d, complete in found.items() if complete and d < day]
    return max(earlier) if earlier else None


def read_manifest(store: Store, day: dt.date) -> backup.BackupManifest:
    key = backup.backup_key(day, backup.MANIFEST_NAME)
    if not store.exists(key):
        found = backup.backups_in(f.path for f in store.list(backup.DAILY))
        complete = sorted(d.isoformat() for d, ok in found.items() if ok)
        hint = f"complete backups: {', '.join(complete[-10:])}" if complete else "no complete backup exists"
        raise BackupError(f"no complete backup for {day} at {store.url(backup.date_prefix(day))} ({hint})")
    try:
        return backup.BackupManifest.from_json(fetch_bytes(store, key))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        # Not bytes the backup wrote (damaged, truncated, edited): name it; never a traceback.
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {str(exc)[:200]}"
        raise BackupError(
            f"the backup manifest {store.url(key)} is corrupt ({detail}); this backup cannot be trusted, "
            "restore another date"
        ) from None


def apply_retention(store: Store, policy: backup.RetentionPolicy, protect: dt.date) -> tuple[backup.RetentionPlan, int]:
    keys = [f.path for f in store.list(backup.DAILY)]
    found = backup.backups_in(keys)
    plan = backup.plan_retention(
        [d for d, ok in found.items() if ok],
        policy,
        incomplete=[d for d, ok in found.items() if not ok],
        protect=[protect],
    )
    doomed = set(plan.delete)
    victims = [k for k in keys if (p := backup.parse_backup_key(k)) and p[0] in doomed]
    # Manifests first: a prefix interrupted mid-deletion is then incomplete, never half-restorable.
    if victims:
        store.delete_files([k for k in victims if k.endswith("/" + backup.MANIFEST_NAME)])
        store.delete_files([k for k in victims if not k.endswith("/" + backup.MANIFEST_NAME)])
    return plan, len(victims)


def run_backup(plan: BackupPlan, day: dt.date | None = None, log: Log = print) -> BackupReport:
    """Dump, upload, verify what was stored, write the lake manifest and the backup manifest, then
    apply retention. Raises (nothing marked complete, nothing deleted) if any verification fails."""
    t0 = time.perf_counter()
    day = day or dt.datetime.now(dt.UTC).date()
    store = plan.store
    manifest_key = backup.backup_key(day, backup.MANIFEST_NAME)
    if store.exists(manifest_key):  # a re-run for the same day: never leave an old manifest over new objects
        store.delete_files([manifest_key])
    artifacts, written, verified = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="nba-backup-") as tmp:
        for db in plan.databases:
            local = Path(tmp) / db.artifact_name
            key = backup.backup_key(day, db.artifact_name)
            t = time.perf_counter()
            source_stats = db.dump(local)
            sha, size = backup.sha256_file(local), local.stat().st_size
            store.put_file(key, local)
            local.unlink()
            log(
                f"{db.name}: dumped {db.describe()} ({len(source_stats)} tables, "
                f"{sum(s.rows for s in source_stats.values())} rows, {size} bytes) to {store.url(key)} in {time.perf_counter() - t:.1f}s"
            )
            # Verify what the store holds, not the local file.
            back = Path(tmp) / f"stored-{db.artifact_name}"
            fetch_file(store, key, back)
            t = time.perf_counter()
            verify_artifact(db, back, key, sha, source_stats)
            back.unlink()
            log(
                f"{db.name}: verified: restored into scratch, {len(source_stats)} tables match the source "
                f"(rows and row digests) in {time.perf_counter() - t:.1f}s"
            )
            artifacts.append(backup.Artifact(db.name, db.kind, key, size, sha, db.describe(), source_stats))
            written[store.url(key)] = size
            verified[db.name] = {
                "tables": len(source_stats),
                "rows": sum(s.rows for s in source_stats.values()),
                "per_table": {t: s.rows for t, s in sorted(source_stats.items())},
            }

    objects = list_lake(plan.lake_uri, plan.lake_endpoint_url, plan.lake_region)
    lake_bytes = backup.lake_manifest_bytes(objects)
    lake_key = backup.backup_key(day, backup.LAKE_MANIFEST_NAME)
    store.write_bytes(lake_key, lake_bytes)
    written[store.url(lake_key)] = len(lake_bytes)
    lake_diff = None
    previous = _latest_complete_before(store, day)
    if previous is not None:
        try:
            lake_diff = backup.diff_manifests(
                backup.parse_lake_manifest(fetch_bytes(store, backup.backup_key(previous, backup.LAKE_MANIFEST_NAME))),
                objects,
            )
        except (BackupError, OSError, ValueError):
            lake_diff = None
    log(
        f"lake: {len(objects)} objects ({sum(o.size for o in objects)} bytes) listed to {store.url(lake_key)}"
        + (
            f"; since {previous}: +{len(lake_diff.added)} -{len(lake_diff.removed)} ~{len(lake_diff.changed)}"
            if lake_diff
            else ""
        )
    )

    manifest = backup.BackupManifest(
        date=day,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        artifacts=tuple(artifacts),
        lake_key=lake_key,
        lake_objects=len(objects),
        lake_bytes=sum(o.size for o in objects),
        lake_sha256=hashlib.sha256(lake_bytes).hexdigest(),
    )
    manifest_bytes = manifest.to_json()
    store.write_bytes(manifest_key, manifest_bytes)  # last: the backup is now complete
    written[store.url(manifest_key)] = len(manifest_bytes)

    retention, deleted = apply_retention(store, plan.policy, protect=day)
    if retention.delete:
        log(
            f"retention: deleted {len(retention.delete)} backup(s) ({deleted} objects): {', '.join(d.isoformat() for d in retention.delete)}"
        )
    return BackupReport(manifest, written, verified, lake_diff, retention, deleted, time.perf_counter() - t0)


def verify_backup(
    plan: BackupPlan, day: dt.date, check_sha: bool = True, log: Log = print
) -> dict[str, dict[str, backup.TableStats]]:
    """Re-verify a stored backup (drills, or after a suspected corruption): download each
    database artifact, check its sha256, restore into scratch, compare with the manifest."""
    store = plan.store
    manifest = read_manifest(store, day)
    by_name = {db.name: db for db in plan.databases}
    out = {}
    with tempfile.TemporaryDirectory(prefix="nba-verify-") as tmp:
        for art in manifest.artifacts:
            db = by_name.get(art.database)
            if db is None or db.kind != art.kind:
                raise BackupError(f"{art.database}: no {art.kind} database configured to verify {art.key} against")
            path = Path(tmp) / Path(art.key).name
            fetch_file(store, art.key, path)
            out[art.database] = verify_artifact(db, path, art.key, art.sha256, art.tables, check_sha=check_sha)
            log(f"{art.database}: {store.url(art.key)} verified ({len(art.tables)} tables, {art.rows} rows)")
    return out


@dataclass
class RestoreResult:
    artifact: backup.Artifact
    url: str
    stats: dict[str, backup.TableStats]


def restore_backup(
    store: Store, day: dt.date, target: str, database: str = "serving", password: str | None = None
) -> RestoreResult:
    """Restore one database of the backup of `day` into `target` (postgresql://... or sqlite:///...),
    after checking the stored object's sha256, and compare the result with the manifest."""
    manifest = read_manifest(store, day)
    try:
        art = manifest.artifact(database)
    except KeyError as exc:
        raise BackupError(str(exc.args[0])) from None
    with tempfile.TemporaryDirectory(prefix="nba-restore-") as tmp:
        path = Path(tmp) / Path(art.key).name
        fetch_file(store, art.key, path)
        got = backup.sha256_file(path)
        if got != art.sha256:
            raise BackupVerificationError(
                f"{store.url(art.key)} is corrupt: sha256 {got[:16]}... but the backup recorded "
                f"{art.sha256[:16]}...; nothing was restored (use another date)"
            )
        if art.kind == "postgres":
            if not target.startswith(("postgresql://", "postgres://")):
                raise BackupError(f"{art.key} is a Postgres dump: --target-db must be postgresql://user@host:port/db")
            stats = restore_postgres(path, target, password)
        else:
            if not target.startswith("sqlite:///"):
                raise BackupError(f"{art.key} holds SQLite databases: --target-db must be sqlite:///path")
            stats = restore_sqlite(path, Path(target[len("sqlite:///") :]))
    problems = backup.compare_stats(art.tables, stats)
    if problems:
        raise BackupVerificationError(
            f"restored {art.key} differs from the backup's manifest: {'; '.join(problems[:5])}"
        )
    return RestoreResult(art, store.url(art.key), stats)
