-- Creates the platform's Postgres roles and databases:
--   * DAGSTER_PG_DB  owned by DAGSTER_PG_USER  (Dagster run / event-log / schedule storage)
--   * NBA_RDS_DB     owned by NBA_RDS_USER     (serving tables published by the platform)
--   * MLFLOW_DB      owned by NBA_RDS_USER     (MLflow tracking backend)
--
-- Used two ways:
--   1. docker compose: mounted into /docker-entrypoint-initdb.d/ of the postgres:15 container,
--      which runs it once, as the superuser, on an empty data directory. The container gets the
--      variables below from infra/docker-compose.yml.
--   2. RDS bootstrap (once, after `terraform apply`): run it as the RDS master user with the same
--      variables exported, e.g.
--        psql "host=$NBA_RDS_HOST dbname=postgres user=<master> sslmode=require" \
--             -v ON_ERROR_STOP=1 -f infra/compose/init.sql
--
-- Names and passwords are read from the environment with psql's \getenv (psql >= 15), so no
-- credential is written in this file. It is idempotent: roles and databases are created only if
-- missing; passwords are (re)set on every run.
-- Checked by nba_platform_tests/infra/test_deployment_files.py against a throwaway PostgreSQL 15.

\set ON_ERROR_STOP on

\getenv dagster_user DAGSTER_PG_USER
\getenv dagster_password DAGSTER_PG_PASSWORD
\getenv dagster_db DAGSTER_PG_DB
\getenv app_user NBA_RDS_USER
\getenv app_password NBA_RDS_PASSWORD
\getenv app_db NBA_RDS_DB
\getenv mlflow_db MLFLOW_DB

\if :{?dagster_user}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: DAGSTER_PG_USER is not set'; END $$;
\endif
\if :{?dagster_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: DAGSTER_PG_PASSWORD is not set'; END $$;
\endif
\if :{?dagster_db}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: DAGSTER_PG_DB is not set'; END $$;
\endif
\if :{?app_user}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: NBA_RDS_USER is not set'; END $$;
\endif
\if :{?app_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: NBA_RDS_PASSWORD is not set'; END $$;
\endif
\if :{?app_db}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: NBA_RDS_DB is not set'; END $$;
\endif
\if :{?mlflow_db}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: MLFLOW_DB is not set'; END $$;
\endif

-- Roles ------------------------------------------------------------------------------------------
SELECT format('CREATE ROLE %I LOGIN', :'dagster_user')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'dagster_user') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'app_user')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_user') \gexec

SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'dagster_user', :'dagster_password') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'app_user', :'app_password') \gexec

-- On RDS the master user is not a superuser: it must be a member of a role to create a database
-- owned by it (PostgreSQL 15). Harmless for a superuser.
SELECT format('GRANT %I TO CURRENT_USER', :'dagster_user')
WHERE NOT pg_has_role(current_user, :'dagster_user', 'MEMBER') \gexec
SELECT format('GRANT %I TO CURRENT_USER', :'app_user')
WHERE NOT pg_has_role(current_user, :'app_user', 'MEMBER') \gexec

-- Databases (PostgreSQL 15: the owner may create objects in its database's public schema) ---------
SELECT format('CREATE DATABASE %I OWNER %I', :'dagster_db', :'dagster_user')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'dagster_db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'app_db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'mlflow_db', :'app_user')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'mlflow_db') \gexec

-- Nobody else may connect to these databases.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'dagster_db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'app_db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'mlflow_db') \gexec
