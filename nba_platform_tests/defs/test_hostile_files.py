"""Bad input, nothing lost: hostile files through `nba-platform ingest` and the landing sensor.

Every case is a shipped real file damaged one way (`nba_platform_tests/hostile_files.py`). A
case either is rejected whole - the CLI and the sensor name the file, the row (where there is
one) and the rule; nothing lands, no partition or run appears - or it lands, is built, and its
bad rows are quarantined with their rule and reason. For every case, from the lake tables and
the checks' metadata: accepted + quarantined = rows read, by count and by (file, row) lineage;
and the season built before (2021-22) is byte-identical afterwards.

One baseline (2021-22 ingested and built) is shared by the module; each case runs on a copy.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from nba_platform.cli import main
from nba_platform.defs.ingestion.sensors import landing_zone_sensor
from nba_platform.defs.tables.assets import shapes_of
from nba_platform.lib.landing import LandingError
from nba_platform.lib.serving_db import GAMES, publish_sqlite, query_sqlite
from nba_platform.resources.environment import build_resources
from nba_platform.settings import load_settings
from nba_platform_tests import hostile_files
from nba_platform_tests.defs.helpers import materialize_seasons
from nba_platform_tests.lake_files import read_lake

BASE_SEASON = "2021-22"
GAMELOG = "gamelog-2022-23.csv"
ARCHIVE = "boxscores_2020-21.tar.gz"
P = hostile_files.GAMELOG.partner  # the other team's row of a row's game
BOX = hostile_files.box_rows_of(ARCHIVE)  # (game, player) -> (member, row) of the damaged box-score rows
ENTITY = {"team_games": "team_game", "player_games": "player_game"}
BOX_V3 = hostile_files.BOX_V3.name  # a recorded boxscoretraditionalv3 response
PLAYER_LOG = "players-2020-21.csv"
PLAYER_LOG_ROWS = hostile_files.player_game_log_rows()


@dataclass(frozen=True)
class EveryRow:
    """Every row of the file is quarantined at validation, with `rule` among its failed rules."""

    rule: str


@dataclass(frozen=True)
class Case:
    id: str
    what: str
    build: Callable[[Path, str], list[Path]]
    file: str = GAMELOG
    # rejected whole: parts the error must hold besides the file name (row, rule, reason)
    error: tuple[str, ...] = ()
    # landed: rows read per table, source row -> first failing rule (validation, dedup), rows left
    season: str = "2022-23"
    read: dict = field(default_factory=lambda: {"team_games": hostile_files.GAMELOG_ROWS})
    validation: dict | EveryRow = field(default_factory=dict)
    dedup: dict = field(default_factory=dict)
    rows_out: dict = field(default_factory=dict)
    exact_duplicates: int = 0
    extra: Callable | None = None
    subprocess: bool = False  # the real `nba-platform` process instead of main()

    @property
    def rejected(self) -> bool:
        return bool(self.error)


def _injection_stored_and_shown_as_text(run) -> None:
    games = run.table("tables/team_games")
    assert (games["team_abbreviation"] == hostile_files.SQL_INJECTION).sum() == 82  # every GSW row, verbatim
    raw = run.table("raw/league_game_log")
    names = raw.set_index("_source_row")["TEAM_NAME"]
    assert names[1] == hostile_files.IMG_INJECTION and (names == hostile_files.SCRIPT_INJECTION).sum() == 82
    # The previews the UI renders: hostile text shown as text, never as markup.
    previews = [
        v.value for m in run.materializations.values() for v in m.values() if isinstance(v, dg.MarkdownMetadataValue)
    ]
    shown = "\n".join(previews)
    assert "Wolves \\| &lt;img src=x onerror=alert(1)&gt; 2nd line" in shown and hostile_files.SQL_INJECTION in shown
    assert "<script" not in shown and "<img" not in shown
    for md in (m for m in previews if m.startswith("|")):  # the line break and pipe did not split a row
        rows = md.split("\n\n")[0].splitlines()
        assert all(r.startswith("| ") and r.endswith(" |") or r.startswith("|---") for r in rows)


def _decoded_as(run, key: str, row: int, name: str, encodings: dict) -> None:
    raw = run.table(key)
    assert raw.set_index("_source_row")["TEAM_NAME"][row] == name
    assert run.materializations[key]["encodings"].value == encodings  # recorded in the landing metadata


def _box_member_decoded_as_latin1(run) -> None:
    member = hostile_files.member_name(ARCHIVE, "0022000002")
    assert run.materializations["raw/box_score_traditional"]["encodings"].value == {ARCHIVE: "utf-8", member: "latin-1"}
    names = set(run.table("tables/player_games")["player_name"])
    assert "Dennis Schröder" in names and "Dennis Schroder" not in names


def _neutral_games_kept(run) -> None:
    games = run.table("tables/team_games")
    neutral = games[games["neutral"]]
    ids = {hostile_files.GAMELOG.get(n, "GAME_ID") for n in hostile_files.NEUTRAL_ROWS}
    assert set(neutral["game_id"]) == ids and len(neutral) == 4
    # the first-listed team (first row in the file) takes the home slot; one per game
    first_rows = [min(n, hostile_files.GAMELOG.partner(n)) for n in hostile_files.NEUTRAL_ROWS]
    first = {hostile_files.GAMELOG.get(n, "GAME_ID"): int(hostile_files.GAMELOG.get(n, "TEAM_ID")) for n in first_rows}
    home = neutral[neutral["is_home"]]
    assert dict(zip(home["game_id"], home["team_id"])) == first
    assert not games.loc[~games["neutral"], "is_home"].isna().any()


def _extra_columns_dropped_and_named(run) -> None:
    raw = run.table("raw/league_game_log")
    assert not set(hostile_files.EXTRA_COLUMNS) & set(raw.columns) and "TEAM_NAME" in raw.columns
    assert run.materializations["raw/league_game_log"]["columns_dropped"].value == {
        GAMELOG: list(hostile_files.EXTRA_COLUMNS)
    }


def _paired_across_sources(run) -> None:
    games = run.table("tables/team_games")
    assert games["sources"].isin(["league_game_log", "league_game_log_slim"]).all()
    per_game = games.groupby("game_id")["source"].agg(set)
    assert len(per_game) == 82 and (per_game == {"league_game_log", "league_game_log_slim"}).all()


def _box_names_stored_verbatim(run) -> None:
    names = set(run.table("tables/player_games")["player_name"])
    assert {hostile_files.SCRIPT_INJECTION, hostile_files.PLAYER_SQL_INJECTION} <= names


def _box_v3_landed(run) -> None:
    raw = run.table("raw/box_score_traditional")
    assert len(raw) == hostile_files.BOX_V3_ROWS and set(raw["_source_file"]) == {BOX_V3}
    players = run.table("tables/player_games").set_index("player_id")
    assert (players.loc[1628378, "pts"], players.loc[1628378, "minutes"]) == (71, 49.8)  # Mitchell's 71
    assert (~players["did_play"]).sum() == 4 and players.loc[~players["did_play"], "pts"].isna().all()


def _one_row_per_player_game(run) -> None:
    players = run.table("tables/player_games")
    assert not players.duplicated(["game_id", "player_id"]).any()
    assert (players["source"] == "box_score_traditional").all()  # the box score's row kept, the log's agreed
    raw = run.table("raw/player_game_log")
    assert len(raw) == PLAYER_LOG_ROWS and "TEAM_ID" not in raw.columns


CASES = [
    # ------------------------------------------------ rejected whole at landing
    Case("empty_file", "0 bytes", hostile_files.empty_file, error=("empty file",)),
    Case("header_only", "the header line, no rows", hostile_files.header_only, error=("header only, no data rows",)),
    Case(
        "unbalanced_quote",
        "row 100 opens a quote that never closes",
        hostile_files.unbalanced_quote,
        error=("row 100", "csv_quotes_balanced"),
    ),
    Case(
        "quote_swallows_rows",
        "quote opened on row 100, closed on row 140 (was: 41 rows read as 1)",
        hostile_files.quote_swallows_rows,
        error=("row 100", "csv_quotes_balanced"),
    ),
    Case(
        "ragged_long_row",
        "row 250: an unquoted comma, 30 fields",
        hostile_files.ragged_long_row,
        error=("row 250", "30 fields", "csv_row_width"),
    ),
    Case(
        "truncated_last_row",
        "cut inside the last row's points (was: a 123-10 game)",
        hostile_files.truncated_last_row,
        error=("row 2460", "27 fields", "csv_row_width"),
        subprocess=True,
    ),
    Case("missing_column", "PTS column dropped", hostile_files.missing_column, error=("unrecognised source shape",)),
    Case(
        "header_missing",
        "no header line (row 1 read as one)",
        hostile_files.header_missing,
        error=("unrecognised source shape",),
    ),
    Case(
        "invalid_bytes_gz",
        "bytes 81 8D (undefined in every candidate encoding) inside row 1200 of a .csv.gz",
        hostile_files.invalid_bytes_gz,
        file=GAMELOG + ".gz",
        error=("not UTF-8, Windows-1252 or Latin-1", "0x81", "data row 1200", "text_encoding"),
    ),
    Case(
        "truncated_gzip",
        ".csv.gz cut at 60%",
        hostile_files.truncated_gzip,
        file=GAMELOG + ".gz",
        error=("corrupt gzip",),
    ),
    Case(
        "unplaceable_row",
        "row 10: blank game id and date",
        hostile_files.unplaceable_row,
        error=("row 10", "season_derivable"),
    ),
    Case(
        "future_season_row",
        "row 11: blank game id, date 2099-01-15 (was: partition 2098-99)",
        hostile_files.future_season_row,
        error=("row 11", "season_derivable"),
    ),
    Case(
        "box_ragged_row",
        "box score: row 5 of a member lost a field",
        hostile_files.box_ragged_member,
        file=ARCHIVE,
        error=(f"{ARCHIVE}!nba_boxscores/0022000003.csv", "row 5", "csv_row_width"),
    ),
    # ------------------------------------------------ landed; bad rows quarantined, nothing lost
    Case(
        "wrong_types",
        "PTS 'abc' (row 20), FG_PCT 'forty' (row 21)",
        hostile_files.wrong_types,
        validation={20: "value_unparseable", 21: "value_unparseable"},
        dedup={P(20): "game_incomplete", P(21): "game_incomplete"},
        rows_out={"team_games": 2456},
    ),
    Case(
        "duplicates_conflicts",
        "rows 1-50 twice; row 21 a third time with 10 more points",
        hostile_files.duplicate_and_conflicting_rows,
        read={"team_games": 2511},
        exact_duplicates=49,
        dedup={
            21: "source_internal_conflict",
            2481: "source_internal_conflict",
            2511: "source_internal_conflict",
            P(21): "game_incomplete",
        },
        rows_out={"team_games": 2458},
    ),
    Case(
        "null_keys",
        "blank GAME_ID (row 40), blank TEAM_ID (row 45)",
        hostile_files.null_keys,
        # the partners stand alone (valid); with no other source holding the game, dedup sets them aside
        validation={40: "game_id_valid", 45: "team_id_valid"},
        dedup={P(40): "game_incomplete", P(45): "game_incomplete"},
        rows_out={"team_games": 2456},
    ),
    Case(
        "impossible_values",
        "-5 points, 300 points, a 2099 date, a third team in a game",
        hostile_files.impossible_values,
        read={"team_games": 2461},
        validation={
            50: "pts_range",
            55: "pts_range",
            60: "game_date_in_season",
            65: "game_pair",
            P(65): "game_pair",
            2461: "game_pair",
        },
        dedup={P(50): "game_incomplete", P(55): "game_incomplete", P(60): "game_incomplete"},
        rows_out={"team_games": 2452},
    ),
    Case(
        "swapped_columns",
        "PTS and FGM headers swapped",
        hostile_files.swapped_columns,
        validation=EveryRow("pts_consistent"),
        rows_out={"team_games": 0},
    ),
    Case(
        "injection_text",
        "SQL / <script> / <img> in team abbreviation and name",
        hostile_files.injection_text,
        rows_out={"team_games": 2460},
        extra=_injection_stored_and_shown_as_text,
    ),
    Case(
        "very_large",
        f"the season {hostile_files.LARGE_COPIES} times over, streamed (~35 MB)",
        hostile_files.very_large,
        read={"team_games": hostile_files.GAMELOG_ROWS * hostile_files.LARGE_COPIES},
        rows_out={"team_games": 2460},
        exact_duplicates=hostile_files.GAMELOG_ROWS * (hostile_files.LARGE_COPIES - 1),
    ),
    Case(
        "latin1_text",
        "latin-1 bytes for 'Montréal' on row 300 (was: refused whole)",
        hostile_files.latin1_team_name,
        rows_out={"team_games": 2460},
        extra=lambda run: _decoded_as(run, "raw/league_game_log", 300, hostile_files.LATIN1_NAME, {GAMELOG: "latin-1"}),
    ),
    Case(
        "cp1252_text",
        "a Windows-1252 export: curly quotes and an en dash on row 300 (was: refused whole)",
        hostile_files.cp1252_team_name,
        rows_out={"team_games": 2460},
        extra=lambda run: _decoded_as(
            run, "raw/league_game_log", 300, hostile_files.CP1252_NAME, {GAMELOG: "windows-1252"}
        ),
    ),
    Case(
        "box_latin1_name",
        "box score: 'Schröder' in latin-1 in one member (was: the archive refused whole)",
        hostile_files.box_latin1_player_name,
        file=ARCHIVE,
        season="2020-21",
        read={"team_games": 8, "player_games": hostile_files.box_rows_total()},
        rows_out={"team_games": 8, "player_games": hostile_files.box_rows_total()},
        extra=_box_member_decoded_as_latin1,
    ),
    Case(
        "neutral_site",
        "two games listed '@' on both rows, as stats.nba.com lists neutral sites (was: 4 rows game_pair)",
        hostile_files.neutral_site_games,
        rows_out={"team_games": 2460},
        extra=_neutral_games_kept,
    ),
    Case(
        "extra_columns",
        "three columns outside the shape (was: carried into raw; 10,000 made every ingest take 65 s)",
        hostile_files.extra_columns,
        rows_out={"team_games": 2460},
        extra=_extra_columns_dropped_and_named,
    ),
    Case(
        "too_many_extra_columns",
        "51 columns outside the shape: not the source it looks like",
        lambda d, name: hostile_files.extra_columns(d, name, tuple(f"X{i}" for i in range(51))),
        error=("51 columns outside the league_game_log shape", "shape_width"),
    ),
    Case(
        "one_team_log",
        "one team's game log (BOS, 82 rows), its opponents' rows in another source (was: 164 rows game_pair)",
        hostile_files.one_team_logs,
        file="bos-2022-23.csv",
        read={"team_games": 164},
        rows_out={"team_games": 164},
        extra=_paired_across_sources,
    ),
    Case(
        "box_hostile_values",
        "box score: <script>/SQL names, 300 and -2 points, MIN 'abc'",
        hostile_files.box_hostile_values,
        file=ARCHIVE,
        season="2020-21",
        read={"team_games": 8, "player_games": hostile_files.box_rows_total()},
        validation={
            BOX[("0022000002", "LeBron James")]: "pts_range",
            BOX[("0022000003", "Jayson Tatum")]: "box_consistent",
            BOX[("0022000004", "Luka Doncic")]: "value_unparseable",
        },
        rows_out={"team_games": 8, "player_games": hostile_files.box_rows_total() - 3},
        extra=_box_names_stored_verbatim,
    ),
    # ------------------------------------------------ player shapes (was: refused as unknown shapes)
    Case(
        "box_score_v3",
        "a recorded boxscoretraditionalv3 response (nested players[].statistics), with its season's game log",
        hostile_files.box_v3,
        file=BOX_V3,
        read={"team_games": hostile_files.GAMELOG_ROWS, "player_games": hostile_files.BOX_V3_ROWS},
        rows_out={"team_games": hostile_files.GAMELOG_ROWS, "player_games": hostile_files.BOX_V3_ROWS},
        extra=_box_v3_landed,
    ),
    Case(
        "box_score_v3_no_statistics",
        "V3: Mitchell's entry without its statistics object (not taken for a DNP)",
        hostile_files.box_v3_player_without_statistics,
        file=BOX_V3,
        read={"team_games": hostile_files.GAMELOG_ROWS, "player_games": hostile_files.BOX_V3_ROWS},
        validation={hostile_files.BOX_V3_MITCHELL_ROW: "statistics_present"},
        rows_out={"team_games": hostile_files.GAMELOG_ROWS, "player_games": hostile_files.BOX_V3_ROWS - 1},
    ),
    Case(
        "player_game_log_and_box_scores",
        "PlayerGameLog rows (no TEAM_ID) of the players of four box scores, landed with those box scores",
        hostile_files.player_game_log_with_box_scores,
        file=PLAYER_LOG,
        season="2020-21",
        read={"team_games": 8, "player_games": hostile_files.box_rows_total() + PLAYER_LOG_ROWS},
        rows_out={"team_games": 8, "player_games": hostile_files.box_rows_total()},
        extra=_one_row_per_player_game,
    ),
    Case(
        "result_sets_of_no_shape",
        "nba_api get_normalized_dict() output whose result sets are none a known shape",
        hostile_files.result_sets_of_no_shape,
        file="headline.json",
        error=("none of its 2 result sets", "PlayerHeadlineStats (", "AvailableSeasons (SEASON_ID)"),
    ),
    Case(
        "player_game_log_unknown_team",
        "PlayerGameLog: row 3's matchup names a team abbreviation no team has",
        hostile_files.player_game_log_unknown_team,
        file=PLAYER_LOG,
        season="2020-21",
        read={"team_games": 8, "player_games": PLAYER_LOG_ROWS},
        validation={hostile_files.PLAYER_LOG_UNKNOWN_TEAM_ROW: "value_unparseable"},
        rows_out={"team_games": 8, "player_games": PLAYER_LOG_ROWS - 1},
    ),
]


# ---------------------------------------------------------------- environment, baseline


def platform_env(mp: pytest.MonkeyPatch, home: Path) -> None:
    """The embedded default under `home`, as a user's shell would set it."""
    for k in list(os.environ):
        if k.startswith(("NBA_", "MLFLOW_")) or k == "DAGSTER_HOME":
            mp.delenv(k)
    mp.setenv("NBA_PLATFORM_ENV", "local")
    mp.setenv("NBA_HOME", str(home))
    mp.setenv("NBA_INCLUDE_SAMPLE", "false")
    mp.setenv("DAGSTER_HOME", str(home / "dagster"))


