"""The forecast API: FastAPI, read-only over the serving database (SQLite locally, Postgres in
prod, through the serving resource), JWT bearer auth with scopes, per-client rate limits.

    GET /v1/forecasts?date=YYYY-MM-DD      the day's games with their latest pre-game forecasts
    GET /v1/teams/{team_id}/forecasts      a team's latest forecasts and recent results
    GET /v1/games/{game_id}                one game: forecast history, predictions, result
    GET /v1/models/champion                the champion model: version, trained seasons, live skill
    GET /healthz  /readyz  /metrics  /docs
"""

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from nba_platform.api.answer_cache import CachedAnswers
from nba_platform.api.observability import AccessLog, ApiMetrics, ObservedRequests, configure_access_log
from nba_platform.api.pool import ConnectionPool
from nba_platform.api.schemas import ChampionModel, Forecasts, Game, TeamForm
from nba_platform.lib import forecast_queries as queries
from nba_platform.lib.api_tokens import ScopeError, TokenClaims, TokenError, VerifiedTokens, require_scope
from nba_platform.lib.rate_limit import RateLimiter
from nba_platform.lib.response_cache import ResponseCache
from nba_platform.lib.schema import TEAM_ID_MAX, TEAM_ID_MIN

READ_SCOPE = "read:forecasts"
METRICS_SCOPE = "read:metrics"
log = logging.getLogger("nba_platform.api")


