"""The landing file index: raw assets read and parse only the files of their shape whose seasons
meet the run's partitions, with exactly the rows of a full scan of the landing zone."""

import gzip
import json
import os
import shutil
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pandas as pd
import pytest

from nba_platform.defs.ingestion.assets import _empty_raw, mask_pii, raw_assets
from nba_platform.lib.landing import SHAPES, LandingError
from nba_platform.resources.landing import (
    INDEX_PREFIX,
    PIECES_PREFIX,
    LandedFile,
    LandingZone,
    index_key,
    piece_bytes,
    piece_key,
    sample_root,
)
from nba_platform.resources.stats_api import StatsApi

ASSETS = {a.key.path[-1]: a for a in raw_assets}


class CountingZone(LandingZone):
    """A real LandingZone that records every file it reads."""

    reads: ClassVar[list[str]] = []

    def read_bytes(self, name: str) -> bytes:
        CountingZone.reads.append(name)
        return super().read_bytes(name)


def full_scan(landing: LandingZone) -> dict[str, dict[str, list[pd.DataFrame]]]:
    """The behaviour before the index: every file read, peeked, and parsed if of a raw shape."""
    found: dict[str, dict[str, list[pd.DataFrame]]] = {s.name: {} for s in SHAPES}
    for f in landing.list_files():
        data = landing.read_bytes(f.name)
        try:
            shape = landing.shape_of(f.name, data).name
            if shape not in found:
                continue
            _, by_season = landing.read_rows(f.name, data)
        except LandingError:
            continue
        for season, rows in by_season.items():
            found[shape].setdefault(season, []).append(rows)
    return found


def expected(scan, shape: str, seasons) -> dict[str, pd.DataFrame]:
    by_season = scan[shape]
    out = {s: (pd.concat(by_season[s], ignore_index=True) if by_season.get(s) else _empty_raw()) for s in seasons}
    masked, _metadata = mask_pii(out)
    return masked


def run(landing: LandingZone, shape: str, instance, seasons: list[str]) -> dg.Output:
    """The real asset, invoked directly (API-capable shapes with their default config: landed files)."""
    key_range = dg.PartitionKeyRange(seasons[0], seasons[-1])
    ctx = dg.build_asset_context(
        partition_key_range=key_range, instance=instance, resources={"landing": landing, "stats_api": StatsApi()}
    )
    return ASSETS[shape](ctx)


def assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for season, rows in want.items():
        pd.testing.assert_frame_equal(got[season].reset_index(drop=True), rows.reset_index(drop=True))


@pytest.fixture(scope="module")
def sample_scan():
    return full_scan(LandingZone(uri="/nonexistent-landing", include_sample=True))


@pytest.fixture(scope="module")
def all_seasons(sample_scan):
    return sorted({s for by_season in sample_scan.values() for s in by_season})


@pytest.fixture(scope="module")
def sample_expected(sample_scan, all_seasons):
    """shape -> season -> the masked rows a full scan gives (masking is per row, so once for all seasons)."""
    return {shape: expected(sample_scan, shape, all_seasons) for shape in ASSETS}


@pytest.fixture
def instance(all_seasons):
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("season", all_seasons)
        yield inst


def test_every_season_cold_and_warm_index_give_the_rows_of_a_full_scan(
    tmp_path, instance, sample_expected, all_seasons
):
    landing = LandingZone(uri=str(tmp_path / "landing"), include_sample=True)
    # Cold: one run of every season per asset builds the index as it goes.
    for shape in ASSETS:
        assert_same(run(landing, shape, instance, all_seasons).value, sample_expected[shape])
    entries = sorted(os.listdir(tmp_path / "landing" / INDEX_PREFIX.rstrip("/")))
    assert len(entries) == len(landing.list_files())
    # Warm: every season partition on its own reads only its files, same rows.
    for shape in ASSETS:
        for season in all_seasons:
            out = run(landing, shape, instance, [season])
            assert_same(out.value, {season: sample_expected[shape][season]})
            assert out.metadata["files_skipped_by_index"].value == len(landing.list_files()) - len(
                out.metadata["files"].data
            )
    # Warm over every season again (a backfill): same as cold.
    for shape in ASSETS:
        assert_same(run(landing, shape, instance, all_seasons).value, sample_expected[shape])


