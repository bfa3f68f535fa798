"""The forecast API end to end: `nba-platform serve-api` (uvicorn) in a subprocess, called over
HTTP with httpx, on the serving database a real 3-season build produced (forecasts appended from
its real games, see api_support.py); then the same API on Postgres, answering the same."""

import secrets
import sqlite3
import subprocess
import sys
import time

import httpx
import pandas as pd
import pytest

from nba_platform.lib.api_tokens import issue_token
from nba_platform.lib.forecast_queries import skill
from nba_platform.resources.secrets import Secrets
from nba_platform.resources.serving_db import ServingDatabase
from nba_platform_tests.integration.api_support import UNPLAYED_GAME_ID, ServedProcess, append_forecasts, serving_copy
from nba_platform_tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

ISSUER, AUDIENCE = "nba-platform", "nba-forecast-api"
BOSTON = 1610612738
DAY = "2023-10-24"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("api_home")
    serving_copy(root)
    return root


@pytest.fixture(scope="module")
def signing_key():
    return secrets.token_urlsafe(48)


@pytest.fixture(scope="module")
def api(home, signing_key):
    server = ServedProcess(
        ["serve-api"],
        {
            "NBA_HOME": str(home),
            "NBA_INCLUDE_SAMPLE": "false",
            "NBA_API_JWT_SECRET": signing_key,
            "NBA_API_RATE_LIMIT_PER_MINUTE": "60",
            "NBA_API_RATE_LIMIT_BURST": "10",
        },
        home / "api.log",
        free_port(),
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def db(home):
    con = sqlite3.connect(home / "serving" / "serving.db")
    yield con
    con.close()


def token(key, client, scopes=("read:forecasts",), ttl=3600, now=None):
    return issue_token(key, client, list(scopes), ttl, ISSUER, AUDIENCE, now=now)


def get(api, path, tok=None, **kwargs):
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    headers.update(kwargs.pop("headers", {}))
    return httpx.get(api.url + path, headers=headers, timeout=30, **kwargs)


def test_api_token_command_issues_a_token_the_api_accepts(api, home, signing_key):
    env = {"NBA_HOME": str(home), "NBA_API_JWT_SECRET": signing_key, "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "nba_platform.cli.app", "api-token", "--client", "dash", "--scopes", "read:forecasts"]
        + ["--ttl", "30d"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    issued = proc.stdout.strip()
    assert issued.count(".") == 2 and "\n" not in issued  # the token alone on stdout
    assert "client 'dash', scopes read:forecasts" in proc.stderr and signing_key not in proc.stderr
    answer = get(api, "/v1/models/champion", issued)
    assert answer.status_code == 200, answer.text
    bad = subprocess.run(
        [sys.executable, "-m", "nba_platform.cli.app", "api-token", "--client", "x", "--scopes", "write:all"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "scopes must be among read:forecasts, read:metrics" in bad.stderr
    missing_key = subprocess.run(
        [sys.executable, "-m", "nba_platform.cli.app", "api-token", "--client", "x", "--scopes", "read:forecasts"],
        env={"NBA_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing_key.returncode == 2 and "NBA_API_JWT_SECRET" in missing_key.stderr


def test_missing_expired_tampered_and_foreign_tokens_get_401(api, signing_key):
    path = "/v1/models/champion"
    none = get(api, path)
    assert none.status_code == 401 and "missing bearer token" in none.json()["detail"]
    assert none.headers["www-authenticate"].startswith("Bearer")
    expired = get(api, path, token(signing_key, "old", ttl=60, now=time.time() - 3600))
    assert expired.status_code == 401 and expired.json()["detail"] == "token expired"
    good = token(signing_key, "tamper")
    header, payload, signature = good.split(".")
    import base64
    import json

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "read:forecasts read:metrics"  # a claim changed, the signature kept
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = get(api, path, f"{header}.{forged}.{signature}")
    assert tampered.status_code == 401 and "signature is invalid" in tampered.json()["detail"]
    foreign = get(api, path, token(secrets.token_urlsafe(48), "elsewhere"))
    assert foreign.status_code == 401 and "signature is invalid" in foreign.json()["detail"]
    garbage = get(api, path, "not-a-jwt")
    assert garbage.status_code == 401 and "malformed" in garbage.json()["detail"]
    other_audience = issue_token(signing_key, "aud", ["read:forecasts"], 600, ISSUER, "another-api")
    assert get(api, path, other_audience).json()["detail"] == f"token is not for this API (audience must be {AUDIENCE})"


def test_token_without_the_scope_gets_403(api, signing_key):
    answer = get(
        api, "/v1/forecasts", token(signing_key, "metrics-only", scopes=("read:metrics",)), params={"date": DAY}
    )
    assert answer.status_code == 403
    assert answer.json()["detail"] == (
        "token of client 'metrics-only' lacks scope 'read:forecasts' (it has: read:metrics)"
    )
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]


def test_upcoming_forecasts_by_date_serve_the_last_pregame_forecast(api, db, signing_key):
    tok = token(signing_key, "by-date")
    answer = get(api, "/v1/forecasts", tok, params={"date": DAY})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    games = pd.read_sql_query("SELECT * FROM games WHERE game_date = ?", db, params=(DAY,))
    preds = pd.read_sql_query("SELECT game_id, p_home_win FROM game_predictions WHERE game_date = ?", db, params=(DAY,))
    assert body["date"] == DAY and body["count"] == len(games) == 2
    by_game = {f["game_id"]: f for f in body["forecasts"]}
    assert set(by_game) == set(games["game_id"])
    for row in games.itertuples():
        served = by_game[row.game_id]
        # the day-before forecast (the prediction itself), not the one made two days before nor on game day
        assert served["p_home_win"] == pytest.approx(preds.set_index("game_id").loc[row.game_id, "p_home_win"])
        assert served["as_of"] == "2023-10-23T18:00:00"
        assert served["result"] == {
            "home_pts": row.home_pts,
            "away_pts": row.away_pts,
            "home_win": row.home_pts > row.away_pts,
        }
        assert served["top_factors"] and {"feature", "shap"} <= set(served["top_factors"][0])
    page = get(api, "/v1/forecasts", tok, params={"date": DAY, "limit": 1, "offset": 1}).json()
    assert [f["game_id"] for f in page["forecasts"]] == [sorted(by_game)[1]]
    assert get(api, "/v1/forecasts", tok, params={"date": "2023-07-04"}).json()["count"] == 0  # no games that day


def test_team_latest_forecasts_and_results(api, db, signing_key):
    answer = get(api, f"/v1/teams/{BOSTON}/forecasts", token(signing_key, "team"), params={"limit": 5, "last": 10})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    forecasts = body["forecasts"]
    assert len(forecasts) == 5 and all(BOSTON in (f["home_team_id"], f["away_team_id"]) for f in forecasts)
    dates = [f["game_date"] for f in forecasts]
    assert dates == sorted(dates, reverse=True)
    assert forecasts[0]["game_id"] == UNPLAYED_GAME_ID and forecasts[0]["result"] is None  # the unplayed game first
    assert all(f["result"] is not None for f in forecasts[1:])
    # results computed here straight from the games table
    games = pd.read_sql_query(
        "SELECT * FROM games WHERE (home_team_id = ? OR away_team_id = ?) AND home_pts IS NOT NULL "
        "ORDER BY game_date DESC, game_id LIMIT 10",
        db,
        params=(BOSTON, BOSTON),
    )
    won = [
        (r.home_pts > r.away_pts) if r.home_team_id == BOSTON else (r.away_pts > r.home_pts) for r in games.itertuples()
    ]
    results = body["recent_results"]
    assert [g["game_id"] for g in results["games"]] == games["game_id"].tolist()
    assert [g["won"] for g in results["games"]] == won
    assert (results["wins"], results["losses"]) == (sum(won), 10 - sum(won))


def test_one_game_forecast_history_and_result(api, db, signing_key):
    tok = token(signing_key, "game")
    game_id = pd.read_sql_query("SELECT game_id FROM games WHERE game_date = ? ORDER BY game_id", db, params=(DAY,))[
        "game_id"
    ][0]
    body = get(api, f"/v1/games/{game_id}", tok).json()
    assert body["game_id"] == game_id and body["season"] == "2023-24" and body["result"]["home_pts"] > 0
    assert [f["as_of"] for f in body["forecasts"]] == [
        "2023-10-22T12:00:00",
        "2023-10-23T18:00:00",
        "2023-10-24T19:00:00",
    ]
    # the season's prediction is the walk-forward refit's (the champion saw 2023-24)
    assert [(p["model_name"], p["model_version"]) for p in body["predictions"]] == [("nba_game_outcome_backfill", 1)]
    unplayed = get(api, f"/v1/games/{UNPLAYED_GAME_ID}", tok).json()
    assert unplayed["result"] is None and unplayed["forecasts"][0]["p_home_win"] == 0.64
    missing = get(api, "/v1/games/0029900001", tok)
    assert missing.status_code == 404 and missing.json()["detail"] == "game 0029900001 is not in the serving database"


def test_champion_model_version_seasons_and_live_skill(api, db, signing_key):
    body = get(api, "/v1/models/champion", token(signing_key, "champ")).json()
    row = pd.read_sql_query("SELECT * FROM model_champions", db).iloc[-1]
    assert body["model"] == f"{row.model_name}/v{row.model_version}" == "nba_game_outcome/v1"
    # the deployed champion is refit on every completed season of the build (lib/champion.py) ...
    assert body["trained_seasons"] == ["2021-22", "2023-24"]
    assert body["validation_brier"] == pytest.approx(row.validation_brier) and 0.15 < row.validation_brier < 0.3
    # ... so it has served no season yet: 2023-24 was predicted walk-forward (trained to 2022-23)
    assert body["live_skill"]["predictions"] == {"games": 0, "brier": None, "log_loss": None, "accuracy": None}
    played = pd.read_sql_query(
        "SELECT p.p_home_win, g.home_pts, g.away_pts FROM game_predictions p JOIN games g USING (game_id) "
        "WHERE p.season = '2023-24' AND p.model_name = 'nba_game_outcome_backfill' AND g.home_pts IS NOT NULL",
        db,
    )
    from sklearn.metrics import brier_score_loss, log_loss

    y = (played["home_pts"] > played["away_pts"]).astype(int)
    # its forecasts (api_support: the day-before forecast is that prediction) are judged on every played game
    live = body["live_skill"]["forecasts"]
    assert live["games"] == len(played) == 1230
    assert live["brier"] == pytest.approx(brier_score_loss(y, played["p_home_win"]))
    assert live["log_loss"] == pytest.approx(log_loss(y, played["p_home_win"]))
    assert skill([]) == {"games": 0, "brier": None, "log_loss": None, "accuracy": None}


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/v1/forecasts", {"date": "2023-13-45"}, "month value is outside expected range"),
        ("/v1/forecasts", {"date": "yesterday"}, "valid date"),
        ("/v1/forecasts", {"date": DAY, "limit": 0}, "greater than or equal to 1"),
        ("/v1/forecasts", {"date": DAY, "limit": 1000}, "less than or equal to 200"),
        ("/v1/forecasts", {"date": DAY, "offset": -1}, "greater than or equal to 0"),
        ("/v1/teams/123/forecasts", {}, "greater than or equal to 1610612737"),
        ("/v1/teams/boston/forecasts", {}, "valid integer"),
        ("/v1/games/42", {}, "String should match pattern"),
    ],
)
def test_bad_input_gets_422_with_the_reason(api, signing_key, path, params, reason):
    answer = get(api, path, token(signing_key, "validation"), params=params)
    assert answer.status_code == 422, answer.text
    assert reason in str(answer.json()["detail"])


def test_rate_limit_per_client_429_with_retry_after(api, signing_key):
    greedy, other = token(signing_key, "greedy"), token(signing_key, "patient")
    started = time.monotonic()
    with httpx.Client(headers={"Authorization": f"Bearer {greedy}"}, timeout=30) as client:
        answers = [client.get(api.url + f"/v1/games/{UNPLAYED_GAME_ID}") for _ in range(25)]
    elapsed = time.monotonic() - started
    codes = [r.status_code for r in answers]
    # a burst of 10, then 1 per second (60/minute): never more than that many answered
    assert codes[:10] == [200] * 10 and 429 in codes
    assert codes.count(200) <= 10 + int(elapsed) + 1
    limited = next(r for r in answers if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert "rate limit of 60 requests/minute for client 'greedy' exceeded" in limited.json()["detail"]
    assert get(api, "/v1/models/champion", other).status_code == 200  # another client is not limited


def test_health_readiness_docs_and_cors_off(api):
    assert get(api, "/healthz").json() == {"status": "ok"}
    ready = get(api, "/readyz").json()
    assert ready["status"] == "ready" and ready["database"].startswith("sqlite:///")
    docs = get(api, "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = get(api, "/openapi.json").json()
    assert {"/v1/forecasts", "/v1/teams/{team_id}/forecasts", "/v1/games/{game_id}", "/v1/models/champion"} <= set(
        spec["paths"]
    )
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    preflight = httpx.options(
        api.url + "/v1/forecasts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_metrics_count_requests_by_route_and_status(api, signing_key):
    tok = token(signing_key, "metrics")
    for _ in range(3):
        get(api, "/v1/games/0029900001", tok)  # 404s
    text = get(api, "/metrics").text
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("nba_api_")
    }
    assert samples['nba_api_requests_total{method="GET",route="/v1/games/{game_id}",status="404"}'] >= 3
    assert samples['nba_api_request_duration_seconds_count{method="GET",route="/v1/games/{game_id}"}'] >= 3
    assert 'nba_api_request_duration_seconds_bucket{le="0.05",method="GET",route="/v1/games/{game_id}"}' in samples
    assert not any("0029900001" in name for name in samples)  # route templates, not raw paths


def test_access_log_is_json_with_request_ids_and_holds_no_secret(api, signing_key):
    tok = token(signing_key, "logged")
    answer = get(
        api,
        f"/v1/teams/{BOSTON}/forecasts",
        tok,
        params={"access_token": tok, "limit": 2},  # a caller putting the token in the query string too
        headers={"X-Request-ID": "req-test-0001"},
    )
    assert answer.status_code == 200 and answer.headers["x-request-id"] == "req-test-0001"
    generated = get(api, "/healthz").headers["x-request-id"]
    assert len(generated) == 32
    time.sleep(0.5)
    log = api.log()
    import json

    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    mine = next(e for e in entries if e.get("request_id") == "req-test-0001")
    assert mine["route"] == "/v1/teams/{team_id}/forecasts" and mine["status"] == 200
    assert mine["client"] == "logged" and mine["method"] == "GET" and mine["duration_ms"] > 0
    assert any(e.get("request_id") == generated for e in entries)
    assert tok not in log and tok.split(".")[2] not in log and signing_key not in log


@pytest.fixture(scope="module")
def postgres_api(home, signing_key, make_postgres_db):
    pg = make_postgres_db()
    sqlite_db = ServingDatabase(url=f"sqlite:///{home / 'serving' / 'serving.db'}", secrets=Secrets(source="env"))
    pg_db = ServingDatabase(url=pg["url"], secrets=Secrets(source="env"))
    for table in ("games", "game_predictions"):
        frame = sqlite_db.query(f"SELECT * FROM {table}")
        for column in ("game_date", "published_at"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column])
        assert pg_db.publish(table, frame) == len(frame)
    champions = sqlite_db.query("SELECT * FROM model_champions")
    champions["promoted_at"] = pd.to_datetime(champions["promoted_at"])
    assert pg_db.append("model_champions", champions) == 1
    appended = append_forecasts(pg_db)
    assert pg_db.append("game_forecasts", appended) == 0  # append-only: a re-run adds nothing
    server = ServedProcess(
        ["serve-api"],
        {
            "NBA_HOME": str(home / "pg"),
            "NBA_SERVING_DB_URL": pg["url"],
            "NBA_API_JWT_SECRET": signing_key,
            "NBA_API_CORS_ORIGINS": "https://dash.example",
        },
        home / "api-pg.log",
        free_port(),
    )
    yield server
    server.stop()


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/forecasts?date={DAY}",
        f"/v1/teams/{BOSTON}/forecasts?limit=30&last=15",
        "/v1/games/0022300061",
        f"/v1/games/{UNPLAYED_GAME_ID}",
        "/v1/models/champion",
    ],
)
def test_postgres_serving_database_gives_the_same_answers(api, postgres_api, signing_key, path):
    tok = token(signing_key, "dialects")
    on_sqlite, on_postgres = get(api, path, tok), get(postgres_api, path, tok)
    assert on_postgres.status_code == on_sqlite.status_code == 200, on_postgres.text
    expected, got = on_sqlite.json(), on_postgres.json()
    if path == "/v1/models/champion":  # sums in another order: equal to the last bits
        for source in ("predictions", "forecasts"):
            for k, v in expected["live_skill"][source].items():
                assert got["live_skill"][source][k] == pytest.approx(v)
        expected.pop("live_skill"), got.pop("live_skill")
    assert got == expected


def test_postgres_readiness_cors_when_configured_and_unreachable_database(postgres_api, home, signing_key):
    ready = get(postgres_api, "/readyz").json()
    assert ready["status"] == "ready" and ready["database"].startswith("postgresql://127.0.0.1:5432/nba_test_")
    preflight = httpx.options(
        postgres_api.url + "/v1/forecasts",
        headers={"Origin": "https://dash.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.headers["access-control-allow-origin"] == "https://dash.example"
    down = ServedProcess(
        ["serve-api"],
        {
            "NBA_HOME": str(home / "down"),
            "NBA_SERVING_DB_URL": "postgresql://postgres@127.0.0.1:5432/nba_test_no_such_database",
            "NBA_API_JWT_SECRET": signing_key,
        },
        home / "api-down.log",
        free_port(),
    )
    try:
        answer = get(down, "/readyz")
        assert answer.status_code == 503 and answer.json()["status"] == "unavailable"
        failed = get(down, "/v1/models/champion", token(signing_key, "down"))
        assert failed.status_code == 503 and failed.json()["detail"].startswith("serving database unavailable")
    finally:
        down.stop()
