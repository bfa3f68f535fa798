"""One storage API over local disk and S3 (pyarrow.fs), so the lake and the landing zone run
the same code in both environments.

Atomicity: on local disk a write goes to a hidden temp file in the same directory and is
renamed into place (rename is atomic on POSIX); on S3 an object only becomes visible when its
upload completes, so a failed write never leaves a readable partial object either way. A file
streamed in (`put_file`, for backups too large to hold in memory) goes to a hidden temp file
locally, and through boto3's managed (multipart) upload on S3, which never completes a failed one.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from nba_platform.lib.tracing import span

COPY_CHUNK_BYTES = 8 << 20  # streamed copies (put_file / get_file) hold this much in memory


@dataclass(frozen=True)
class FileInfo:
    path: str  # relative to the store root, '/'-separated
    size: int
    mtime_ns: int


class LocalTableCache:
    """Arrow tables this process wrote to or read from local files, kept (least recently used first
    out, up to `max_bytes`) to serve the next read of the same file without decoding it again: with
    the in-process executor every step of a cold build reads back what earlier steps just wrote, and
    a replay reads the same history partitions every day.

    An entry is only served while the file is the one written or read: same inode, size and mtime
    (an atomic rewrite by anyone is a new inode). Tables are immutable, so sharing them is safe."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[tuple, pa.Table]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def fingerprint(path: str) -> tuple | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def put(self, path: str, table: pa.Table, read_from: tuple | None = None) -> None:
        """Keep `table` as the content of `path`. `read_from`: the file's fingerprint before it was
        read; the table is kept only if the file did not change while it was being read."""
        fingerprint = self.fingerprint(path)
        with self._lock:
            self._drop(path)
            if fingerprint is None or table.nbytes > self.max_bytes:
                return
            if read_from is not None and read_from != fingerprint:
                return
            self._entries[path] = (fingerprint, table)
            self._bytes += table.nbytes
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def get(self, path: str) -> pa.Table | None:
        fingerprint = self.fingerprint(path)
        with self._lock:
            entry = self._entries.get(path)
            if entry is None or entry[0] != fingerprint:
                self._drop(path)
                self.misses += 1
                return None
            self._entries.move_to_end(path)
            self.hits += 1
            return entry[1]

    def _drop(self, path: str) -> None:
        entry = self._entries.pop(path, None)
        if entry is not None:
            self._bytes -= entry[1].nbytes

    def __len__(self) -> int:
        return len(self._entries)