def test_cold_single_season_equals_a_full_scan(tmp_path, instance, sample_expected):
    landing = LandingZone(uri=str(tmp_path / "landing"), include_sample=True)
    for shape in ASSETS:
        shutil.rmtree(tmp_path / "landing", ignore_errors=True)  # cold for every asset, not only the first
        assert_same(run(landing, shape, instance, ["2023-24"]).value, {"2023-24": sample_expected[shape]["2023-24"]})


def gamelog(season: str) -> str:
    return f"nba_api_league_gamelog_2021_2024/nba-gamelog-{season}.csv.gz"


def test_files_of_other_shapes_or_seasons_are_skipped_without_being_read(tmp_path, instance):
    landing = CountingZone(uri=str(tmp_path / "landing"), include_sample=True)
    run(landing, "league_game_log", instance, ["2023-24"])  # cold: every file read (peek), entries written
    CountingZone.reads.clear()
    out = run(landing, "league_game_log", instance, ["2023-24"])
    assert CountingZone.reads == ["sample/" + gamelog("2023-24")]
    assert out.metadata["files"].data == CountingZone.reads
    assert out.metadata["files_skipped_by_index"].value == len(landing.list_files()) - 1
    # Another shape's asset: its own files only (entries for the rest were written shape-only by the first asset).
    CountingZone.reads.clear()
    out = run(landing, "player_bios", instance, ["2023-24"])
    assert CountingZone.reads == out.metadata["files"].data == ["sample/nba_player_bios_2016_2024/player_bios.csv.gz"]


def test_a_file_replaced_in_place_is_read_again(tmp_path, instance):
    zone = tmp_path / "landing"
    zone.mkdir()
    landing = CountingZone(uri=str(zone), include_sample=False)
    target = zone / "gamelog.csv.gz"
    shutil.copyfile(os.path.join(sample_root(), gamelog("2022-23")), target)
    assert len(run(landing, "league_game_log", instance, ["2022-23"]).value["2022-23"]) > 0
    CountingZone.reads.clear()
    assert run(landing, "league_game_log", instance, ["2023-24"]).metadata["files_skipped_by_index"].value == 1
    assert CountingZone.reads == []  # the entry says 2022-23 only
    # Same name, new content (another season): a new fingerprint, so the stale entry is not trusted.
    before = os.stat(target).st_mtime_ns
    shutil.copyfile(os.path.join(sample_root(), gamelog("2023-24")), target)
    os.utime(target, ns=(before + 10**9, before + 10**9))
    CountingZone.reads.clear()
    out = run(landing, "league_game_log", instance, ["2023-24"])
    assert CountingZone.reads == ["gamelog.csv.gz"] and out.metadata["files_skipped_by_index"].value == 0
    assert_same(out.value, expected(full_scan(landing), "league_game_log", ["2023-24"]))
    assert len(out.value["2023-24"]) > 0
    assert json.loads((zone / index_key("gamelog.csv.gz")).read_text())["seasons"] == ["2023-24"]


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"{not json",
        b'{"name": "gamelog.csv.gz"}',
        b"[1, 2]",
        b'{"name": "gamelog.csv.gz", "fingerprint": "0:0", "shape": "league_game_log", "seasons": []}',
    ],
)
def test_a_corrupt_or_stale_entry_is_ignored_and_rebuilt(tmp_path, instance, garbage):
    zone = tmp_path / "landing"
    zone.mkdir()
    shutil.copyfile(os.path.join(sample_root(), gamelog("2023-24")), zone / "gamelog.csv.gz")
    landing = LandingZone(uri=str(zone), include_sample=False)
    entry = zone / index_key("gamelog.csv.gz")
    entry.parent.mkdir()
    entry.write_bytes(garbage)
    out = run(landing, "league_game_log", instance, ["2023-24"])
    assert out.metadata["files"].data == ["gamelog.csv.gz"] and len(out.value["2023-24"]) > 0
    doc = json.loads(entry.read_text())
    assert doc["seasons"] == ["2023-24"] and doc["shape"] == "league_game_log"