@dataclass(frozen=True)
class ApiConfig:
    signing_key: str = ""
    issuer: str = "nba-platform"
    audience: str = "nba-forecast-api"
    rate_per_minute: float = 600.0
    burst: int = 60
    cors_origins: tuple[str, ...] = ()
    metrics_public: bool = True
    pool_size: int = 8
    cache_seconds: float = 5.0


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, detail=message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def create_app(serving_db, config: ApiConfig, access_log: AccessLog | None = None) -> FastAPI:
    pool = ConnectionPool(serving_db, size=config.pool_size)
    metrics = ApiMetrics()
    limiter = RateLimiter(config.rate_per_minute, config.burst)
    bearer = HTTPBearer(auto_error=False, description="JWT issued by `nba-platform api-token`")

    tokens = VerifiedTokens(config.signing_key, config.issuer, config.audience)

    def scoped(scope: str):
        async def check(
            request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
        ) -> TokenClaims:
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise _unauthorized("missing bearer token (Authorization: Bearer <token>)")
            try:
                claims = tokens.verify(credentials.credentials)
            except TokenError as exc:
                raise _unauthorized(str(exc)) from None
            request.scope.setdefault("state", {})["client"] = claims.client
            try:
                require_scope(claims, scope)
            except ScopeError as exc:
                raise HTTPException(
                    403,
                    detail=str(exc),
                    headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{scope}"'},
                ) from None
            wait = limiter.acquire(claims.client)
            if wait > 0:
                raise HTTPException(
                    429,
                    detail=f"rate limit of {config.rate_per_minute:g} requests/minute for client {claims.client!r} "
                    f"exceeded; retry in {wait:.1f}s",
                    headers={"Retry-After": limiter.retry_after_header(wait)},
                )
            return claims

        return check

    reader = Depends(scoped(READ_SCOPE))

    def read(fn, *args):
        try:
            with pool.connection() as con:
                return fn(con, *args)
        except queries.InvalidQuery as exc:
            raise HTTPException(422, detail=str(exc)) from None
        except Exception as exc:
            # Driver errors can name hosts and users: the answer and the log carry the class only.
            log.error("serving database query failed: %s", type(exc).__name__)
            raise HTTPException(503, detail=f"serving database unavailable ({type(exc).__name__})") from None

    app = FastAPI(
        title="NBA forecast API",
        version="1",
        description="Pre-game home-win forecasts, team form and the champion model, read from the serving "
        f"database. Bearer JWT with scope `{READ_SCOPE}` (issue one with `nba-platform api-token`).",
    )
    app.state.pool = pool
    app.state.metrics = metrics

    async def answer(key: tuple, model: type[BaseModel], produce) -> Response:
        """`produce()` (a database read) run in the thread pool, checked against the response model.
        Repeated requests are answered from kept answers (answer_cache.py) before they get here."""
        payload = await run_in_threadpool(produce)
        return Response(model.model_validate(payload).model_dump_json().encode(), media_type="application/json")

    @app.get("/v1/forecasts", response_model=Forecasts, tags=["forecasts"], dependencies=[reader])
    async def upcoming_forecasts(
        date: Annotated[dt.date | None, Query(description="game day, YYYY-MM-DD (default: today, UTC)")] = None,
        limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ):
        """The games of a day with each model's last forecast made before that day (and the result once played)."""
        day = date or dt.datetime.now(dt.UTC).date()

        def produce():
            rows = read(queries.upcoming_forecasts, day, limit, offset)
            return {"date": day.isoformat(), "count": len(rows), "limit": limit, "offset": offset, "forecasts": rows}

        return await answer(("day", day, limit, offset), Forecasts, produce)

    @app.get("/v1/teams/{team_id}/forecasts", response_model=TeamForm, tags=["teams"], dependencies=[reader])
    async def team_forecasts(
        team_id: Annotated[int, Path(ge=TEAM_ID_MIN, le=TEAM_ID_MAX, description="NBA team id, e.g. 1610612738")],
        limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE, description="games per page")] = 20,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        last: Annotated[int, Query(ge=1, le=82, description="recent results to include")] = 10,
    ):
        """A team's games with their latest pre-game forecasts (newest first) and its last played results."""

        def produce():
            return {**read(queries.team_form, team_id, limit, offset, last), "limit": limit, "offset": offset}

        return await answer(("team", team_id, limit, offset, last), TeamForm, produce)

    @app.get("/v1/games/{game_id}", response_model=Game, tags=["games"], dependencies=[reader])
    async def one_game(
        game_id: Annotated[str, Path(pattern=r"^\d{10}$", description="10-digit NBA game id")],
    ):
        """One game: its result, every forecast made of it and the predictions published for it."""

        def produce():
            found = read(queries.game, game_id)
            if found is None:
                raise HTTPException(404, detail=f"game {game_id} is not in the serving database")
            return found

        return await answer(("game", game_id), Game, produce)

    @app.get("/v1/models/champion", response_model=ChampionModel, tags=["models"], dependencies=[reader])
    async def champion_model():
        """The champion game model: version, trained seasons, validation Brier and live skill on played games."""

        def produce():
            found = read(queries.champion_model)
            if found is None:
                raise HTTPException(404, detail="no champion model has been published to the serving database yet")
            return found

        return await answer(("champion",), ChampionModel, produce)

    @app.get("/healthz", tags=["operations"])
    async def healthz():
        """The process is up (no database access)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz():
        """The serving database is reachable and holds the served tables."""
        try:
            await run_in_threadpool(read, queries.ping)
        except HTTPException as exc:
            return JSONResponse(
                {"status": "unavailable", "database": serving_db.describe(), "error": exc.detail}, status_code=503
            )
        return {"status": "ready", "database": serving_db.describe()}

    metrics_dependencies = [] if config.metrics_public else [Depends(scoped(METRICS_SCOPE))]

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse, dependencies=metrics_dependencies)
    def prometheus_metrics():
        """Prometheus text exposition of the API's request metrics."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def admit(token: str) -> str | None:
        """The endpoints' checks, for a kept answer: the client name if all pass, else None."""
        try:
            claims = tokens.verify(token)
            require_scope(claims, READ_SCOPE)
        except (TokenError, ScopeError):
            return None
        return claims.client if limiter.acquire(claims.client) == 0 else None

    app.add_middleware(CachedAnswers, cache=ResponseCache(config.cache_seconds), admit=admit)
    if config.cors_origins:  # off unless configured
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET"],
            allow_headers=["Authorization", "X-Request-ID"],
        )
    app.add_middleware(ObservedRequests, metrics=metrics, logger=access_log or configure_access_log())
    return app


def api_config(settings, secrets) -> ApiConfig:
    """The API's config from the settings; the signing key from the secrets resource."""
    return ApiConfig(
        signing_key=secrets.get(settings.api_jwt_secret_key),
        issuer=settings.api_token_issuer,
        audience=settings.api_token_audience,
        rate_per_minute=settings.api_rate_limit_per_minute,
        burst=settings.api_rate_limit_burst,
        cors_origins=settings.api_cors_origins,
        metrics_public=settings.api_metrics_public,
        pool_size=settings.api_db_pool_size,
        cache_seconds=settings.api_cache_seconds,
    )


def app_from_environment() -> FastAPI:
    """The app `serve-api` runs (uvicorn factory): settings, secrets and serving database of the environment."""
    from nba_platform.resources.environment import build_resources
    from nba_platform.settings import load_settings

    settings = load_settings()
    resources = build_resources(settings)
    return create_app(resources["serving_db"], api_config(settings, resources["secrets"]))
