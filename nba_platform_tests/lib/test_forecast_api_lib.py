"""Pure pieces of the forecast API: tokens, rate limit, answer cache, query arguments, and the
append-only forecast table with its latest-pre-game view on a real SQLite file."""

import sqlite3
import time

import pandas as pd
import pytest

from nba_platform.lib import forecast_queries as queries
from nba_platform.lib.api_tokens import (
    ScopeError,
    TokenError,
    VerifiedTokens,
    issue_token,
    parse_ttl,
    require_scope,
    verify_token,
)
from nba_platform.lib.rate_limit import RateLimiter
from nba_platform.lib.response_cache import ResponseCache
from nba_platform.lib.serving_db import FORECAST_RETIREMENTS, GAME_FORECASTS, append_sqlite

KEY = "k" * 40
ISS, AUD = "nba-platform", "nba-forecast-api"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_tokens_round_trip_and_every_refusal_says_why():
    token = issue_token(KEY, "dash", ["read:forecasts"], 60, ISS, AUD)
    claims = verify_token(KEY, token, ISS, AUD)
    assert claims.client == "dash" and claims.scopes == {"read:forecasts"}
    require_scope(claims, "read:forecasts")
    with pytest.raises(ScopeError, match="lacks scope 'read:metrics'"):
        require_scope(claims, "read:metrics")
    old = issue_token(KEY, "dash", ["read:forecasts"], 60, ISS, AUD, now=time.time() - 120)
    with pytest.raises(TokenError, match="^token expired$"):
        verify_token(KEY, old, ISS, AUD)
    with pytest.raises(TokenError, match="signature is invalid"):
        verify_token("x" * 40, token, ISS, AUD)
    with pytest.raises(TokenError, match="audience"):
        verify_token(KEY, issue_token(KEY, "dash", ["read:forecasts"], 60, ISS, "other"), ISS, AUD)
    with pytest.raises(TokenError, match="malformed"):
        verify_token(KEY, "abc", ISS, AUD)
    import jwt

    unsigned = jwt.encode({"sub": "x", "scope": "read:forecasts"}, key=None, algorithm="none")
    with pytest.raises(TokenError):
        verify_token(KEY, unsigned, ISS, AUD)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        issue_token("short", "dash", ["read:forecasts"], 60, ISS, AUD)
    with pytest.raises(ValueError, match="scopes must be among"):
        issue_token(KEY, "dash", ["admin"], 60, ISS, AUD)
    with pytest.raises(ValueError, match="client must be"):
        issue_token(KEY, "bad client!", ["read:forecasts"], 60, ISS, AUD)


def test_ttl_parsing():
    assert parse_ttl("30d") == 30 * 86400 and parse_ttl("12h") == 43200 and parse_ttl("90s") == 90
    for bad in ("", "0d", "3w", "-1d", "d"):
        with pytest.raises(ValueError, match="ttl must be"):
            parse_ttl(bad)


def test_verified_tokens_remember_accepted_tokens_until_they_expire():
    tokens = VerifiedTokens(KEY, ISS, AUD)
    token = issue_token(KEY, "dash", ["read:forecasts"], 2, ISS, AUD)
    assert tokens.verify(token).client == "dash" and token in tokens._accepted
    with pytest.raises(TokenError):
        tokens.verify(token + "x")
    assert len(tokens._accepted) == 1  # refused tokens are not remembered
    time.sleep(2.1)
    with pytest.raises(TokenError, match="expired"):
        tokens.verify(token)


