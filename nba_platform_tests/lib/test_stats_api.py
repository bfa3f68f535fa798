"""The stats.nba.com client: timing rules with an injected clock, then real HTTP against a local
stand-in server (nba_platform_tests/stats_api_server.py) serving the shipped real data and
injecting faults."""

import gzip
import json
import random
import socket
from datetime import UTC, datetime
from email.utils import format_datetime

import pandas as pd
import pytest

from nba_platform.lib import stats_api as api
from nba_platform.lib.landing import LINEAGE, SHAPES_BY_NAME, SOURCE_FILE
from nba_platform.lib.storage import Store
from nba_platform.lib.validation import validate_season
from nba_platform.resources.landing import LandingZone
from nba_platform_tests.integration.conftest import aws_env, moto_endpoint  # noqa: F401  (fixtures)
from nba_platform_tests.stats_api_server import (
    SAMPLE,
    FakeStatsApi,
    Fault,
    box_scores,
    league_game_log,
    player_info,
    playoff_league_game_log,
)

SEASON = "2022-23"
BOTH = ["Regular Season", "Playoffs"]


class FakeClock:
    """Monotonic and wall clock in one; `sleep` records the delay and advances time."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class CeilingRandom(random.Random):
    """Full jitter at its upper bound, recording each bound asked for."""

    def __init__(self):
        super().__init__(0)
        self.bounds: list[tuple[float, float]] = []

    def uniform(self, a, b):
        self.bounds.append((a, b))
        return b


def make_client(base_url, clock=None, cache_dir=None, ttl=3600.0, **kw) -> api.StatsApiClient:
    clock = clock or FakeClock()
    settings = dict(
        max_attempts=kw.pop("max_attempts", 5),
        backoff_base_s=kw.pop("backoff_base_s", 1.0),
        backoff_max_s=kw.pop("backoff_max_s", 30.0),
        retry_after_cap_s=kw.pop("retry_after_cap_s", 120.0),
    )
    cache = api.ResponseCache(Store(str(cache_dir)), ttl, clock=clock) if cache_dir else None
    return api.StatsApiClient(
        base_url,
        rate_per_s=kw.pop("rate_per_s", 0),
        timeout_s=kw.pop("timeout_s", 5.0),
        retry=api.RetrySettings(**settings),
        cache=cache,
        clock=clock,
        wall_clock=clock,
        sleep=clock.sleep,
        rng=kw.pop("rng", CeilingRandom()),
        **kw,
    )


def without_lineage(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=LINEAGE).reset_index(drop=True)


def canonical(raw: pd.DataFrame, shape: str, season: str) -> pd.DataFrame:
    """The validated canonical rows of one source, without lineage, in key order."""
    accepted = validate_season(SHAPES_BY_NAME[shape].entity, season, {shape: raw}).accepted
    keys = [c for c in ("game_id", "team_id", "player_id", "season") if c in accepted.columns]
    return accepted.drop(columns=["source_file", "source_row"]).sort_values(keys, ignore_index=True)


@pytest.fixture(scope="module")
def data():
    """The shipped real data in the API's shape (read once per module)."""
    return {
        "league": {
            (SEASON, "Regular Season"): league_game_log(SEASON),
            ("2019-20", "Playoffs"): playoff_league_game_log("2019-20"),
        },
        "box_scores": box_scores("2019-20", game_type="4"),
        "players": player_info(),
    }


@pytest.fixture
def server(data):
    with FakeStatsApi(data["league"], data["box_scores"], data["players"]) as srv:
        yield srv


def landed(name: str) -> pd.DataFrame:
    zone = LandingZone(uri=str(SAMPLE), include_sample=True)
    _, by_season = zone.read_rows(name)
    return pd.concat(by_season.values(), ignore_index=True)


# ---------------------------------------------------------------- timing rules, no network


