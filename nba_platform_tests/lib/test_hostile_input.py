"""Plain tests of the fixes made for hostile input (the end-to-end table of cases is
`defs/test_hostile_files.py`): each failed, or passed silently with wrong data, before its fix."""

import datetime as dt
import gzip
import json
import re

import pandas as pd
import pytest

from nba_platform.lib.landing import LandingError, detect_shape, read_landed_bytes, season_plausible, split_by_season
from nba_platform.lib.metadata import markdown_table
from nba_platform.resources.landing import peek_columns

HEADER = b"GAME_ID,TEAM_ID,TEAM_NAME,PTS\n"
ROW = b"0022101228,1610612755,Philadelphia 76ers,118\n"


def test_a_quote_closed_rows_later_is_rejected_not_read_as_one_row():
    # pandas read rows 2-4 as ONE row: row 2's first fields, row 4's last ones; row 3 vanished.
    data = (
        HEADER
        + ROW
        + b'0022101228,1610612765,"Detroit Pistons,106\n'
        + ROW
        + b'0022101229,1610612738,Boston Celtics",99\n'
    )
    with pytest.raises(LandingError) as exc:
        read_landed_bytes(data, "q.csv")
    assert str(exc.value) == (
        "q.csv: malformed CSV: row 2 (line 3) opens a quote that runs over whole records (rule: csv_quotes_balanced)"
    )


def test_a_quote_never_closed_in_a_big_file_names_its_row():
    data = HEADER + ROW * 3 + b'0022101228,1610612765,"Detroit Pistons,106\n' + ROW * 5000
    with pytest.raises(LandingError, match=r"^big\.csv: malformed CSV: row 4 \(line 5\): .*csv_quotes_balanced"):
        read_landed_bytes(data, "big.csv")


def test_a_multi_line_value_without_whole_records_in_it_is_still_text():
    raw = read_landed_bytes(HEADER + b'0022101228,1610612755,"76ers\n(Philadelphia)",118\n', "nl.csv")
    assert raw["TEAM_NAME"].tolist() == ["76ers\n(Philadelphia)"] and raw["PTS"].tolist() == ["118"]


@pytest.mark.parametrize(
    "data, where",
    [
        (HEADER + ROW + ROW.replace(b"Phila", b"Phil\x81"), "on line 3 (data row 2) (rule: text_encoding)"),
        (b"GAME_\x8dID,PTS\n" + ROW, "on line 1 (the header) (rule: text_encoding)"),
    ],
)
def test_undecodable_bytes_name_the_line_and_the_data_row(data, where):
    # 0x81 / 0x8D: not UTF-8, undefined in Windows-1252 (C1 controls in Latin-1): no candidate explains them
    with pytest.raises(LandingError) as exc:
        read_landed_bytes(data, "bad.csv")
    assert str(exc.value).startswith("bad.csv: not UTF-8, Windows-1252 or Latin-1 text: byte 0x")
    assert str(exc.value).endswith(where)


@pytest.mark.parametrize(
    "data, encoding",
    [
        (HEADER + ROW.replace(b"Phila", b"Phil\xe0"), "latin-1"),
        (HEADER + ROW.replace(b"Phila", b"\x93Phila\x94 \x96"), "windows-1252"),
        (HEADER + ROW.replace(b"Phila", "Philà".encode()), "utf-8"),
    ],
)
def test_single_byte_exports_are_decoded_and_the_encoding_recorded(data, encoding):
    raw = read_landed_bytes(data, "export.csv")
    assert raw.attrs["encodings"] == {"export.csv": encoding}
    assert raw["TEAM_NAME"].iloc[0].startswith(("Philà", "\u201cPhila\u201d"))


def test_a_file_mixing_utf8_and_single_byte_text_is_refused():
    data = HEADER + ROW.replace(b"Phila", "Philà".encode()) + ROW.replace(b"Phila", b"Phil\xe0")
    with pytest.raises(LandingError, match="mixes UTF-8 text with bytes that are not UTF-8.*data row 2.*text_encoding"):
        read_landed_bytes(data, "mixed.csv")


