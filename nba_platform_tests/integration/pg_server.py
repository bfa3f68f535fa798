"""A throwaway PostgreSQL server of a test's own (initdb + pg_ctl on a free port), for tests that
stop or restart the server: the machine's shared cluster on 5432 is never touched.

Password auth (scram-sha-256) over TCP, so a wrong password is a real authentication failure.
initdb refuses to run as root: as root the server runs as the `postgres` user via runuser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from nba_platform_tests.integration.conftest import free_port


def pg_bindir() -> Path:
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True):
        if all((bindir / tool).exists() for tool in ("initdb", "pg_ctl")):
            return bindir
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed: these tests start their own server")


class ThrowawayPostgres:
    """One server: `start()`, `stop()`, `restart()` keep the same data directory and port."""

    def __init__(self, password: str, port: int | None = None):
        self.bindir = pg_bindir()
        self.password = password
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="nba-throwaway-pg-"))
        self.data = self.root / "data"
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                pytest.fail("running as root without runuser: cannot start a throwaway PostgreSQL server")
            shutil.chown(self.root, user="postgres", group="postgres")
            self.as_postgres = [runuser, "-u", "postgres", "--"]
        pwfile = self.root / "pw"
        pwfile.write_text(password + "\n")
        if self.as_postgres:
            shutil.chown(pwfile, user="postgres", group="postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            timeout=120,
        )
        pwfile.unlink()

    def _run(self, tool: str, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [*self.as_postgres, str(self.bindir / tool), *args], capture_output=True, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            log = self.root / "server.log"
            pytest.fail(
                f"{tool} {' '.join(args)} failed: {proc.stdout}{proc.stderr}\n{log.read_text() if log.exists() else ''}"
            )
        return proc

    @property
    def url(self) -> str:
        """Without the password, as the platform's settings hold database URLs."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn(self, dbname: str = "postgres") -> str:
        return (
            f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} password={self.password} connect_timeout=5"
        )

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        with psycopg.connect(self.dsn()) as con:
            con.execute("SELECT 1")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def crash_and_restart(self) -> None:
        """SIGQUIT to the postmaster (what `pg_ctl stop -m immediate` sends, without the seconds
        of starting pg_ctl): every backend dies at once, no checkpoint; then start (recovery)."""
        import signal
        import time

        pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGQUIT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"postmaster {pid} still running 30 s after SIGQUIT")
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
