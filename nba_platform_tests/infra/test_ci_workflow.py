"""The CI workflow (.github/workflows/ci.yml), parsed: it runs the README's test command with
PostgreSQL, RabbitMQ and Redis service containers where the tests look for them, and builds the
Docker image from the root Dockerfile. (No runner here: this checks the facts, not a run.)"""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def load() -> dict:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(doc, dict) and doc.get("jobs"), "ci.yml is not a workflow"
    return doc


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_triggers_on_push_and_pull_request():
    doc = load()
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as True
    assert "push" in triggers and "pull_request" in triggers


def test_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "    bash scripts/test.sh" in readme
    job = load()["jobs"]["test"]
    assert re.search(r"^bash scripts/test\.sh$", runs(job), re.M)
    assert any(step.get("uses", "").startswith("actions/checkout@") for step in job["steps"])
    python = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    assert python and python[0]["with"]["python-version"] == "3.11"


def test_service_containers_where_the_tests_expect_them():
    services = load()["jobs"]["test"]["services"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"  # tests connect as postgres, no password
    assert "5432:5432" in services["postgres"]["ports"]
    assert services["rabbitmq"]["image"].startswith("rabbitmq:")
    assert "5672:5672" in services["rabbitmq"]["ports"]
    assert services["redis"]["image"].startswith("redis:")
    assert "6379:6379" in services["redis"]["ports"]
    for name, service in services.items():
        assert "--health-cmd" in service["options"], f"{name} has no health check: steps could start before it is up"


def test_installs_what_the_tests_need_from_the_distribution():
    commands = runs(load()["jobs"]["test"])
    assert "apt-get install -y prometheus" in commands  # promtool and the Prometheus scrape test
    assert "postgresql-client-15" in commands  # pg_dump/pg_restore of the backup tests


def test_builds_the_docker_image_from_the_root_dockerfile():
    job = load()["jobs"]["docker-image"]
    [build] = [s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action@")]
    assert build["with"]["context"] == "."
    assert (REPO / build["with"]["file"]).resolve() == (REPO / "Dockerfile").resolve()
    assert build["with"]["push"] is False