def test_token_bucket_allows_a_burst_then_paces_at_the_rate():
    clock = FakeClock()
    bucket = api.TokenBucket(rate_per_s=2.0, burst=2, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits == [0.0, 0.0, 0.5, 0.5, 0.5]
    clock.now += 10  # idle: refills to the burst, not beyond
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.5]
    assert api.TokenBucket(0, clock=clock, sleep=clock.sleep).acquire() == 0.0  # unlimited


def test_retry_after_takes_seconds_or_an_http_date():
    now = 1_700_000_000.0
    assert api.parse_retry_after("7", now) == 7.0
    in_90s = format_datetime(datetime.fromtimestamp(now + 90, tz=UTC), usegmt=True)
    assert api.parse_retry_after(in_90s, now) == pytest.approx(90.0)
    past = format_datetime(datetime.fromtimestamp(now - 90, tz=UTC), usegmt=True)
    assert api.parse_retry_after(past, now) == 0.0
    assert api.parse_retry_after("soon", now) is None and api.parse_retry_after(None, now) is None


def test_backoff_is_exponential_with_full_jitter_and_capped():
    rng = CeilingRandom()
    settings = api.RetrySettings(backoff_base_s=0.5, backoff_max_s=3.0, retry_after_cap_s=10.0)
    assert [api.retry_delay(None, n, settings, rng) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert rng.bounds == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 3.0), (0.0, 3.0)]  # full jitter: from zero
    assert api.retry_delay(4.0, 1, settings, rng) == 4.0  # Retry-After wins over backoff...
    assert api.retry_delay(600.0, 1, settings, rng) == 10.0  # ...up to its cap
    seeded = [api.backoff_delay(3, settings, random.Random(s)) for s in range(200)]
    assert all(0.0 <= d <= 2.0 for d in seeded) and max(seeded) - min(seeded) > 1.0


def test_circuit_breaker_opens_fails_fast_and_probes_after_cooldown():
    clock = FakeClock()
    breaker = api.CircuitBreaker("leaguegamelog", failure_threshold=3, cooldown_s=30, clock=clock)
    for _ in range(2):
        breaker.before_request()
        breaker.record_failure("HTTP 500")
    breaker.before_request()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        breaker.before_request()
        breaker.record_failure("HTTP 503 on stats_api/leaguegamelog?Season=2022-23")
    assert breaker.state == api.OPEN
    with pytest.raises(api.CircuitOpenError) as err:
        breaker.before_request()
    message = str(err.value)
    assert "'leaguegamelog'" in message and "HTTP 503 on stats_api/leaguegamelog?Season=2022-23" in message
    assert "3 consecutive" in message and "next probe in 30.0 s" in message
    clock.now += 30
    breaker.before_request()  # the probe
    assert breaker.state == api.HALF_OPEN
    with pytest.raises(api.CircuitOpenError, match="probe request is in flight"):
        breaker.before_request()
    breaker.record_failure("timeout")  # probe fails: open again for a full cooldown
    assert breaker.state == api.OPEN
    clock.now += 29
    with pytest.raises(api.CircuitOpenError, match="last failure: timeout"):
        breaker.before_request()
    clock.now += 1
    breaker.before_request()
    breaker.record_success()
    assert breaker.state == api.CLOSED
    assert breaker.transitions == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


def test_endpoint_parameters_are_complete_and_checked():
    params = api.LEAGUE_GAME_LOG.params(Season="2022-23", SeasonType="Playoffs")
    assert params["PlayerOrTeam"] == "T" and params["LeagueID"] == "00" and params["Season"] == "2022-23"
    assert api.LEAGUE_GAME_LOG.label(params) == "stats_api/leaguegamelog?Season=2022-23&SeasonType=Playoffs"
    with pytest.raises(ValueError, match="SeasonType"):
        api.LEAGUE_GAME_LOG.params(Season="2022-23", SeasonType="Summer League")
    with pytest.raises(ValueError, match="takes parameters"):
        api.BOX_SCORE_TRADITIONAL.params(GameID="0022200001", Season="2022-23")
    with pytest.raises(ValueError, match="GameID"):
        api.BOX_SCORE_TRADITIONAL.params(GameID="22200001")