def test_archive_errors_name_the_member_and_its_row(src):
    box = src.csv_bytes(src.box_score_rows(src.G1), src.BOX_SCORE_COLUMNS)
    lines = box.split(b"\n")
    short = b"\n".join([*lines[:3], lines[3].rsplit(b",", 1)[0], *lines[4:]])  # row 3 lost its last field
    archive = src.tar_gz_bytes({"b/1.csv": box, "b/2.csv": short})
    with pytest.raises(LandingError, match=r"^a\.tar\.gz!b/2\.csv: malformed CSV: row 3 \(line 4\) has 27 fields"):
        read_landed_bytes(archive, "a.tar.gz")
    undecodable = src.tar_gz_bytes({"b/1.csv": box, "b/2.csv": box.replace(b"Joel Embiid", b"Jo\x81l Embiid")})
    with pytest.raises(LandingError, match=r"^a\.tar\.gz!b/2\.csv: not UTF-8, .* on line 2 \(data row 1\)"):
        read_landed_bytes(undecodable, "a.tar.gz")
    latin = src.tar_gz_bytes({"b/1.csv": box, "b/2.csv": box.replace(b"Joel Embiid", b"Jo\xebl Embiid")})
    raw = read_landed_bytes(latin, "a.tar.gz")  # one Latin-1 member: decoded on its own, recorded
    assert raw.attrs["encodings"] == {"a.tar.gz": "utf-8", "a.tar.gz!b/2.csv": "latin-1"}
    assert "Joël Embiid" in set(raw["PLAYER_NAME"]) and "Joel Embiid" in set(raw["PLAYER_NAME"])


def test_seasons_after_this_year_or_before_1946_cannot_be_placed(src):
    today = dt.date(2026, 11, 25)
    labels = pd.Series(["1946-47", "1945-46", "2026-27", "2027-28", "2098-99", None], dtype="string[pyarrow]")
    assert season_plausible(labels, today).tolist() == [True, False, True, False, False, False]
    rows = src.league_game_log_rows()
    rows[2].update(game_id="", game_date="2099-01-15")  # used to open a season partition 2098-99
    raw = read_landed_bytes(src.csv_bytes(rows), "typo.csv")
    with pytest.raises(LandingError, match=r"season_derivable\): typo\.csv row 3$"):
        split_by_season(raw, detect_shape(raw.columns, "typo.csv"))


def _tar_with_latin1_header(src) -> bytes:
    return src.tar_gz_bytes({"b/1.csv": b"GAME_ID,PLAYER_NAME,PTS,COMMENT\x81\n1,Jo,2,x\n"})


@pytest.mark.parametrize(
    "data, name",
    [
        (b"not an archive", "b.tar.gz"),
        (b"", "b.tgz"),
        (b"not gzip", "g.csv.gz"),
        (gzip.compress(HEADER + ROW * 5000)[:40], "cut.csv.gz"),
        ("latin1", "l.tar.gz"),
    ],
    ids=["not-a-tar", "empty-tgz", "not-gzip", "truncated-gzip", "latin1-member-header"],
)
def test_peek_columns_reports_corrupt_files_as_landing_errors(src, data, name):
    # Raised tarfile/gzip/Unicode errors before, which failed every raw asset's run.
    data = _tar_with_latin1_header(src) if data == "latin1" else data
    expected = (
        "!b/1.csv: not UTF-8, Windows-1252 or Latin-1" if name == "l.tar.gz" else ": corrupt, truncated or not UTF-8"
    )
    with pytest.raises(LandingError, match=rf"^{name.replace('.', '[.]')}{re.escape(expected)}"):
        peek_columns(data, name)


def test_markdown_previews_show_html_pipes_and_line_breaks_as_text():
    md = markdown_table(pd.DataFrame({"<b>col</b>": ['<script>alert("x")</script>', "a | b\nc & d"]}))
    assert md.splitlines() == [
        "| &lt;b&gt;col&lt;/b&gt; |",
        "|---|",
        '| &lt;script&gt;alert("x")&lt;/script&gt; |',
        "| a \\| b c &amp; d |",
    ]


def test_team_points_must_add_up_from_the_box_score(src):
    rows = src.league_game_log_rows()
    rows[0]["pts"] = int(rows[0]["pts"]) + 2  # e.g. a column read from the wrong place; still a win
    split, _ = src.validate((src.csv_bytes(rows), "lgl.csv"))
    [record] = [json.loads(r) for r in split.quarantined["record"]]
    assert split.quarantined["rule"].tolist() == ["pts_consistent"] and record["source_row"] == 1
    assert split.counts_by_rule == {"pts_consistent": 1}
