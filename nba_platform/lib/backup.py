"""Backups, the pure part: where a backup lives (dated keys), what it must hold (the manifest),
how it is checked (per-table stats, sha256 of every artifact) and what is kept (retention).

No I/O beyond reading a local file for its checksum, no Dagster: `nba_platform.operations.backups`
does the dumping, uploading, restoring and deleting.

Layout under the backup root (`NBA_BACKUP_URI`: `s3://<bucket>/backups` in prod,
`$NBA_HOME/backups` embedded):
    daily/2026-11-25/serving.dump              pg_dump --format=custom (Postgres)
    daily/2026-11-25/serving.sqlite.tar.gz     sqlite3 online-backup snapshot(s) (embedded)
    daily/2026-11-25/dagster.dump              the Dagster storage database (run/event/schedule)
    daily/2026-11-25/lake_manifest.jsonl.gz    every lake object: path, size, sha256 or ETag
    daily/2026-11-25/manifest.json             written LAST, only after every artifact verified

A dated prefix without `manifest.json` is incomplete (a run that failed or is still running):
it is never restored from and never counts towards retention.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

DAILY = "daily"
MANIFEST_NAME = "manifest.json"
LAKE_MANIFEST_NAME = "lake_manifest.jsonl.gz"
MANIFEST_FORMAT = 1

_DATE_RE = re.compile(r"^daily/(\d{4}-\d{2}-\d{2})/(.+)$")


# ---- keys -------------------------------------------------------------------------------------


def date_prefix(day: dt.date) -> str:
    """`daily/2026-11-25/` (relative to the backup root)."""
    return f"{DAILY}/{day.isoformat()}/"


def backup_key(day: dt.date, name: str) -> str:
    return f"{date_prefix(day)}{name}"


def parse_backup_key(key: str) -> tuple[dt.date, str] | None:
    """`daily/2026-11-25/serving.dump` -> (date(2026, 11, 25), 'serving.dump'); None for anything else."""
    m = _DATE_RE.match(key)
    if not m:
        return None
    try:
        return dt.date.fromisoformat(m.group(1)), m.group(2)
    except ValueError:
        return None


def backups_in(keys: Iterable[str]) -> dict[dt.date, bool]:
    """Dated backups found among `keys` -> whether each is complete (has its manifest)."""
    out: dict[dt.date, bool] = {}
    for key in keys:
        parsed = parse_backup_key(key)
        if parsed is None:
            continue
        day, name = parsed
        out[day] = out.get(day, False) or name == MANIFEST_NAME
    return out


# ---- retention --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionPolicy:
    """Keep the `keep_daily` most recent complete backups, plus the `keep_weekly` most recent
    complete backups taken on `weekly_weekday` (Monday=0 .. Sunday=6).

    Counted in backups, not calendar days: if backups fail for a week, the last good ones are
    kept rather than aged out."""

    keep_daily: int = 7
    keep_weekly: int = 4
    weekly_weekday: int = 6  # Sunday

    def __post_init__(self):
        if self.keep_daily < 1:
            raise ValueError("keep_daily must be >= 1 (the newest backup is always kept)")
        if self.keep_weekly < 0:
            raise ValueError("keep_weekly must be >= 0")
        if not 0 <= self.weekly_weekday <= 6:
            raise ValueError("weekly_weekday must be 0 (Monday) .. 6 (Sunday)")


@dataclass(frozen=True)
class RetentionPlan:
    keep_daily: tuple[dt.date, ...]
    keep_weekly: tuple[dt.date, ...]
    delete: tuple[dt.date, ...]

    @property
    def keep(self) -> tuple[dt.date, ...]:
        return tuple(sorted(set(self.keep_daily) | set(self.keep_weekly)))


def plan_retention(
    complete: Iterable[dt.date],
    policy: RetentionPolicy = RetentionPolicy(),
    incomplete: Iterable[dt.date] = (),
    protect: Iterable[dt.date] = (),
) -> RetentionPlan:
    """Which dated backups to keep and which to delete.

    - complete backups: the newest `keep_daily`, plus the newest `keep_weekly` on the weekly day;
      every other complete backup is deleted.
    - incomplete prefixes (no manifest) are deleted once a newer complete backup exists (a later
      good backup supersedes them); the newest attempt, if it failed, is left for inspection.
    - `protect`ed dates (today's run) are never deleted.
    """
    complete = sorted(set(complete), reverse=True)
    protect = set(protect)
    daily = tuple(sorted(complete[: policy.keep_daily]))
    weekly = tuple(sorted([d for d in complete if d.weekday() == policy.weekly_weekday][: policy.keep_weekly]))
    kept = set(daily) | set(weekly) | protect
    delete = {d for d in complete if d not in kept}
    newest = complete[0] if complete else None
    delete |= {d for d in set(incomplete) - set(complete) if newest is not None and d < newest and d not in protect}
    return RetentionPlan(daily, weekly, tuple(sorted(delete)))


# ---- table statistics (what verification compares) --------------------------------------------


@dataclass(frozen=True)
class TableStats:
    rows: int
    checksum: str  # order-independent digest of every row's text (see operations/backups.py)


def compare_stats(expected: dict[str, TableStats], actual: dict[str, TableStats]) -> list[str]:
    """Differences between the source's tables and a restored copy (empty = identical)."""
    problems = []
    for table in sorted(set(expected) - set(actual)):
        problems.append(f"{table}: missing from the restored copy (source has {expected[table].rows} rows)")
    for table in sorted(set(actual) - set(expected)):
        problems.append(f"{table}: in the restored copy but not in the source")
    for table in sorted(set(expected) & set(actual)):
        e, a = expected[table], actual[table]
        if e.rows != a.rows:
            problems.append(f"{table}: {a.rows} rows restored, source has {e.rows}")
        elif e.checksum != a.checksum:
            problems.append(f"{table}: row checksum differs ({a.checksum} restored, {e.checksum} in the source)")
    return problems


def stats_to_json(stats: dict[str, TableStats]) -> dict:
    return {t: asdict(s) for t, s in sorted(stats.items())}


def stats_from_json(raw: dict) -> dict[str, TableStats]:
    return {t: TableStats(int(v["rows"]), str(v["checksum"])) for t, v in raw.items()}


def add_row_digest(acc: tuple[int, int], row_text: str) -> tuple[int, int]:
    """The Python twin of the SQL digest: md5 of the row text, its two 64-bit halves summed
    (as signed integers, like Postgres' ::bit(64)::bigint) into two unbounded accumulators."""
    h = hashlib.md5(row_text.encode("utf-8")).digest()
    hi = int.from_bytes(h[:8], "big", signed=True)
    lo = int.from_bytes(h[8:], "big", signed=True)
    return acc[0] + hi, acc[1] + lo


def format_digest(acc: tuple[int, int]) -> str:
    return f"{acc[0]}:{acc[1]}"


# ---- checksums --------------------------------------------------------------------------------


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# ---- the lake manifest ------------------------------------------------------------------------


@dataclass(frozen=True)
class LakeObject:
    path: str  # relative to the lake root
    size: int
    sha256: str | None = None  # local lake: content hash
    etag: str | None = None  # S3 lake: the object's ETag (no download needed)


@dataclass(frozen=True)
class ManifestDiff:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _same_object(a: LakeObject, b: LakeObject) -> bool:
    if a.size != b.size:
        return False
    if a.sha256 and b.sha256:
        return a.sha256 == b.sha256
    if a.etag and b.etag:
        return a.etag == b.etag
    return False  # no comparable digest: report as changed rather than guess


def diff_manifests(old: Iterable[LakeObject], new: Iterable[LakeObject]) -> ManifestDiff:
    o = {x.path: x for x in old}
    n = {x.path: x for x in new}
    return ManifestDiff(
        added=tuple(sorted(set(n) - set(o))),
        removed=tuple(sorted(set(o) - set(n))),
        changed=tuple(sorted(p for p in set(o) & set(n) if not _same_object(o[p], n[p]))),
    )


def lake_manifest_bytes(objects: Iterable[LakeObject]) -> bytes:
    lines = []
    for obj in sorted(objects, key=lambda x: x.path):
        lines.append(json.dumps({k: v for k, v in asdict(obj).items() if v is not None}, sort_keys=True))
    return gzip.compress(("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"), mtime=0)


def parse_lake_manifest(data: bytes) -> list[LakeObject]:
    out = []
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            out.append(LakeObject(raw["path"], int(raw["size"]), raw.get("sha256"), raw.get("etag")))
    return out


# ---- the backup manifest ----------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    database: str  # serving | dagster
    kind: str  # postgres | sqlite
    key: str  # relative to the backup root
    size: int
    sha256: str
    source: str  # where it came from, without credentials
    tables: dict[str, TableStats] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables.values())


