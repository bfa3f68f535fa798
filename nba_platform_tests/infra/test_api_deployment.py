"""The forecast API's deployment files: the compose service, the Helm values (app-template chart)
and the secret it needs. Terraform (ECS service, ALB rule) is checked in test_deployment_files.py."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "infra" / "docker-compose.yml"
HELM_API = REPO / "infra" / "helm" / "forecast-api-values.yaml"


def test_compose_runs_the_api_on_the_serving_database_with_a_secret_key():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    api = services["api"]
    assert api["command"][:2] == ["nba-platform", "serve-api"] and "8080" in api["command"]
    assert api["ports"] == ["127.0.0.1:8080:8080"]
    assert "/healthz" in api["healthcheck"]["test"][-1]
    assert api["depends_on"]["moto-init"]["condition"] == "service_completed_successfully"
    env = api["environment"]
    assert env["NBA_PLATFORM_ENV"] == "prod"
    assert env["NBA_SERVING_DB_URL"] == "postgresql://nba_app@postgres:5432/nba"  # no password in it
    # the signing key reaches the runtime secret through moto-init, never the API's environment
    assert "NBA_API_JWT_SECRET" not in env
    assert services["moto-init"]["environment"]["NBA_API_JWT_SECRET"].startswith("${NBA_LOCAL_API_JWT_SECRET:-local-")


def test_helm_values_run_serve_api_non_root_with_probes_and_no_credentials():
    values = yaml.safe_load(HELM_API.read_text())
    container = values["controllers"]["api"]["containers"]["api"]
    assert container["command"][:2] == ["nba-platform", "serve-api"]
    assert container["probes"]["liveness"]["spec"]["httpGet"]["path"] == "/healthz"
    assert container["probes"]["readiness"]["spec"]["httpGet"]["path"] == "/readyz"
    assert {"secretRef": {"name": "nba-platform-env"}} in container["envFrom"]
    assert values["defaultPodOptions"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert values["service"]["api"]["ports"]["http"]["port"] == 8080
    paths = [p["path"] for host in values["ingress"]["api"]["hosts"] for p in host["paths"]]
    assert paths == ["/v1", "/docs", "/openapi.json"]  # /metrics stays inside the cluster
    settings = yaml.safe_dump(values).lower()  # the values only, not the comments
    for word in ("password", "jwt_secret", "token:"):
        assert word not in settings
