"""Alert rules, the Grafana dashboard and the compose wiring of Prometheus and Grafana: every
expression parses (Debian's `promtool`, a real PromQL parser), the alerts fire as intended
(`promtool test rules`), and every metric they name is one the exporters expose
(nba_platform/observability/metric_names.py)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from nba_platform.observability.metric_names import exposed_series_names

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "infra" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
DASHBOARD = REPO / "infra" / "grafana" / "dashboards" / "nba-platform.json"
COMPOSE = REPO / "infra" / "docker-compose.yml"

PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "le",
}  # fmt: skip


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: install Debian's prometheus package (scripts/test.sh does)"
    return path


def run_promtool(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    assert proc.returncode == 0, f"promtool {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: identifiers that are not functions, keywords,
    label names (inside {...} or the parentheses of by/on/...), durations or numbers."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+\w+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)\b(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def test_metric_name_extraction():
    expr = (
        'histogram_quantile(0.95, sum by (route, le) (rate(nba_api_request_duration_seconds_bucket{route=~"/v1.*"}[5m])))'
        " / on (route) group_left nba_x offset 1h > bool 0.5 and up"
    )
    assert metric_names(expr) == {"nba_api_request_duration_seconds_bucket", "nba_x", "up"}


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def dashboard_targets() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in doc["panels"] for target in panel["targets"]]


def test_alert_rules_pass_promtool_check():
    out = run_promtool("check", "rules", str(ALERTS))
    assert f"SUCCESS: {len(alert_rules())} rules found" in out


def test_alert_rules_fire_as_intended():
    """infra/prometheus/alerts_test.yml: each alert fires on series that should trip it and not on the others."""
    out = run_promtool("test", "rules", "alerts_test.yml", cwd=PROMETHEUS_DIR)
    assert "SUCCESS" in out
    tested = {
        t["alertname"]
        for case in yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
        for t in case["alert_rule_test"]
    }
    assert tested == {rule["alert"] for rule in alert_rules()}


def test_required_alerts_exist():
    by_name = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    assert 'nba_job_last_run_status{status="FAILURE"}' in by_name["NbaJobRunFailed"]
    assert "> 86400" in by_name["NbaAssetStale"]
    assert "nba_model_validation_brier + 0.02" in by_name["NbaLiveBrierAboveValidation"]
    assert "nba_table_rows_quarantined" in by_name["NbaQuarantineSpike"]


def test_alert_rules_name_only_exposed_metrics():
    exposed = exposed_series_names()
    for rule in alert_rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= exposed, f"{rule['alert']} names unknown metrics {sorted(names - exposed)}"


def test_prometheus_config_is_valid():
    run_promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))


def test_every_dashboard_query_parses(tmp_path):
    """Each panel query becomes a recording rule; promtool parses every one."""
    targets = dashboard_targets()
    assert len(targets) >= 15
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:panel_{i}", "expr": expr} for i, (_, expr) in enumerate(targets)],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    out = run_promtool("check", "rules", str(path))
    assert f"SUCCESS: {len(targets)} rules found" in out

    broken = tmp_path / "broken.yml"  # the check does reject a bad query
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "x:y", "expr": "sum by (a"}]}]}))
    proc = subprocess.run([promtool(), "check", "rules", str(broken)], capture_output=True, text=True)
    assert proc.returncode != 0


def test_dashboard_names_only_exposed_metrics_and_covers_the_platform():
    exposed = exposed_series_names()
    named = set()
    for title, expr in dashboard_targets():
        names = metric_names(expr)
        assert names and names <= exposed, f"panel {title!r} names unknown metrics {sorted(names - exposed)}"
        named |= names
    for required in (
        "nba_job_last_run_success",
        "nba_job_last_run_duration_seconds",
        "nba_asset_freshness_lag_seconds",
        "nba_table_rows_accepted",
        "nba_table_rows_quarantined",
        "nba_model_live_brier",
        "nba_model_live_log_loss",
        "nba_feature_drift_share",
        "nba_stats_api_requests_total",
        "nba_stats_api_retries_total",
        "nba_stats_api_breaker_state",
        "nba_api_requests_total",
        "nba_api_request_duration_seconds_bucket",
    ):
        assert required in named, f"no panel shows {required}"
    doc = json.loads(DASHBOARD.read_text())
    assert all(p["datasource"]["uid"] == "prometheus" for p in doc["panels"])


def test_compose_provisions_prometheus_and_grafana():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    mounts = {
        v.split(":")[1]: (COMPOSE.parent / v.split(":")[0]).resolve()
        for v in prometheus["volumes"]
        if v.startswith("./")
    }
    assert mounts["/etc/prometheus/prometheus.yml"] == PROMETHEUS_DIR / "prometheus.yml"
    assert mounts["/etc/prometheus/alerts.yml"] == ALERTS
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets["nba-platform"] == ["metrics-exporter:9464"]
    assert services["metrics-exporter"]["command"][:2] == ["nba-platform", "metrics"]

    g_mounts = {v.split(":")[1]: (COMPOSE.parent / v.split(":")[0]).resolve() for v in grafana["volumes"]}
    datasources = yaml.safe_load((g_mounts["/etc/grafana/provisioning/datasources"] / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert datasources[0]["uid"] == "prometheus" and datasources[0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((g_mounts["/etc/grafana/provisioning/dashboards"] / "nba-platform.yml").read_text())
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert (g_mounts[dashboards_path] / DASHBOARD.name) == DASHBOARD


@pytest.mark.parametrize("name", ["nba_api_requests_total", "nba_api_request_duration_seconds_bucket"])
def test_api_metric_names_come_from_the_shared_list(name):
    assert name in exposed_series_names()
