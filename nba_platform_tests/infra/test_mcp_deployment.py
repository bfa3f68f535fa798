"""The MCP server's deployment files (issue 18), checked against each other and against the app the
installed `mcp` SDK actually serves: the compose service and its healthcheck (run against stub
servers), the ECS service behind the ALB (rule, target group, security group), the Helm values, and
NBA_MCP_PUBLIC_URL reaching the OAuth resource metadata."""

from __future__ import annotations

import fnmatch
import http.server
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from nba_platform_tests.infra.test_deployment_files import (
    as_list,
    compose_env,
    free_port,
    ref,
    tf_files,
    tf_locals,
    tf_resources,
    tf_variables,
)

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "infra" / "docker-compose.yml"
HELM_MCP = REPO / "infra" / "helm" / "mcp-values.yaml"
HELM_API = REPO / "infra" / "helm" / "forecast-api-values.yaml"
METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"
PORT = 8081  # NBA_MCP_PORT's default
KEY = "test-only-signing-key-" + "x" * 32


def compose_services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def alb_patterns() -> list[str]:
    rule = tf_resources("aws_lb_listener_rule")["mcp"]
    return list(as_list(rule["condition"])[0]["path_pattern"][0]["values"])


def alb_routes(path: str) -> bool:
    """An ALB path pattern match: case-sensitive, `*` any characters, `?` one."""
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in alb_patterns())


# ------------------------------------------------------------------------------------------------
# what the MCP app answers (the installed SDK), which the probes and the ALB rule rely on
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mcp_app():
    from starlette.testclient import TestClient

    from nba_platform.api.mcp_server import build_mcp_server

    server = build_mcp_server(None, signing_key=KEY, public_url="https://mcp.example.test/")
    with TestClient(server.streamable_http_app(host="0.0.0.0"), base_url="https://mcp.example.test") as client:
        yield client


def test_unauthenticated_mcp_is_401_pointing_at_metadata_the_alb_routes_and_probes_read(mcp_app):
    answer = mcp_app.get("/mcp")
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert f'resource_metadata="https://mcp.example.test{METADATA_PATH}"' in challenge
    metadata = mcp_app.get(METADATA_PATH)
    assert metadata.status_code == 200
    assert metadata.json()["resource"] == "https://mcp.example.test/mcp"
    assert metadata.json()["scopes_supported"] == ["read:forecasts"]
    # the ALB sends both the endpoint and the metadata its 401 names to the MCP tasks
    for path in ("/mcp", "/mcp/", urlsplit(challenge.split('resource_metadata="')[1].rstrip('"')).path):
        assert alb_routes(path), path
    for path in ("/", "/v1/forecasts", "/server_info", "/mcpx", "/.well-known/oauth-authorization-server"):
        assert not alb_routes(path), path  # the UI's paths stay behind OIDC


def test_public_url_setting_reaches_the_resource_metadata(monkeypatch, tmp_path):
    from starlette.testclient import TestClient

    from nba_platform.api.mcp_server import mcp_from_environment

    monkeypatch.setenv("NBA_HOME", str(tmp_path))
    monkeypatch.setenv("NBA_INCLUDE_SAMPLE", "false")
    monkeypatch.setenv("NBA_API_JWT_SECRET", KEY)
    for public, expected in (
        ("https://lb.example.test/", "https://lb.example.test/mcp"),
        ("", "http://0.0.0.0:8081/mcp"),
    ):
        monkeypatch.setenv("NBA_MCP_PUBLIC_URL", public)  # empty = unset: derived from host and port
        server = mcp_from_environment("http", "0.0.0.0", PORT)
        try:
            with TestClient(server.streamable_http_app(host="0.0.0.0")) as client:
                assert client.get(METADATA_PATH).json()["resource"] == expected
        finally:
            server.pool.close()


