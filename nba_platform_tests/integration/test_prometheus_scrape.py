"""A real Prometheus server (Debian's binary) scrapes the platform exporter (`nba-platform
metrics`) running on a copy of the home a real 3-season build produced (built_home.py), and PromQL over Prometheus' HTTP API
returns the values the build recorded. The alert rules are loaded and evaluated by the same
server, and every dashboard query runs against it.

Targets: the platform exporter, the forecast API's /metrics (`nba-platform serve-api` on the same
home; metric names in observability/metric_names.py) and Prometheus itself."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
import yaml

from nba_platform_tests.built_home import SEASONS, copy_of_built_home
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.integration.conftest import free_port
from nba_platform_tests.stats_api_server import FakeStatsApi, Fault, league_game_log

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ALERTS = ROOT / "infra" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "infra" / "grafana" / "dashboards" / "nba-platform.json"


def http_get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            http_get(url, timeout=30)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} not answering after {timeout}s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def platform_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "MLFLOW_", "DAGSTER_", "AWS_"))}
    env.update(
        NBA_PLATFORM_ENV="local", NBA_HOME=str(home), NBA_INCLUDE_SAMPLE="false", DAGSTER_HOME=str(home / "dagster")
    )
    return env


@pytest.fixture(scope="module")
def built_home(tmp_path_factory):
    """A copy of the shared home `nba-platform build` produced from three seasons, plus one stats
    API run of raw/league_game_log (2023-24) that needed two retries."""
    home = copy_of_built_home(tmp_path_factory.mktemp("prom") / "home")
    resources = embedded_resources(home, include_sample=False)
    saved_home = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home / "dagster")  # the home's event log storage reads it
    try:
        record_stats_api_run(home, resources)
    finally:
        if saved_home is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = saved_home
    return home


def record_stats_api_run(home: Path, resources: dict) -> None:
    from nba_platform.definitions import defs
    from nba_platform.resources.stats_api import StatsApi

    with (
        dg.DagsterInstance.from_config(str(home / "dagster")) as instance,
        FakeStatsApi({("2023-24", "Regular Season"): league_game_log("2023-24")}) as server,
    ):
        server.inject("leaguegamelog", Fault("status", 503), Fault("status", 429, retry_after="1"))
        result = dg.materialize(
            [defs().get_assets_def(dg.AssetKey(["raw", "league_game_log"]))],
            resources={
                **resources,
                "stats_api": StatsApi(base_url=server.base_url, requests_per_second=0, backoff_base_seconds=0.05),
            },
            instance=instance,
            partition_key="2023-24",
            run_config={
                "ops": {"raw__league_game_log": {"config": {"source": "stats_api", "season_types": ["Regular Season"]}}}
            },
        )
        assert result.success


@pytest.fixture(scope="module")
def exporter(built_home, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("exporter") / "exporter.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "nba-platform"), "metrics", "--port", str(port), "--cache-ttl", "1"],
            env=platform_env(built_home),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/metrics", proc, log)
        yield f"127.0.0.1:{port}"
    finally:
        stop(proc)


API_SIGNING_KEY = "prometheus-scrape-test-signing-key-0123456789abcdef"


@pytest.fixture(scope="module")
def forecast_api(built_home, tmp_path_factory):
    """`nba-platform serve-api` on the built home; yields its address and a read:forecasts token."""
    port = free_port()
    env = {**platform_env(built_home), "NBA_API_JWT_SECRET": API_SIGNING_KEY}
    token = subprocess.run(
        [str(BIN / "nba-platform"), "api-token", "--client", "prometheus-test", "--scopes", "read:forecasts"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert token.returncode == 0, token.stdout[-2000:] + token.stderr[-2000:]
    log = tmp_path_factory.mktemp("api") / "api.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "nba-platform"), "serve-api", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", proc, log)
        yield f"127.0.0.1:{port}", token.stdout.strip().splitlines()[-1]
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def prometheus(exporter, forecast_api, tmp_path_factory):
    binary = shutil.which("prometheus")
    assert binary, "prometheus not found: install Debian's prometheus package (scripts/test.sh does)"
    work = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    shutil.copy(ALERTS, work / "alerts.yml")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {"job_name": "nba-platform", "static_configs": [{"targets": [exporter]}]},
            {"job_name": "nba-api", "static_configs": [{"targets": [forecast_api[0]]}]},
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]},
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = work / "prometheus.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/-/ready", proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def query(base: str, promql: str) -> list[dict]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    doc = json.loads(http_get(url))
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


def query_until(base: str, promql: str, timeout: float = 60) -> list[dict]:
    """The first non-empty result (scrapes arrive every second; the first one may not be in yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = query(base, promql)
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"no data for {promql!r} within {timeout}s")


