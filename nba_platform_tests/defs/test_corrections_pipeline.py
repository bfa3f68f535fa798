"""Corrections end to end on real data: a real 2022-23 game's points are corrected through the CLI
and a dropped corrections file; the validated and deduplicated tables show the new value across two
sources, the audit shows old/new/reason/author, re-landing the source keeps the correction, and
`nothing_lost` still holds. Plus the landing sensor's routing of corrections files."""

import gzip
import json
import os
import shutil
import subprocess
import sys

import dagster as dg

from nba_platform.defs.ingestion.sensors import landing_zone_sensor
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import check_results, materialize_seasons
from nba_platform_tests.lake_files import read_lake

SEASON = "2022-23"
GAME, BOS, PHI = "0022200001", 1610612738, 1610612755  # 18 Oct 2022: BOS 126, PHI 117
GAMELOG = "nba_api_league_gamelog_2021_2024/nba-gamelog-2022-23.csv.gz"
KAGGLE = "kaggle_nba_games_2003_2022/games.csv.gz"


def run_cli(args, home):
    env = {**os.environ, "NBA_HOME": str(home), "NBA_INCLUDE_SAMPLE": "false", "NBA_PLATFORM_ENV": "local"}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "nba_platform.cli", *args], env=env, capture_output=True, text=True, timeout=600
    )


def read(root, *key, season=SEASON):
    return read_lake(root / "lake", list(key), season)


def materialization(result, key: str):
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return event.materialization.metadata


def team_row(table, team):
    rows = table[(table["game_id"] == GAME) & (table["team_id"] == team)]
    return rows