def test_index_entries_are_never_landed_files(tmp_path, instance):
    zone = tmp_path / "landing"
    zone.mkdir()
    shutil.copyfile(os.path.join(sample_root(), gamelog("2023-24")), zone / "gamelog.csv.gz")
    landing = LandingZone(uri=str(zone), include_sample=True)
    for shape in ASSETS:
        run(landing, shape, instance, ["2023-24"])
    assert len(list((zone / INDEX_PREFIX).iterdir())) == len(landing.list_files())
    # What the landing sensor lists: only the landed file, no '.json' index entry.
    assert [f.name for f in landing.list_files(include_sample=False)] == ["gamelog.csv.gz"]


def test_an_unreadable_file_gets_no_entry_and_is_reported_every_run(tmp_path, instance):
    zone = tmp_path / "landing"
    zone.mkdir()
    (zone / "broken.csv.gz").write_bytes(gzip.compress(b"TEAM_ID,GAME_ID\n1,2\n")[:-12])
    landing = LandingZone(uri=str(zone), include_sample=False)
    for _ in range(2):
        for shape in ASSETS:
            out = run(landing, shape, instance, ["2023-24"])
            assert (
                len(out.metadata["unreadable_files"].data) == 1
                and "broken.csv.gz" in out.metadata["unreadable_files"].data[0]
            )
    assert not (zone / index_key("broken.csv.gz")).exists()


def test_an_entry_written_by_other_parsing_code_is_not_trusted(tmp_path, instance):
    zone = tmp_path / "landing"
    zone.mkdir()
    shutil.copyfile(os.path.join(sample_root(), gamelog("2023-24")), zone / "gamelog.csv.gz")
    landing = LandingZone(uri=str(zone), include_sample=False)
    (f,) = landing.list_files()
    assert landing.record_index(f, "league_game_log", ["2021-22"])
    assert landing.index_entries([f])[0].seasons == {"2021-22"}
    entry = zone / index_key(f.name)
    entry.write_text(json.dumps({**json.loads(entry.read_text()), "parser": "an-older-parser"}))
    assert landing.index_entries([f]) == [None]
    out = run(landing, "league_game_log", instance, ["2023-24"])
    assert out.metadata["files"].data == ["gamelog.csv.gz"] and len(out.value["2023-24"]) > 0


SLIM = "nba_api_league_gamelog_slim_2016_2024/league_game_logs.csv.gz"  # 8 seasons in one file


def land_multi_season_file(zone, landing: LandingZone, instance, landed_by: str) -> str:
    """The slim game logs landed as `ingest` lands a file, or dropped in and planned by the sensor."""
    from nba_platform.cli.app import land_data_file
    from nba_platform.defs.ingestion.sensors import plan_landing_runs

    data = Path(sample_root(), SLIM).read_bytes()
    if landed_by == "ingest":
        return land_data_file(landing, "league_game_logs.csv.gz", data, replace=False)[0]
    (zone / "league_game_logs.csv.gz").write_bytes(data)
    plan = plan_landing_runs(instance, landing, {})
    assert len(plan.touched) == 8
    return "league_game_logs.csv.gz"


def pieces(zone) -> dict[str, bytes]:
    root = zone / PIECES_PREFIX
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


