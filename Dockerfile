# syntax=docker/dockerfile:1
#
# One image for the three Dagster processes of nba_platform (and the local MLflow server):
#   code server (default CMD)  dagster code-server start -h 0.0.0.0 -p 4000 -m nba_platform.definitions
#   webserver                  dagster-webserver -h 0.0.0.0 -p 3000 -w /opt/dagster/app/workspace.yaml
#   daemon                     dagster-daemon run -w /opt/dagster/app/workspace.yaml
# The webserver and daemon commands are set by infra/docker-compose.yml, the ECS task
# definitions (infra/terraform) and the Helm chart.
#
# Dependencies are the pinned ones declared in pyproject.toml, installed by `pip install .`.
# EXTRA_PIP_PACKAGES adds deployment-only packages, e.g. for Kubernetes (see infra/helm):
#   docker build --build-arg EXTRA_PIP_PACKAGES="dagster-k8s==0.29.27" -t nba-platform .
#
# No secrets are baked in: everything sensitive arrives as environment at run time.

# Health checks are defined per process by the orchestrators (compose, ECS task definitions,
# Helm chart probes): this one image runs three different servers, so it has no HEALTHCHECK.
FROM python:3.11-slim

ARG EXTRA_PIP_PACKAGES=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

# pg_dump / pg_restore (PostgreSQL 15 client, bookworm) for the restore-verified backups.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged runtime user (fixed uid/gid so volume permissions and k8s securityContext match).
RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --home-dir /opt/dagster/home --no-create-home \
        --shell /usr/sbin/nologin dagster \
    && mkdir -p /opt/dagster/app /opt/dagster/dagster_home /opt/dagster/home /opt/dagster/src

# Install the package (and its pinned dependencies) from the build context.
WORKDIR /opt/dagster/src
COPY . .
RUN pip install . ${EXTRA_PIP_PACKAGES} \
    && rm -rf /opt/dagster/src

# Instance config (Postgres storage, queued runs, S3 compute logs) and the gRPC workspace.
WORKDIR /opt/dagster/app
COPY infra/dagster/dagster.yaml /opt/dagster/dagster_home/dagster.yaml
COPY infra/dagster/workspace.yaml /opt/dagster/app/workspace.yaml
RUN chown -R dagster:dagster /opt/dagster/dagster_home /opt/dagster/app /opt/dagster/home

USER dagster:dagster

# 3000: webserver, 4000: code server (gRPC)
EXPOSE 3000 4000 8080

CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "nba_platform.definitions"]
