"""A stats.nba.com client for the raw assets: the requests the API expects, a per-endpoint
token-bucket rate limit, retries with exponential backoff and full jitter (honouring
Retry-After), a circuit breaker per endpoint and a response cache.

Responses are `resultSets` JSON; their rows go through the same parser as landed files
(`lib.landing.read_landed_bytes`), so a raw frame from the API and one from a landed file of
the same shape normalise to identical canonical rows. Lineage: `_source_file` names the
request (`stats_api/leaguegamelog?Season=2022-23&SeasonType=Regular+Season`), `_source_row`
the 1-based row within its result set.

Clock, sleep, random source and transport are injected, so every timing rule is unit-testable
without waiting; the defaults are the real ones.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import http.client
import json
import random
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from nba_platform.lib.box_score import BOX_SCORE_V3, BoxScoreError, flatten_box_score_v3, is_box_score_v3
from nba_platform.lib.landing import SHAPES_BY_NAME, SOURCE_FILE, read_landed_bytes
from nba_platform.lib.schedule import ScheduleError, flatten_league_schedule, is_league_schedule
from nba_platform.lib.seasons import season_from_game_id
from nba_platform.lib.storage import Store
from nba_platform.lib.tracing import span

DEFAULT_BASE_URL = "https://stats.nba.com/stats"
# The client's defaults, used as they are by settings.py (NBA_STATS_API_*) and resources/stats_api.py.
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_REQUESTS_PER_SECOND = 1.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_AFTER_CAP_S = 120.0
DEFAULT_BREAKER_FAILURES = 5
DEFAULT_BREAKER_COOLDOWN_S = 60.0
DEFAULT_CACHE_TTL_S = 86400.0
# stats.nba.com stalls or refuses requests that do not look like they come from nba.com in a
# browser: these are the headers the site's own front end sends.
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
API_SEASON_TYPES = ("Regular Season", "Playoffs", "PlayIn", "Pre Season", "All Star")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def request_headers(user_agent: str = DEFAULT_USER_AGENT) -> dict[str, str]:
    return {
        "User-Agent": user_agent,
        "Accept": "application/json, text/plain, */*",
        "Accept-Language": "en-US,en;q=0.9",
        "Accept-Encoding": "gzip, deflate",
        "Referer": "https://www.nba.com/",
        "Origin": "https://www.nba.com",
        "x-nba-stats-origin": "stats",
        "x-nba-stats-token": "true",
    }


# ---------------------------------------------------------------------------------------------
# Endpoints and responses


LEAGUE_SCHEDULE = "leagueSchedule"  # scheduleleaguev2's top-level object (no resultSets)


@dataclass(frozen=True)
class Endpoint:
    name: str  # URL path segment
    result_set: str  # the result set the rows come from
    required_columns: frozenset[str]  # a response without these is the wrong schema
    fixed_params: tuple[tuple[str, str], ...]  # parameters the API requires, at fixed values
    param_patterns: tuple[tuple[str, str], ...]  # caller's parameters -> regex of valid values

    def params(self, **given: object) -> dict[str, str]:
        """Every query parameter of a request (the API rejects requests missing any)."""
        patterns = dict(self.param_patterns)
        if set(given) != set(patterns):
            raise ValueError(f"{self.name} takes parameters {sorted(patterns)}, got {sorted(given)}")
        values = {k: str(v) for k, v in given.items()}
        for key, value in values.items():
            if not re.fullmatch(patterns[key], value):
                raise ValueError(f"{self.name}: {key}={value!r} is not a valid value (want {patterns[key]})")
        return dict(sorted({**dict(self.fixed_params), **values}.items()))

    def label(self, params: Mapping[str, str]) -> str:
        """The request as lineage text: endpoint plus the caller's parameters (not the fixed ones)."""
        own = [(k, params[k]) for k, _ in sorted(self.param_patterns)]
        return f"stats_api/{self.name}?{urllib.parse.urlencode(own)}"