class Store:
    def __init__(
        self,
        uri: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        table_cache: LocalTableCache | None = None,
    ):
        self.uri = uri.rstrip("/")
        self.endpoint_url, self.region = endpoint_url, region or "us-east-1"
        self._boto3_client = None
        if self.uri.startswith("s3://"):
            bucket_prefix = self.uri[len("s3://") :]
            self.fs: pafs.FileSystem = pafs.S3FileSystem(
                endpoint_override=endpoint_url,
                region=region or "us-east-1",
                scheme="http" if endpoint_url and endpoint_url.startswith("http://") else "https",
                allow_bucket_creation=False,
            )
            self.root = bucket_prefix
            self.is_local = False
        else:
            self.fs = pafs.LocalFileSystem()
            self.root = self.uri[len("file://") :] if self.uri.startswith("file://") else self.uri
            self.is_local = True
        # Only local files: their inode identifies a rewrite; S3 objects are always read.
        self.table_cache = table_cache if self.is_local else None

    def _span(self, operation: str, rel: str):
        """A span per S3 call (the lake, landing zone and caches on S3); none for local files."""
        if self.is_local:
            return contextlib.nullcontext()
        return span(f"s3 {operation}", **{"rpc.system": "aws-api", "rpc.service": "s3", "s3.key": self._full(rel)})

    def _full(self, rel: str) -> str:
        return f"{self.root}/{rel.lstrip('/')}" if rel else self.root

    def _check_bucket(self) -> None:
        if not self.is_local:
            bucket = self.root.split("/", 1)[0]
            if self.fs.get_file_info(bucket).type == pafs.FileType.NotFound:
                raise FileNotFoundError(f"S3 bucket {bucket!r} does not exist (store {self.uri}); create it first")

    def info(self, rel: str) -> FileInfo | None:
        """Size and mtime of one file (None if it is not a file): one stat / HEAD, no listing."""

        info = self.fs.get_file_info(self._full(rel))
        if info.type != pafs.FileType.File:
            return None
        return FileInfo(rel, info.size or 0, info.mtime_ns or 0)

    def exists(self, rel: str) -> bool:
        return self.info(rel) is not None

    def list(self, prefix: str = "") -> list[FileInfo]:
        prefix = prefix.strip("/")
        base = self._full(prefix)
        if self.fs.get_file_info(base).type != pafs.FileType.Directory:
            self._check_bucket()  # a missing bucket is a configuration error, not an empty store
            return []
        out = []
        for info in self.fs.get_file_info(pafs.FileSelector(base, recursive=True)):
            if info.type != pafs.FileType.File:
                continue
            rel = info.path[len(self.root) + 1 :]
            if any(part.startswith(".") for part in rel.split("/")):  # temp and hidden files
                continue
            mtime = info.mtime_ns or 0
            out.append(FileInfo(rel, info.size or 0, mtime))
        return sorted(out, key=lambda f: f.path)

    def read_bytes(self, rel: str) -> bytes:
        with self._span("GetObject", rel), self.fs.open_input_stream(self._full(rel), compression=None) as f:
            return f.read()

    def write_bytes(self, rel: str, data: bytes) -> None:
        full = self._full(rel)
        parent = full.rsplit("/", 1)[0]
        if self.is_local:
            self.fs.create_dir(parent, recursive=True)
            # hidden, and not ending in .parquet: a reader globbing `**/*.parquet` never sees it
            tmp = f"{parent}/.tmp-{uuid.uuid4().hex}-{full.rsplit('/', 1)[1]}.partial"
            try:
                with self.fs.open_output_stream(tmp, compression=None) as f:
                    f.write(data)
                self.fs.move(tmp, full)
            finally:
                if self.fs.get_file_info(tmp).type == pafs.FileType.File:
                    self.fs.delete_file(tmp)
        else:
            # The whole payload is in memory and written in one call: S3 only shows the object
            # once the upload completes, and a failed upload is never completed.
            try:
                with self._span("PutObject", rel), self.fs.open_output_stream(full, compression=None) as f:
                    f.write(data)
            except OSError:
                self._check_bucket()
                raise

    def write_table(self, rel: str, table: pa.Table) -> None:
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        self.write_bytes(rel, buf.getvalue())
        if self.table_cache is not None:
            self.table_cache.put(self._full(rel), table)

    def read_table(self, rel: str) -> pa.Table:
        full, cache = self._full(rel), self.table_cache
        if cache is None:
            with self._span("GetObject", rel), self.fs.open_input_file(full) as f:
                return pq.read_table(f)
        if (cached := cache.get(full)) is not None:
            return cached
        # Kept once read too: a long-lived process (a replay, a daily cycle) reads the same
        # history partitions every day; the fingerprint check serves them only while unchanged.
        before = cache.fingerprint(full)
        with self._span("GetObject", rel), self.fs.open_input_file(full) as f:
            table = pq.read_table(f)
        if before is not None:
            cache.put(full, table, read_from=before)
        return table

    def delete(self, rel: str) -> None:
        if self.exists(rel):
            self.fs.delete_file(self._full(rel))

    def delete_files(self, rels: Iterable[str]) -> None:
        """Delete every file of `rels` (missing ones are skipped); locally, directories they leave
        empty are removed too. On S3 in batches of 1000 through boto3 (pyarrow.fs would leave a
        `dir/` marker object behind each emptied prefix)."""
        rels = list(rels)
        if not self.is_local:
            bucket, keys = self._bucket_keys(rels)
            for i in range(0, len(keys), 1000):
                batch = [{"Key": key} for key in keys[i : i + 1000]]
                response = self._s3_client().delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                if response.get("Errors"):
                    first = response["Errors"][0]
                    raise OSError(
                        f"deleting {len(response['Errors'])} object(s) failed, e.g. {first.get('Key')}: {first.get('Code')}"
                    )
            return
        for rel in rels:
            self.delete(rel)
            parent = Path(self._full(rel)).parent
            while parent != Path(self.root) and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent

    def url(self, rel: str) -> str:
        """Where `rel` is, as a person would name it: a local path or s3://bucket/key."""
        full = self._full(rel)
        return full if self.is_local else f"s3://{full}"

    def put_file(self, rel: str, path: str | os.PathLike) -> None:
        """Copy a local file in, streamed, atomically: locally to a hidden temp file renamed into
        place; on S3 through boto3's managed upload (multipart above 8 MB, aborted on failure, so
        the object only appears complete)."""
        full = self._full(rel)
        if not self.is_local:
            bucket, [key] = self._bucket_keys([rel])
            try:
                self._s3_client().upload_file(os.fspath(path), bucket, key)
            except FileNotFoundError:
                raise
            except Exception as exc:  # boto3's S3UploadFailedError / ClientError: one storage error type
                self._check_bucket()
                raise OSError(f"cannot write {self.url(rel)}: {exc}") from None
            return
        parent, name = full.rsplit("/", 1)
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}-{name}"
        self.fs.create_dir(parent, recursive=True)
        try:
            with open(path, "rb") as source, self.fs.open_output_stream(tmp, compression=None) as target:
                shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)
            self.fs.move(tmp, full)
        finally:
            if self.fs.get_file_info(tmp).type == pafs.FileType.File:
                self.fs.delete_file(tmp)

    def get_file(self, rel: str, path: str | os.PathLike) -> None:
        """Copy `rel` to the local file `path`, streamed (FileNotFoundError if it does not exist)."""
        with self.fs.open_input_stream(self._full(rel), compression=None) as source, open(path, "wb") as target:
            shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)

    def _s3_client(self):
        """boto3 for the few S3 calls pyarrow.fs lacks (ETags, managed uploads, batch deletes)."""
        if self._boto3_client is None:
            import boto3

            self._boto3_client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)
        return self._boto3_client

    def _bucket_keys(self, rels: list[str]) -> tuple[str, list[str]]:
        bucket = self.root.partition("/")[0]
        return bucket, [self._full(rel).partition("/")[2] for rel in rels]

    def list_with_etags(self, prefix: str = "") -> list[tuple[FileInfo, str]]:
        """S3 only: every object under `prefix` with its ETag, from the listing (nothing is read).
        pyarrow.fs does not return ETags, so this one call lists through boto3."""
        if self.is_local:
            raise ValueError(f"ETags exist on S3 only, not in the local store {self.uri}")
        bucket, _, key_prefix = self._full(prefix.strip("/")).partition("/")
        key_prefix = f"{key_prefix}/" if key_prefix else ""
        root_prefix = self.root.partition("/")[2]
        strip = len(root_prefix) + 1 if root_prefix else 0
        client = self._s3_client()
        out = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
            for obj in page.get("Contents", []):
                rel = obj["Key"][strip:]
                if rel and not any(part.startswith(".") for part in rel.split("/")):
                    mtime_ns = int(obj["LastModified"].timestamp() * 1e9)
                    out.append((FileInfo(rel, int(obj["Size"]), mtime_ns), obj["ETag"].strip('"')))
        return sorted(out, key=lambda item: item[0].path)
