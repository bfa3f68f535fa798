"""Reading landed bytes exactly as they arrived, recognising the source shape, splitting by season."""

import gzip
import io
import json
import tarfile

import pandas as pd
import pytest

from nba_platform.lib.landing import (
    LINEAGE,
    SHAPES,
    SHAPES_BY_NAME,
    SOURCE_FILE,
    SOURCE_ROW,
    LandingError,
    detect_shape,
    read_landed_bytes,
    split_by_season,
)

# ---------------------------------------------------------------- formats


def test_csv_values_stay_source_text_and_headers_are_upper_cased(src):
    data = src.csv_bytes(src.league_game_log_rows())
    raw = read_landed_bytes(data, "nba-gamelog-2021-22.csv")
    assert list(raw.columns[:5]) == ["SEASON_ID", "TEAM_ID", "TEAM_ABBREVIATION", "TEAM_NAME", "GAME_ID"]
    assert list(raw.columns[-2:]) == LINEAGE
    assert len(raw) == 4
    first = raw.iloc[0]
    # Text exactly as landed: the leading zeros, '240', '0.523' survive, nothing is inferred.
    assert (first["GAME_ID"], first["MIN"], first["FG_PCT"], first["MATCHUP"]) == (
        "0022101228",
        "240",
        "0.523",
        "PHI vs. DET",
    )
    assert all(str(raw[c].dtype) == "string" for c in raw.columns if c not in LINEAGE)
    assert raw[SOURCE_FILE].tolist() == ["nba-gamelog-2021-22.csv"] * 4
    assert raw[SOURCE_ROW].tolist() == [1, 2, 3, 4]


def test_csv_blank_and_na_text_are_kept_verbatim(src):
    rows = src.team_game_logs_rows()
    rows[0]["AVAILABLE_FLAG"] = "NA"
    raw = read_landed_bytes(src.csv_bytes(rows), "po.csv")
    assert raw["AVAILABLE_FLAG"].tolist() == ["NA", "", "", ""]  # no NA guessing at landing


def test_gzipped_csv_and_utf8_bom(src):
    data = b"\xef\xbb\xbf" + src.csv_bytes(src.slim_rows())
    raw = read_landed_bytes(gzip.compress(data), "league_game_logs.csv.gz")
    assert raw.columns[0] == "SEASON_ID"  # BOM stripped, not part of the first header
    assert raw["PLUS_MINUS"].tolist() == ["12.0", "-12.0", "5.0", "-5.0"]
    assert raw[SOURCE_FILE].iloc[0] == "league_game_logs.csv.gz"


def test_json_records(src):
    raw = read_landed_bytes(src.json_records_bytes(src.slim_rows()), "slim.json")
    assert len(raw) == 4
    # JSON numbers become the text a CSV would have held.
    assert raw.loc[0, ["GAME_ID", "TEAM_ID", "PTS", "PLUS_MINUS", "WON"]].tolist() == [
        "0022101228",
        "1610612755",
        "118",
        "12.0",
        "1",
    ]


def test_json_null_in_a_text_column_becomes_blank_text():
    data = json.dumps(
        [{"GAME_ID": "0022101228", "COMMENT": "DNP"}, {"GAME_ID": "0022101228", "COMMENT": None}]
    ).encode()
    raw = read_landed_bytes(data, "nulls.json")
    assert raw["COMMENT"].tolist() == ["DNP", ""]


@pytest.mark.parametrize("fmt", ["records", "result_sets"])
def test_json_null_in_a_numeric_column_keeps_integers_and_blanks(fmt):
    if fmt == "records":
        data = json.dumps([{"GAME_ID": "0022101228", "PTS": 118}, {"GAME_ID": "0022101228", "PTS": None}]).encode()
    else:
        data = json.dumps(
            {
                "resultSets": [
                    {
                        "headers": ["GAME_ID", "FT_PCT", "PTS"],
                        "rowSet": [["0022101228", 0.8, 118], ["0022101228", None, None]],
                    }
                ]
            }
        ).encode()
    raw = read_landed_bytes(data, "nulls.json")
    assert raw["PTS"].tolist() == ["118", ""]


