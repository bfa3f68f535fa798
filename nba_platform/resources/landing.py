"""The landing zone: where source files arrive (local dir or S3 prefix), plus the sample
files shipped inside the package, which are part of the zone unless disabled."""

import functools
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import dagster as dg
import pandas
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nba_platform.lib import landing as lib_landing
from nba_platform.lib import seasons
from nba_platform.lib.landing import (
    ENCODING_ATTR,
    SHAPES_BY_NAME,
    SUPPORTED_SUFFIXES,
    LandingError,
    SourceShape,
    decode_text,
    detect_shape,
    read_landed_bytes,
    restrict_columns,
    split_by_season,
)
from nba_platform.lib.storage import Store

SAMPLE_PREFIX = "sample/"
# File index entries live in the landing zone's own store (local dir or S3 prefix), shipped
# sample files' entries too (the package dir may be read-only). A dot prefix: Store.list skips
# hidden paths, so list_files and the landing sensor never see an entry as a landed file.
INDEX_PREFIX = ".landing_index/"
# Season pieces: a multi-season file's raw rows, one Parquet file per season, written once when the
# file is read whole (`ingest`, the sensor, `build`, or a raw asset without them), so a run of a few
# of its seasons reads only theirs instead of parsing the whole file again (a 100 MB game log of 72
# seasons cost each of its 9 runs ~0.6 GB and ~10 s). Hidden like the index; each piece names the
# file version and parsing code it came from, and is used only while both still match.
PIECES_PREFIX = ".landing_pieces/"
PIECE_METADATA_KEY = b"nba_platform.landing_piece"


def sample_root() -> str:
    return str(resources.files("nba_platform") / "data" / "landing")


@dataclass(frozen=True)
class LandedFile:
    name: str  # 'sample/<path>' for shipped files, else the path inside the landing zone
    size: int
    mtime_ns: int

    @property
    def fingerprint(self) -> str:
        return f"{self.size}:{self.mtime_ns}"


@dataclass(frozen=True)
class LandedRows:
    """What reading one landed file gave: its rows by season, and what the landing metadata records."""

    shape: SourceShape
    by_season: "dict[str, pd.DataFrame]"
    encodings: dict[str, str]  # file (or archive member) -> the text encoding it was decoded from
    columns_dropped: list[str]  # columns outside the shape, not carried into raw


@dataclass(frozen=True)
class IndexEntry:
    """What one landed file version holds, so a raw asset can skip it without reading it."""

    shape: str
    seasons: frozenset[str] | None = None  # None: only the header was read (a file of another raw asset's shape)


@functools.cache
def parser_digest() -> str:
    """Entries are only as good as the code that read the file: a change to shape detection, parsing
    or season splitting (or pandas) invalidates every entry instead of trusting old seasons."""

    h = hashlib.sha256(pandas.__version__.encode())
    for module in (lib_landing, seasons, sys.modules[__name__]):
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:16]


def index_key(name: str) -> str:
    return f"{INDEX_PREFIX}{hashlib.sha256(name.encode('utf-8')).hexdigest()}.json"


def piece_key(name: str, season: str) -> str:
    return f"{PIECES_PREFIX}{hashlib.sha256(name.encode('utf-8')).hexdigest()}/{season}.parquet"


def piece_bytes(f: LandedFile, season: str, rows: LandedRows) -> bytes:
    """One season's raw rows as Parquet, stamped with the file version, parser and read metadata."""
    table = pa.Table.from_pandas(rows.by_season[season], preserve_index=False)
    stamp = {
        "name": f.name,
        "fingerprint": f.fingerprint,
        "parser": parser_digest(),
        "season": season,
        "shape": rows.shape.name,
        "encodings": rows.encodings,
        "columns_dropped": rows.columns_dropped,
    }
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), PIECE_METADATA_KEY: json.dumps(stamp)})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _parse_piece(raw: bytes, f: LandedFile, season: str) -> "tuple[dict, pd.DataFrame] | None":
    table = pq.read_table(io.BytesIO(raw))
    stamp = json.loads((table.schema.metadata or {}).get(PIECE_METADATA_KEY, b"null"))
    if not isinstance(stamp, dict) or (stamp.get("name"), stamp.get("fingerprint"), stamp.get("season")) != (
        f.name,
        f.fingerprint,
        season,
    ):
        return None  # a piece of another file version: stale
    if stamp.get("parser") != parser_digest() or stamp.get("shape") not in SHAPES_BY_NAME:
        return None
    return stamp, _piece_frame(table)


