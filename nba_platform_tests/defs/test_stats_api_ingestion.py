"""Raw assets sourced from stats.nba.com (`source: stats_api`) in real Dagster runs, against the
local stand-in server serving the shipped real data (nba_platform_tests/stats_api_server.py)."""

import dagster as dg
import pandas as pd
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.ingestion.assets import API_RETRY_POLICY, build_raw_asset
from nba_platform.lib.landing import LINEAGE, SHAPES_BY_NAME
from nba_platform.lib.validation import validate_season
from nba_platform.resources.stats_api import StatsApi
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.lake_files import read_lake_arrow
from nba_platform_tests.stats_api_server import (
    FakeStatsApi,
    Fault,
    box_scores,
    league_game_log,
    player_info,
    playoff_league_game_log,
)

SEASON = "2022-23"
LEAGUE_GAME_LOG = dg.AssetKey(["raw", "league_game_log"])


def source_config(*ops: str, **config) -> dict:
    return {"ops": {op: {"config": {"source": "stats_api", **config}} for op in ops}}


def lake_frame(root, key: dg.AssetKey, season: str) -> pd.DataFrame:
    return read_lake_arrow(root / "lake", key.path, season).to_pandas()


def metadata(result, key: dg.AssetKey) -> dict:
    [mat] = [m for m in result.get_asset_materialization_events() if m.asset_key == key]
    return {k: v.value for k, v in mat.materialization.metadata.items()}


def stats_api(server: FakeStatsApi, cache_dir, **kw) -> StatsApi:
    return StatsApi(
        base_url=server.base_url,
        cache_uri=str(cache_dir),
        requests_per_second=0,
        backoff_base_seconds=kw.pop("backoff_base_seconds", 0.05),
        **kw,
    )


@pytest.fixture
def season_instance(instance):
    instance.add_dynamic_partitions("season", [SEASON, "2019-20"])
    return instance


def test_league_game_log_from_the_api_equals_the_landed_file(tmp_path, season_instance):
    asset = defs().get_assets_def(LEAGUE_GAME_LOG)
    resources = embedded_resources(tmp_path, include_sample=True)

    landed = dg.materialize([asset], resources=resources, instance=season_instance, partition_key=SEASON)
    assert metadata(landed, LEAGUE_GAME_LOG)["rows"] == 2460  # the 2022-23 rows of the shipped LeagueGameLog exports
    from_files = lake_frame(tmp_path, LEAGUE_GAME_LOG, SEASON)

    with FakeStatsApi({(SEASON, "Regular Season"): league_game_log(SEASON)}) as server:
        server.inject("leaguegamelog", Fault("status", 500), Fault("status", 429, retry_after="1"))
        run = dg.materialize(
            [asset],
            resources={**resources, "stats_api": stats_api(server, tmp_path / "cache")},
            instance=season_instance,
            partition_key=SEASON,
            run_config=source_config("raw__league_game_log", season_types=["Regular Season"]),
        )
        meta = metadata(run, LEAGUE_GAME_LOG)
        assert (meta["source"], meta["rows"], meta["http_requests"], meta["retries"], meta["cache_hits"]) == (
            "stats_api",
            2460,
            3,
            2,
            0,
        )
        assert meta["failed_attempts"] == {"http_500": 1, "http_429": 1}
        arrivals = [r.at for r in server.requests]
        assert [r.outcome for r in server.requests] == ["status", "status", "ok"]
        assert arrivals[2] - arrivals[1] >= 1.0 and meta["retry_wait_seconds"] >= 1.0  # Retry-After: 1 honoured
        from_api = lake_frame(tmp_path, LEAGUE_GAME_LOG, SEASON)

        # Same rows, same text; only the lineage says where they came from.
        assert set(from_api["_source_file"]) == {"stats_api/leaguegamelog?Season=2022-23&SeasonType=Regular+Season"}
        pd.testing.assert_frame_equal(from_api.drop(columns=LINEAGE), from_files.drop(columns=LINEAGE))
        canonical = [
            validate_season("team_game", SEASON, {"league_game_log": f})
            .accepted.drop(columns=["source_file", "source_row"])
            .sort_values(["game_id", "team_id"], ignore_index=True)
            for f in (from_api, from_files)
        ]
        assert len(canonical[0]) == 2460
        pd.testing.assert_frame_equal(*canonical)

        # A re-run (new process, same cache) sends no request.
        again = dg.materialize(
            [asset],
            resources={**resources, "stats_api": stats_api(server, tmp_path / "cache")},
            instance=season_instance,
            partition_key=SEASON,
            run_config=source_config("raw__league_game_log", season_types=["Regular Season"]),
        )
        meta = metadata(again, LEAGUE_GAME_LOG)
        assert (meta["http_requests"], meta["cache_hits"], meta["rows"]) == (0, 1, 2460) and len(server.requests) == 3


