"""The landing zone: where source files arrive (local dir or S3 prefix), plus the sample
files shipped inside the package, which are part of the zone unless disabled."""


import gzip
import hashlib
import io
import tarfile
import zlib
from dataclasses import dataclass
from importlib import resources
from typing import Optional

import dagster as dg
import pandas as pd

from nba_platform.lib.landing import (
    SUPPORTED_SUFFIXES,
    LandingError,
    SourceShape,
    detect_shape,
    read_landed_bytes,
    split_by_season,
)
from nba_platform.lib.storage import Store

SAMPLE_PREFIX = "sample/"


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
                    return tar.extractfile(m).readline().decode("utf-8-sig").strip().split(",")
        raise LandingError(f"{name}: archive holds no .csv members")
    if lower.endswith(".csv.gz") or lower.endswith(".csv"):
        raw = gzip.GzipFile(fileobj=io.BytesIO(data)).read(65536) if lower.endswith(".gz") else data[:65536]
        first = raw.split(b"\n", 1)[0]
        try:
            return pd.read_csv(io.BytesIO(first + b"\n"), dtype=str, nrows=0).columns.tolist()
        except Exception as exc:  # any parser failure means the header is unusable
            raise LandingError(f"{name}: unreadable header: {exc}") from None
    return list(read_landed_bytes(data, name).columns)


class LandingZone(dg.ConfigurableResource):
    """Lists, reads and accepts landed files. Shape detection lives in `lib.landing`."""

    uri: str
    include_sample: bool = True
    endpoint_url: Optional[str] = None
    region: Optional[str] = None

    def _store(self) -> Store:
        return Store(self.uri, self.endpoint_url, self.region)

    def list_files(self, include_sample: Optional[bool] = None) -> list[LandedFile]:
        files = []
        if self.include_sample if include_sample is None else include_sample:
            files += [LandedFile(SAMPLE_PREFIX + f.path, f.size, f.mtime_ns) for f in Store(sample_root()).list()]
        files += [
            LandedFile(f.path, f.size, f.mtime_ns)
            for f in self._store().list()
            if f.path.lower().endswith(SUPPORTED_SUFFIXES)
        ]
        return files

    def read_bytes(self, name: str) -> bytes:
        if name.startswith(SAMPLE_PREFIX):
            return Store(sample_root()).read_bytes(name[len(SAMPLE_PREFIX):])
        return self._store().read_bytes(name)

    def shape_of(self, name: str, data: Optional[bytes] = None) -> SourceShape:
        data = self.read_bytes(name) if data is None else data
        return detect_shape(peek_columns(data, name), name)

    def read_rows(self, name: str, data: Optional[bytes] = None) -> tuple[SourceShape, dict[str, pd.DataFrame]]:
        """Every row of a landed file, grouped by season partition (raises LandingError)."""
        data = self.read_bytes(name) if data is None else data
        frame = read_landed_bytes(data, name)
        shape = detect_shape(frame.columns, name)
        return shape, split_by_season(frame, shape)

    def accept(self, file_name: str, data: bytes, replace: bool = False) -> str:
        """Put a new file into the landing zone (atomic). Same name + same bytes is a no-op;
        same name + different bytes needs `replace=True`, so nothing is overwritten by accident."""
        name = file_name.rsplit("/", 1)[-1]
        store = self._store()
        if store.exists(name):
            if hashlib.sha256(store.read_bytes(name)).digest() == hashlib.sha256(data).digest():
                return name
            if not replace:
                raise LandingError(f"{name}: a different file with this name is already landed (use --replace)")
        store.write_bytes(name, data)
        return name