def _piece_frame(table: pa.Table) -> pd.DataFrame:
    """The frame the piece was written from, dtypes included: string[pyarrow] text stays Arrow
    text (pandas' default would make it string[python]), object columns (lineage) stay object."""
    arrow_text = pd.StringDtype("pyarrow")
    frame = table.to_pandas(types_mapper={pa.string(): arrow_text, pa.large_string(): arrow_text}.get)
    for column in (table.schema.pandas_metadata or {}).get("columns", []):
        if column.get("numpy_type") == "object" and column["name"] in frame:
            frame[column["name"]] = table.column(column["name"]).to_pandas()
    return frame


def _parse_entry(raw: bytes, f: LandedFile) -> IndexEntry | None:
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("name") != f.name or doc.get("fingerprint") != f.fingerprint:
        return None  # another file version: stale
    if doc.get("parser") != parser_digest():
        return None
    shape, seasons = doc.get("shape"), doc.get("seasons")
    if not isinstance(shape, str) or not (
        seasons is None or (isinstance(seasons, list) and all(isinstance(x, str) for x in seasons))
    ):
        return None
    return IndexEntry(shape, None if seasons is None else frozenset(seasons))


def peek_columns(data: bytes, name: str) -> list[str]:
    """Header columns without parsing the whole file (cheap enough for sensor ticks)."""
    try:
        return _peek_columns(data, name)
    except (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeDecodeError) as exc:
        # A corrupt archive dropped into the zone by hand must be reported, not crash every raw asset.
        raise LandingError(f"{name}: corrupt, truncated or not UTF-8: {exc}") from None


def _peek_columns(data: bytes, name: str) -> list[str]:
    lower = name.lower()
    if lower.endswith((".tar.gz", ".tgz")):
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for m in tar:
                if m.isfile() and m.name.endswith(".csv"):
                    return decode_text(tar.extractfile(m).readline(), f"{name}!{m.name}")[0].strip().split(",")
        raise LandingError(f"{name}: archive holds no .csv members")
    if lower.endswith((".csv.gz", ".csv")):
        raw = gzip.GzipFile(fileobj=io.BytesIO(data)).read(65536) if lower.endswith(".gz") else data[:65536]
        first = decode_text(raw.split(b"\n", 1)[0], name)[0]
        try:
            return pd.read_csv(io.StringIO(first + "\n"), dtype=str, nrows=0).columns.tolist()
        except Exception as exc:  # any parser failure means the header is unusable
            raise LandingError(f"{name}: unreadable header: {exc}") from None
    return list(read_landed_bytes(data, name).columns)