def test_dead_endpoint_fails_the_step_with_the_breaker_error(tmp_path, season_instance):
    # The shipped asset retries its step (after the breaker cooldown); here the same asset is
    # built with a short step delay so the test shows the retry probing the dead endpoint.
    assert defs().get_assets_def(LEAGUE_GAME_LOG).op.retry_policy == API_RETRY_POLICY
    asset = build_raw_asset(SHAPES_BY_NAME["league_game_log"], retry_policy=dg.RetryPolicy(max_retries=1, delay=0.6))
    resources = embedded_resources(tmp_path, include_sample=False)
    with FakeStatsApi() as server:
        server.kill("leaguegamelog", status=503)
        api = stats_api(
            server,
            tmp_path / "cache",
            breaker_failure_threshold=3,
            breaker_cooldown_seconds=0.5,
            backoff_base_seconds=0.01,
            max_attempts=5,
        )
        run = dg.materialize(
            [asset],
            resources={**resources, "stats_api": api},
            instance=season_instance,
            partition_key=SEASON,
            run_config=source_config("raw__league_game_log"),
            raise_on_error=False,
        )
        assert not run.success
        # 3 failed attempts open the breaker; the step retry (after the cooldown) sends one probe.
        assert [r.outcome for r in server.requests] == ["dead"] * 4
    assert len([e for e in run.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]) == 1
    [failure] = [e for e in run.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error
    text = error.message + (error.cause.message if error.cause else "")
    assert "CircuitOpenError" in text and "endpoint 'leaguegamelog' is unavailable: circuit breaker open" in text
    assert "last failure: HTTP 503 on stats_api/leaguegamelog?Season=2022-23&SeasonType=Regular+Season" in text
    assert not (tmp_path / "lake" / "raw" / "league_game_log").exists()


def test_box_scores_and_bios_from_the_api(tmp_path, season_instance):
    """2019-20 playoffs: box scores for every game of the league game log, bios for every player
    of those box scores; the bios step reuses the cached box-score responses."""
    d = defs()
    keys = [dg.AssetKey(["raw", "box_score_traditional"]), dg.AssetKey(["raw", "player_bios"])]
    resources = embedded_resources(tmp_path, include_sample=False)
    served = box_scores("2019-20", game_type="4")
    with FakeStatsApi({("2019-20", "Playoffs"): playoff_league_game_log("2019-20")}, served, player_info()) as server:
        run = dg.materialize(
            [d.get_assets_def(k) for k in keys],
            resources={**resources, "stats_api": stats_api(server, tmp_path / "cache")},
            instance=season_instance,
            partition_key="2019-20",
            run_config=source_config("raw__box_score_traditional", "raw__player_bios", season_types=["Playoffs"]),
        )
        assert run.success
        box, bios = (metadata(run, k) for k in keys)
        assert (box["rows"], box["fetched"]["2019-20"]["games"]) == (2144, 83)
        assert (
            bios["rows"],
            bios["fetched"]["2019-20"]["players"],
            bios["fetched"]["2019-20"]["players_unknown_to_api"],
        ) == (229, 229, [])
        # 1 league game log + 83 box scores + 229 players, each requested once across both steps.
        assert box["http_requests"] + bios["http_requests"] == len(server.requests) == 1 + 83 + 229
        assert box["cache_hits"] + bios["cache_hits"] == 1 + 83
    assert len(lake_frame(tmp_path, keys[0], "2019-20")) == 2144
    assert lake_frame(tmp_path, keys[1], "2019-20")["SEASON"].unique().tolist() == ["2019-20"]


def test_settings_bind_the_stats_api_resource(tmp_path, monkeypatch):
    from nba_platform.resources.environment import build_resources
    from nba_platform.settings import load_settings

    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("NBA_PLATFORM_ENV", "local")
    monkeypatch.setenv("NBA_HOME", str(tmp_path))
    monkeypatch.setenv("NBA_STATS_API_BASE_URL", "http://127.0.0.1:8001/stats")
    monkeypatch.setenv("NBA_STATS_API_ENDPOINT_RATES", "boxscoretraditionalv2=0.5, commonplayerinfo=2")
    monkeypatch.setenv("NBA_STATS_API_CACHE_TTL_SECONDS", "0")
    resource = build_resources(load_settings())["stats_api"]
    assert resource.base_url == "http://127.0.0.1:8001/stats"
    assert resource.cache_uri == str(tmp_path / "stats_api_cache") and resource.cache_ttl_seconds == 0
    assert resource.endpoint_requests_per_second == {"boxscoretraditionalv2": 0.5, "commonplayerinfo": 2.0}
    assert (resource.requests_per_second, resource.max_attempts, resource.breaker_failure_threshold) == (1.0, 5, 5)
    monkeypatch.setenv("NBA_STATS_API_ENDPOINT_RATES", "boxscoretraditionalv2")
    with pytest.raises(ValueError, match="endpoint=rate pairs"):
        load_settings()


def test_bios_can_be_limited_to_listed_players(tmp_path):
    from nba_platform.defs.ingestion.assets import RawSourceConfig, fetch_season

    with FakeStatsApi(
        {("2019-20", "Playoffs"): playoff_league_game_log("2019-20")}, box_scores("2019-20", "4"), player_info()
    ) as server:
        client = stats_api(server, tmp_path / "cache").client()
        config = RawSourceConfig(source="stats_api", season_types=["Playoffs"], player_ids=[203516, 1629109])
        rows, fetched = fetch_season(client, SHAPES_BY_NAME["player_bios"], "2019-20", config)
        assert sorted(rows["FULL_NAME"]) == ["Gary Clark", "James Ennis III"] and fetched["players"] == 2
        assert [r.params["PlayerID"] for r in server.requests_to("commonplayerinfo")] == [
            "203516",
            "1629109",
        ]  # player id order
        with pytest.raises(ValueError, match="season types"):
            fetch_season(client, SHAPES_BY_NAME["league_game_log"], "2019-20", RawSourceConfig(season_types=["Summer"]))
