"""A small time-bounded LRU cache of serialized answers.

The serving database is written a few times a day (a build's publish, a forecast append) and read
far more often, so the API keeps each answer for `ttl_seconds`, and serves it for up to another
`ttl_seconds` while it is recomputed (`lookup`): a reader sees a write at most 2 x ttl_seconds
late. ttl_seconds = 0 turns it off.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class ResponseCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic):
        self.ttl = float(ttl_seconds)
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, key: Hashable) -> Any | None:
        if not self.enabled:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] <= self.clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found[1]

    def lookup(self, key: Hashable) -> tuple[Any | None, bool]:
        """(value, fresh): a value past its ttl but not past twice the ttl comes back with fresh=False
        (the caller may serve it while it recomputes it); older values are dropped."""
        if not self.enabled:
            return None, False
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None, False
            now = self.clock()
            if found[0] + self.ttl <= now:
                del self._entries[key]
                return None, False
            self._entries.move_to_end(key)
            return found[1], found[0] > now

    def put(self, key: Hashable, body: Any) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._entries[key] = (self.clock() + self.ttl, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