def test_jsonl_gz(src):
    raw = read_landed_bytes(gzip.compress(src.jsonl_bytes(src.slim_rows())), "slim.jsonl.gz")
    assert raw["GAME_ID"].tolist() == ["0022101228"] * 2 + ["0022101229"] * 2
    assert raw[SOURCE_ROW].tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("key", ["resultSets", "resultSet"])
def test_stats_nba_result_sets(src, key):
    body = json.loads(src.result_sets_bytes(src.league_game_log_rows()))
    if key == "resultSet":  # some endpoints return a single object under 'resultSet'
        body = {"resultSet": body["resultSets"][0]}
    raw = read_landed_bytes(json.dumps(body).encode(), "leaguegamelog.json")
    assert raw.columns[0] == "SEASON_ID" and "VIDEO_AVAILABLE" in raw.columns
    assert raw.loc[0, ["TEAM_ID", "GAME_ID", "MIN", "FG_PCT", "PLUS_MINUS"]].tolist() == [
        "1610612755",
        "0022101228",
        "240",
        "0.523",
        "12",
    ]
    assert detect_shape(raw.columns, "leaguegamelog.json").name == "league_game_log"


def test_parquet_typed_columns_become_text(src):
    raw = read_landed_bytes(src.parquet_bytes(src.team_game_logs_rows()), "playoffs.parquet")
    assert len(raw) == 4
    assert raw.loc[0, ["TEAM_ID", "GAME_ID", "MIN", "TOV", "PTS", "AVAILABLE_FLAG"]].tolist() == [
        "1610612738",
        "0042300401",
        "48.0",
        "11.0",
        "107",
        "",
    ]
    assert raw[SOURCE_ROW].tolist() == [1, 2, 3, 4]


def test_parquet_nulls_become_blank():
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"GAME_ID": ["0022101228", None], "PTS": pa.array([118, None], pa.int64())}), buf)
    raw = read_landed_bytes(buf.getvalue(), "n.parquet")
    assert raw["GAME_ID"].tolist() == ["0022101228", ""]
    assert raw.loc[1, "PTS"] == ""


def test_tar_gz_of_per_game_csvs_keeps_member_lineage(src):
    raw = read_landed_bytes(src.box_score_archive(), "boxscores_2021-22.tar.gz")
    # G1 has 4 players (its member carries the unnamed index column), G2 has 2.
    assert len(raw) == 6
    assert (
        raw[SOURCE_FILE].tolist()
        == ["boxscores_2021-22.tar.gz!nba_boxscores/0022101228.csv"] * 4
        + ["boxscores_2021-22.tar.gz!nba_boxscores/0022101229.csv"] * 2
    )
    assert raw[SOURCE_ROW].tolist() == [1, 2, 3, 4, 1, 2]
    assert raw["PLAYER_NAME"].tolist() == [
        "Joel Embiid",
        "Tyrese Maxey",
        "Charles Bassey",
        "Cade Cunningham",
        "Jayson Tatum",
        "Jalen Brunson",
    ]
    assert raw["MIN"].tolist()[:3] == ["41:05", "35:30", ""]
    assert raw["TO"].tolist()[0] == "3.0"
    assert detect_shape(raw.columns, "boxscores_2021-22.tar.gz").name == "box_score_traditional"


def test_tar_members_with_crlf_missing_final_newline_and_quoted_newlines(src):
    header = "GAME_ID,TEAM_ID,PLAYER_ID,PLAYER_NAME,COMMENT,MIN,PTS"
    a = (header + "\r\n0022101228,1610612755,1,A,,10:00,4.0\r\n").encode()
    b = (header + "\n0022101228,1610612765,2,B,,12:00,6.0").encode()  # no trailing newline
    c = (header + '\n0022101229,1610612738,3,C,"DNP -\nRest",,\n0022101229,1610612738,4,D,,5:00,2.0\n').encode()
    raw = read_landed_bytes(
        src.tar_gz_bytes({"x/c.csv": c, "x/a.csv": a, "x/b.csv": b, "x/readme.txt": b"hi"}), "t.tgz"
    )
    assert raw["PLAYER_ID"].tolist() == ["1", "2", "3", "4"]  # members sorted by name, .txt ignored
    assert raw["PTS"].tolist() == ["4.0", "6.0", "", "2.0"]
    assert raw["COMMENT"].tolist()[2] == "DNP -\nRest"
    assert raw[SOURCE_FILE].tolist() == ["t.tgz!x/a.csv", "t.tgz!x/b.csv", "t.tgz!x/c.csv", "t.tgz!x/c.csv"]
    assert raw[SOURCE_ROW].tolist() == [1, 1, 1, 2]


