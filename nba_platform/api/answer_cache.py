"""Kept answers of the /v1 endpoints, served before the app is entered.

A GET /v1 answer (status 200) is kept for NBA_API_CACHE_SECONDS under its path and query string.
A request for the same path and query within that time, whose bearer token the API accepts (valid,
with the scope, within the client's rate limit: the same checks as the endpoints), gets the kept
answer without FastAPI's routing and dependency solving. For one more NBA_API_CACHE_SECONDS the
old answer is still served while one background request recomputes it, so the answers of many
keys expiring together do not make their callers wait (a write shows at most twice that late). Any other request (no or refused token,
nothing kept, not a GET /v1) goes through the app, which answers and refuses as usual. The JSON
access log and the metrics (outside this middleware) see every request alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from nba_platform.lib.response_cache import ResponseCache


@dataclass(frozen=True)
class KeptAnswer:
    headers: list
    body: bytes
    route: object  # the matched route, so metrics and logs label a kept answer like a fresh one


def bearer_token(scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class CachedAnswers:
    def __init__(self, app, cache: ResponseCache, admit: Callable[[str], str | None]):
        self.app = app
        self.cache = cache
        self.admit = admit  # token -> client name if the request may be answered, else None
        self._refreshing: set = set()
        self._tasks: set = set()  # references to running refreshes (asyncio keeps weak ones only)

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith("/v1/")
            or not self.cache.enabled
        ):
            return await self.app(scope, receive, send)
        key = (scope["path"], scope.get("query_string", b""))
        kept, fresh = self.cache.lookup(key)
        if kept is not None:
            token = bearer_token(scope)
            client = self.admit(token) if token else None
            if client is not None:
                if not fresh and key not in self._refreshing:  # recompute once, in the background
                    self._refreshing.add(key)
                    task = asyncio.create_task(self._refresh(key, scope))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                scope.setdefault("state", {})["client"] = client
                scope["route"] = kept.route
                await send({"type": "http.response.start", "status": 200, "headers": kept.headers})
                await send({"type": "http.response.body", "body": kept.body})
                return
        await self.app(scope, receive, self._keeping(key, scope, send))

    def _keeping(self, key, scope, send):
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body" and start.get("status") == 200:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and scope.get("route") is not None:
                    self.cache.put(key, KeptAnswer(list(start.get("headers", [])), b"".join(chunks), scope["route"]))
            await send(message)

        return capture

    async def _refresh(self, key, scope) -> None:
        """The request again through the app (same path, query and token: its checks apply), its
        answer kept; nothing is sent anywhere."""
        fresh_scope = {k: v for k, v in scope.items() if k not in ("route", "endpoint", "path_params")}
        fresh_scope["state"] = {}

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message):
            return None

        try:
            await self.app(fresh_scope, receive, self._keeping(key, fresh_scope, discard))
        except Exception:
            pass
        finally:
            self._refreshing.discard(key)