def scalar(base: str, promql: str) -> float:
    [sample] = query_until(base, promql)
    return float(sample["value"][1])


def test_prometheus_scrapes_both_targets(prometheus):
    up = {s["metric"]["job"]: float(s["value"][1]) for s in query_until(prometheus, "up")}
    deadline = time.monotonic() + 30
    while set(up) != {"nba-platform", "nba-api", "prometheus"} or not all(up.values()):
        assert time.monotonic() < deadline, up
        time.sleep(0.5)
        up = {s["metric"]["job"]: float(s["value"][1]) for s in query(prometheus, "up")}
    assert scalar(prometheus, 'nba_exporter_source_up{source="dagster_instance"}') == 1
    assert scalar(prometheus, 'nba_exporter_source_up{source="serving_db"}') == 1


def test_rows_accepted_and_quarantined_per_table_and_season(prometheus):
    for season in SEASONS:
        assert scalar(prometheus, f'nba_table_rows_accepted{{table="tables/team_games",season="{season}"}}') == 2460
        assert scalar(prometheus, f'nba_table_rows_quarantined{{table="tables/team_games",season="{season}"}}') == 0
    # validated rows of 2023-24 = deduplicated rows + the rows set aside at dedup (nothing lost)
    assert scalar(
        prometheus,
        'sum(nba_table_rows_accepted{table="tables/team_games",season="2023-24"})'
        ' + sum(nba_table_rows_quarantined{table="tables/team_games",season="2023-24"})',
    ) == scalar(prometheus, 'nba_table_rows_accepted{table="tables/team_games_validated",season="2023-24"}')


def test_runs_and_freshness(prometheus):
    # `dagster_job`, not `job`: Prometheus' own `job` label names the scrape target
    jobs = {
        s["metric"]["dagster_job"]: float(s["value"][1]) for s in query_until(prometheus, "nba_job_last_run_success")
    }
    assert jobs.get("build_all") == 1, jobs
    assert scalar(prometheus, 'nba_job_last_run_success{dagster_job="build_all"}') == 1
    assert scalar(prometheus, 'nba_job_last_run_status{dagster_job="build_all",status="SUCCESS"}') == 1
    assert scalar(prometheus, 'nba_job_runs{dagster_job="build_all",status="SUCCESS"}') == 1
    assert 5 < scalar(prometheus, 'nba_job_last_run_duration_seconds{dagster_job="build_all"}') < 1800
    lag = scalar(prometheus, 'nba_asset_freshness_lag_seconds{asset="tables/team_games"}')
    assert 0 <= lag < 3600
    assert scalar(prometheus, "count(nba_asset_freshness_lag_seconds)") >= 30
    assert not query(prometheus, 'ALERTS{alertname="NbaJobRunFailed"}')


