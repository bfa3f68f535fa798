"""The embedded Dagster instance the CLI creates: Dagster's SQLite storage, with the event log
keeping one engine per shard (nba_platform/dagster_storage.py)."""

import dagster as dg
import yaml

from nba_platform.dagster_storage import EmbeddedSqliteEventLogStorage


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["2022-23", "2023-24"]))
def season_rows(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"season": context.partition_key})


def test_cli_home_stores_events_through_the_engine_keeping_storage(tmp_path, monkeypatch):
    from nba_platform.cli.runs import get_instance

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("NBA_HOME", str(tmp_path))
    monkeypatch.setenv("NBA_PLATFORM_ENV", "local")
    instance = get_instance()
    home = tmp_path / "dagster"
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["event_log_storage"] == {
        "module": "nba_platform.dagster_storage",
        "class": "EmbeddedSqliteEventLogStorage",
        "config": {},
    }
    storage = instance.event_log_storage
    assert isinstance(storage, EmbeddedSqliteEventLogStorage)

    for season in ("2022-23", "2023-24"):
        assert dg.materialize([season_rows], instance=instance, partition_key=season).success
    index_engine = storage._engines["index"]
    assert dg.materialize([season_rows], instance=instance, partition_key="2023-24").success
    assert storage._engines["index"] is index_engine  # kept across connections and runs
    assert len(storage._engines) == 4  # index + one shard per run

    # Dagster's own layout under the home: history/runs/<run_id>.db and index.db, so Dagster's
    # default SQLite storage (and the backup of the Dagster database) read the same files.
    run_ids = [r.run_id for r in instance.get_runs()]
    assert sorted(p.name for p in (home / "history" / "runs").glob("*.db")) == sorted(
        [*(f"{r}.db" for r in run_ids), "index.db"]
    )
    instance.dispose()
    from dagster._core.instance.ref import InstanceRef

    # config_dir without a dagster.yaml: Dagster's defaults over the same home
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home), config_dir=str(tmp_path))) as default:
        assert type(default.event_log_storage).__name__ == "SqliteEventLogStorage"
        records = default.fetch_materializations(dg.AssetKey("season_rows"), limit=10).records
        assert sorted(r.partition_key for r in records) == ["2022-23", "2023-24", "2023-24"]
        assert len(default.get_records_for_run(run_ids[0]).records) > 5


def test_engines_are_bounded(tmp_path):
    storage = EmbeddedSqliteEventLogStorage(str(tmp_path / "runs"))
    for i in range(EmbeddedSqliteEventLogStorage.MAX_ENGINES + 5):
        with storage.run_connection(f"run{i}"):
            pass
    assert len(storage._engines) == EmbeddedSqliteEventLogStorage.MAX_ENGINES
    assert "run0" not in storage._engines and f"run{EmbeddedSqliteEventLogStorage.MAX_ENGINES + 4}" in storage._engines
    with storage.run_connection("run0"):  # an evicted shard reconnects with a new engine
        pass
    storage.dispose()
    assert storage._engines == {}