class LandingZone(dg.ConfigurableResource):
    """Lists, reads and accepts landed files. Shape detection lives in `lib.landing`."""

    uri: str
    include_sample: bool = True
    endpoint_url: str | None = None
    region: str | None = None

    def _store(self) -> Store:
        return Store(self.uri, self.endpoint_url, self.region)

    def list_files(self, include_sample: bool | None = None) -> list[LandedFile]:
        files = []
        if self.include_sample if include_sample is None else include_sample:
            files += [LandedFile(SAMPLE_PREFIX + f.path, f.size, f.mtime_ns) for f in Store(sample_root()).list()]
        files += [
            LandedFile(f.path, f.size, f.mtime_ns)
            for f in self._store().list()
            if f.path.lower().endswith(SUPPORTED_SUFFIXES) and not f.path.startswith(INDEX_PREFIX)
        ]
        return files

    def landed_file(self, name: str) -> LandedFile | None:
        """One landed file's current version (None if absent), without listing the zone."""
        if name.startswith(SAMPLE_PREFIX):
            info = Store(sample_root()).info(name[len(SAMPLE_PREFIX) :])
        else:
            info = self._store().info(name)
        return None if info is None else LandedFile(name, info.size, info.mtime_ns)

    def index_entries(self, files: list[LandedFile]) -> list[IndexEntry | None]:
        """The index entry of each file version, or None where missing, stale or unreadable
        (a corrupt entry is only a cache miss: the file is read and the entry rewritten)."""
        store = self._store()

        def one(f: LandedFile) -> IndexEntry | None:
            try:
                return _parse_entry(store.read_bytes(index_key(f.name)), f)
            except Exception:  # missing, truncated, not JSON, S3 error: never fatal
                return None

        if store.is_local or len(files) < 2:
            return [one(f) for f in files]
        with ThreadPoolExecutor(max_workers=8) as pool:  # S3: one GET per entry, overlapped
            return list(pool.map(one, files))

    def record_index(self, f: LandedFile, shape: str, seasons: Iterable[str] | None = None) -> bool:
        """Write the entry of this file version (atomic replace: concurrent writers of the same
        entry never leave a torn one). False if the zone is not writable: it just stays unindexed."""
        doc = {
            "name": f.name,
            "fingerprint": f.fingerprint,
            "parser": parser_digest(),
            "shape": shape,
            "seasons": None if seasons is None else sorted(seasons),
        }
        try:
            self._store().write_bytes(index_key(f.name), json.dumps(doc).encode("utf-8"))
        except OSError:
            return False
        return True

    def record_pieces(self, f: LandedFile, rows: LandedRows) -> bool:
        """Write the season pieces of this file version (each an atomic write; a piece is only ever
        replaced by the same rows). A file of one season needs none: reading it is reading its
        season. False if the zone is not writable: runs then read the whole file, as before."""
        if len(rows.by_season) < 2:
            return False
        store = self._store()
        try:
            for season in rows.by_season:
                store.write_bytes(piece_key(f.name, season), piece_bytes(f, season, rows))
        except OSError:
            return False
        return True

    def read_pieces(self, f: LandedFile, seasons: Iterable[str]) -> LandedRows | None:
        """The rows of `seasons` of this file version from its pieces, or None when any is missing,
        stale or unreadable (the caller reads the whole file: a bad piece only costs that read)."""
        store = self._store()
        if store.is_local and not f.name.startswith(SAMPLE_PREFIX):
            self._refuse_link_out(store, f.name)  # as read_bytes: a link re-pointed out of the zone is refused
        by_season: dict[str, pd.DataFrame] = {}
        stamp: dict = {}
        for season in sorted(seasons):
            try:
                found = _parse_piece(store.read_bytes(piece_key(f.name, season)), f, season)
            except Exception:  # missing, truncated, not Parquet, S3 error: never fatal
                return None
            if found is None:
                return None
            stamp, by_season[season] = found
        if not stamp:
            return None
        return LandedRows(
            SHAPES_BY_NAME[stamp["shape"]], by_season, dict(stamp["encodings"]), list(stamp["columns_dropped"])
        )

    def read_bytes(self, name: str) -> bytes:
        if name.startswith(SAMPLE_PREFIX):
            return Store(sample_root()).read_bytes(name[len(SAMPLE_PREFIX) :])
        store = self._store()
        if store.is_local:
            self._refuse_link_out(store, name)
        return store.read_bytes(name)

    @staticmethod
    def _refuse_link_out(store: Store, name: str) -> None:
        """A symbolic link whose target lies outside the zone is never read (a link to /etc/passwd
        once put that file's first line into a run's event log)."""
        root = os.path.realpath(store.root)
        target = os.path.realpath(os.path.join(store.root, name))
        if os.path.commonpath([root, target]) != root:
            raise LandingError(
                f"{name}: a symbolic link that points outside the landing zone: refused, not followed "
                "(copy the file into the zone instead) (rule: inside_zone)"
            )

    def shape_of(self, name: str, data: bytes | None = None) -> SourceShape:
        data = self.read_bytes(name) if data is None else data
        return detect_shape(peek_columns(data, name), name)

    def read_rows(self, name: str, data: bytes | None = None) -> "tuple[SourceShape, dict[str, pd.DataFrame]]":
        """Every row of a landed file, grouped by season partition (raises LandingError)."""
        rows = self.read_file(name, data)
        return rows.shape, rows.by_season

    def read_file(self, name: str, data: bytes | None = None) -> LandedRows:
        """read_rows plus the file's encodings and the columns left out of raw (raises LandingError)."""
        data = self.read_bytes(name) if data is None else data
        frame = read_landed_bytes(data, name)
        encodings = dict(frame.attrs.get(ENCODING_ATTR, {}))
        shape = detect_shape(frame.columns, name)
        frame, dropped = restrict_columns(frame, shape, name)
        return LandedRows(shape, split_by_season(frame, shape), encodings, dropped)

    def accept(self, file_name: str, data: bytes, replace: bool = False) -> str:
        """Put a new file into the landing zone (atomic). Same name + same bytes is a no-op;
        same name + different bytes needs `replace=True`, so nothing is overwritten by accident."""
        name = file_name.rsplit("/", 1)[-1]
        if name.startswith("."):
            # Listing skips hidden files (temp files start with a dot): landed, nothing would ever read it.
            raise LandingError(
                f"{name}: a file name starting with a dot is hidden from the landing zone, so nothing would read it; "
                "rename it without the leading dot (rule: visible_name)"
            )
        if not name.lower().endswith(SUPPORTED_SUFFIXES):
            raise LandingError(f"{name}: unsupported file type (supported: {', '.join(SUPPORTED_SUFFIXES)})")
        store = self._store()
        if store.exists(name):
            if hashlib.sha256(store.read_bytes(name)).digest() == hashlib.sha256(data).digest():
                return name
            if not replace:
                raise LandingError(f"{name}: a different file with this name is already landed (use --replace)")
        store.write_bytes(name, data)
        return name