def test_live_skill_matches_the_serving_database(prometheus, built_home):
    con = sqlite3.connect(built_home / "serving" / "serving.db")
    try:
        rows = con.execute(
            "SELECT p.model_name || '/v' || p.model_version, COUNT(*), "
            "AVG((p.p_home_win - (g.home_pts > g.away_pts)) * (p.p_home_win - (g.home_pts > g.away_pts))) "
            "FROM game_predictions p JOIN games g USING (game_id) WHERE g.home_pts IS NOT NULL GROUP BY 1"
        ).fetchall()
        [champion] = con.execute(
            "SELECT model_name || '/v' || model_version FROM model_champions ORDER BY promoted_at DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    assert rows, "the build published no scored predictions"
    for version, games, brier in rows:
        assert scalar(prometheus, f'nba_model_live_games{{model_version="{version}"}}') == games
        assert scalar(prometheus, f'nba_model_live_brier{{model_version="{version}"}}') == pytest.approx(brier)
        log_loss = scalar(prometheus, f'nba_model_live_log_loss{{model_version="{version}"}}')
        assert 0.4 < log_loss < 0.8
    validation = query_until(prometheus, "nba_model_validation_brier")
    # the champion's validation Brier (it saw every season of the build, so it has no live games yet)
    assert champion in {s["metric"]["model_version"] for s in validation}
    assert all(0.15 < float(s["value"][1]) < 0.3 for s in validation)


def test_stats_api_requests_retries_and_breaker(prometheus):
    # 503, then 429 with Retry-After, then the answer: 3 requests, 2 retries, circuit closed
    assert scalar(prometheus, 'nba_stats_api_requests_total{asset="raw/league_game_log"}') == 3
    assert scalar(prometheus, 'nba_stats_api_retries_total{asset="raw/league_game_log"}') == 2
    failed = {
        s["metric"]["kind"]: float(s["value"][1])
        for s in query_until(prometheus, 'nba_stats_api_failed_attempts_total{asset="raw/league_game_log"}')
    }
    assert failed == {"http_503": 1, "http_429": 1}
    assert scalar(prometheus, 'nba_stats_api_breaker_state{endpoint="leaguegamelog",state="closed"}') == 1
    assert scalar(prometheus, 'nba_stats_api_breaker_state{endpoint="leaguegamelog",state="open"}') == 0


def test_alert_rules_load_and_evaluate(prometheus):
    doc = json.loads(http_get(f"{prometheus}/api/v1/rules"))
    rules = [r for g in doc["data"]["groups"] for r in g["rules"]]
    assert len(rules) == len(yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"])
    deadline = time.monotonic() + 30
    while any(r.get("lastEvaluation", "").startswith("0001") for r in rules):
        assert time.monotonic() < deadline, "rules never evaluated"
        time.sleep(0.5)
        rules = [r for g in json.loads(http_get(f"{prometheus}/api/v1/rules"))["data"]["groups"] for r in g["rules"]]
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]


def test_every_dashboard_query_runs(prometheus):
    """Prometheus evaluates every panel query; those over platform metrics return data."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    # No drift report in a build (drift runs after a season update) and no failed run.
    allowed_empty = {"Feature drift share", "Failed runs (recent)"}
    deadline = time.monotonic() + 30  # increase()/rate() need two scrapes in their range
    while True:
        empty = [
            (panel["title"], target["expr"])
            for panel in panels
            for target in panel["targets"]
            if "nba_api_" not in target["expr"] and not query(prometheus, target["expr"])
        ]
        if {title for title, _ in empty} <= allowed_empty or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert {title for title, _ in empty} <= allowed_empty, empty


def test_api_request_counts_and_latency_by_route_and_status(prometheus, forecast_api):
    address, token = forecast_api
    url = f"http://{address}/v1/models/champion"
    for _ in range(3):
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=30)  # no token
    assert refused.value.code == 401
    labels = 'route="/v1/models/champion",method="GET"'
    deadline = time.monotonic() + 30
    while True:  # the next scrapes carry the four requests
        ok = query(prometheus, f'nba_api_requests_total{{{labels},status="200"}}')
        if ok and float(ok[0]["value"][1]) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert scalar(prometheus, f'nba_api_requests_total{{{labels},status="200"}}') == 3
    assert scalar(prometheus, f'nba_api_requests_total{{{labels},status="401"}}') == 1
    assert scalar(prometheus, f"sum(nba_api_request_duration_seconds_count{{{labels}}})") == 4
