"""CLI commands of the forecast API and MCP server (registered by cli/app.py through `add_parser`).

nba-platform serve-api [--host H] [--port P] [--workers N]
nba-platform serve-mcp [--transport stdio|http] [--host H] [--port P]
nba-platform api-token --client NAME --scopes read:forecasts --ttl 30d
"""

from __future__ import annotations

import sys


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _signing_key_or_exit(settings, secrets) -> str | None:
    from nba_platform.lib.api_tokens import check_key
    from nba_platform.resources.secrets import SecretNotFound

    try:
        key = secrets.get(settings.api_jwt_secret_key)
        check_key(key)
        return key
    except SecretNotFound as exc:
        _err(
            f"error: the API signing key is missing ({exc}). Locally put {settings.api_jwt_secret_key.upper()}=<random, "
            "32+ bytes> in .env (e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(48))'`); in prod it "
            "is a key of the NBA_SECRETS_ID secret."
        )
    except ValueError as exc:
        _err(f"error: {exc}")
    return None


def cmd_serve_api(args) -> int:
    import uvicorn

    from nba_platform.resources.environment import build_resources
    from nba_platform.settings import load_settings

    settings = load_settings()
    if _signing_key_or_exit(settings, build_resources(settings)["secrets"]) is None:
        return 2
    host, port = args.host or settings.api_host, args.port or settings.api_port
    _err(f"forecast API on http://{host}:{port} (docs: /docs)")
    uvicorn.run(
        "nba_platform.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        access_log=False,  # uvicorn's access line carries the query string; ours (JSON) does not
        log_level="warning",
        proxy_headers=True,
    )
    return 0


def cmd_serve_mcp(args) -> int:
    from nba_platform.api.mcp_server import mcp_from_environment

    if args.transport == "stdio":
        mcp_from_environment("stdio").run("stdio")  # stdout is the protocol: nothing else is printed there
        return 0
    import uvicorn

    from nba_platform.resources.environment import build_resources
    from nba_platform.settings import load_settings

    settings = load_settings()
    if _signing_key_or_exit(settings, build_resources(settings)["secrets"]) is None:
        return 2
    host, port = args.host or settings.api_host, args.port or settings.mcp_port
    server = mcp_from_environment("http", host, port)
    _err(f"MCP server (streamable HTTP) on http://{host}:{port}/mcp")
    uvicorn.run(server.streamable_http_app(host=host), host=host, port=port, access_log=False, log_level="warning")
    return 0


def cmd_api_token(args) -> int:
    from datetime import UTC, datetime

    from nba_platform.lib.api_tokens import issue_token, parse_ttl
    from nba_platform.resources.environment import build_resources
    from nba_platform.settings import load_settings

    settings = load_settings()
    key = _signing_key_or_exit(settings, build_resources(settings)["secrets"])
    if key is None:
        return 2
    scopes = [s for part in args.scopes for s in part.replace(",", " ").split()]
    try:
        ttl = parse_ttl(args.ttl)
        token = issue_token(key, args.client, scopes, ttl, settings.api_token_issuer, settings.api_token_audience)
    except ValueError as exc:
        _err(f"error: {exc}")
        return 2
    expires = datetime.fromtimestamp(datetime.now(UTC).timestamp() + ttl, UTC).replace(microsecond=0)
    _err(f"token for client {args.client!r}, scopes {' '.join(sorted(set(scopes)))}, expires {expires.isoformat()}")
    print(token, flush=True)  # stdout holds the token alone, for `TOKEN=$(nba-platform api-token ...)`
    return 0


def add_parser(subparsers) -> None:
    api = subparsers.add_parser(
        "serve-api",
        help="serve the forecast API (uvicorn)",
        description="Serve the forecast API over the serving database (docs at /docs, metrics at /metrics).",
    )
    api.add_argument("--host", help="bind address (default NBA_API_HOST, 127.0.0.1)")
    api.add_argument("--port", type=int, help="port (default NBA_API_PORT, 8080)")
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    api.set_defaults(fn=cmd_serve_api)
    mcp = subparsers.add_parser(
        "serve-mcp",
        help="serve forecasts as MCP tools (stdio or HTTP)",
        description="MCP server with tools upcoming_forecasts, team_form, game, champion_model. "
        "HTTP requires the API's bearer tokens (scope read:forecasts); stdio does not.",
    )
    mcp.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    mcp.add_argument("--host", help="bind address for http (default NBA_API_HOST)")
    mcp.add_argument("--port", type=int, help="port for http (default NBA_MCP_PORT, 8081)")
    mcp.set_defaults(fn=cmd_serve_mcp)
    tok = subparsers.add_parser(
        "api-token",
        help="issue a bearer token for the forecast API / MCP server",
        description="Print a signed JWT (HS256, key from the secrets resource) on stdout.",
    )
    tok.add_argument("--client", required=True, help="client name (the token's subject; rate limits are per client)")
    tok.add_argument(
        "--scopes", nargs="+", required=True, help="read:forecasts and/or read:metrics (space or comma separated)"
    )
    tok.add_argument("--ttl", default="30d", help="lifetime: 30d, 12h, 15m, 90s (default 30d)")
    tok.set_defaults(fn=cmd_api_token)