LEAGUE_GAME_LOG = Endpoint(
    name="leaguegamelog",
    result_set="LeagueGameLog",
    required_columns=SHAPES_BY_NAME["league_game_log"].signature,
    fixed_params=(
        ("Counter", "0"),
        ("DateFrom", ""),
        ("DateTo", ""),
        ("Direction", "ASC"),
        ("LeagueID", "00"),
        ("PlayerOrTeam", "T"),
        ("Sorter", "DATE"),
    ),
    param_patterns=(("Season", r"\d{4}-\d{2}"), ("SeasonType", "|".join(API_SEASON_TYPES))),
)
BOX_SCORE_TRADITIONAL = Endpoint(
    name="boxscoretraditionalv2",
    result_set="PlayerStats",
    required_columns=SHAPES_BY_NAME["box_score_traditional"].signature,
    # The whole game: periods 1..10 (up to six overtimes), no time-range filter.
    fixed_params=(
        ("EndPeriod", "10"),
        ("EndRange", "28800"),
        ("RangeType", "0"),
        ("StartPeriod", "1"),
        ("StartRange", "0"),
    ),
    param_patterns=(("GameID", r"00\d{8}"),),
)
# From 2025-26 on only V3 is published (nba_api warns that V2 returns no data): a nested
# {"boxScoreTraditional": {"homeTeam": {"players": [...]}, ...}} response (result_set names that
# object), flattened to V2's columns as lib/box_score.py does for a landed file.
BOX_SCORE_TRADITIONAL_V3 = Endpoint(
    name="boxscoretraditionalv3",
    result_set=BOX_SCORE_V3,
    required_columns=SHAPES_BY_NAME["box_score_traditional"].signature,
    # The whole game: 0 = no period or time-range limit (as nba_api sends them).
    fixed_params=(
        ("EndPeriod", "0"),
        ("EndRange", "0"),
        ("LeagueID", "00"),
        ("RangeType", "0"),
        ("StartPeriod", "0"),
        ("StartRange", "0"),
    ),
    param_patterns=(("GameID", r"00\d{8}"),),
)
FIRST_V3_ONLY_SEASON = "2025-26"  # boxscoretraditionalv2 is not published from this season on
COMMON_PLAYER_INFO = Endpoint(
    name="commonplayerinfo",
    result_set="CommonPlayerInfo",
    required_columns=frozenset(
        {"PERSON_ID", "DISPLAY_FIRST_LAST", "BIRTHDATE", "HEIGHT", "WEIGHT", "POSITION", "SCHOOL"}
    ),
    fixed_params=(("LeagueID", ""),),
    param_patterns=(("PlayerID", r"\d{1,10}"),),
)
# The league schedule: not a resultSets response but {"leagueSchedule": {"gameDates": [{"games": [...]}]}}
# (result_set names that object); rows are its games, flattened as lib/schedule.py does for a landed file.
SCHEDULE_LEAGUE_V2 = Endpoint(
    name="scheduleleaguev2",
    result_set=LEAGUE_SCHEDULE,
    required_columns=SHAPES_BY_NAME["league_schedule"].signature,
    fixed_params=(("LeagueID", "00"),),
    param_patterns=(("Season", r"\d{4}-\d{2}"),),
)
ENDPOINTS = {
    e.name: e
    for e in (LEAGUE_GAME_LOG, BOX_SCORE_TRADITIONAL, BOX_SCORE_TRADITIONAL_V3, COMMON_PLAYER_INFO, SCHEDULE_LEAGUE_V2)
}


