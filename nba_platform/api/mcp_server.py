"""The MCP server (official `mcp` SDK, MCPServer): the forecast API's read queries as tools for
LLM agents, over stdio or streamable HTTP.

Tools: upcoming_forecasts(date), team_form(team), game(game_id), champion_model(); typed input
and output schemas (the API's pydantic models). On HTTP the same bearer JWTs as the API are
required (scope read:forecasts), checked by the SDK's bearer middleware with our verifier;
stdio is a local process of the user who started it and takes no token.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from nba_platform.api.pool import ConnectionPool
from nba_platform.api.schemas import ChampionModel, Forecasts, Game, TeamForm
from nba_platform.lib import forecast_queries as queries
from nba_platform.lib.api_tokens import TokenError, verify_token

READ_SCOPE = "read:forecasts"


class JwtVerifier:
    """mcp TokenVerifier over the API's token checks (same key, issuer, audience)."""

    def __init__(self, signing_key: str, issuer: str, audience: str):
        self.signing_key, self.issuer, self.audience = signing_key, issuer, audience

    async def verify_token(self, token: str):
        from mcp.server.auth.provider import AccessToken

        try:
            claims = verify_token(self.signing_key, token, self.issuer, self.audience)
        except TokenError:
            return None  # the SDK answers 401 invalid_token
        return AccessToken(
            token=token, client_id=claims.client, scopes=sorted(claims.scopes), expires_at=claims.expires_at
        )


def build_mcp_server(
    serving_db,
    *,
    signing_key: str | None = None,
    issuer: str = "nba-platform",
    audience: str = "nba-forecast-api",
    public_url: str | None = None,
    pool_size: int = 4,
):
    """The server; with `signing_key` (HTTP) every request needs a bearer token with read:forecasts."""
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    auth, verifier = None, None
    if signing_key is not None:
        base = (public_url or "http://127.0.0.1").rstrip("/")
        auth = AuthSettings(issuer_url=base, resource_server_url=f"{base}/mcp", required_scopes=[READ_SCOPE])
        verifier = JwtVerifier(signing_key, issuer, audience)
    server = MCPServer(
        "nba-forecasts",
        instructions="NBA pre-game home-win forecasts, team form and the champion model, from the serving database. "
        "Team ids are NBA franchise ids (1610612737..1610612766), game ids 10 digits, dates YYYY-MM-DD.",
        token_verifier=verifier,
        auth=auth,
    )
    pool = ConnectionPool(serving_db, size=pool_size)
    server.pool = pool  # closed by the caller

    def read(fn, *args):
        try:
            with pool.connection() as con:
                return fn(con, *args)
        except queries.InvalidQuery as exc:
            raise ToolError(str(exc)) from None

    @server.tool()
    def upcoming_forecasts(
        date: Annotated[str, Field(description="game day, YYYY-MM-DD")],
        limit: Annotated[int, Field(ge=1, le=queries.MAX_PAGE)] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> Forecasts:
        """The games of a day with each model's last forecast made before that day (and the result once played)."""
        try:
            day = queries.check_date(date)
        except queries.InvalidQuery as exc:
            raise ToolError(str(exc)) from None
        rows = read(queries.upcoming_forecasts, day, limit, offset)
        return Forecasts(date=day.isoformat(), count=len(rows), limit=limit, offset=offset, forecasts=rows)

    @server.tool()
    def team_form(
        team: Annotated[int, Field(description="NBA team id, e.g. 1610612738 (Boston)")],
        limit: Annotated[int, Field(ge=1, le=queries.MAX_PAGE)] = 20,
        last: Annotated[int, Field(ge=1, le=82, description="recent results to include")] = 10,
    ) -> TeamForm:
        """A team's latest pre-game forecasts (newest first) and its last played results (won, points)."""
        form = read(queries.team_form, team, limit, 0, last)
        return TeamForm(**form, limit=limit, offset=0)

    @server.tool()
    def game(game_id: Annotated[str, Field(description="10-digit NBA game id, e.g. 0022300001")]) -> Game:
        """One game: its result, every forecast made of it (oldest first) and the predictions published for it."""
        found = read(queries.game, game_id)
        if found is None:
            raise ToolError(f"game {game_id} is not in the serving database")
        return Game(**found)

    @server.tool()
    def champion_model() -> ChampionModel:
        """The champion game model: version, trained seasons, validation Brier and live skill on played games."""
        found = read(queries.champion_model)
        if found is None:
            raise ToolError("no champion model has been published to the serving database yet")
        return ChampionModel(**found)

    return server


def mcp_from_environment(transport: str, host: str | None = None, port: int | None = None):
    """`serve-mcp`: the environment's serving database; on HTTP the API's signing key from the secrets resource."""
    from nba_platform.resources.environment import build_resources
    from nba_platform.settings import load_settings

    settings = load_settings()
    resources = build_resources(settings)
    if transport == "stdio":
        return build_mcp_server(resources["serving_db"])
    host = host or settings.api_host
    port = port or settings.mcp_port
    return build_mcp_server(
        resources["serving_db"],
        signing_key=resources["secrets"].get(settings.api_jwt_secret_key),
        issuer=settings.api_token_issuer,
        audience=settings.api_token_audience,
        public_url=settings.mcp_public_url or f"http://{host}:{port}",
        pool_size=settings.api_db_pool_size,
    )