def evaluate_sensor(cursor: str | None):
    landing = build_resources(load_settings())["landing"]
    instance = dg.DagsterInstance.get()
    try:
        return landing_zone_sensor(
            dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": landing})
        )
    finally:
        instance.dispose()


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass
class Baseline:
    home: Path
    cursor: str
    lake: dict[str, str]
    landing: list[str]
    runs: int


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Baseline:
    root = tmp_path_factory.mktemp("baseline")
    home, src = root / "home", root / "nba-gamelog-2021-22.csv"
    src.write_bytes(gzip.decompress(hostile_files.GAMELOG_2021_22.read_bytes()))
    with pytest.MonkeyPatch.context() as mp:
        platform_env(mp, home)
        assert main(["ingest", str(src)]) == 0
        cursor = evaluate_sensor(None).cursor  # the baseline file is seen, as by a running sensor
        instance = dg.DagsterInstance.get()
        runs = instance.get_runs_count()
        instance.dispose()
    lake = digests(home / "lake")
    assert any(k.startswith("tables/team_games/") for k in lake)
    return Baseline(home, cursor, lake, sorted(os.listdir(home / "landing")), runs)


def run_cli(args: list[str], capsys, in_subprocess: bool) -> tuple[int, str]:
    if in_subprocess:
        proc = subprocess.run(
            [sys.executable, "-m", "nba_platform.cli", *args],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=600,
        )
        return proc.returncode, proc.stdout
    capsys.readouterr()
    rc = main(args)
    return rc, capsys.readouterr().out