class ResponseInvalid(ValueError):
    """A 200 response that is not a usable answer (truncated, not JSON, wrong schema)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind  # 'truncated' | 'schema'


def result_set(endpoint: Endpoint, doc: object) -> dict:
    """The endpoint's result set from a parsed response, checked: named set present, required
    columns present, every row as long as the header."""
    if endpoint.result_set in NESTED_RESPONSES:
        return nested_records(endpoint, doc)
    sets = doc.get("resultSets", doc.get("resultSet")) if isinstance(doc, dict) else None
    if isinstance(sets, dict):
        sets = [sets]
    if not isinstance(sets, list):
        raise ResponseInvalid(
            "schema",
            f"{endpoint.name}: response has no resultSets (keys: {sorted(doc)[:8] if isinstance(doc, dict) else type(doc).__name__})",
        )
    found = [s for s in sets if isinstance(s, dict) and s.get("name") == endpoint.result_set]
    if not found:
        names = [s.get("name") for s in sets if isinstance(s, dict)]
        raise ResponseInvalid("schema", f"{endpoint.name}: no result set named {endpoint.result_set!r} (got {names})")
    rs = found[0]
    headers, rows = rs.get("headers"), rs.get("rowSet")
    if not isinstance(headers, list) or not isinstance(rows, list):
        raise ResponseInvalid("schema", f"{endpoint.name}: result set {endpoint.result_set!r} lacks headers or rowSet")
    missing = endpoint.required_columns - {str(h).upper() for h in headers}
    if missing:
        raise ResponseInvalid(
            "schema", f"{endpoint.name}: result set {endpoint.result_set!r} lacks columns {sorted(missing)}"
        )
    bad = [i for i, r in enumerate(rows) if not isinstance(r, list) or len(r) != len(headers)]
    if bad:
        raise ResponseInvalid(
            "schema",
            f"{endpoint.name}: {len(bad)} row(s) do not match the {len(headers)} headers (first: row {bad[0] + 1})",
        )
    return rs


@dataclass(frozen=True)
class NestedResponse:
    """A response that is not `resultSets` but one nested object, flattened to one record per row
    by the same code that reads a landed file of it."""

    recognise: Callable[[object], bool]
    flatten: Callable[[object, str], list[dict]]
    error: type[Exception]
    empty: str  # the flatten error's words for a response with no rows (a valid, empty answer)
    check_columns: bool  # required columns checked on the first record


NESTED_RESPONSES = {
    LEAGUE_SCHEDULE: NestedResponse(is_league_schedule, flatten_league_schedule, ScheduleError, "holds no games", True),
    BOX_SCORE_V3: NestedResponse(is_box_score_v3, flatten_box_score_v3, BoxScoreError, "lists no players", False),
}


def nested_records(endpoint: Endpoint, doc: object) -> dict:
    """A nested response (scheduleleaguev2's leagueSchedule, boxscoretraditionalv3's
    boxScoreTraditional) checked. -> {"name", "records": [flat records]} (none: an empty season
    schedule, a game not played)."""
    nested = NESTED_RESPONSES[endpoint.result_set]
    if not nested.recognise(doc):
        keys = sorted(doc)[:8] if isinstance(doc, dict) else type(doc).__name__
        raise ResponseInvalid("schema", f"{endpoint.name}: response has no {endpoint.result_set} object (keys: {keys})")
    try:
        records = nested.flatten(doc, endpoint.name)
    except nested.error as exc:
        if nested.empty in str(exc):
            return {"name": endpoint.result_set, "records": []}
        raise ResponseInvalid("schema", str(exc)) from None
    missing = endpoint.required_columns - {k.upper() for k in records[0]} if nested.check_columns else set()
    if missing:
        raise ResponseInvalid("schema", f"{endpoint.name}: records lack fields {sorted(missing)}")
    return {"name": endpoint.result_set, "records": records}


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    encoding = (content_encoding or "").strip().lower()
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, EOFError, zlib.error) as exc:
        raise ResponseInvalid("truncated", f"corrupt or truncated {encoding} body: {exc}") from None
    return body


def parse_response(endpoint: Endpoint, body: bytes) -> dict:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResponseInvalid(
            "truncated", f"{endpoint.name}: malformed or truncated JSON ({exc}; {len(body)} bytes)"
        ) from None
    result_set(endpoint, doc)
    return doc


def rows_frame(endpoint: Endpoint, doc: dict, label: str) -> pd.DataFrame | None:
    """Raw rows of a response exactly as a landed `resultSets` file would give them (text
    values, upper-case columns, lineage); None when the result set holds no rows."""

    rs = result_set(endpoint, doc)
    if endpoint.result_set in NESTED_RESPONSES:
        if not rs["records"]:
            return None
        payload = json.dumps(doc)  # read as a landed file of the same response would be
    elif not rs["rowSet"]:
        return None
    else:
        payload = json.dumps({"resultSets": [{"name": rs["name"], "headers": rs["headers"], "rowSet": rs["rowSet"]}]})
    frame = read_landed_bytes(payload.encode(), f"{label}.json")
    frame[SOURCE_FILE] = pd.Series(label, index=frame.index, dtype="string[pyarrow]")
    return frame


# ---------------------------------------------------------------------------------------------
# Rate limit, retries, circuit breaker


class TokenBucket:
    """`rate_per_s` requests per second on average, bursts of up to `burst`. Callers reserve a
    token and sleep off any debt outside the lock, so concurrent callers queue fairly.
    A rate <= 0 means unlimited."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.rate = float(rate_per_s)
        self.burst = max(1, int(burst))
        self._clock, self._sleep = clock, sleep
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            wait = max(0.0, -self._tokens / self.rate)
        if wait > 0:
            self._sleep(wait)
        return wait


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # attempts per request, the first included
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    retry_after_cap_s: float = DEFAULT_RETRY_AFTER_CAP_S  # a Retry-After longer than this is waited only this long


