"""The embedded Dagster instance the CLI creates: Dagster's default SQLite storage, and a
dagster.yaml generated from one mapping (its python_logs block is PYTHON_LOGS_CONFIG)."""

import dagster as dg
import yaml

from nba_platform.cli.runs import EMBEDDED_INSTANCE_CONFIG, get_instance
from nba_platform.observability.run_logs import PYTHON_LOGS_CONFIG


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["2022-23", "2023-24"]))
def season_rows(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"season": context.partition_key})


def use_home(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("NBA_HOME", str(tmp_path))
    monkeypatch.setenv("NBA_PLATFORM_ENV", "local")
    return tmp_path / "dagster"


def test_cli_home_uses_dagsters_default_storage(tmp_path, monkeypatch):
    home = use_home(tmp_path, monkeypatch)
    instance = get_instance()
    try:
        config = yaml.safe_load((home / "dagster.yaml").read_text())
        assert config == EMBEDDED_INSTANCE_CONFIG
        assert config["python_logs"] == PYTHON_LOGS_CONFIG
        assert "event_log_storage" not in config
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
        for season in ("2022-23", "2023-24"):
            assert dg.materialize([season_rows], instance=instance, partition_key=season).success
        records = instance.fetch_materializations(dg.AssetKey("season_rows"), limit=10).records
        assert sorted(r.partition_key for r in records) == ["2022-23", "2023-24"]
    finally:
        instance.dispose()


def test_a_home_naming_the_removed_storage_class_is_rewritten(tmp_path, monkeypatch):
    """Homes written before 2026-12 named nba_platform.dagster_storage (a private-API subclass, gone):
    their dagster.yaml is regenerated and the runs they hold stay readable."""
    home = use_home(tmp_path, monkeypatch)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nevent_log_storage:\n  module: nba_platform.dagster_storage\n"
        "  class: EmbeddedSqliteEventLogStorage\n  config: {}\n"
    )
    instance = get_instance()
    try:
        assert yaml.safe_load((home / "dagster.yaml").read_text()) == EMBEDDED_INSTANCE_CONFIG
        assert dg.materialize([season_rows], instance=instance, partition_key="2022-23").success
    finally:
        instance.dispose()
