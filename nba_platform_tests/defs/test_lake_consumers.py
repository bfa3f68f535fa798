"""The lake as a consumer reads it: DuckDB, no project code, over every table of a real
3-season build (issue 17: `SELECT season, count(*) FROM read_parquet('<lake>/<table>/**/*.parquet',
hive_partitioning = true) GROUP BY 1`), and `nba-platform migrate-lake` on a lake in the old layout."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.pipelines.jobs import BUILD_ALL_SELECTION
from nba_platform.lib.lake_layout import is_date_column
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import season_run_tags
from nba_platform_tests.lake_files import read_lake

SEASONS = ["2019-20", "2020-21", "2021-22"]  # box scores in two of them: empty raw partitions in the third
READER = Path(__file__).parents[1] / "consumer" / "read_lake_with_duckdb.py"


def read_with_duckdb(lake: Path, tables: dict[str, bool]) -> dict:
    """The reader script in an isolated interpreter (-I: no PYTHONPATH, no script folder on sys.path)."""
    proc = subprocess.run(
        [sys.executable, "-I", str(READER), str(lake), json.dumps(tables)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=lake,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    root = tmp_path_factory.mktemp("consumer")
    resources = embedded_resources(root, include_sample=True)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("season", SEASONS)
        d = defs()
        result = dg.materialize(
            [*d.assets, *d.asset_checks],
            resources=resources,
            instance=instance,
            tags=season_run_tags(SEASONS),
            selection=BUILD_ALL_SELECTION,
        )
    assert result.success
    # every asset the lake IO manager wrote: season-partitioned or one file
    tables = {}
    for event in result.get_asset_materialization_events():
        if "lake_path" in event.materialization.metadata:
            tables[event.asset_key.to_user_string()] = event.materialization.partition is not None
    lake = root / "lake"
    return {"lake": lake, "tables": tables, "read": read_with_duckdb(lake, tables)}


def test_every_table_of_the_build_is_read(build):
    tables, read = build["tables"], build["read"]
    assert len(tables) >= 30 and sum(tables.values()) >= 20, tables
    assert {
        "tables/team_games",
        "raw/box_score_traditional",
        "serving/game_predictions",
        "features/game_features",
    } <= set(tables)
    assert set(read) - {"_modules"} == set(tables)
    assert read["_modules"] == []  # the reader imported no project code
    # and the lake holds nothing else a glob would pick up
    on_disk = {str(p.relative_to(build["lake"])) for p in build["lake"].rglob("*.parquet")}
    expected = {
        f"{t}/season={s}/data.parquet" if partitioned else f"{t}.parquet"
        for t, partitioned in tables.items()
        for s in (SEASONS if partitioned else [None])
    }
    assert on_disk == expected


def test_partitioned_tables_count_per_season_as_the_platform_does(build):
    lake, read = build["lake"], build["read"]
    for table, partitioned in build["tables"].items():
        if not partitioned:
            assert read[table]["rows"] == len(read_lake(lake, table)), table
            continue
        got = read[table]
        platform = {s: len(read_lake(lake, table, s)) for s in SEASONS}
        # SELECT season, count(*) ... hive_partitioning = true GROUP BY 1 (seasons without rows have no group)
        assert dict(map(tuple, got["by_season"])) == {s: n for s, n in platform.items() if n}, table
        assert got["files"] == [f"{table}/season={s}/data.parquet" for s in SEASONS]
        # one scan over every file without union_by_name: every file has the same columns and types
        assert got["union_rows"] == sum(platform.values()), table
        assert all(columns == got["file_columns"][0] for columns in got["file_columns"]), table
        assert got["columns"]["season"] == "VARCHAR" and "season" not in got["file_columns"][0], table
        # partition pruning by the folder name: WHERE season = the latest season with rows
        latest = max((s for s, n in platform.items() if n), default=None)
        assert got["pruned_rows"] == (platform[latest] if latest else 0), table


def test_dates_are_dates_and_no_column_is_untyped(build):
    read = build["read"]
    for table in build["tables"]:
        columns = read[table]["columns"]
        assert not [c for c, t in columns.items() if "NULL" in t], (table, columns)
        assert not [c for c, t in columns.items() if t.startswith("TIMESTAMP") and is_date_column(c)], table
        if not table.startswith("raw/"):  # raw rows keep the source's text
            assert all(t == "DATE" for c, t in columns.items() if is_date_column(c)), (table, columns)
    for table in ("tables/team_games", "serving/game_predictions", "features/game_features"):
        assert read[table]["columns"]["game_date"] == "DATE"
    assert read["tables/players"]["columns"]["birth_date"] == "DATE"
    # an empty partition has the table's typed columns (it used to be all NULL-typed)
    files = read["serving/game_predictions"]["file_columns"]
    assert files[0]["game_date"] == "DATE" and files[0]["home_team_id"] == "BIGINT"
    # a source column named like the partition column is not hidden by the folder name
    assert read["raw/kaggle_games"]["columns"]["SEASON_source"] == "VARCHAR"
    # raw partitions without rows keep the shape's columns
    empty_raw = read["raw/box_score_traditional"]["file_columns"][2]
    assert {"GAME_ID", "PLAYER_ID", "PTS", "_source_file"} <= set(empty_raw)


def test_pyarrow_and_pandas_read_a_table_folder_as_it_is(build):
    folder = build["lake"] / "tables" / "team_games"
    table = pq.read_table(folder)  # Hive partitioning by default: season from the folder names
    assert table.num_rows == sum(len(read_lake(build["lake"], "tables/team_games", s)) for s in SEASONS)
    assert sorted(set(table.column("season").to_pylist())) == SEASONS
    assert pa.types.is_date32(table.schema.field("game_date").type)
    assert len(pd.read_parquet(folder, filters=[("season", "=", "2021-22")])) == len(
        read_lake(build["lake"], "tables/team_games", "2021-22")
    )


def run_cli(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "MLFLOW_", "DAGSTER_"))}
    env.update({"NBA_HOME": str(home), "NBA_INCLUDE_SAMPLE": "false", "NBA_PLATFORM_ENV": "local"})
    code = "import sys; from nba_platform.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300)


def test_migrate_lake_moves_an_old_layout_lake_and_the_io_manager_refuses_it_before(build, tmp_path):
    """A lake written before season folders: a copy of the build's frames in the old layout."""
    lake, home = build["lake"], tmp_path / "home"
    old = home / "lake"
    frames = {}
    for table in ("tables/team_games", "serving/game_predictions", "raw/box_score_traditional"):
        for season in SEASONS:
            frames[table, season] = read_lake(lake, table, season)
            (old / table).mkdir(parents=True, exist_ok=True)
            pq.write_table(
                pa.Table.from_pandas(frames[table, season], preserve_index=False), old / table / f"{season}.parquet"
            )
    frames["features/game_features", None] = read_lake(lake, "features/game_features")
    (old / "features").mkdir(parents=True)
    features = pa.Table.from_pandas(frames["features/game_features", None], preserve_index=False)
    pq.write_table(features, old / "features" / "game_features.parquet")

    # the IO manager refuses the old layout, naming the command
    resources = embedded_resources(home, include_sample=False)
    with (
        dg.instance_for_test() as instance,
        dg.build_input_context(
            asset_key=dg.AssetKey(["tables", "team_games"]),
            asset_partitions_def=dg.StaticPartitionsDefinition(SEASONS),
            partition_key="2021-22",
            instance=instance,
        ) as context,
    ):
        with pytest.raises(ValueError, match="old lake layout.*nba-platform migrate-lake"):
            resources["io_manager"].load_input(context)

    dry = run_cli(["migrate-lake", "--dry-run"], home)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "tables/team_games: would move 3 partition(s) 2019-20 .. 2021-22" in dry.stdout
    assert (old / "tables" / "team_games" / "2019-20.parquet").exists()

    done = run_cli(["migrate-lake"], home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "moved 9 file(s)" in done.stdout and "features/game_features.parquet" in done.stdout
    assert not list(old.rglob("20*.parquet"))
    for (table, season), frame in frames.items():
        pd.testing.assert_frame_equal(read_lake(old, table, season), frame, check_exact=True)
    read = read_with_duckdb(old, {t: s is not None for t, s in frames})
    assert read["tables/team_games"]["by_season"] == build["read"]["tables/team_games"]["by_season"]
    assert read["features/game_features"]["columns"]["game_date"] == "DATE"

    again = run_cli(["migrate-lake"], home)
    assert again.returncode == 0 and "moved 0 file(s)" in again.stdout
