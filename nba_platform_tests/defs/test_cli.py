"""`nba-platform ingest` end to end: a real subprocess, a real Dagster home, the real lake."""

import gzip
import os
import subprocess
import sys

from nba_platform_tests.lake_files import read_lake


def run_cli(args, home, extra_env=None):
    env = {**os.environ, "NBA_HOME": str(home), "NBA_INCLUDE_SAMPLE": "false", **(extra_env or {})}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "nba_platform.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_ingest_lands_file_and_builds_its_season(tmp_path, sample_path):
    src = tmp_path / "gamelog.csv"
    src.write_bytes(
        gzip.decompress(sample_path("nba_api_league_gamelog_2021_2024/nba-gamelog-2022-23.csv.gz").read_bytes())
    )
    home = tmp_path / "home"
    proc = run_cli(["ingest", str(src)], home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "landed gamelog.csv: shape league_game_log, 2460 rows, seasons 2022-23" in proc.stdout
    assert "SUCCESS" in proc.stdout
    assert (home / "landing" / "gamelog.csv").is_file()
    table = read_lake(home / "lake", "tables/team_games", "2022-23")
    assert len(table) == 2460 and not table.duplicated(["game_id", "team_id"]).any()

    seasons = run_cli(["seasons"], home)
    assert seasons.stdout.split() == ["2022-23"]

    # Re-ingesting the same bytes is a no-op landing and an idempotent rebuild.
    again = run_cli(["ingest", str(src)], home)
    assert again.returncode == 0, again.stdout + again.stderr
    assert read_lake(home / "lake", "tables/team_games", "2022-23").equals(table)


def test_ingest_rejects_bad_file_clearly_and_lands_nothing(tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"GAME_ID,TEAM_ID\n\xff\xfe\x00garbage\n")
    home = tmp_path / "home"
    proc = run_cli(["ingest", str(bad)], home)
    assert proc.returncode == 2
    assert "broken.csv" in proc.stdout and "control character" in proc.stdout and "text_encoding" in proc.stdout
    assert not (home / "landing" / "broken.csv").exists()


def test_many_seasons_run_in_consecutive_runs_of_a_bounded_size():
    import dagster as dg

    from nba_platform.cli.runs import MAX_SEASONS_PER_RUN, season_chunks

    with dg.DagsterInstance.ephemeral() as instance:
        # partitions in the order they were added (not chronological), as in a real home
        order = [f"{y}-{(y + 1) % 100:02d}" for y in range(1990, 2010)] + ["1985-86"]
        instance.add_dynamic_partitions("season", order)
        touched = list(reversed(order))
        chunks = season_chunks(instance, touched, size=8)
        assert [len(c) for c in chunks] == [8, 8, 5] and sum(chunks, []) == order  # partition order, each once
        assert season_chunks(instance, ["1999-00", "1990-91"]) == [["1990-91", "1999-00"]]
        assert MAX_SEASONS_PER_RUN >= 4
