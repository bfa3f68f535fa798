"""The MCP server with the official SDK's own client: `nba-platform serve-mcp` over stdio (a
subprocess the client starts) and over streamable HTTP (with the API's bearer tokens), on the
serving database a real 3-season build produced (forecasts appended, see api_support.py)."""

import asyncio
import secrets
import sqlite3
import sys

import httpx
import pytest

from nba_platform.lib import forecast_queries as queries
from nba_platform.lib.api_tokens import issue_token
from nba_platform_tests.integration.api_support import UNPLAYED_GAME_ID, ServedProcess, serving_copy
from nba_platform_tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

BOSTON = 1610612738
DAY = "2023-10-24"
TOOLS = {"upcoming_forecasts", "team_form", "game", "champion_model"}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("mcp_home")
    serving_copy(root)
    return root


@pytest.fixture(scope="module")
def db(home):
    con = sqlite3.connect(home / "serving" / "serving.db")
    yield con
    con.close()


@pytest.fixture(scope="module")
def signing_key():
    return secrets.token_urlsafe(48)


def base_env(home) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "MLFLOW_", "DAGSTER_"))}
    return {**env, "NBA_HOME": str(home), "NBA_INCLUDE_SAMPLE": "false"}


async def exercise(client) -> dict:
    """Every tool once, plus a bad argument, through an SDK client session."""
    listed = await client.list_tools()
    out = {"tools": {t.name: t for t in listed.tools}}
    out["day"] = await client.call_tool("upcoming_forecasts", {"date": DAY})
    out["team"] = await client.call_tool("team_form", {"team": BOSTON, "limit": 3})
    out["game"] = await client.call_tool("game", {"game_id": UNPLAYED_GAME_ID})
    out["champion"] = await client.call_tool("champion_model", {})
    out["bad_team"] = await client.call_tool("team_form", {"team": 42})
    out["bad_date"] = await client.call_tool("upcoming_forecasts", {"date": "2023-02-30"})
    out["missing_game"] = await client.call_tool("game", {"game_id": "0029900001"})
    return out


def check_answers(out: dict, db) -> None:
    tools = out["tools"]
    assert set(tools) == TOOLS
    assert tools["team_form"].input_schema["properties"]["team"]["type"] == "integer"
    assert tools["upcoming_forecasts"].input_schema["required"] == ["date"]
    assert "live_skill" in tools["champion_model"].output_schema["properties"]  # typed output schemas
    assert "forecasts" in tools["upcoming_forecasts"].output_schema["properties"]

    day = out["day"]
    assert not day.is_error
    expected = queries.upcoming_forecasts(db, DAY)  # the same lib query, straight on the database
    assert day.structured_content["count"] == len(expected) == 2
    assert [f["p_home_win"] for f in day.structured_content["forecasts"]] == [f["p_home_win"] for f in expected]

    team = out["team"].structured_content
    assert team["team_id"] == BOSTON and len(team["forecasts"]) == 3
    assert team["forecasts"][0]["game_id"] == UNPLAYED_GAME_ID
    assert team["recent_results"] == queries.team_results(db, BOSTON, 10)

    game = out["game"].structured_content
    assert game["game_id"] == UNPLAYED_GAME_ID and game["result"] is None and game["forecasts"][0]["p_home_win"] == 0.64

    champion = out["champion"].structured_content
    assert champion["model"] == "nba_game_outcome/v1" and champion["trained_seasons"] == ["2021-22", "2023-24"]
    # refit on every completed season of the build: no season served yet, its forecasts judged
    assert champion["live_skill"]["predictions"]["games"] == 0
    assert champion["live_skill"]["forecasts"]["games"] == 1230

    for name, reason in (
        ("bad_team", "team_id 42 is not an NBA team id (1610612737..1610612766)"),
        ("bad_date", "date must be YYYY-MM-DD, got '2023-02-30'"),
        ("missing_game", "game 0029900001 is not in the serving database"),
    ):
        assert out[name].is_error, name
        assert reason in out[name].content[0].text


def test_stdio_server_with_the_sdk_client(home, db):
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "nba_platform.cli.app", "serve-mcp"], env=base_env(home), cwd=str(home)
    )

    async def run():
        async with Client(params, read_timeout_seconds=120) as client:
            return await exercise(client)

    check_answers(asyncio.run(run()), db)


@pytest.fixture(scope="module")
def http_server(home, signing_key):
    server = ServedProcess(
        ["serve-mcp", "--transport", "http"],
        {**base_env(home), "NBA_API_JWT_SECRET": signing_key},
        home / "mcp-http.log",
        free_port(),
        ready_path="/mcp",
    )
    yield server
    server.stop()


def test_streamable_http_server_with_the_sdk_client_and_a_token(http_server, db, signing_key):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    token = issue_token(signing_key, "agent", ["read:forecasts"], 600, "nba-platform", "nba-forecast-api")

    async def run():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            transport = streamable_http_client(f"{http_server.url}/mcp", http_client=http)
            async with Client(transport, read_timeout_seconds=120) as client:
                return await exercise(client)

    check_answers(asyncio.run(run()), db)
    assert token not in http_server.log()


def test_streamable_http_refuses_missing_bad_and_unscoped_tokens(http_server, signing_key):
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    url = f"{http_server.url}/mcp"
    none = httpx.post(url, json=initialize, headers=headers, timeout=30)
    assert none.status_code == 401
    forged = issue_token(
        secrets.token_urlsafe(48), "agent", ["read:forecasts"], 600, "nba-platform", "nba-forecast-api"
    )
    bad = httpx.post(url, json=initialize, headers={**headers, "Authorization": f"Bearer {forged}"}, timeout=30)
    assert bad.status_code == 401 and "invalid_token" in bad.headers.get("www-authenticate", "")
    unscoped = issue_token(signing_key, "metrics", ["read:metrics"], 600, "nba-platform", "nba-forecast-api")
    refused = httpx.post(url, json=initialize, headers={**headers, "Authorization": f"Bearer {unscoped}"}, timeout=30)
    assert refused.status_code == 403 and "insufficient_scope" in refused.text + refused.headers.get(
        "www-authenticate", ""
    )