def test_tar_without_csv_members_is_rejected(src):
    with pytest.raises(LandingError, match=r"^empty\.tar\.gz: archive holds no \.csv members"):
        read_landed_bytes(src.tar_gz_bytes({"notes.txt": b"x"}), "empty.tar.gz")


# ---------------------------------------------------------------- shape detection


@pytest.mark.parametrize(
    "builder, name, shape",
    [
        ("league_game_log", "nba-gamelog-2021-22.csv", "league_game_log"),
        ("team_game_log", "team_game_logs.csv", "team_game_log"),
        ("slim", "league_game_logs.csv", "league_game_log_slim"),
        ("team_game_logs", "play_off_totals.csv", "team_game_logs"),
        ("kaggle", "games.csv", "kaggle_games"),
        ("box_score", "0022101228.csv", "box_score_traditional"),
        ("bios", "player_bios.csv", "player_bios"),
    ],
)
def test_detect_shape_for_every_source(src, builder, name, shape):
    rows = {
        "league_game_log": src.league_game_log_rows,
        "team_game_log": src.team_game_log_rows,
        "slim": src.slim_rows,
        "team_game_logs": src.team_game_logs_rows,
        "kaggle": src.kaggle_rows,
        "box_score": lambda: src.box_score_rows(src.G1),
        "bios": src.bios_rows,
    }[builder]()
    raw = read_landed_bytes(src.csv_bytes(rows), name)
    detected = detect_shape(raw.columns, name)
    assert detected is SHAPES_BY_NAME[shape]
    # The raw column set names the shape whatever the header case of the source.
    assert detect_shape([c.lower() for c in raw.columns], name) is detected


def test_every_shape_is_tested_and_kaggle_expands_to_two_rows():
    assert {s.name for s in SHAPES} == {
        "team_game_logs",
        "league_game_log_slim",
        "team_game_log",
        "league_game_log",
        "kaggle_games",
        "box_score_traditional",
        "player_bios",
        "league_schedule",  # the two schedule shapes: nba_platform_tests/lib/test_schedule.py
        "schedule_file",
        "player_game_log",  # the player shapes of issue 16: nba_platform_tests/lib/test_player_shapes.py
        "player_info",
        "player_index",
    }
    assert {s.name: s.canonical_rows_per_row for s in SHAPES}["kaggle_games"] == 2
    assert all(s.canonical_rows_per_row == 1 for s in SHAPES if s.name != "kaggle_games")


def test_mixed_case_and_lower_case_headers_are_recognised(src):
    # TeamGameLog ships 'Team_ID'/'Game_ID'; LeagueGameLog ships all lower-case.
    tgl = read_landed_bytes(src.csv_bytes(src.team_game_log_rows()), "tgl.csv")
    assert {"TEAM_ID", "GAME_ID"} <= set(tgl.columns) and "Team_ID" not in tgl.columns
    assert (
        detect_shape(
            ["Team_ID", "Game_ID", "GAME_DATE", "MATCHUP", "WL", "W", "L", "W_PCT", "FGM", "PTS"], "x.csv"
        ).name
        == "team_game_log"
    )


def test_most_specific_shape_wins():
    # The 29-column LeagueGameLog also has PLUS_MINUS, but not SEASON_YEAR: not TeamGameLogs.
    lgl = ["SEASON_ID", "TEAM_ID", "GAME_ID", "GAME_DATE", "MATCHUP", "WL", "FGM", "FGA", "PTS", "PLUS_MINUS", "MIN"]
    assert detect_shape(lgl, "f.csv").name == "league_game_log"
    assert detect_shape(lgl + ["SEASON_YEAR"], "f.csv").name == "team_game_logs"