@pytest.mark.parametrize("landed_by", ["ingest", "sensor"])
def test_a_multi_season_file_is_parsed_once_then_each_season_read_from_its_piece(tmp_path, instance, landed_by):
    zone = tmp_path / "landing"
    zone.mkdir()
    landing = CountingZone(uri=str(zone), include_sample=False)
    name = land_multi_season_file(zone, landing, instance, landed_by)
    want = expected(full_scan(landing), "league_game_log_slim", sorted(full_scan(landing)["league_game_log_slim"]))
    assert len(pieces(zone)) == len(want) == 8
    CountingZone.reads.clear()
    for season in sorted(want):
        out = run(landing, "league_game_log_slim", instance, [season])
        assert_same(out.value, {season: want[season]})  # exactly its rows, as a full parse gives them
        assert out.metadata["files"].data == out.metadata["files_read_by_season_piece"].data == [name]
    two = sorted(want)[2:4]
    assert_same(run(landing, "league_game_log_slim", instance, two).value, {s: want[s] for s in two})
    assert CountingZone.reads == []  # the landed file was never read again
    # Every row of the file lands exactly once: in one season's piece, none twice, none lost.
    rows = pd.concat(want.values())["_source_row"].sort_values().tolist()
    in_file = len(pd.read_csv(os.path.join(sample_root(), SLIM), dtype=str))
    assert rows == list(range(1, in_file + 1))
    # Pieces are no landed files: the zone still lists only the file.
    assert [f.name for f in landing.list_files(include_sample=False)] == [name]


def test_landing_the_same_file_again_leaves_its_pieces_as_they_are(tmp_path, instance):
    from nba_platform.cli.app import land_data_file

    zone = tmp_path / "landing"
    zone.mkdir()
    landing = CountingZone(uri=str(zone), include_sample=False)
    name = land_multi_season_file(zone, landing, instance, "ingest")
    before, entry = pieces(zone), (zone / index_key(name)).read_bytes()
    data = Path(sample_root(), SLIM).read_bytes()
    assert land_data_file(landing, name, data, replace=False)[0] == name
    assert pieces(zone) == before and (zone / index_key(name)).read_bytes() == entry
    assert len(run(landing, "league_game_log_slim", instance, ["2019-20"]).value["2019-20"]) > 0


@pytest.mark.parametrize("damage", ["corrupt", "another_version"])
def test_a_damaged_or_stale_piece_is_not_used_the_file_is_read_and_the_piece_rewritten(tmp_path, instance, damage):
    zone = tmp_path / "landing"
    zone.mkdir()
    landing = CountingZone(uri=str(zone), include_sample=False)
    name = land_multi_season_file(zone, landing, instance, "ingest")
    want = expected(full_scan(landing), "league_game_log_slim", ["2019-20"])
    piece = zone / piece_key(name, "2019-20")
    if damage == "corrupt":
        piece.write_bytes(piece.read_bytes()[:100])
    else:  # the piece of the same season of another file version (same name, other size:mtime)
        other = LandedFile(name, 1, 1)
        piece.write_bytes(piece_bytes(other, "2019-20", landing.read_file(name)))
    CountingZone.reads.clear()
    out = run(landing, "league_game_log_slim", instance, ["2019-20"])
    assert_same(out.value, want)
    assert CountingZone.reads == [name] and out.metadata["files_read_by_season_piece"].data == []
    CountingZone.reads.clear()  # rewritten from the whole read: the next run reads the piece
    out = run(landing, "league_game_log_slim", instance, ["2019-20"])
    assert_same(out.value, want)
    assert CountingZone.reads == [] and out.metadata["files_read_by_season_piece"].data == [name]


def test_a_single_season_file_gets_no_piece(tmp_path, instance):
    zone = tmp_path / "landing"
    zone.mkdir()
    shutil.copyfile(os.path.join(sample_root(), gamelog("2023-24")), zone / "gamelog.csv.gz")
    landing = LandingZone(uri=str(zone), include_sample=False)
    out = run(landing, "league_game_log", instance, ["2023-24"])
    assert len(out.value["2023-24"]) > 0 and out.metadata["files_read_by_season_piece"].data == []
    assert not (zone / PIECES_PREFIX).exists()
