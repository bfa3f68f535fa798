#!/usr/bin/env bash
# README command 2: install with dev extras, start the services the tests use, run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[dev]'

# Services (this machine kind runs them before a session; start whatever is down).
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

export NBA_PLATFORM_ENV=local
unset DAGSTER_HOME NBA_HOME
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
