#!/usr/bin/env bash
# README command 2: install with dev extras, start the services the tests use, run pytest (the
# full suite; .ci/run calls this). `--fast`: the inner-loop tier, no services started: lint, the
# lib and infra tests except those marked slow, and the quick defs tests (FAST_DEFS below).
set -euo pipefail
cd "$(dirname "$0")/.."
FAST=0
if [ "${1:-}" = "--fast" ]; then FAST=1; shift; fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
if [ "$FAST" = 0 ] || ! .venv/bin/python -c "import nba_platform, pytest, xdist" 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
fi

if [ "$FAST" = 1 ]; then
  .venv/bin/ruff check .
  .venv/bin/ruff format --check .
  FAST_DEFS=(
    nba_platform_tests/defs/test_cli_help.py
    nba_platform_tests/defs/test_json_logs.py
    nba_platform_tests/defs/test_checks.py
    nba_platform_tests/defs/test_landing_index.py
    nba_platform_tests/defs/test_feature_assets.py
  )
  export NBA_PLATFORM_ENV=local
  unset DAGSTER_HOME NBA_HOME
  exec .venv/bin/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile -m "not slow and not integration" \
    nba_platform_tests/lib nba_platform_tests/infra "${FAST_DEFS[@]}" "$@"
fi

# Services (this machine kind runs them before a session; start whatever is down).
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
# Celery brokers for the scale-out test: RabbitMQ (default NBA_CELERY_BROKER) and Redis.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if command -v rabbitmq-server >/dev/null 2>&1 && ! port_open 5672; then
  service rabbitmq-server start || rabbitmq-server -detached
  for _ in $(seq 60); do port_open 5672 && break; sleep 1; done
fi
if command -v redis-server >/dev/null 2>&1 && ! port_open 6379; then
  service redis-server start || redis-server --bind 127.0.0.1 --port 6379 --daemonize yes
  for _ in $(seq 30); do port_open 6379 && break; sleep 1; done
fi
# The UI browser test drives Debian's chromium through Playwright (never `playwright install`).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
# promtool and prometheus (Debian's prometheus package) for the alert-rule, dashboard and scrape tests.
if ! command -v promtool >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus) >/dev/null
fi

# Lint and format gate (settings in pyproject.toml).
.venv/bin/ruff check .
.venv/bin/ruff format --check .

export NBA_PLATFORM_ENV=local
unset DAGSTER_HOME NBA_HOME
# Two xdist workers (one per core of the CI machine); `--dist loadfile` keeps a test file on one worker,
# so its module-scoped build is made once.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${NBA_TEST_WORKERS:-2}" --dist loadfile "$@"
