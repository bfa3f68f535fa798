"""A small pool of serving-database connections opened by the serving resource
(ServingDatabase.connect), so a request does not pay a connect (and, in prod, a Secrets Manager
read and a TLS handshake) each time."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from nba_platform.resources.serving_db import ServingDatabase


class ConnectionPool:
    def __init__(self, serving_db: ServingDatabase, size: int = 8, timeout_seconds: float = 10.0):
        self.serving_db = serving_db
        self.size = max(1, size)
        self.timeout = timeout_seconds
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._opened = 0
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator:
        con = self._take()
        try:
            yield con
        except ValueError:  # bad arguments (forecast_queries.InvalidQuery): the connection is fine
            self._idle.put(con)
            raise
        except BaseException:
            self._discard(con)  # a failed connection may be broken: open a new one next time
            raise
        else:
            self._idle.put(con)

    def _take(self):
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            may_open = self._opened < self.size
            if may_open:
                self._opened += 1
        if may_open:
            try:
                return self.serving_db.connect()
            except BaseException:
                with self._lock:
                    self._opened -= 1
                raise
        try:
            return self._idle.get(timeout=self.timeout)
        except queue.Empty:
            raise TimeoutError(f"no serving-database connection free within {self.timeout:.0f}s") from None

    def _discard(self, con) -> None:
        with self._lock:
            self._opened -= 1
        try:
            con.close()
        except Exception:
            pass

    def close(self) -> None:
        while True:
            try:
                self._discard(self._idle.get_nowait())
            except queue.Empty:
                return