# ------------------------------------------------------------------------------------------------
# docker compose
# ------------------------------------------------------------------------------------------------
def test_compose_runs_serve_mcp_like_the_api():
    services = compose_services()
    mcp, api = services["mcp"], services["api"]
    command = mcp["command"]
    assert command[:4] == ["nba-platform", "serve-mcp", "--transport", "http"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == str(PORT)
    assert mcp["ports"] == [f"127.0.0.1:{PORT}:{PORT}"]
    assert mcp["image"] == api["image"] and mcp["build"] == api["build"]
    assert mcp["depends_on"] == api["depends_on"]
    env, api_env = compose_env(mcp), compose_env(api)
    assert {k: v for k, v in env.items() if k != "NBA_MCP_PUBLIC_URL"} == api_env  # the same anchor
    assert env["NBA_MCP_PUBLIC_URL"] == f"http://127.0.0.1:{PORT}"  # the published port
    assert "NBA_API_JWT_SECRET" not in env  # the signing key comes from the runtime secret


class _Stub(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _run_healthcheck(test: list[str], port: int) -> int:
    assert test[:3] == ["CMD", "python", "-c"]
    code = test[3].replace(f"127.0.0.1:{PORT}", f"127.0.0.1:{port}")
    assert code != test[3]
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode


@pytest.mark.parametrize(("status", "healthy"), [(401, True), (200, True), (404, True), (500, False), (503, False)])
def test_compose_healthcheck_counts_the_401_as_alive_and_fails_on_5xx(status, healthy):
    test = compose_services()["mcp"]["healthcheck"]["test"]
    assert "/mcp" in test[-1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.status = status
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert (_run_healthcheck(test, server.server_address[1]) == 0) is healthy
    finally:
        server.shutdown()
        server.server_close()


def test_compose_healthcheck_fails_when_nothing_listens():
    test = compose_services()["mcp"]["healthcheck"]["test"]
    assert _run_healthcheck(test, free_port()) != 0


# ------------------------------------------------------------------------------------------------
# Terraform
# ------------------------------------------------------------------------------------------------
def test_ecs_task_and_service_behind_the_alb_on_one_port():
    task = tf_locals()["services"]["mcp"]
    command = list(task["command"])
    assert command[:4] == ["nba-platform", "serve-mcp", "--transport", "http"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = int(command[command.index("--port") + 1])
    assert task["port"] == port == PORT
    assert ref(task["cpu"]) == "var.mcp_cpu" and ref(task["memory"]) == "var.mcp_memory"
    variables = tf_variables()
    for name in ("mcp_cpu", "mcp_memory", "mcp_desired_count", "mcp_public_url"):
        assert name in variables and "description" in variables[name], name
    # Fargate CPU/memory pairs: 256 CPU units take 512-2048 MiB
    assert variables["mcp_cpu"]["default"] == 256 and 512 <= variables["mcp_memory"]["default"] <= 2048
    # the container's own health check reads the metadata (200 without a token) on its port
    assert task["health_check"][:3] == ["CMD", "python", "-c"]
    assert f"http://127.0.0.1:{port}{METADATA_PATH}" in task["health_check"][3]
    assert "mcp" in tf_locals()["service_names"]  # its log group

    service = tf_resources("aws_ecs_service")["mcp"]
    assert ref(service["task_definition"]) == 'aws_ecs_task_definition.service["mcp"].arn'
    assert ref(service["desired_count"]) == "var.mcp_desired_count"
    [lb] = service["load_balancer"]
    assert ref(lb["target_group_arn"]) == "aws_lb_target_group.mcp.arn"
    assert lb["container_name"] == "mcp" and lb["container_port"] == port
    network = service["network_configuration"][0]
    assert [ref(g) for g in network["security_groups"]] == ["aws_security_group.mcp.id"]
    assert network["assign_public_ip"] is False
    assert service["deployment_circuit_breaker"][0]["rollback"] is True
    assert [ref(d) for d in service["depends_on"]] == ["aws_lb_listener_rule.mcp"]


def test_target_group_health_check_and_listener_rule():
    group = tf_resources("aws_lb_target_group")["mcp"]
    assert group["port"] == PORT and group["target_type"] == "ip" and group["protocol"] == "HTTP"
    [health] = group["health_check"]
    assert health["path"] == METADATA_PATH and health["matcher"] == "200"  # what the app answers (above)
    [sticky] = group["stickiness"]
    assert sticky["enabled"] is True and sticky["type"] == "lb_cookie"  # sessions live in one task
    rules = tf_resources("aws_lb_listener_rule")
    rule = rules["mcp"]
    assert ref(rule["listener_arn"]) == "aws_lb_listener.https.arn"
    priorities = [r["priority"] for r in rules.values()]
    assert len(priorities) == len(set(priorities))
    [action] = as_list(rule["action"])
    assert action["type"] == "forward" and ref(action["target_group_arn"]) == "aws_lb_target_group.mcp.arn"
    assert alb_routes(health["path"])


def test_security_groups_mcp_only_from_the_alb_and_to_rds():
    ingress = list(tf_resources("aws_vpc_security_group_ingress_rule").values())
    to_mcp = [r for r in ingress if ref(r["security_group_id"]) == "aws_security_group.mcp.id"]
    assert len(to_mcp) == 1
    assert ref(to_mcp[0]["referenced_security_group_id"]) == "aws_security_group.alb.id"
    assert to_mcp[0]["from_port"] == to_mcp[0]["to_port"] == PORT and "cidr_ipv4" not in to_mcp[0]
    egress = tf_resources("aws_vpc_security_group_egress_rule")
    alb_out = [
        r
        for r in egress.values()
        if ref(r["security_group_id"]) == "aws_security_group.alb.id"
        and ref(r.get("referenced_security_group_id", "")) == "aws_security_group.mcp.id"
    ]
    assert len(alb_out) == 1 and alb_out[0]["from_port"] == alb_out[0]["to_port"] == PORT
    # RDS and HTTPS egress (AWS APIs, Secrets Manager) like every ECS task
    assert ref(tf_locals()["ecs_security_groups"]["mcp"]) == "aws_security_group.mcp.id"


def test_public_url_is_the_alb_unless_set_and_an_output():
    locals_ = tf_locals()
    environment = {item["name"]: item["value"] for item in locals_["container_environment"]}
    assert environment["NBA_MCP_PUBLIC_URL"] == "${local.mcp_public_url}"
    public = locals_["mcp_public_url"]
    assert "var.mcp_public_url" in public and "https://${aws_lb.webserver.dns_name}" in public
    assert tf_variables()["mcp_public_url"]["default"] == ""
    outputs: dict = {}
    for block in tf_files()["outputs.tf"]["output"]:
        outputs.update(block)
    assert outputs["mcp_url"]["value"] == "${local.mcp_public_url}/mcp"
    assert "${aws_ecs_service.mcp.name}" in outputs["ecs_service_names"]["value"]


# ------------------------------------------------------------------------------------------------
# Helm (app-template chart, like the forecast API's values)
# ------------------------------------------------------------------------------------------------
def test_helm_values_run_serve_mcp_non_root_with_probes_and_no_credentials():
    values = yaml.safe_load(HELM_MCP.read_text())
    api = yaml.safe_load(HELM_API.read_text())
    container = values["controllers"]["mcp"]["containers"]["mcp"]
    api_container = api["controllers"]["api"]["containers"]["api"]
    command = container["command"]
    assert command[:4] == ["nba-platform", "serve-mcp", "--transport", "http"]
    port = int(command[command.index("--port") + 1])
    assert port == PORT == values["service"]["mcp"]["ports"]["http"]["port"]
    for probe in ("liveness", "readiness"):
        get = container["probes"][probe]["spec"]["httpGet"]
        assert get == {"path": METADATA_PATH, "port": port}, probe  # 200 without a token; /mcp is 401
    assert container["envFrom"] == api_container["envFrom"]
    assert {"secretRef": {"name": "nba-platform-env"}} in container["envFrom"]
    assert container["image"] == api_container["image"]
    assert container["securityContext"] == api_container["securityContext"]
    pod = values["defaultPodOptions"]["securityContext"]
    assert pod == api["defaultPodOptions"]["securityContext"] and pod["runAsNonRoot"] is True
    assert values["serviceAccount"] == api["serviceAccount"]
    assert values["controllers"]["mcp"]["replicas"] == 1  # sessions live in one pod
    [host] = values["ingress"]["mcp"]["hosts"]
    assert container["env"]["NBA_MCP_PUBLIC_URL"] == f"https://{host['host']}"
    assert [(p["path"], p["pathType"]) for p in host["paths"]] == [("/mcp", "Prefix"), (METADATA_PATH, "Exact")]
    assert all(p["service"] == {"identifier": "mcp", "port": "http"} for p in host["paths"])
    annotations = values["ingress"]["mcp"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == METADATA_PATH
    settings = yaml.safe_dump(values).lower()  # the values only, not the comments
    for word in ("password", "jwt_secret", "token:", "secret_key"):
        assert word not in settings