@dataclass
class RunRecord:
    """What a CLI run left behind: its lake tables and its check and materialization metadata."""

    lake: Path
    season: str
    checks: dict[str, dg.AssetCheckEvaluation]
    materializations: dict[str, dict]

    def table(self, key: str) -> pd.DataFrame:
        return read_lake(self.lake, key, self.season)

    def rows_in_lake(self, key: str) -> int:
        """Rows of every season partition of `key`."""
        return sum(pq.read_metadata(p).num_rows for p in (self.lake / key).glob("season=*/*.parquet"))


def run_record(out: str, home: Path, season: str) -> RunRecord:
    [run_id] = re.findall(r"run ([0-9a-f-]{36}): SUCCESS", out)
    instance = dg.DagsterInstance.get()
    try:
        events = instance.all_logs(
            run_id, of_type={dg.DagsterEventType.ASSET_CHECK_EVALUATION, dg.DagsterEventType.ASSET_MATERIALIZATION}
        )
    finally:
        instance.dispose()
    checks, mats = {}, {}
    for e in events:
        data = e.dagster_event.event_specific_data
        if isinstance(data, dg.AssetCheckEvaluation):
            checks[data.check_name] = data
        else:
            mats[data.materialization.asset_key.to_user_string()] = data.materialization.metadata
    return RunRecord(home / "lake", season, checks, mats)