def test_unknown_columns_raise_naming_the_file_and_known_shapes():
    with pytest.raises(LandingError) as exc:
        detect_shape(["GAME_ID", "HOME", "AWAY"], "mystery_feed.csv")
    msg = str(exc.value)
    assert msg.startswith("mystery_feed.csv: unrecognised source shape")
    # every shape named; the nearest ones with the columns the file lacks
    assert all(name in msg for name in ("kaggle_games", "box_score_traditional", "league_game_log", "player_bios"))
    assert "Nearest known shapes:" in msg and " lacks [" in msg and "(3 columns: AWAY, GAME_ID, HOME)" in msg


# ---------------------------------------------------------------- unreadable files


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"", "empty.csv", "empty.csv: empty file"),
        (b"  \n\n", "blank.csv", "blank.csv: empty file"),
        (gzip.compress(b"", mtime=0), "empty.csv.gz", "empty.csv.gz: empty file"),
        (b"GAME_ID,PTS\n\x81\x8d118\n", "bad.csv", "bad.csv: not UTF-8, Windows-1252 or Latin-1 text: byte 0x81"),
        (gzip.compress(b"\xff\xfeG\x00", mtime=0), "utf16.csv.gz", "utf16.csv.gz: control character"),
        (b'GAME_ID,PTS\n"0022101228,118\n', "quote.csv", "quote.csv: malformed CSV"),
        (b"pts,PTS\n1,2\n", "dupe.csv", "dupe.csv: duplicate columns after upper-casing: ['PTS']"),
        (b"not gzip", "games.csv.gz", "games.csv.gz: corrupt gzip"),
        (b"PAR1 nope", "t.parquet", "t.parquet: unreadable Parquet"),
        (b"{not json", "t.json", "t.json: malformed JSON"),
        (b"\xff\xfe[]", "t.json", "t.json: malformed JSON"),
        (b'{"a": 1}', "t.json", "t.json: JSON must be a list of records, a stats.nba.com resultSets object"),
        (b"[1, 2]", "t.json", "t.json: JSON must be a list of records"),
        (b"[]", "t.json", "t.json: no header"),
        (b"GAME_ID\n1\n", "games.xlsx", "games.xlsx: unsupported file type"),
    ],
)
def test_unreadable_files_raise_landing_error_naming_the_file(data, name, message):
    with pytest.raises(LandingError) as exc:
        read_landed_bytes(data, name)
    assert str(exc.value).startswith(message)


@pytest.mark.parametrize("fmt", ["csv", "result_sets"])
def test_header_only_file_is_rejected(src, fmt):
    if fmt == "csv":
        data, name = (",".join(src.BOX_SCORE_COLUMNS) + "\n").encode(), "0022101228.csv"
    else:
        body = {"resultSets": [{"headers": [c.upper() for c in src.league_game_log_rows()[0]], "rowSet": []}]}
        data, name = json.dumps(body).encode(), "leaguegamelog.json"
    with pytest.raises(LandingError, match=name.replace(".", r"\.")):
        raw = read_landed_bytes(data, name)
        split_by_season(raw, detect_shape(raw.columns, name))


def _corrupt_deflate() -> bytes:
    data = bytearray(gzip.compress(b"GAME_ID,TEAM_ID\n" + b"0022101228,1610612755\n" * 2000))
    for i in range(40, 60):  # valid gzip header, damaged deflate stream
        data[i] ^= 0xFF
    return bytes(data)


def _truncated_tar_gz() -> bytes:
    buf = io.BytesIO()
    body = b"GAME_ID,TEAM_ID,PLAYER_ID,PLAYER_NAME,MIN,PTS\n" + b"0022101228,1610612755,1,A,10:00,2.0\n" * 200
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("nba_boxscores/0022101228.csv")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    data = buf.getvalue()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "data, name",
    [
        (b"this is not an archive", "boxscores_2019-20.tar.gz"),
        (_truncated_tar_gz(), "boxscores_2020-21.tar.gz"),
        (_corrupt_deflate(), "games.csv.gz"),
    ],
    ids=["not-a-tar", "truncated-tar-gz", "damaged-deflate-stream"],
)
def test_corrupt_compressed_files_raise_landing_error(data, name):
    with pytest.raises(LandingError, match=name.replace(".", r"\.")):
        read_landed_bytes(data, name)