def test_cache_honours_ttl_and_ignores_bad_entries(tmp_path):
    clock = FakeClock()
    cache = api.ResponseCache(Store(str(tmp_path)), ttl_s=100, clock=clock)
    params = api.COMMON_PLAYER_INFO.params(PlayerID=2544)
    doc = {
        "resultSets": [
            {"name": "CommonPlayerInfo", "headers": sorted(api.COMMON_PLAYER_INFO.required_columns), "rowSet": []}
        ]
    }
    assert cache.get(api.COMMON_PLAYER_INFO, params) is None
    cache.put(api.COMMON_PLAYER_INFO, params, doc)
    assert cache.get(api.COMMON_PLAYER_INFO, params) == doc
    assert cache.get(api.COMMON_PLAYER_INFO, api.COMMON_PLAYER_INFO.params(PlayerID=2545)) is None
    clock.now += 101
    assert cache.get(api.COMMON_PLAYER_INFO, params) is None  # expired
    with pytest.raises(api.ResponseInvalid):  # an invalid response is never written
        cache.put(api.COMMON_PLAYER_INFO, params, {"resultSets": []})
    key = api.ResponseCache.key(api.COMMON_PLAYER_INFO, params)
    (tmp_path / key).write_text('{"endpoint": "commonplayerinfo", "par')  # torn entry: a miss, not an error
    assert cache.get(api.COMMON_PLAYER_INFO, params) is None
    assert [p.name for p in (tmp_path / "commonplayerinfo").iterdir()] == [key.split("/")[1]]  # no temp files left


@pytest.mark.integration
def test_cache_on_s3_through_moto(aws_env):  # noqa: F811
    import boto3

    boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1").create_bucket(Bucket="stats-cache")
    clock = FakeClock()
    cache = api.ResponseCache(Store("s3://stats-cache/api", aws_env, "us-east-1"), ttl_s=100, clock=clock)
    params = api.LEAGUE_GAME_LOG.params(Season="2022-23", SeasonType="Playoffs")
    doc = {
        "resultSets": [{"name": "LeagueGameLog", "headers": sorted(api.LEAGUE_GAME_LOG.required_columns), "rowSet": []}]
    }
    cache.put(api.LEAGUE_GAME_LOG, params, doc)
    assert cache.get(api.LEAGUE_GAME_LOG, params) == doc
    listed = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1").list_objects_v2(Bucket="stats-cache")
    assert [o["Key"] for o in listed["Contents"]] == [f"api/{api.ResponseCache.key(api.LEAGUE_GAME_LOG, params)}"]


# ---------------------------------------------------------------- real HTTP against the stand-in


def test_headers_params_and_rows_equal_the_landed_file(server):
    client = make_client(server.base_url)
    rows = api.league_game_log_rows(client, SEASON, BOTH)

    [regular, playoffs] = server.requests
    assert (regular.outcome, playoffs.outcome) == ("ok", "empty")  # no playoff rows served for 2022-23
    for name, value in {
        "user-agent": api.DEFAULT_USER_AGENT,
        "referer": "https://www.nba.com/",
        "origin": "https://www.nba.com",
        "x-nba-stats-origin": "stats",
        "x-nba-stats-token": "true",
        "accept": "application/json, text/plain, */*",
    }.items():
        assert regular.headers[name] == value, name
    assert regular.params == {
        "Counter": "0",
        "DateFrom": "",
        "DateTo": "",
        "Direction": "ASC",
        "LeagueID": "00",
        "PlayerOrTeam": "T",
        "Season": SEASON,
        "SeasonType": "Regular Season",
        "Sorter": "DATE",
    }

    assert len(rows) == 2460
    assert set(rows[SOURCE_FILE]) == {"stats_api/leaguegamelog?Season=2022-23&SeasonType=Regular+Season"}
    file_rows = landed("sample/nba_api_league_gamelog_2021_2024/nba-gamelog-2022-23.csv.gz")
    pd.testing.assert_frame_equal(without_lineage(rows), without_lineage(file_rows))  # the raw text itself
    from_api, from_file = canonical(rows, "league_game_log", SEASON), canonical(file_rows, "league_game_log", SEASON)
    assert len(from_api) == 2460
    pd.testing.assert_frame_equal(from_api, from_file)