# ---------------------------------------------------------------- the table of cases


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_file(case: Case, baseline: Baseline, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    shutil.copytree(baseline.home, home)  # copy2: sizes and mtimes kept, so the sensor cursor still holds
    platform_env(monkeypatch, home)
    paths = case.build(tmp_path / "incoming", case.file)

    rc, out = run_cli(["ingest", *map(str, paths)], capsys, case.subprocess)
    if case.rejected:
        assert rc == 2, out
        [error] = [line for line in out.splitlines() if line.startswith("error: ")]
        for part in (case.file, *case.error):
            assert part in error, error
        assert_nothing_landed(home, baseline)
        # The sensor path: the same file dropped into the zone by hand is refused with the same reason.
        for p in paths:
            shutil.copy(p, home / "landing" / p.name)
        result = evaluate_sensor(baseline.cursor)
        assert not result.run_requests and not result.dynamic_partitions_requests
        for part in (case.file, *case.error):
            assert part in result.skip_reason.skip_message
        instance = dg.DagsterInstance.get()
        assert instance.get_dynamic_partitions("season") == [BASE_SEASON]
        instance.dispose()
        return

    assert rc == 0, out
    assert f"landed {case.file}: shape" in out
    # One orchestration path: the ingest's run is tagged with the file version it handled, so the
    # landing sensor ticking from its old cursor requests nothing for it.
    result = evaluate_sensor(baseline.cursor)
    assert not result.run_requests
    run = run_record(out, home, case.season)
    assert all(c.passed for c in run.checks.values()), {n: c.metadata for n, c in run.checks.items() if not c.passed}
    for table, rows in case.read.items():
        assert_nothing_lost(run, table, rows)
    assert_quarantine(run, case)
    for table, rows in case.rows_out.items():
        assert len(run.table(f"tables/{table}")) == rows
        assert run.checks[f"{table}_keys_accounted"].metadata["keys_lost"].value == 0
    if case.exact_duplicates:
        assert run.materializations["tables/team_games"]["exact_duplicates_collapsed"].value == case.exact_duplicates
    if case.extra:
        case.extra(run)
    assert_baseline_intact(home, baseline)


def assert_nothing_landed(home: Path, baseline: Baseline) -> None:
    assert sorted(os.listdir(home / "landing")) == baseline.landing
    assert digests(home / "lake") == baseline.lake  # nothing written, nothing changed
    instance = dg.DagsterInstance.get()
    assert instance.get_runs_count() == baseline.runs
    assert instance.get_dynamic_partitions("season") == [BASE_SEASON]
    instance.dispose()


def assert_baseline_intact(home: Path, baseline: Baseline) -> None:
    """Earlier partitions keep every row and value. A file may be rewritten only when the run
    changed its table's schema (the lake keeps one typed schema per table: a new column is added
    to the other seasons as nulls), and the run records that in `partitions_rewritten_to_table_schema`."""
    after = digests(home / "lake")
    assert set(baseline.lake) <= set(after)
    for rel in (k for k in baseline.lake if after[k] != baseline.lake[k]):
        before, now = pq.read_table(baseline.home / "lake" / rel), pq.read_table(home / "lake" / rel)
        assert now.num_rows == before.num_rows, rel
        for column in before.column_names:
            assert now.column(column).to_pylist() == before.column(column).to_pylist(), (rel, column)
    assert all(f in os.listdir(home / "landing") for f in baseline.landing)


def assert_nothing_lost(run: RunRecord, table: str, rows_read: int) -> None:
    """accepted + quarantined = read, by count and lineage, from the lake and from the check."""
    raw = pd.concat([run.table(f"raw/{shape}") for shape in shapes_of(ENTITY[table])], ignore_index=True)
    accepted, quarantined = run.table(f"tables/{table}_validated"), run.table(f"quarantine/{table}")
    assert len(raw) == rows_read  # every record written to the file was read: none swallowed
    assert len(accepted) + len(quarantined) == rows_read
    read = set(zip(raw["_source_file"], raw["_source_row"]))
    acc = set(zip(accepted["source_file"], accepted["source_row"]))
    bad = set(zip(quarantined["source_file"], quarantined["source_row"]))
    assert acc | bad == read and not acc & bad and len(read) == rows_read
    # The check is partitioned like its table: its counts are those of the run's season only.
    check = run.checks[f"{table}_nothing_lost"]
    meta = {k: v.value for k, v in check.metadata.items() if k != "missing_sample"}
    expected = sum(
        len(run.table(f"raw/{shape}")) * (2 if shape == "kaggle_games" else 1) for shape in shapes_of(ENTITY[table])
    )
    assert check.passed and meta["expected_rows"] == meta["accepted"] + meta["quarantined"] == expected
    assert (meta["accepted"], meta["quarantined"]) == (len(accepted), len(quarantined))
    assert (meta["source_rows_missing"], meta["unexpected_lineage"]) == (0, 0)


def _by_row(frame: pd.DataFrame, file: str) -> dict:
    """source row -> rule; rows of archive members keep their (member, row) key."""
    keys = [r if f == file else (f, r) for f, r in zip(frame["source_file"], frame["source_row"])]
    return dict(zip(keys, frame["rule"]))


def assert_quarantine(run: RunRecord, case: Case) -> None:
    table = "player_games" if "player_games" in case.read else "team_games"
    q = run.table(f"quarantine/{table}")
    assert (q["stage"] == "validation").all() and q["reason"].str.len().gt(0).all()
    if isinstance(case.validation, EveryRow):
        assert len(q) == sum(case.read.values())
        assert q["failed_rules"].str.split(",").map(lambda rules: case.validation.rule in rules).all()
    else:
        assert _by_row(q, case.file) == case.validation
        unparsed = q[q["rule"] == "value_unparseable"]
        assert unparsed["reason"].str.startswith("unparseable value in: ").all()
    dedup = run.table(f"quarantine/{table}_dedup")
    assert _by_row(dedup, case.file) == case.dedup
    assert (dedup["stage"] == "dedup").all() and dedup["reason"].str.len().gt(0).all()
    for record in pd.concat([q, dedup])["record"]:
        json.loads(record)  # the quarantined row itself, intact


# ---------------------------------------------------------------- plain tests of the fixes


def test_raw_asset_reports_a_corrupt_archive_dropped_in_by_hand(local_resources, landing_dir, instance):
    """peek_columns used to raise tarfile/gzip errors, which failed every raw asset of every run."""
    (landing_dir / "nba-gamelog-2021-22.csv.gz").write_bytes(hostile_files.GAMELOG_2021_22.read_bytes())
    (landing_dir / "broken-2022-23.csv.gz").write_bytes(
        hostile_files.GAMELOG_2022_23.read_bytes()[:1000]
    )  # ends inside the header's block
    (landing_dir / "garbage.tar.gz").write_bytes(b"not an archive")
    result = materialize_seasons(
        [BASE_SEASON],
        local_resources,
        instance,
        selection=dg.AssetSelection.assets(dg.AssetKey(["raw", "league_game_log"])),
    )
    [mat] = result.asset_materializations_for_node("raw__league_game_log")
    assert mat.metadata["rows"].value == 2460
    unreadable = " ".join(mat.metadata["unreadable_files"].value)
    assert "broken-2022-23.csv.gz: corrupt" in unreadable and "garbage.tar.gz: corrupt" in unreadable


def test_build_skips_unreadable_landed_files(tmp_path, monkeypatch, capsys):
    """`nba-platform build` used to die with a traceback on the first unreadable landed file."""
    platform_env(monkeypatch, tmp_path / "home")
    hostile_files.truncated_last_row(tmp_path / "home" / "landing", GAMELOG)
    assert main(["build"]) == 1
    out = capsys.readouterr().out
    assert f"skipped (unreadable): {GAMELOG}: malformed CSV: row 2460" in out and "no landed data" in out


def test_published_text_is_stored_as_text(tmp_path):
    """The serving database takes values as bound parameters: SQL in a value stays a value."""
    path = str(tmp_path / "serving.db")
    row = {
        "game_id": hostile_files.SQL_INJECTION,
        "season": hostile_files.SCRIPT_INJECTION,
        "season_type": "regular",
        "game_date": pd.Timestamp("2023-01-01"),
        "home_team_id": 1610612744,
        "away_team_id": 1610612747,
        "home_pts": 120,
        "away_pts": 110,
    }
    assert publish_sqlite(path, GAMES, pd.DataFrame([row])) == 1
    assert publish_sqlite(path, GAMES, pd.DataFrame([row])) == 1  # idempotent upsert on the same key
    back = query_sqlite(path, "SELECT game_id, season FROM games")
    assert back.to_dict("records") == [
        {"game_id": hostile_files.SQL_INJECTION, "season": hostile_files.SCRIPT_INJECTION}
    ]
    with sqlite3.connect(path) as con:
        assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["games"]


def test_an_unbuilt_registered_season_does_not_break_another_seasons_run(tmp_path, monkeypatch, capsys):
    """`ingest --no-run` of one season, then `ingest` of another: the second run's blocking checks
    used to load every registered season and fail on the unbuilt one (FileNotFoundError)."""
    platform_env(monkeypatch, tmp_path / "home")
    first, second = tmp_path / "nba-gamelog-2021-22.csv", tmp_path / GAMELOG
    first.write_bytes(gzip.decompress(hostile_files.GAMELOG_2021_22.read_bytes()))
    second.write_text(hostile_files.GAMELOG.text())
    assert main(["ingest", "--no-run", str(first)]) == 0
    capsys.readouterr()
    assert main(["ingest", "--no-drift", str(second)]) == 0
    out = capsys.readouterr().out
    run = run_record(out, tmp_path / "home", "2022-23")
    assert run.checks and all(c.passed for c in run.checks.values())
    lost = run.checks["team_games_nothing_lost"].metadata
    # the check read the run's season only: 2,460 rows, not the registered 2021-22 as well
    assert (
        lost["expected_rows"].value == lost["accepted"].value + lost["quarantined"].value == hostile_files.GAMELOG_ROWS
    )
    assert not (tmp_path / "home" / "lake" / "tables" / "team_games" / "2021-22.parquet").exists()
    assert len(run.table("tables/team_games")) == hostile_files.GAMELOG_ROWS


def test_a_dot_file_is_refused_not_reported_landed(tmp_path, monkeypatch, capsys):
    """`ingest .gamelog.csv` used to report `landed ... 2460 rows` while nothing ever read it
    (listing skips hidden files): it is refused, and nothing lands."""
    platform_env(monkeypatch, tmp_path / "home")
    hidden = tmp_path / ".nba-gamelog-2022-23.csv"
    hidden.write_text(hostile_files.GAMELOG.text())
    assert main(["ingest", str(hidden)]) == 2
    out = capsys.readouterr().out
    assert "error: .nba-gamelog-2022-23.csv: a file name starting with a dot" in out and "visible_name" in out
    assert "landed" not in out
    landing = tmp_path / "home" / "landing"
    assert not landing.exists() or not any(p.name == hidden.name for p in landing.iterdir())


def test_a_link_out_of_the_landing_zone_is_refused_not_followed(tmp_path, monkeypatch, capsys):
    """A link to /etc/passwd in the zone put that file's first line into a run's event log."""
    platform_env(monkeypatch, tmp_path / "home")
    landing = tmp_path / "home" / "landing"
    landing.mkdir(parents=True)
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n1\n")
    (landing / "passwd.csv").symlink_to(secret)
    inside = landing / "real" / "gamelog.csv"
    inside.parent.mkdir()
    inside.write_bytes(gzip.decompress(hostile_files.GAMELOG_2021_22.read_bytes()))
    (landing / "alias.csv").symlink_to(inside)  # a link inside the zone is fine
    zone = build_resources(load_settings())["landing"]
    with pytest.raises(LandingError, match="passwd.csv: a symbolic link that points outside the landing zone"):
        zone.read_bytes("passwd.csv")
    assert zone.read_rows("alias.csv")[0].name == "league_game_log"
    assert main(["build", "--season", "2099-00"]) == 1  # scans the zone; the season filter keeps it from running
    out = capsys.readouterr().out
    assert "skipped (unreadable): passwd.csv: a symbolic link" in out and "inside_zone" in out
    assert "root:x" not in out


def test_player_records_land_and_build(tmp_path, monkeypatch, capsys):
    """A recorded commonplayerinfo response (its season: TO_YEAR's, 2025-26) and PlayerIndex rows
    as get_normalized_dict() gives them (one player without a team): both land and build, nothing
    lost; the teamless player is quarantined with its rule."""
    home = tmp_path / "home"
    platform_env(monkeypatch, home)
    cases = (
        (hostile_files.common_player_info, "commonplayerinfo.json", "player_info", "2025-26", 1, []),
        (
            hostile_files.player_index,
            "playerindex.json",
            "player_index",
            "2016-17",
            hostile_files.PLAYER_INDEX_ROWS,
            [[hostile_files.PLAYER_INDEX_NO_TEAM_ROW, "team_id_valid"]],
        ),
    )
    for build, name, shape, season, rows, quarantined in cases:
        [path] = build(tmp_path / "incoming", name)
        capsys.readouterr()
        assert main(["ingest", "--no-drift", str(path)]) == 0
        out = capsys.readouterr().out
        assert f"landed {name}: shape {shape}" in out
        run = run_record(out, home, season)
        assert all(c.passed for c in run.checks.values()), {
            n: c.metadata for n, c in run.checks.items() if not c.passed
        }
        lost = {k: v.value for k, v in run.checks["player_seasons_nothing_lost"].metadata.items()}
        assert lost["expected_rows"] == lost["accepted"] + lost["quarantined"] == rows  # nothing lost
        assert (lost["source_rows_missing"], lost["unexpected_lineage"]) == (0, 0)
        validated = run.table("tables/player_seasons_validated")
        assert len(validated) == rows - len(quarantined) and (validated["source_file"] == name).all()
        assert run.table("quarantine/player_seasons")[["source_row", "rule"]].values.tolist() == quarantined
        if shape == "player_info":
            assert validated[["player_id", "full_name", "season"]].values.tolist() == [
                [1628378, "Donovan Mitchell", "2025-26"]
            ]
        else:
            assert validated["birth_date"].isna().all() and validated["full_name"].notna().all()
