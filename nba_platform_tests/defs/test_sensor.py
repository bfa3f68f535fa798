"""The landing sensor turns a dropped file into season partitions and runs, once per file version."""

import gzip
import json
import os

import dagster as dg

from nba_platform.defs.ingestion.sensors import landing_zone_sensor


def evaluate(instance, landing, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": landing})
    return landing_zone_sensor(context)


def test_new_file_requests_its_season_and_adds_the_partition(instance, local_resources, land, sample_path, landing_dir):
    # An upper-cased LeagueGameLog export for a season the instance has never seen.
    text = gzip.decompress(
        sample_path("nba_api_league_gamelog_2021_2024/nba-gamelog-2023-24.csv.gz").read_bytes()
    ).decode()
    header, body = text.split("\n", 1)
    (landing_dir / "LeagueGameLog_2023_24.csv").write_text(header.upper() + "\n" + body)

    result = evaluate(instance, local_resources["landing"])
    assert [r.partition_key for r in result.run_requests] == ["2023-24"]
    assert result.run_requests[0].tags["nba/landed_files"] == "LeagueGameLog_2023_24.csv"
    [add] = result.dynamic_partitions_requests
    assert add.partitions_def_name == "season" and list(add.partition_keys) == ["2023-24"]

    # Same file, next tick: nothing to do.
    again = evaluate(instance, local_resources["landing"], cursor=result.cursor)
    assert not again.run_requests and again.skip_reason is not None

    # The file changes (a re-export): it is picked up again.
    path = landing_dir / "LeagueGameLog_2023_24.csv"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    changed = evaluate(instance, local_resources["landing"], cursor=again.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["2023-24"]
    assert changed.run_requests[0].run_key != result.run_requests[0].run_key


def test_multi_season_file_requests_every_season(instance, local_resources, land, sample_path):
    land(sample_path("nba_api_teamgamelog_2018_2023/team_game_logs.csv.gz"))
    result = evaluate(instance, local_resources["landing"])
    assert sorted(r.partition_key for r in result.run_requests) == [
        "2018-19",
        "2019-20",
        "2020-21",
        "2021-22",
        "2022-23",
    ]


def test_unreadable_file_is_rejected_once_and_reported(instance, local_resources, landing_dir):
    (landing_dir / "notes.csv").write_text("what,is,this\n1,2,3\n")
    result = evaluate(instance, local_resources["landing"])
    assert not result.run_requests
    assert "unrecognised source shape" in result.skip_reason.skip_message
    assert "notes.csv" in json.loads(result.cursor)
    assert evaluate(instance, local_resources["landing"], cursor=result.cursor).run_requests in (None, [])


def test_new_data_runs_season_update_once_a_model_exists(instance, local_resources, sample_path, landing_dir):
    data = sample_path("nba_api_league_gamelog_2021_2024/nba-gamelog-2022-23.csv.gz").read_bytes()
    (landing_dir / "gamelog-2022-23.csv.gz").write_bytes(data)
    before = evaluate(instance, local_resources["landing"])
    assert {r.job_name for r in before.run_requests} == {"season_tables"}  # no model to predict with yet
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=["models", "game_outcome_model"]))
    (landing_dir / "gamelog-2022-23-again.csv.gz").write_bytes(data)
    after = evaluate(instance, local_resources["landing"], cursor=before.cursor)
    assert {r.job_name for r in after.run_requests} == {"season_update"}
    assert [r.partition_key for r in after.run_requests] == ["2022-23"]