def test_cli_correct_records_validates_and_refuses(tmp_path):
    home = tmp_path / "home"
    ok = run_cli(
        [
            "correct",
            "--entity",
            "team_game",
            "--key",
            f"game_id=22200001,team_id={PHI}",
            "--field",
            "pts",
            "--value",
            "119",
            "--reason",
            "official box score: 119",
            "--by",
            "Ana Lytic",
        ],
        home,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"recorded team_game game_id={GAME},team_id={PHI}: pts = 119 (by Ana Lytic," in ok.stdout
    assert f"season {SEASON} is not ingested yet" in ok.stdout
    path = home / "landing" / "corrections" / "corrections.csv"
    lines = path.read_text().splitlines()
    assert lines[0] == "entity,key,field,value,reason,author,recorded_at" and len(lines) == 2
    assert lines[1].startswith(f'team_game,"game_id={GAME},team_id={PHI}",pts,119,official box score: 119,Ana Lytic,20')
    assert not list(path.parent.glob(".tmp-*"))  # written atomically: no temp file left behind

    bad = run_cli(
        [
            "correct",
            "--entity",
            "team_game",
            "--key",
            f"game_id={GAME}",
            "--field",
            "pts",
            "--value",
            "119",
            "--reason",
            "r",
            "--by",
            "b",
        ],
        home,
    )
    assert bad.returncode == 2 and "a team_game key needs game_id+team_id; missing ['team_id']" in bad.stdout
    worse = run_cli(
        [
            "correct",
            "--entity",
            "team_game",
            "--key",
            f"game_id={GAME},team_id={PHI}",
            "--field",
            "opp_pts",
            "--value",
            "1",
            "--reason",
            "r",
            "--by",
            "b",
        ],
        home,
    )
    assert worse.returncode == 2 and "follows other fields" in worse.stdout
    assert path.read_text().splitlines() == lines  # nothing appended by a refused correction


def test_real_game_correction_end_to_end(tmp_path, instance, sample_path):
    resources = embedded_resources(tmp_path, include_sample=False)
    landing = tmp_path / "landing"
    shutil.copyfile(sample_path(GAMELOG), landing / "nba-gamelog-2022-23.csv.gz")
    shutil.copyfile(sample_path(KAGGLE), landing / "games.csv.gz")

    # Way in 1: the CLI appends to corrections/corrections.csv in the landing zone.
    proc = run_cli(
        [
            "correct",
            "--entity",
            "team_game",
            "--key",
            f"game_id={GAME},team_id={PHI}",
            "--field",
            "pts",
            "--value",
            "119",
            "--reason",
            "official box score: 119",
            "--by",
            "Ana Lytic",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Way in 2: a corrections file dropped into the zone: one key that matches nothing this season,
    # one for another season (not this run's business, so not reported either).
    (landing / "fixes.json").write_text(
        json.dumps(
            [
                {
                    "entity": "team_game",
                    "key": {"game_id": "0022201299", "team_id": BOS},
                    "field": "pts",
                    "value": 100,
                    "reason": "no such game",
                    "author": "Bo",
                    "recorded_at": "2024-05-01T09:00:00Z",
                },
                {
                    "entity": "team_game",
                    "key": {"game_id": "0022100001", "team_id": BOS},
                    "field": "pts",
                    "value": 100,
                    "reason": "another season",
                    "author": "Bo",
                    "recorded_at": "2024-05-01T09:00:00Z",
                },
            ]
        )
    )

    # Run 1: the points alone break the LeagueGameLog row's box score (pts = 2*FGM + FG3M + FTM), so
    # that row is quarantined with the rule; Kaggle (no box score) carries the corrected score.
    result = materialize_seasons([SEASON], resources, instance)
    assert result.success
    checks = check_results(result)
    assert checks["team_games_nothing_lost"] and checks["team_games_keys_accounted"] and all(checks.values()), checks
    quarantined = read(tmp_path, "quarantine", "team_games")
    [bad] = quarantined[
        quarantined["record"].str.contains(f'"team_id": {PHI}') & quarantined["record"].str.contains(GAME)
    ].to_dict(orient="records")
    assert (bad["rule"], bad["source"], json.loads(bad["record"])["pts"]) == ("pts_consistent", "league_game_log", 119)
    audit = read(tmp_path, "corrections", "team_games")
    pts = audit[audit["field"] == "pts"].sort_values("source")
    assert pts[["source", "old_value", "new_value", "reason", "author", "outcome"]].values.tolist() == [
        ["kaggle_games", "117", "119", "official box score: 119", "Ana Lytic", "accepted"],
        ["league_game_log", "117", "119", "official box score: 119", "Ana Lytic", "quarantined: pts_consistent"],
    ]
    assert (
        set(pts["correction_file"]) == {"corrections/corrections.csv"} and pts["recorded_at"].str.startswith("20").all()
    )
    assert set(pts["source_file"]) == {"games.csv.gz", "nba-gamelog-2022-23.csv.gz"}
    opp = audit[audit["field"] == "opp_pts"]
    assert (
        set(opp["row_key"]) == {f"game_id={GAME},team_id={BOS}"} and set(opp["old_value"]) == {"117"} and len(opp) == 2
    )
    assert team_row(read(tmp_path, "tables", "team_games"), PHI)[["pts", "sources"]].values.tolist() == [
        [119, "kaggle_games"]
    ]

    meta = materialization(result, "tables/team_games_validated")
    assert meta["corrections_applied"].value == 1
    assert [(m["key"], m["file"], m["row"]) for m in meta["unmatched_corrections"].value] == [
        (f"game_id=0022201299,team_id={BOS}", "fixes.json", 1)
    ]
    audit_meta = materialization(result, "corrections/team_games")
    assert audit_meta["rows"].value == len(audit) == 4
    assert "| official box score: 119 | Ana Lytic |" in audit_meta["corrections"].value
    assert materialization(result, "corrections/player_games")["rows"].value == 0

    # Run 2: the free throws are corrected too, and the source is re-landed as a re-export under
    # another name (uncompressed): corrections are keyed by game and team, not by file row.
    (landing / "fixes-2.csv").write_text(
        "entity,key,field,value,reason,author,recorded_at\n"
        f'team_game,"game_id={GAME},team_id={PHI}",ftm,26,two free throws missing from the feed,Bo,2024-05-02T08:00:00Z\n'
        f'team_game,"game_id={GAME},team_id={PHI}",ft_pct,0.929,follows ftm,Bo,2024-05-02T08:00:00Z\n'
    )
    (landing / "nba-gamelog-2022-23.csv.gz").unlink()
    (landing / "LeagueGameLog-2022-23-reexport.csv").write_bytes(gzip.decompress(sample_path(GAMELOG).read_bytes()))
    again = materialize_seasons([SEASON], resources, instance)
    assert again.success and all(check_results(again).values()), check_results(again)
    validated = read(tmp_path, "tables", "team_games_validated")
    phi, bos = team_row(validated, PHI), team_row(validated, BOS)
    assert sorted(phi["source"]) == ["kaggle_games", "league_game_log"]  # both sources corrected, both accepted
    assert set(phi["pts"]) == {119} and set(bos["opp_pts"]) == {119} and set(bos["pts"]) == {126}
    assert "LeagueGameLog-2022-23-reexport.csv" in set(phi["source_file"])
    [phi_final] = team_row(read(tmp_path, "tables", "team_games"), PHI).to_dict(orient="records")
    [bos_final] = team_row(read(tmp_path, "tables", "team_games"), BOS).to_dict(orient="records")
    assert (phi_final["pts"], phi_final["ftm"], phi_final["sources"]) == (119, 26, "league_game_log,kaggle_games")
    assert (bos_final["opp_pts"], bos_final["plus_minus"]) == (119, 7.0)
    audit = read(tmp_path, "corrections", "team_games")
    assert set(audit["outcome"]) == {"accepted"}
    assert set(audit[audit["field"] == "pts"]["source_file"]) == {"games.csv.gz", "LeagueGameLog-2022-23-reexport.csv"}
    assert audit[(audit["field"] == "ftm") & (audit["source"] == "league_game_log")][
        ["old_value", "new_value"]
    ].values.tolist() == [["24", "26"]]

    # An invalid corrections file is a clear error: the validated step fails, naming file, row and problem.
    (landing / "more_fixes.csv").write_text(
        f"entity,key,field,value,reason,author,recorded_at\nteam_game,game_id={GAME},pts,120,typo,Bo,2024-05-02\n"
    )
    selection = dg.AssetSelection.assets(
        dg.AssetKey(["tables", "team_games_validated"])
    ).required_multi_asset_neighbors()
    failed = materialize_seasons([SEASON], resources, instance, selection=selection, raise_on_error=False)
    assert not failed.success
    [failure] = [e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith("invalid corrections file in the landing zone: more_fixes.csv: 1 invalid correction(s)")
    assert "row 1: a team_game key needs game_id+team_id" in message


def evaluate(instance, landing, cursor=None):
    return landing_zone_sensor(
        dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": landing})
    )


def test_sensor_routes_corrections_files_without_new_partitions(instance, local_resources, landing_dir, sample_path):
    landing = local_resources["landing"]
    shutil.copyfile(sample_path(GAMELOG), landing_dir / "gamelog.csv.gz")
    first = evaluate(instance, landing)
    assert [r.partition_key for r in first.run_requests] == [SEASON]
    instance.add_dynamic_partitions("season", [SEASON])

    header = "entity,key,field,value,reason,author,recorded_at\n"
    fix = f'team_game,"game_id={GAME},team_id={PHI}",pts,119,box score,Ana,2024-05-01T10:00:00Z\n'
    future = f'team_game,"game_id=0023000001,team_id={PHI}",pts,99,not ingested yet,Ana,2024-05-01T10:00:00Z\n'
    path = landing_dir / "corrections" / "corrections.csv"
    path.parent.mkdir()
    path.write_text(header + fix + future)
    second = evaluate(instance, landing, cursor=first.cursor)
    assert [r.partition_key for r in second.run_requests] == [SEASON]  # 2030-31 is not created
    assert not second.dynamic_partitions_requests
    assert second.run_requests[0].tags["nba/landed_files"] == "corrections/corrections.csv"

    # An appended correction for a season not ingested: the 2022-23 fix is not re-run.
    other = f'team_game,"game_id=0022100001,team_id={PHI}",pts,100,typo,Ana,2024-05-02T10:00:00Z\n'
    path.write_text(header + fix + future + other)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000_000))
    third = evaluate(instance, landing, cursor=second.cursor)
    assert not third.run_requests

    # A broken edit is rejected once, clearly; removing the file re-runs the seasons it corrected.
    path.write_text(header + "team_game,game_id=1,pts,1,r,a,2024\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 20_000_000_000))
    fourth = evaluate(instance, landing, cursor=third.cursor)
    assert not fourth.run_requests and "invalid correction(s)" in fourth.skip_reason.skip_message
    path.write_text(header + fix)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 30_000_000_000))
    fifth = evaluate(instance, landing, cursor=fourth.cursor)
    assert [r.partition_key for r in fifth.run_requests] == [SEASON]
    path.unlink()
    sixth = evaluate(instance, landing, cursor=fifth.cursor)
    assert [r.partition_key for r in sixth.run_requests] == [SEASON]
    assert "corrections/corrections.csv" not in json.loads(sixth.cursor)


def test_ingest_and_build_route_corrections_files(tmp_path):
    """`ingest` lands a corrections file without building (its season is unknown) and refuses a bad
    one; `build` does not take it for data."""
    home, name = tmp_path / "home", "fixes.csv"
    good = tmp_path / name
    good.write_text(
        "entity,key,field,value,reason,author,recorded_at\n"
        f'team_game,"game_id={GAME},team_id={PHI}",pts,119,box score,Ana,2024-05-01T10:00:00Z\n'
    )
    proc = run_cli(["ingest", str(good)], home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"landed {name}: 1 correction(s), known seasons touched: none" in proc.stdout
    assert (home / "landing" / name).is_file()
    bad = tmp_path / "bad_fixes.csv"
    bad.write_text("entity,key,field,value,reason,author,recorded_at\nteam_game,game_id=x,pts,1,r,a,2024\n")
    proc = run_cli(["ingest", str(bad)], home)
    assert proc.returncode == 2 and "bad_fixes.csv: 1 invalid correction(s)" in proc.stdout
    assert not (home / "landing" / "bad_fixes.csv").exists()
    build = run_cli(["build"], home)
    assert build.returncode == 1, build.stdout + build.stderr
    assert f"  {name}: corrections (applied in the validated tables)" in build.stdout
    assert "no landed data: nothing to build" in build.stdout
