"""Code location: every definition under `defs/`, plus the resources of the chosen environment."""

import sqlite3
import sys
import warnings
from pathlib import Path

import dagster as dg

from nba_platform.resources.environment import build_executor, build_resources
from nba_platform.settings import load_settings

# Owners per domain folder (= asset group), for assets that name none of their own.
DOMAIN_OWNERS = {
    "ingestion": "team:data-engineering",
    "tables": "team:data-engineering",
    "features": "team:ml",
    "models": "team:ml",
    "monitoring": "team:ml",
    "serving": "team:ml",
    "ops": "team:platform",
}


def wal_commits_without_fsync(dbapi_connection, _connection_record) -> None:
    """The embedded Dagster instance (SQLite, WAL journal) stores every run event in its own
    transaction: a cold build commits ~3,500 times, and an fsync per commit cost ~4 ms here (~14 s
    a build). In WAL mode, synchronous=NORMAL keeps the database consistent through any crash and
    can only lose the last commits on a power cut. Only WAL SQLite connections are touched (MLflow's
    rollback-journal SQLite and Postgres in prod are not)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()


def use_wal_commits_without_fsync() -> None:
    """Registered when SQLAlchemy is already loaded, i.e. in a process that has a Dagster instance
    with SQL storage (CLI runs, run workers); a code server that only serves definitions does not
    pay for importing it (~0.15 s)."""
    sqlalchemy = sys.modules.get("sqlalchemy")
    if sqlalchemy is not None and not sqlalchemy.event.contains(
        sqlalchemy.engine.Engine, "connect", wal_commits_without_fsync
    ):
        sqlalchemy.event.listen(sqlalchemy.engine.Engine, "connect", wal_commits_without_fsync)


def apply_asset_policy(loaded: dg.Definitions) -> dg.Definitions:
    """Operator-facing defaults in one place: owners by domain where missing, and the daily
    ingest's freshness policy on every asset its job (daily_tables) materializes."""
    from nba_platform.defs.ingestion.jobs import DAILY_TABLES_SELECTION
    from nba_platform.defs.ingestion.schedules import SEASON_TABLES_FRESHNESS

    fed_daily = DAILY_TABLES_SELECTION.resolve(loaded.resolve_asset_graph())

    def policy(spec: dg.AssetSpec) -> dg.AssetSpec:
        changes = {}
        if not spec.owners and spec.group_name in DOMAIN_OWNERS:
            changes["owners"] = [DOMAIN_OWNERS[spec.group_name]]
        if spec.key in fed_daily and spec.freshness_policy is None:
            changes["freshness_policy"] = SEASON_TABLES_FRESHNESS
        return spec.replace_attributes(**changes) if changes else spec

    with warnings.catch_warnings():  # map_resolved_asset_specs is marked preview in Dagster 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return loaded.map_resolved_asset_specs(func=policy)


def load_defs_folder() -> dg.Definitions:
    """`dg.load_from_defs_folder` is `ComponentTree.for_project(...).build_defs()`, whose root also
    builds the catalogue of every installed dg plugin's component types (dagster_aws -> boto3, ...):
    about 40 % of the definitions load here, for a project with no YAML components. Building only
    the defs folder, `build_defs(tree.defs_module_path)`, is the same public API with its documented
    `loc` argument; the tree is attached so the UI still shows it."""
    tree = dg.ComponentTree.for_project(path_within_project=Path(__file__).parent)
    with warnings.catch_warnings():  # as load_from_defs_folder: no beta/preview notes per load
        for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
            warnings.simplefilter("ignore", category)
        return dg.Definitions.merge(tree.build_defs(tree.defs_module_path), dg.Definitions(component_tree=tree))


@dg.definitions
def defs() -> dg.Definitions:
    use_wal_commits_without_fsync()
    settings = load_settings()
    return apply_asset_policy(
        dg.Definitions.merge(
            load_defs_folder(),
            dg.Definitions(
                resources=build_resources(settings),
                executor=build_executor(settings),
                # Eager features, shadow scores, live skill and promotion need the automation sensor on.
                sensors=[
                    dg.AutomationConditionSensorDefinition(
                        "default_automation_condition_sensor",
                        target=dg.AssetSelection.all(),
                        default_status=dg.DefaultSensorStatus.RUNNING,
                        description="Evaluates the assets' automation conditions (eager features after new tables; shadow "
                        "scores, live skill and the promotion check after a new model or new games).",
                    )
                ],
            ),
        )
    )