def parse_retry_after(value: str | None, now_epoch: float) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date (RFC 9110); None if absent
    or unreadable; a date in the past means 0."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_epoch)


def backoff_delay(attempt: int, settings: RetrySettings, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform(0, min(max, base * 2^(attempt-1)))."""
    ceiling = min(settings.backoff_max_s, settings.backoff_base_s * (2 ** (attempt - 1)))
    return rng.uniform(0.0, ceiling)


def retry_delay(retry_after: float | None, attempt: int, settings: RetrySettings, rng: random.Random) -> float:
    if retry_after is not None:
        return min(retry_after, settings.retry_after_cap_s)
    return backoff_delay(attempt, settings, rng)


class StatsApiError(RuntimeError):
    """A request that got no usable answer. The message names the endpoint, the request and
    the last failure; `retryable` says whether trying again later can help."""

    def __init__(self, message: str, endpoint: str, retryable: bool):
        super().__init__(message)
        self.endpoint = endpoint
        self.retryable = retryable


class CircuitOpenError(StatsApiError):
    def __init__(self, message: str, endpoint: str):
        super().__init__(message, endpoint, retryable=True)


CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Per endpoint: opens after `failure_threshold` consecutive failed attempts and then fails
    fast; after `cooldown_s` one probe request is let through (half-open): success closes the
    circuit, failure opens it for another cooldown."""

    def __init__(
        self,
        endpoint: str,
        failure_threshold: int = DEFAULT_BREAKER_FAILURES,
        cooldown_s: float = DEFAULT_BREAKER_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.endpoint = endpoint
        self.failure_threshold = max(1, int(failure_threshold))
        self.cooldown_s = float(cooldown_s)
        self._clock = clock
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.last_failure: str | None = None
        self.transitions: list[tuple[str, str]] = []  # (from, to), in order
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def _move(self, to: str) -> None:
        if to != self._state:
            self.transitions.append((self._state, to))
            self._state = to

    def before_request(self) -> None:
        """Raises CircuitOpenError instead of letting a request through while open."""
        with self._lock:
            if self._state == OPEN:
                remaining = self._opened_at + self.cooldown_s - self._clock()
                if remaining > 0:
                    raise self._open_error(f"next probe in {remaining:.1f} s")
                self._move(HALF_OPEN)
                self._probing = False
            if self._state == HALF_OPEN:
                if self._probing:
                    raise self._open_error("a probe request is in flight")
                self._probing = True

    def _open_error(self, when: str) -> CircuitOpenError:
        return CircuitOpenError(
            f"stats.nba.com endpoint '{self.endpoint}' is unavailable: circuit breaker open after "
            f"{self._failures} consecutive failed attempts (last failure: {self.last_failure}); "
            f"failing fast, {when}",
            self.endpoint,
        )

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._probing = False
            self._move(CLOSED)

    def record_failure(self, reason: str) -> None:
        with self._lock:
            self._failures += 1
            self.last_failure = reason
            self._probing = False
            if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
                self._move(OPEN)

    def open_error(self) -> CircuitOpenError:
        with self._lock:
            return self._open_error(
                f"next probe in {max(0.0, self._opened_at + self.cooldown_s - self._clock()):.1f} s"
            )


# ---------------------------------------------------------------------------------------------
# Response cache


class ResponseCache:
    """Valid responses keyed by endpoint + every query parameter, on local disk or S3 (any
    `Store` URI). Entries older than `ttl_s` are misses (ttl_s <= 0: never expire); writes are
    atomic (`Store.write_bytes`); an unreadable or invalid entry is a miss, never an error."""

    def __init__(self, store: Store, ttl_s: float, clock: Callable[[], float] = time.time):
        self.store = store
        self.ttl_s = float(ttl_s)
        self._clock = clock

    @staticmethod
    def key(endpoint: Endpoint, params: Mapping[str, str]) -> str:
        canonical = json.dumps({"endpoint": endpoint.name, "params": dict(sorted(params.items()))}, sort_keys=True)
        return f"{endpoint.name}/{hashlib.sha256(canonical.encode()).hexdigest()[:40]}.json"

    def get(self, endpoint: Endpoint, params: Mapping[str, str]) -> dict | None:
        key = self.key(endpoint, params)
        try:
            if not self.store.exists(key):
                return None
            entry = json.loads(self.store.read_bytes(key))
            if entry.get("endpoint") != endpoint.name or entry.get("params") != dict(params):
                return None
            if self.ttl_s > 0 and self._clock() - float(entry["fetched_at"]) > self.ttl_s:
                return None
            result_set(endpoint, entry["response"])
            return entry["response"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, endpoint: Endpoint, params: Mapping[str, str], doc: dict) -> None:
        result_set(endpoint, doc)  # only valid responses are cached
        entry = {"endpoint": endpoint.name, "params": dict(params), "fetched_at": self._clock(), "response": doc}
        self.store.write_bytes(self.key(endpoint, params), json.dumps(entry, separators=(",", ":")).encode())


# ---------------------------------------------------------------------------------------------
# The client

# (url, headers, timeout_s) -> (status, response headers, body). Raises on network failure.
Transport = Callable[[str, Mapping[str, str], float], "tuple[int, Mapping[str, str], bytes]"]


def urllib_transport(url: str, headers: Mapping[str, str], timeout_s: float) -> tuple[int, Mapping[str, str], bytes]:
    request = urllib.request.Request(url, headers=dict(headers), method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read()
        except (OSError, http.client.HTTPException):
            body = b""
        finally:
            exc.close()
        return exc.code, exc.headers, body


@dataclass
class RequestStats:
    """What the client did, for asset metadata. `requests` counts HTTP requests sent."""

    calls: int = 0  # fetch() calls
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    rate_limit_wait_s: float = 0.0
    retry_wait_s: float = 0.0
    failures: Counter = field(default_factory=Counter)  # by kind: http_429, http_500, timeout, ...

    def snapshot(self) -> dict:
        return {
            "calls": self.calls,
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "rate_limit_wait_s": self.rate_limit_wait_s,
            "retry_wait_s": self.retry_wait_s,
            "failures": dict(self.failures),
        }

    def since(self, before: dict) -> dict:
        now = self.snapshot()
        out = {
            k: round(now[k] - before[k], 3) if isinstance(now[k], float) else now[k] - before[k]
            for k in now
            if k != "failures"
        }
        out["failures"] = {
            k: v - before["failures"].get(k, 0) for k, v in now["failures"].items() if v - before["failures"].get(k, 0)
        }
        return out


class _AttemptFailed(Exception):
    def __init__(self, kind: str, reason: str, retry_after: float | None = None, retryable: bool = True):
        super().__init__(reason)
        self.kind, self.reason, self.retry_after, self.retryable = kind, reason, retry_after, retryable


class StatsApiClient:
    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        user_agent: str = DEFAULT_USER_AGENT,
        rate_per_s: float = DEFAULT_REQUESTS_PER_SECOND,
        burst: int = 1,
        endpoint_rates: Mapping[str, float] | None = None,
        retry: RetrySettings = RetrySettings(),
        breaker_failures: int = DEFAULT_BREAKER_FAILURES,
        breaker_cooldown_s: float = DEFAULT_BREAKER_COOLDOWN_S,
        cache: ResponseCache | None = None,
        transport: Transport = urllib_transport,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self.headers = request_headers(user_agent)
        self.retry = retry
        self.cache = cache
        self.stats = RequestStats()
        self.log = log
        self._transport, self._clock, self._wall_clock, self._sleep = transport, clock, wall_clock, sleep
        self._rng = rng or random.Random()
        self._rates = dict(endpoint_rates or {})
        self._default_rate, self._burst = float(rate_per_s), int(burst)
        self._breaker_failures, self._breaker_cooldown_s = breaker_failures, breaker_cooldown_s
        self._limiters: dict[str, TokenBucket] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def limiter(self, endpoint: str) -> TokenBucket:
        with self._lock:
            if endpoint not in self._limiters:
                rate = self._rates.get(endpoint, self._default_rate)
                self._limiters[endpoint] = TokenBucket(rate, self._burst, self._clock, self._sleep)
            return self._limiters[endpoint]

    def breaker(self, endpoint: str) -> CircuitBreaker:
        with self._lock:
            if endpoint not in self._breakers:
                self._breakers[endpoint] = CircuitBreaker(
                    endpoint, self._breaker_failures, self._breaker_cooldown_s, self._clock
                )
            return self._breakers[endpoint]

    def breaker_states(self) -> dict[str, str]:
        """endpoint -> circuit state (closed | half_open | open) of every endpoint used so far."""
        with self._lock:
            breakers = dict(self._breakers)
        return {name: breaker.state for name, breaker in sorted(breakers.items())}

    def url(self, endpoint: Endpoint, params: Mapping[str, str]) -> str:
        return f"{self.base_url}/{endpoint.name}?{urllib.parse.urlencode(params)}"

    def fetch(self, endpoint: Endpoint, **given: object) -> tuple[dict, str]:
        """The validated response of one request and its lineage label; from the cache when a
        fresh entry exists. Raises StatsApiError (CircuitOpenError while the circuit is open)."""
        params = endpoint.params(**given)
        label = endpoint.label(params)
        self.stats.calls += 1
        if self.cache is not None:
            cached = self.cache.get(endpoint, params)
            if cached is not None:
                self.stats.cache_hits += 1
                return cached, label
        breaker = self.breaker(endpoint.name)
        limiter = self.limiter(endpoint.name)
        url = self.url(endpoint, params)
        last: _AttemptFailed | None = None
        for attempt in range(1, self.retry.max_attempts + 1):
            breaker.before_request()
            self.stats.rate_limit_wait_s += limiter.acquire()
            try:
                doc = self._attempt(endpoint, url)
            except _AttemptFailed as failure:
                last = failure
                self.stats.failures[failure.kind] += 1
                if not failure.retryable:
                    breaker.record_success()  # the server answered: the endpoint is up
                    raise StatsApiError(
                        f"{label}: {failure.reason} (not retried)", endpoint.name, retryable=False
                    ) from None
                breaker.record_failure(f"{failure.reason} on {label}")
                if breaker.state == OPEN:
                    raise breaker.open_error() from None
                if attempt == self.retry.max_attempts:
                    break
                delay = retry_delay(failure.retry_after, attempt, self.retry, self._rng)
                if self.log:
                    self.log(
                        f"{label}: {failure.reason}; retry {attempt}/{self.retry.max_attempts - 1} in {delay:.2f} s"
                    )
                self.stats.retries += 1
                self.stats.retry_wait_s += delay
                self._sleep(delay)
                continue
            breaker.record_success()
            if self.cache is not None:
                self.cache.put(endpoint, params, doc)
            return doc, label
        raise StatsApiError(
            f"{label}: no valid response after {self.retry.max_attempts} attempts; last failure: {last.reason}",
            endpoint.name,
            retryable=True,
        )

    def _attempt(self, endpoint: Endpoint, url: str) -> dict:
        self.stats.requests += 1
        with span(f"stats_api GET {endpoint.name}", **{"http.method": "GET", "http.url": url}) as current:
            response = self._send(url)
            current.set_attribute("http.status_code", response[0])
        return self._answer(endpoint, response)

    def _send(self, url: str) -> tuple[int, Mapping[str, str], bytes]:
        import http.client
        import urllib.error

        try:
            return self._transport(url, self.headers, self.timeout_s)
        except TimeoutError as exc:
            raise _AttemptFailed("timeout", f"no response within {self.timeout_s:g} s ({exc})") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise _AttemptFailed("timeout", f"no response within {self.timeout_s:g} s ({exc.reason})") from None
            raise _AttemptFailed("connection", f"connection failed: {exc.reason}") from None
        except http.client.IncompleteRead as exc:
            raise _AttemptFailed("truncated", f"response body cut short ({len(exc.partial)} bytes read)") from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            raise _AttemptFailed("connection", f"connection failed: {type(exc).__name__}: {exc}") from None

    def _answer(self, endpoint: Endpoint, response: tuple[int, Mapping[str, str], bytes]) -> dict:
        status, headers, body = response
        if status in RETRY_STATUSES:
            retry_after = parse_retry_after(headers.get("Retry-After"), self._wall_clock())
            hint = f" (Retry-After {headers.get('Retry-After')})" if headers.get("Retry-After") else ""
            raise _AttemptFailed(f"http_{status}", f"HTTP {status}{hint}", retry_after)
        if not 200 <= status < 300:
            snippet = body[:200].decode("utf-8", "replace").strip()
            raise _AttemptFailed(f"http_{status}", f"HTTP {status}: {snippet}", retryable=False)
        try:
            return parse_response(endpoint, decode_body(body, headers.get("Content-Encoding")))
        except ResponseInvalid as exc:
            raise _AttemptFailed(exc.kind, str(exc)) from None


# ---------------------------------------------------------------------------------------------
# What the raw assets fetch


def check_season_types(season_types: Iterable[str]) -> list[str]:
    types = list(season_types)
    unknown = [t for t in types if t not in API_SEASON_TYPES]
    if unknown or not types:
        raise ValueError(f"season types must be a non-empty subset of {list(API_SEASON_TYPES)}, got {types}")
    return types


def _concat(frames: list[pd.DataFrame | None]) -> pd.DataFrame | None:
    frames = [f for f in frames if f is not None]
    return pd.concat(frames, ignore_index=True) if frames else None


def league_game_log_rows(client: StatsApiClient, season: str, season_types: Iterable[str]) -> pd.DataFrame | None:
    """LeagueGameLog team rows of a season (one request per season type); None if no games."""
    frames = []
    for season_type in check_season_types(season_types):
        doc, label = client.fetch(LEAGUE_GAME_LOG, Season=season, SeasonType=season_type)
        frames.append(rows_frame(LEAGUE_GAME_LOG, doc, label))
    return _concat(frames)


def league_schedule_rows(client: StatsApiClient, season: str) -> pd.DataFrame | None:
    """The season's schedule (every game, played or not, with its status); None if it has none."""
    doc, label = client.fetch(SCHEDULE_LEAGUE_V2, Season=season)
    return rows_frame(SCHEDULE_LEAGUE_V2, doc, label)


def season_game_ids(client: StatsApiClient, season: str, season_types: Iterable[str]) -> list[str]:
    """The season's game ids, from the league game log (cached, so cheap after that asset ran)."""
    rows = league_game_log_rows(client, season, season_types)
    return [] if rows is None else sorted(set(rows["GAME_ID"].str.strip().str.zfill(10)))


def box_score_endpoint(game_id: str) -> Endpoint:
    """V3 for games of 2025-26 and later (V2 is no longer published), V2 before: the rows are the
    same either way (V3 is flattened to V2's columns)."""
    season = season_from_game_id(pd.Series([game_id], dtype="string[pyarrow]")).iloc[0]
    return BOX_SCORE_TRADITIONAL_V3 if pd.notna(season) and season >= FIRST_V3_ONLY_SEASON else BOX_SCORE_TRADITIONAL


def box_score_rows(client: StatsApiClient, game_ids: Iterable[str]) -> pd.DataFrame | None:
    """Box score player rows (BoxScoreTraditionalV2, or V3 from 2025-26 on), one request per game."""
    frames = []
    for game_id in game_ids:
        endpoint = box_score_endpoint(game_id)
        doc, label = client.fetch(endpoint, GameID=game_id)
        frames.append(rows_frame(endpoint, doc, label))
    return _concat(frames)


def player_teams(box_scores: pd.DataFrame | None) -> pd.DataFrame:
    """(PLAYER_ID, TEAM_ID, TEAM_ABBREVIATION) a season's box scores list, once each: a player
    traded mid-season has a row per team, as a season roster does."""

    cols = ["PLAYER_ID", "TEAM_ID", "TEAM_ABBREVIATION"]
    if box_scores is None or box_scores.empty:
        return pd.DataFrame({c: pd.Series(dtype="string[pyarrow]") for c in cols})
    pairs = box_scores[cols].astype("string[pyarrow]").apply(lambda s: s.str.strip())
    pairs = pairs.drop_duplicates(["PLAYER_ID", "TEAM_ID"]).sort_values(
        ["PLAYER_ID", "TEAM_ID"], key=lambda s: s.str.zfill(12)
    )
    return pairs.reset_index(drop=True)


# CommonPlayerInfo column -> player_bios column. Bio facts (name, birth date, height, weight,
# position, school) are the player's current record; SEASON and TEAM come from the box scores.
BIO_COLUMNS = {
    "PERSON_ID": "PERSON_ID",
    "DISPLAY_FIRST_LAST": "FULL_NAME",
    "PLAYER_SLUG": "SLUG",
    "JERSEY": "JERSEY",
    "POSITION": "POSITION",
    "HEIGHT": "HEIGHT",
    "WEIGHT": "WEIGHT",
    "BIRTHDATE": "BIRTH_DATE",
    "SCHOOL": "SCHOOL",
}


def player_bio_rows(client: StatsApiClient, season: str, teams: pd.DataFrame) -> tuple[pd.DataFrame | None, list[str]]:
    """player_bios rows (one per player-season-team) from CommonPlayerInfo, one request per
    player; also the player ids the API had no record for."""

    frames, unknown = [], []
    for player_id, rows in teams.groupby("PLAYER_ID", sort=False):
        doc, label = client.fetch(COMMON_PLAYER_INFO, PlayerID=player_id)
        rs = result_set(COMMON_PLAYER_INFO, doc)
        if not rs["rowSet"]:
            unknown.append(str(player_id))
            continue
        info = dict(zip([str(h).upper() for h in rs["headers"]], rs["rowSet"][0]))
        headers = [*BIO_COLUMNS.values(), "SEASON", "TEAM_ID", "TEAM_ABBREV"]
        row_set = [
            [*(info.get(c) for c in BIO_COLUMNS), season, team, abbrev]
            for team, abbrev in rows[["TEAM_ID", "TEAM_ABBREVIATION"]].itertuples(index=False)
        ]
        bios = {"resultSets": [{"name": COMMON_PLAYER_INFO.result_set, "headers": headers, "rowSet": row_set}]}
        frame = read_landed_bytes(json.dumps(bios).encode(), f"{label}.json")
        frame[SOURCE_FILE] = pd.Series(label, index=frame.index, dtype="string[pyarrow]")
        frames.append(frame)
    return _concat(frames), unknown
