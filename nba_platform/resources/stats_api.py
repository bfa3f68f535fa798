"""stats.nba.com as a source for the raw assets (instead of landed files). The client logic
(rate limit, retries, circuit breaker, cache) lives in `lib.stats_api`; this only configures it."""

import dagster as dg
from pydantic import Field, PrivateAttr

from nba_platform.lib.stats_api import (
    DEFAULT_BASE_URL,
    DEFAULT_BREAKER_COOLDOWN_S,
    DEFAULT_BREAKER_FAILURES,
    DEFAULT_CACHE_TTL_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_REQUESTS_PER_SECOND,
    DEFAULT_RETRY_AFTER_CAP_S,
    DEFAULT_TIMEOUT_S,
    DEFAULT_USER_AGENT,
    ResponseCache,
    RetrySettings,
    StatsApiClient,
)
from nba_platform.lib.storage import Store


class StatsApi(dg.ConfigurableResource):
    base_url: str = Field(DEFAULT_BASE_URL, description="API root; a test or mirror server may stand in.")
    timeout_seconds: float = Field(DEFAULT_TIMEOUT_S, description="Socket timeout per request (connect and each read).")
    user_agent: str = DEFAULT_USER_AGENT
    requests_per_second: float = Field(
        DEFAULT_REQUESTS_PER_SECOND, description="Token-bucket rate per endpoint (<= 0: unlimited)."
    )
    burst: int = Field(1, description="Requests an endpoint may send back to back before the rate applies.")
    endpoint_requests_per_second: dict[str, float] = Field(
        default_factory=dict, description="Per-endpoint rate overrides, e.g. {'boxscoretraditionalv2': 0.5}."
    )
    max_attempts: int = Field(DEFAULT_MAX_ATTEMPTS, description="Attempts per request, the first included.")
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    retry_after_cap_seconds: float = Field(
        DEFAULT_RETRY_AFTER_CAP_S, description="Longest Retry-After honoured; longer ones wait this long."
    )
    breaker_failure_threshold: int = Field(
        DEFAULT_BREAKER_FAILURES, description="Consecutive failed attempts that open an endpoint's circuit."
    )
    breaker_cooldown_seconds: float = Field(
        DEFAULT_BREAKER_COOLDOWN_S, description="Open time before a half-open probe request."
    )
    cache_uri: str = Field("", description="Response cache: local dir or s3://bucket/prefix; empty disables it.")
    cache_ttl_seconds: float = Field(
        DEFAULT_CACHE_TTL_S, description="Age after which a cached response is refetched (<= 0: never)."
    )
    endpoint_url: str | None = None  # S3 endpoint of the cache (moto / LocalStack); None = AWS
    region: str | None = None

    # One client per resource instance, so the breakers and limiters span every asset of a run.
    _client: StatsApiClient | None = PrivateAttr(default=None)

    def client(self) -> StatsApiClient:
        if self._client is None:
            cache = (
                ResponseCache(Store(self.cache_uri, self.endpoint_url, self.region), self.cache_ttl_seconds)
                if self.cache_uri
                else None
            )
            self._client = StatsApiClient(
                self.base_url,
                timeout_s=self.timeout_seconds,
                user_agent=self.user_agent,
                rate_per_s=self.requests_per_second,
                burst=self.burst,
                endpoint_rates=self.endpoint_requests_per_second,
                retry=RetrySettings(
                    max_attempts=self.max_attempts,
                    backoff_base_s=self.backoff_base_seconds,
                    backoff_max_s=self.backoff_max_seconds,
                    retry_after_cap_s=self.retry_after_cap_seconds,
                ),
                breaker_failures=self.breaker_failure_threshold,
                breaker_cooldown_s=self.breaker_cooldown_seconds,
                cache=cache,
            )
        return self._client