def test_bom_only_csv_is_an_empty_file():
    with pytest.raises(LandingError, match="bom.csv: empty file"):
        read_landed_bytes(b"\xef\xbb\xbf\n", "bom.csv")


def test_result_sets_without_any_set_is_rejected():
    with pytest.raises(LandingError, match="empty_response.json"):
        read_landed_bytes(b'{"resultSets": []}', "empty_response.json")


def test_rows_with_an_extra_trailing_field_do_not_shift_columns():
    data = b"GAME_ID,TEAM_ID,PTS\n0022101228,1610612755,118,\n0022101228,1610612765,106,\n"
    try:
        raw = read_landed_bytes(data, "trailing.csv")
    except LandingError as exc:  # rejecting the file is fine too
        assert "trailing.csv" in str(exc)
        return
    assert raw["GAME_ID"].tolist() == ["0022101228", "0022101228"]
    assert raw["PTS"].tolist() == ["118", "106"]


def test_rows_with_missing_fields_are_rejected_not_padded():
    # Padding would turn a truncated last line ('...,18,10' for '...,18,109,-14,1') into a 10-point game.
    data = b"GAME_ID,TEAM_ID,PTS\n0022101228,1610612765,106\n0022101228,1610612755\n"
    with pytest.raises(LandingError) as exc:
        read_landed_bytes(data, "short.csv")
    assert str(exc.value) == (
        "short.csv: malformed CSV: row 2 (line 3) has 2 fields where the header has 3 (rule: csv_row_width)"
    )


# ---------------------------------------------------------------- season partitions


def test_split_by_season_from_kaggle_integer_game_ids(src):
    rows = src.kaggle_rows()
    rows.append({**rows[0], "GAME_ID": "42300401", "GAME_DATE_EST": "2024-06-06"})
    rows.append({**rows[0], "GAME_ID": "11900001", "GAME_DATE_EST": "2019-10-05"})
    raw = read_landed_bytes(src.csv_bytes(rows), "games.csv")
    parts = split_by_season(raw, detect_shape(raw.columns, "games.csv"))
    assert {k: v[SOURCE_ROW].tolist() for k, v in parts.items()} == {"2019-20": [4], "2021-22": [1, 2], "2023-24": [3]}
    assert all(v.index.equals(pd.RangeIndex(len(v))) for v in parts.values())
    assert parts["2021-22"]["GAME_ID"].tolist() == ["22101228", "22101229"]  # raw keeps the source text


def test_split_by_season_falls_back_to_the_game_date(src):
    rows = src.team_game_log_rows()
    rows[0]["Game_ID"] = "not-an-id"  # 'APR 10, 2022' still places it in 2021-22
    raw = read_landed_bytes(src.csv_bytes(rows), "tgl.csv")
    parts = split_by_season(raw, detect_shape(raw.columns, "tgl.csv"))
    assert list(parts) == ["2021-22"] and len(parts["2021-22"]) == 4


def test_unplaceable_rows_fail_the_whole_file_naming_file_and_row(src):
    rows = src.league_game_log_rows()
    rows[2].update(game_id="??", game_date="someday")
    raw = read_landed_bytes(src.csv_bytes(rows), "nba-gamelog-2021-22.csv")
    with pytest.raises(LandingError) as exc:
        split_by_season(raw, detect_shape(raw.columns, "nba-gamelog-2021-22.csv"))
    assert "1 row(s) have no usable game id, date or season" in str(exc.value)
    assert "season_derivable" in str(exc.value)
    assert "nba-gamelog-2021-22.csv row 3" in str(exc.value)


def test_player_bios_split_on_their_season_column(src):
    rows = src.bios_rows()
    raw = read_landed_bytes(src.csv_bytes(rows, src.BIOS_COLUMNS), "player_bios.csv")
    parts = split_by_season(raw, detect_shape(raw.columns, "player_bios.csv"))
    assert {k: len(v) for k, v in parts.items()} == {"2016-17": 1, "2017-18": 1, "2021-22": 1}
    rows[0]["season"] = "2016"
    raw = read_landed_bytes(src.csv_bytes(rows, src.BIOS_COLUMNS), "player_bios.csv")
    with pytest.raises(LandingError, match="player_bios.csv row 1"):
        split_by_season(raw, detect_shape(raw.columns, "player_bios.csv"))
