"""Issue 16: clear errors instead of tracebacks (corrupt backup manifest, MLflow down for
rollback-champion, the unknown-shape error of a wide file)."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from nba_platform.cli import main
from nba_platform.lib import backup
from nba_platform.lib.landing import COLUMNS_SHOWN, LandingError, detect_shape, read_landed_bytes
from nba_platform.operations import backups

DAY = dt.date(2026, 11, 25)


@pytest.mark.parametrize(
    "manifest, detail",
    [
        (b"\x80\x81 garbage", "UnicodeDecodeError"),
        (b'{"format": ', "JSONDecodeError"),
        (b"[1, 2]", "AttributeError"),
        (b"{}", "unknown backup manifest format"),
    ],
    ids=["not_utf8", "truncated_json", "not_an_object", "no_format"],
)
def test_a_corrupt_backup_manifest_is_a_clear_error(tmp_path, capsys, monkeypatch, manifest, detail):
    key = backup.backup_key(DAY, backup.MANIFEST_NAME)
    (tmp_path / key).parent.mkdir(parents=True)
    (tmp_path / key).write_bytes(manifest)
    with pytest.raises(backups.BackupError, match="is corrupt") as info:
        backups.read_manifest(backups.open_backup_store(str(tmp_path)), DAY)
    assert detail in str(info.value) and str(tmp_path / key) in str(info.value)
    # The same through `nba-platform restore`: an error line, exit 1, no traceback.
    monkeypatch.setenv("NBA_PLATFORM_ENV", "local")
    monkeypatch.setenv("NBA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NBA_BACKUP_URI", str(tmp_path))
    rc = main(["restore", "--date", DAY.isoformat(), "--target-db", f"sqlite:///{tmp_path / 'r.db'}"])
    out = capsys.readouterr().out
    assert rc == 1 and "error: the backup manifest" in out and "is corrupt" in out and "Traceback" not in out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: nothing listens there


def test_rollback_champion_with_mlflow_down_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NBA_PLATFORM_ENV", "local")
    monkeypatch.setenv("NBA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    rc = main(["rollback-champion"])
    out = capsys.readouterr().out
    assert rc == 1 and "error: the model registry (MLflow) is unavailable" in out


def test_the_unknown_shape_error_names_only_the_files_columns_and_stays_short():
    header = ",".join(f"COLUMN_{i}" for i in range(10_000))
    data = (header + "\n" + ",".join("1" for _ in range(10_000)) + "\n").encode()
    frame = read_landed_bytes(data, "wide.csv")
    with pytest.raises(LandingError) as info:
        detect_shape(frame.columns, "wide.csv")
    message = str(info.value)
    assert "_SOURCE_FILE" not in message and "_SOURCE_ROW" not in message
    assert "10000 columns" in message and f"and {10_000 - COLUMNS_SHOWN} more" in message
    assert len(message) < 2_000  # was ~90,000 characters