def test_429_and_500_are_retried_honouring_retry_after(server):
    server.inject("leaguegamelog", Fault("status", 429, retry_after="7"), Fault("status", 500))
    clock = FakeClock()
    client = make_client(server.base_url, clock=clock, backoff_base_s=0.5)
    rows = api.league_game_log_rows(client, SEASON, ["Regular Season"])
    assert len(rows) == 2460
    assert [r.outcome for r in server.requests] == ["status", "status", "ok"]
    assert clock.sleeps == [7.0, 1.0]  # Retry-After, then backoff for attempt 2 (ceiling 0.5 * 2)
    stats = client.stats.snapshot()
    assert (stats["requests"], stats["retries"], stats["failures"]) == (3, 2, {"http_429": 1, "http_500": 1})
    assert stats["retry_wait_s"] == 8.0


def test_retry_after_as_http_date_is_capped(server):
    clock = FakeClock()
    in_an_hour = format_datetime(datetime.fromtimestamp(clock.now + 3600, tz=UTC), usegmt=True)
    server.inject("commonplayerinfo", Fault("status", 503, retry_after=in_an_hour))
    client = make_client(server.base_url, clock=clock, retry_after_cap_s=45)
    doc, _ = client.fetch(api.COMMON_PLAYER_INFO, PlayerID=2544)
    assert doc["resultSets"][0]["rowSet"][0][3] == "LeBron James"
    assert clock.sleeps == [45.0]


def test_timeouts_and_broken_bodies_are_retried_and_never_cached(server, tmp_path):
    server.inject(
        "leaguegamelog",
        Fault("slow", delay_s=6.0),  # well past the timeout, which is kept well above a loaded answer time
        Fault("truncated"),
        Fault("incomplete"),
        Fault("wrong_schema"),
        Fault("html"),
    )
    client = make_client(server.base_url, cache_dir=tmp_path, timeout_s=2.0, max_attempts=6, breaker_failures=6)
    rows = api.league_game_log_rows(client, SEASON, ["Regular Season"])
    assert len(rows) == 2460
    assert [r.outcome for r in server.requests] == ["slow", "truncated", "incomplete", "wrong_schema", "html", "ok"]
    assert client.stats.failures == {"timeout": 1, "truncated": 3, "schema": 1}
    [entry] = Store(str(tmp_path)).list()
    cached = json.loads((tmp_path / entry.path).read_bytes())["response"]
    assert len(cached["resultSets"][0]["rowSet"]) == 2460 and "PTS" in cached["resultSets"][0]["headers"]

    # Every attempt broken: a clear error, and nothing cached.
    server.inject("commonplayerinfo", Fault("wrong_schema"), Fault("truncated"))
    client = make_client(server.base_url, cache_dir=tmp_path / "other", max_attempts=2)
    with pytest.raises(api.StatsApiError) as err:
        client.fetch(api.COMMON_PLAYER_INFO, PlayerID=2544)
    assert "stats_api/commonplayerinfo?PlayerID=2544: no valid response after 2 attempts" in str(err.value)
    assert "malformed or truncated JSON" in str(err.value) and err.value.retryable
    assert not (tmp_path / "other").exists()