def test_rate_limiter_burst_then_rate_per_client():
    clock = Clock()
    limiter = RateLimiter(rate_per_minute=60, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert wait == pytest.approx(1.0) and limiter.retry_after_header(wait) == "1"
    assert limiter.acquire("b") == 0.0  # its own bucket
    clock.now += 1.0
    assert limiter.acquire("a") == 0.0
    assert limiter.retry_after_header(0.2) == "1"


def test_response_cache_expires_and_evicts_oldest():
    clock = Clock()
    cache = ResponseCache(5, max_entries=2, clock=clock)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"
    cache.put("c", b"3")  # evicts b, the least recently used
    assert cache.get("b") is None and cache.get("c") == b"3"
    clock.now += 5
    assert cache.get("a") is None
    off = ResponseCache(0)
    assert off.lookup("a") == (None, False)
    off.put("a", b"1")
    assert off.get("a") is None


def test_query_argument_checks_and_placeholders():
    assert queries.check_team_id("1610612738") == 1610612738
    for bad, reason in ((42, "is not an NBA team id"), ("bos", "must be an NBA team id")):
        with pytest.raises(queries.InvalidQuery, match=reason):
            queries.check_team_id(bad)
    with pytest.raises(queries.InvalidQuery, match="10 digits"):
        queries.check_game_id("0022")
    with pytest.raises(queries.InvalidQuery, match="YYYY-MM-DD"):
        queries.check_date("2024-02-30")
    with pytest.raises(queries.InvalidQuery, match="limit must be between 1 and 200"):
        queries.check_page(0, 0)
    sql, params = queries.bind(
        "SELECT 1 WHERE a = :team AND b = :day", {"team": 1, "day": pd.Timestamp("2024-01-02").date()}, "postgres"
    )
    assert sql == "SELECT 1 WHERE a = %(team)s AND b = %(day)s"
    assert queries.bind("x = :day", {"day": pd.Timestamp("2024-01-02").date()}, "sqlite")[1] == {"day": "2024-01-02"}


def forecast(game_id, as_of, p, date="2024-01-10", version=1):
    return {
        "game_id": game_id,
        "game_date": pd.Timestamp(date),
        "as_of": pd.Timestamp(as_of),
        "home_team_id": 1610612738,
        "away_team_id": 1610612752,
        "neutral": False,
        "p_home_win": p,
        "model_name": "nba_game_outcome",
        "model_version": version,
        "top_factors": None,
    }


def test_forecasts_are_append_only_and_the_view_serves_the_last_pregame_one(tmp_path):
    db = str(tmp_path / "serving.db")
    rows = pd.DataFrame(
        [
            forecast("0022300001", "2024-01-08T10:00:00", 0.55),
            forecast("0022300001", "2024-01-09T18:00:00", 0.60),  # the last before game day
            forecast("0022300001", "2024-01-10T19:00:00", 0.90),  # game day: not pre-game
            forecast("0022300001", "2024-01-09T12:00:00", 0.40, version=2),
        ]
    )
    assert append_sqlite(db, GAME_FORECASTS, rows) == 4
    assert append_sqlite(db, GAME_FORECASTS, rows) == 0  # idempotent
    changed = rows.copy()
    changed["p_home_win"] = 0.01
    assert append_sqlite(db, GAME_FORECASTS, changed) == 0  # never overwritten
    con = sqlite3.connect(db)
    served = con.execute(
        "SELECT model_version, as_of, p_home_win FROM latest_pregame_forecast ORDER BY model_version"
    ).fetchall()
    assert served == [(1, "2024-01-09T18:00:00", 0.60), (2, "2024-01-09T12:00:00", 0.40)]
    with pytest.raises(ValueError, match="lacks its key"):
        append_sqlite(db, GAME_FORECASTS, pd.DataFrame([forecast(None, "2024-01-09", 0.5)]))


def test_a_postponed_game_retires_its_forecasts_and_its_rescheduled_forecasts_count(tmp_path):
    db = str(tmp_path / "serving.db")
    con = sqlite3.connect(db)
    # a database made before retirements existed: the old view is replaced by the current one
    con.execute(
        "CREATE TABLE game_forecasts (game_id TEXT, game_date DATE, as_of TIMESTAMP, home_team_id BIGINT, "
        "away_team_id BIGINT, neutral BOOLEAN, p_home_win DOUBLE PRECISION, model_name TEXT, model_version BIGINT, "
        "top_factors TEXT, PRIMARY KEY (game_id, as_of, model_name, model_version))"
    )
    con.execute("CREATE VIEW latest_pregame_forecast AS SELECT * FROM game_forecasts")
    con.commit()
    before = [forecast("0022300001", "2024-01-08T00:00:00", 0.55), forecast("0022300002", "2024-01-08T00:00:00", 0.3)]
    assert append_sqlite(db, GAME_FORECASTS, pd.DataFrame(before)) == 2
    # 9 January: game 1 postponed (retired at that day's as_of); game 2 plays as planned
    retire = pd.DataFrame({"game_id": ["0022300001"], "retired_at": pd.Timestamp("2024-01-09"), "reason": "postponed"})
    assert append_sqlite(db, FORECAST_RETIREMENTS, retire) == 1
    assert append_sqlite(db, FORECAST_RETIREMENTS, retire) == 0  # append-only, idempotent
    served = "SELECT game_id, as_of, p_home_win FROM latest_pregame_forecast ORDER BY game_id"
    assert con.execute(served).fetchall() == [("0022300002", "2024-01-08T00:00:00", 0.3)]
    # rescheduled to 2 February (same id): forecasts made after the retirement count again
    later = [forecast("0022300001", "2024-01-30T00:00:00", 0.62, date="2024-02-02")]
    assert append_sqlite(db, GAME_FORECASTS, pd.DataFrame(later)) == 1
    assert con.execute(served).fetchall() == [
        ("0022300001", "2024-01-30T00:00:00", 0.62),
        ("0022300002", "2024-01-08T00:00:00", 0.3),
    ]
    # nothing was deleted: the retired forecast is still in the record
    assert con.execute("SELECT count(*) FROM game_forecasts").fetchone() == (3,)


def test_response_cache_serves_a_stale_answer_for_one_more_ttl():
    clock = Clock()
    cache = ResponseCache(5, clock=clock)
    cache.put("a", b"1")
    assert cache.lookup("a") == (b"1", True)
    clock.now += 6
    assert cache.lookup("a") == (b"1", False)  # stale: served while it is recomputed
    cache.put("a", b"2")
    assert cache.lookup("a") == (b"2", True)
    clock.now += 10
    assert cache.lookup("a") == (None, False)  # past twice the ttl: gone