@dataclass(frozen=True)
class BackupManifest:
    date: dt.date
    created_at: str  # ISO UTC
    artifacts: tuple[Artifact, ...]
    lake_key: str | None = None
    lake_objects: int = 0
    lake_bytes: int = 0
    lake_sha256: str | None = None

    def artifact(self, database: str) -> Artifact:
        for a in self.artifacts:
            if a.database == database:
                return a
        raise KeyError(
            f"backup of {self.date} holds no {database!r} database (it holds: "
            f"{', '.join(a.database for a in self.artifacts) or 'nothing'})"
        )

    def to_json(self) -> bytes:
        doc = {
            "format": MANIFEST_FORMAT,
            "date": self.date.isoformat(),
            "created_at": self.created_at,
            "artifacts": [
                {
                    "database": a.database,
                    "kind": a.kind,
                    "key": a.key,
                    "size": a.size,
                    "sha256": a.sha256,
                    "source": a.source,
                    "tables": stats_to_json(a.tables),
                }
                for a in self.artifacts
            ],
            "lake": {
                "key": self.lake_key,
                "objects": self.lake_objects,
                "bytes": self.lake_bytes,
                "sha256": self.lake_sha256,
            },
        }
        return json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> BackupManifest:
        doc = json.loads(data)
        if doc.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"unknown backup manifest format {doc.get('format')!r}")
        lake = doc.get("lake") or {}
        return cls(
            date=dt.date.fromisoformat(doc["date"]),
            created_at=doc["created_at"],
            artifacts=tuple(
                Artifact(
                    a["database"],
                    a["kind"],
                    a["key"],
                    int(a["size"]),
                    a["sha256"],
                    a["source"],
                    stats_from_json(a["tables"]),
                )
                for a in doc["artifacts"]
            ),
            lake_key=lake.get("key"),
            lake_objects=int(lake.get("objects") or 0),
            lake_bytes=int(lake.get("bytes") or 0),
            lake_sha256=lake.get("sha256"),
        )