def test_dead_endpoint_opens_the_breaker_then_a_probe_closes_it(server):
    server.kill("leaguegamelog", status=503)
    clock = FakeClock()
    client = make_client(server.base_url, clock=clock, breaker_failures=3, breaker_cooldown_s=60, max_attempts=5)
    with pytest.raises(api.CircuitOpenError) as err:
        api.league_game_log_rows(client, SEASON, ["Regular Season"])
    assert len(server.requests) == 3  # opened on the third failure, before attempts ran out
    message = str(err.value)
    assert "endpoint 'leaguegamelog' is unavailable" in message
    assert "last failure: HTTP 503 on stats_api/leaguegamelog?Season=2022-23&SeasonType=Regular+Season" in message

    with pytest.raises(api.CircuitOpenError, match="next probe in 60.0 s"):  # fails fast: no request
        api.league_game_log_rows(client, SEASON, ["Regular Season"])
    assert len(server.requests) == 3
    # Other endpoints have their own breaker.
    client.fetch(api.COMMON_PLAYER_INFO, PlayerID=2544)

    clock.now += 60  # still dead: one probe, open again
    with pytest.raises(api.CircuitOpenError):
        api.league_game_log_rows(client, SEASON, ["Regular Season"])
    assert len(server.requests_to("leaguegamelog")) == 4

    server.revive("leaguegamelog")
    clock.now += 60
    assert len(api.league_game_log_rows(client, SEASON, ["Regular Season"])) == 2460
    breaker = client.breaker("leaguegamelog")
    assert breaker.transitions == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


def test_connection_refused_is_a_clear_failure():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}/stats", max_attempts=2, breaker_failures=5)
    with pytest.raises(api.StatsApiError, match=r"after 2 attempts; last failure: connection failed.*refused"):
        client.fetch(api.BOX_SCORE_TRADITIONAL, GameID="0041900101")


def test_client_errors_are_not_retried(server):
    client = make_client(server.base_url)
    del client.headers["x-nba-stats-token"]  # the API refuses requests that do not look like nba.com
    with pytest.raises(api.StatsApiError, match="HTTP 403") as err:
        client.fetch(api.COMMON_PLAYER_INFO, PlayerID=2544)
    assert not err.value.retryable and [r.outcome for r in server.requests] == ["forbidden"]
    assert client.breaker("commonplayerinfo").state == api.CLOSED


def test_rerun_is_served_from_the_cache(server, tmp_path):
    clock = FakeClock()
    first = api.league_game_log_rows(
        make_client(server.base_url, clock=clock, cache_dir=tmp_path, ttl=3600), SEASON, BOTH
    )
    assert len(server.requests) == 2

    again = make_client(server.base_url, clock=clock, cache_dir=tmp_path, ttl=3600)  # a new process, same cache
    second = api.league_game_log_rows(again, SEASON, BOTH)
    assert len(server.requests) == 2 and again.stats.cache_hits == 2 and again.stats.requests == 0
    pd.testing.assert_frame_equal(first, second)

    clock.now += 3601  # expired: fetched again
    later = make_client(server.base_url, clock=clock, cache_dir=tmp_path, ttl=3600)
    api.league_game_log_rows(later, SEASON, BOTH)
    assert len(server.requests) == 4 and later.stats.cache_hits == 0


def test_rate_limit_paces_real_requests_per_endpoint(server):
    client = api.StatsApiClient(server.base_url, rate_per_s=10.0, burst=1, endpoint_rates={"commonplayerinfo": 0})
    for _ in range(4):
        client.fetch(api.LEAGUE_GAME_LOG, Season="2019-20", SeasonType="Playoffs")
    arrivals = [r.at for r in server.requests]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert arrivals[-1] - arrivals[0] >= 0.28 and min(gaps) >= 0.07, gaps  # 10 per second (arrival jitter allowed)
    # the waits are recorded; request time itself refills the bucket, so they are at most the span
    assert 0.0 < client.stats.rate_limit_wait_s <= arrivals[-1] - arrivals[0] + 0.05
    before, waited = len(server.requests), client.stats.rate_limit_wait_s
    for player in (2544, 201939, 203999):  # unlimited endpoint: never waits for the bucket
        client.fetch(api.COMMON_PLAYER_INFO, PlayerID=player)
    assert len(server.requests) == before + 3 and client.stats.rate_limit_wait_s == waited


