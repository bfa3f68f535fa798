"""storage.Store on local disk (S3 is covered by the integration tests)."""

import os

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from nba_platform.lib.storage import COPY_CHUNK_BYTES, FileInfo, Store


def files_on_disk(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_write_and_read_bytes(tmp_path):
    store = Store(str(tmp_path))
    assert store.is_local
    store.write_bytes("landing/games.csv", b"GAME_ID\n0022101228\n")
    assert store.read_bytes("landing/games.csv") == b"GAME_ID\n0022101228\n"
    assert (tmp_path / "landing" / "games.csv").read_bytes() == b"GAME_ID\n0022101228\n"
    assert store.exists("landing/games.csv")
    assert not store.exists("landing")  # a directory is not a file
    assert not store.exists("landing/other.csv")
    store.write_bytes("landing/games.csv", b"replaced")  # overwrite in place
    assert store.read_bytes("landing/games.csv") == b"replaced"
    assert files_on_disk(tmp_path) == ["landing/games.csv"]


def test_gzip_bytes_are_stored_verbatim(tmp_path):
    import gzip

    data = gzip.compress(b"a,b\n1,2\n")
    store = Store(str(tmp_path))
    store.write_bytes("x.csv.gz", data)
    assert store.read_bytes("x.csv.gz") == data  # no transparent (de)compression by suffix


def test_parquet_tables_round_trip(tmp_path):
    store = Store(f"file://{tmp_path}/")
    assert store.root == str(tmp_path)
    table = pa.table(
        {
            "game_id": ["0022101228", "0022101229"],
            "team_id": pa.array([1610612755, 1610612738], pa.int64()),
            "pts": pa.array([118, None], pa.int64()),
            "fg_pct": [0.523, 0.463],
        }
    )
    store.write_table("tables/team_games/season=2021-22/part.parquet", table)
    back = store.read_table("tables/team_games/season=2021-22/part.parquet")
    assert back.equals(table)
    assert back.column("pts").to_pylist() == [118, None]
    assert store.read_bytes("tables/team_games/season=2021-22/part.parquet")[:4] == b"PAR1"


def test_listing_is_sorted_relative_and_skips_hidden_and_temp_files(tmp_path):
    store = Store(str(tmp_path))
    store.write_bytes("b/two.bin", b"22")
    store.write_bytes("a.bin", b"1")
    store.write_bytes("b/c/three.bin", b"333")
    (tmp_path / "b" / ".tmp-0123abcd-two.bin").write_bytes(b"partial")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.bin").write_bytes(b"x")
    (tmp_path / "b" / ".DS_Store").write_bytes(b"x")
    listing = store.list()
    assert [f.path for f in listing] == ["a.bin", "b/c/three.bin", "b/two.bin"]
    assert [f.size for f in listing] == [1, 3, 2]
    assert all(isinstance(f, FileInfo) and f.mtime_ns > 0 for f in listing)
    assert [f.path for f in store.list("b")] == ["b/c/three.bin", "b/two.bin"]
    assert store.list("missing") == []
    assert store.list("a.bin") == []  # a file is not a prefix directory
    assert Store(str(tmp_path / "nope")).list() == []


def test_delete(tmp_path):
    store = Store(str(tmp_path))
    store.write_bytes("x.bin", b"1")
    store.delete("x.bin")
    assert not store.exists("x.bin") and store.list() == []
    store.delete("x.bin")  # deleting what is not there is a no-op


class _FailingStream:
    """A real output stream that writes half the data, then fails like a full disk."""

    def __init__(self, stream, path, sizes):
        self._stream, self._path, self._sizes = stream, path, sizes

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stream.close()
        return False

    def write(self, data):
        self._stream.write(data[: len(data) // 2])
        self._stream.flush()
        self._sizes.append(os.path.getsize(self._path))  # the partial bytes really are on disk
        raise OSError(28, "No space left on device")


class _DiskFullFS:
    """Delegates to the real local filesystem; only the output stream breaks mid-write."""

    def __init__(self, fs):
        self._fs = fs
        self.partial_paths, self.partial_sizes = [], []

    def __getattr__(self, name):
        return getattr(self._fs, name)

    def open_output_stream(self, path, compression=None):
        self.partial_paths.append(path)
        return _FailingStream(self._fs.open_output_stream(path, compression=compression), path, self.partial_sizes)


def test_interrupted_write_leaves_no_partial_file_and_keeps_the_old_version(tmp_path, monkeypatch):
    store = Store(str(tmp_path))
    store.write_bytes("tables/t.parquet", b"version 1")
    failing = _DiskFullFS(store.fs)
    monkeypatch.setattr(store, "fs", failing)
    with pytest.raises(OSError, match="No space left"):
        store.write_bytes("tables/t.parquet", b"version 2 is longer")
    with pytest.raises(OSError):
        store.write_bytes("tables/new.parquet", b"never complete")
    # The half-written temp files did exist on disk (hidden, next to the target) ...
    partials = failing.partial_paths
    assert len(partials) == 2 and all(os.path.basename(p).startswith(".tmp-") for p in partials)
    assert all(os.path.dirname(p) == str(tmp_path / "tables") for p in partials)
    assert failing.partial_sizes == [len(b"version 2 is longer") // 2, len(b"never complete") // 2]
    monkeypatch.undo()
    # ... and were cleaned up: the old version is intact, the new file never appears.
    assert files_on_disk(tmp_path) == ["tables/t.parquet"]
    assert store.read_bytes("tables/t.parquet") == b"version 1"
    assert not store.exists("tables/new.parquet")
    assert [f.path for f in store.list()] == ["tables/t.parquet"]


def test_failed_table_conversion_writes_nothing(tmp_path):
    store = Store(str(tmp_path))
    store.write_table("t.parquet", pa.table({"a": [1]}))

    class NotATable:
        pass

    with pytest.raises(AttributeError):
        store.write_table("t.parquet", NotATable())
    with pytest.raises(AttributeError):
        store.write_table("u.parquet", NotATable())
    assert files_on_disk(tmp_path) == ["t.parquet"]
    assert store.read_table("t.parquet").column("a").to_pylist() == [1]


def test_unwritable_data_leaves_no_temp_file(tmp_path):
    store = Store(str(tmp_path))
    with pytest.raises(TypeError):
        store.write_bytes("d/x.bin", object())  # not bytes-like: fails inside the temp-file write
    assert files_on_disk(tmp_path) == []
    assert store.list() == [] and not store.exists("d/x.bin")


def test_local_filesystem_is_pyarrow_local(tmp_path):
    assert isinstance(Store(str(tmp_path)).fs, pafs.LocalFileSystem)


# ---------------------------------------------------------------- LocalTableCache


def test_table_cache_serves_the_written_table_until_the_file_changes(tmp_path):
    import pyarrow.parquet as pq

    from nba_platform.lib.storage import LocalTableCache

    cache = LocalTableCache(max_bytes=1 << 20)
    store = Store(str(tmp_path), table_cache=cache)
    table = pa.table({"GAME_ID": ["0022300001", "0022300002"], "PTS": [101, 99]})
    store.write_table("t/2023-24.parquet", table)
    assert store.read_table("t/2023-24.parquet") is table and cache.hits == 1  # no decode
    assert store.read_table("t/2023-24.parquet").equals(pq.read_table(tmp_path / "t" / "2023-24.parquet"))

    # Another writer replaces the file (atomic rename: new inode): the cached table is stale.
    pq.write_table(pa.table({"GAME_ID": ["X"], "PTS": [1]}), tmp_path / "t" / ".tmp")
    os.replace(tmp_path / "t" / ".tmp", tmp_path / "t" / "2023-24.parquet")
    replaced = store.read_table("t/2023-24.parquet")
    assert replaced.to_pydict() == {"GAME_ID": ["X"], "PTS": [1]} and cache.misses == 1
    # what was read from disk is kept too: the next read of the unchanged file is served from memory
    assert len(cache) == 1 and store.read_table("t/2023-24.parquet") is replaced and cache.hits == 3

    store.write_table("t/2023-24.parquet", table)
    store.delete("t/2023-24.parquet")
    with pytest.raises(FileNotFoundError):
        store.read_table("t/2023-24.parquet")  # a deleted file is not served from memory


def test_table_cache_keeps_a_read_only_if_the_file_did_not_change_during_it(tmp_path):
    from nba_platform.lib.storage import LocalTableCache

    cache = LocalTableCache(max_bytes=1 << 20)
    path = tmp_path / "t.parquet"
    pq_table = pa.table({"x": [1, 2]})
    Store(str(tmp_path)).write_table("t.parquet", pq_table)
    before = cache.fingerprint(str(path))
    Store(str(tmp_path)).write_table("t.parquet", pa.table({"x": [3]}))  # replaced while being read
    cache.put(str(path), pq_table, read_from=before)
    assert len(cache) == 0  # the table read is not the file now there
    cache.put(str(path), pq_table, read_from=cache.fingerprint(str(path)))
    assert len(cache) == 1


def test_table_cache_is_bounded_and_evicts_least_recently_used(tmp_path):
    from nba_platform.lib.storage import LocalTableCache

    tables = {name: pa.table({"x": list(range(1000))}) for name in "abc"}
    one = tables["a"].nbytes
    cache = LocalTableCache(max_bytes=2 * one)
    store = Store(str(tmp_path), table_cache=cache)
    store.write_table("a.parquet", tables["a"])
    store.write_table("b.parquet", tables["b"])
    store.read_table("a.parquet")  # a is now the most recently used
    store.write_table("c.parquet", tables["c"])  # evicts b
    assert len(cache) == 2 and cache._bytes == 2 * one
    assert store.read_table("a.parquet") is tables["a"] and store.read_table("c.parquet") is tables["c"]
    assert store.read_table("b.parquet").equals(tables["b"]) and cache.misses == 1  # read from disk

    small = LocalTableCache(max_bytes=one - 1)  # a table larger than the cache is never kept
    Store(str(tmp_path), table_cache=small).write_table("d.parquet", tables["a"])
    assert len(small) == 0


def test_s3_stores_take_no_table_cache():
    from nba_platform.lib.storage import LocalTableCache

    store = Store("s3://bucket/lake", endpoint_url="http://127.0.0.1:1", table_cache=LocalTableCache(1 << 20))
    assert store.table_cache is None  # object stores have no inode to tell a rewrite by


def test_files_are_streamed_in_and_out_atomically_and_deleted_with_their_empty_directories(tmp_path):
    store = Store(str(tmp_path / "backups"))
    source = tmp_path / "dump.bin"
    payload = os.urandom(3 * COPY_CHUNK_BYTES // 2)  # more than one streamed chunk
    source.write_bytes(payload)
    store.put_file("daily/2026-12-01/serving.dump", source)
    assert [f.path for f in store.list("daily/")] == ["daily/2026-12-01/serving.dump"]
    assert not list((tmp_path / "backups").rglob(".tmp-*"))  # no temp file left behind
    assert store.url("daily/2026-12-01/serving.dump") == f"{tmp_path}/backups/daily/2026-12-01/serving.dump"
    back = tmp_path / "back.bin"
    store.get_file("daily/2026-12-01/serving.dump", back)
    assert back.read_bytes() == payload
    with pytest.raises(FileNotFoundError):
        store.get_file("daily/2026-12-01/missing.dump", tmp_path / "x.bin")
    with pytest.raises(FileNotFoundError):  # a failed copy leaves nothing readable under the name
        store.put_file("daily/2026-12-02/serving.dump", tmp_path / "no-such-file")
    assert not store.exists("daily/2026-12-02/serving.dump")
    store.delete_files(["daily/2026-12-01/serving.dump", "daily/never-written"])
    assert store.list() == [] and not (tmp_path / "backups" / "daily" / "2026-12-01").exists()
    with pytest.raises(ValueError, match="S3 only"):
        store.list_with_etags()