def test_gzip_bodies_are_decoded_and_a_corrupt_one_is_retried(server):
    assert api.decode_body(gzip.compress(b'{"a": 1}'), "gzip") == b'{"a": 1}'
    with pytest.raises(api.ResponseInvalid, match="truncated gzip"):
        api.decode_body(gzip.compress(b'{"a": 1}')[:-6], "gzip")
    client = make_client(server.base_url)
    client.fetch(api.COMMON_PLAYER_INFO, PlayerID=2544)
    assert "gzip" in server.requests[0].headers["accept-encoding"]


def test_box_scores_and_bios_of_a_season_from_the_api(server, data):
    """2019-20 playoffs: game ids from the league game log, then one box score per game, then
    CommonPlayerInfo for every player those box scores list."""
    client = make_client(server.base_url)
    game_ids = api.season_game_ids(client, "2019-20", ["Playoffs"])
    assert len(game_ids) == 83 and game_ids == sorted(data["box_scores"])
    box = api.box_score_rows(client, game_ids)
    assert set(box[SOURCE_FILE]) == {f"stats_api/boxscoretraditionalv2?GameID={g}" for g in game_ids}

    # The same games read from the shipped archive by the landing code.
    whole_archive = landed("sample/nba_api_player_boxscores_2015_2021/boxscores_2019-20.tar.gz")
    archive = whole_archive[whole_archive["GAME_ID"].str.startswith("004")]
    assert len(box) == len(archive) == 2144
    api_rows, file_rows = (
        canonical(box, "box_score_traditional", "2019-20"),
        canonical(archive, "box_score_traditional", "2019-20"),
    )
    assert len(api_rows) > 2000
    pd.testing.assert_frame_equal(api_rows, file_rows)

    teams = api.player_teams(box)
    bios, unknown = api.player_bio_rows(client, "2019-20", teams)
    assert unknown == [] and len(bios) == len(teams) == 229
    assert set(bios["SEASON"]) == {"2019-20"}
    # The bio facts agree with the shipped bios file for that season.
    shipped = landed("sample/nba_player_bios_2016_2024/player_bios.csv.gz")
    shipped = shipped[shipped["SEASON"] == "2019-20"].drop_duplicates("PERSON_ID").set_index("PERSON_ID")
    from_api = canonical(bios, "player_bios", "2019-20").drop_duplicates("player_id").set_index("player_id")
    common = [p for p in from_api.index if str(p) in shipped.index]
    assert len(common) > 200
    assert from_api.loc[common, "full_name"].tolist() == shipped.loc[[str(p) for p in common], "FULL_NAME"].tolist()
    shipped_births = pd.to_datetime(shipped.loc[[str(p) for p in common], "BIRTH_DATE"], format="%b %d, %Y")
    assert from_api.loc[common, "birth_date"].dt.date.tolist() == shipped_births.dt.date.tolist()
    assert bios[SOURCE_FILE].tolist() == [f"stats_api/commonplayerinfo?PlayerID={p}" for p in teams["PLAYER_ID"]]

    # A player traded mid-season (two teams in the shipped 2019-20 regular-season box scores)
    # gets a bio row per team.
    regular = api.player_teams(whole_archive[whole_archive["GAME_ID"].str.startswith("002")])
    traded = regular[regular["PLAYER_ID"].duplicated(keep=False)]
    first = traded[traded["PLAYER_ID"] == traded["PLAYER_ID"].iloc[0]]
    rows, _ = api.player_bio_rows(client, "2019-20", first)
    assert rows["_source_row"].tolist() == [1, 2] and rows["TEAM_ID"].tolist() == first["TEAM_ID"].tolist()
    assert rows["FULL_NAME"].nunique() == 1 and rows["TEAM_ID"].nunique() == 2
