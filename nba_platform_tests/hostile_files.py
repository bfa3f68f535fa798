"""Hostile landed files: each one is a shipped real file damaged in one way.

Sources: the 2022-23 LeagueGameLog export (2,460 team rows), four 2020-21 box-score members
of the shipped archive plus those games' rows of the shipped slim game log. Data rows are
numbered from 1 like `_source_row`; every builder asserts the facts of the real rows it relies
on (a winner stays a winner after +10 points), so a change in the shipped data fails loudly
instead of quietly testing something else.

Each builder writes its file(s) into a directory and returns their paths; the very large file
is streamed to disk one copy of the season at a time.
"""

from __future__ import annotations

import csv
import gzip
import io
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from nba_platform.resources.landing import sample_root

SAMPLE = Path(sample_root())
GAMELOG_2022_23 = SAMPLE / "nba_api_league_gamelog_2021_2024/nba-gamelog-2022-23.csv.gz"
GAMELOG_2021_22 = SAMPLE / "nba_api_league_gamelog_2021_2024/nba-gamelog-2021-22.csv.gz"
BOXSCORES_2020_21 = SAMPLE / "nba_api_player_boxscores_2015_2021/boxscores_2020-21.tar.gz"
SLIM_LOG = SAMPLE / "nba_api_league_gamelog_slim_2016_2024/league_game_logs.csv.gz"
BOX_GAMES = ("0022000001", "0022000002", "0022000003", "0022000004")

SQL_INJECTION = "Robert'); DROP TABLE games;--"
SCRIPT_INJECTION = '<script>alert("owned")</script>'
IMG_INJECTION = "Wolves | <img src=x onerror=alert(1)>\n2nd line"  # pipe + quoted line break
PLAYER_SQL_INJECTION = "Robert'); DROP TABLE player_games;--"
MIA = ("1610612748", "MIA", "Miami Heat")


@dataclass
class Table:
    """A CSV as header + rows of source text; `row(n)` is data row n (1-based)."""

    header: list[str]
    rows: list[list[str]]

    @classmethod
    def parse(cls, text: str) -> Table:
        header, *rows = list(csv.reader(io.StringIO(text)))
        return cls(header, rows)

    def col(self, name: str) -> int:
        return [c.upper() for c in self.header].index(name.upper())

    def row(self, n: int) -> list[str]:
        return self.rows[n - 1]

    def get(self, n: int, column: str) -> str:
        return self.row(n)[self.col(column)]

    def set(self, n: int, column: str, value: str) -> None:
        self.row(n)[self.col(column)] = value

    def partner(self, n: int) -> int:
        """The other team's row of row n's game."""
        gid = self.get(n, "GAME_ID")
        [other] = [i for i in range(1, len(self.rows) + 1) if i != n and self.get(i, "GAME_ID") == gid]
        return other

    def text(self) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([self.header, *self.rows])
        return buf.getvalue()


@cache
def _gamelog_text() -> str:
    return gzip.decompress(GAMELOG_2022_23.read_bytes()).decode()


def gamelog() -> Table:
    """A fresh copy of the real 2022-23 game log."""
    return Table.parse(_gamelog_text())


GAMELOG = gamelog()  # read-only: for row facts (partners) in the cases table
GAMELOG_ROWS = len(GAMELOG.rows)


def _write(directory: Path, name: str, data: bytes) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(data)
    return [path]


def _lines(table: Table) -> list[str]:
    """Physical lines; line n is data row n (no value holds a line break)."""
    return table.text().split("\n")


# ---------------------------------------------------------------- game log: rejected at landing


def empty_file(d: Path, name: str) -> list[Path]:
    return _write(d, name, b"")


def header_only(d: Path, name: str) -> list[Path]:
    return _write(d, name, (",".join(GAMELOG.header) + "\n").encode())


def unbalanced_quote(d: Path, name: str) -> list[Path]:
    t = gamelog()
    assert t.get(100, "TEAM_NAME") == "Denver Nuggets"
    t.set(100, "TEAM_NAME", '"Denver Nuggets')  # opened, never closed
    return _write(d, name, _raw_quotes(t, {100}).encode())


def quote_swallows_rows(d: Path, name: str) -> list[Path]:
    """Opened on row 100, closed on row 140: pandas used to read rows 100-140 as ONE row, made of
    row 100's first fields and row 140's last ones (a chimera), and rows 101-139 vanished."""
    t = gamelog()
    assert (t.get(100, "TEAM_NAME"), t.get(140, "TEAM_NAME")) == ("Denver Nuggets", "New Orleans Pelicans")
    t.set(100, "TEAM_NAME", '"Denver Nuggets')
    t.set(140, "TEAM_NAME", 'New Orleans Pelicans"')
    return _write(d, name, _raw_quotes(t, {100, 140}).encode())


def _raw_quotes(t: Table, rows: set[int]) -> str:
    """The csv writer would escape the stray quotes; write those rows' fields as they are."""
    lines = _lines(t)
    for n in rows:
        lines[n] = ",".join(t.row(n))
    return "\n".join(lines)


def ragged_long_row(d: Path, name: str) -> list[Path]:
    t = gamelog()
    assert t.get(250, "TEAM_NAME") == "Portland Trail Blazers"
    lines = _lines(t)
    lines[250] = lines[250].replace("Portland Trail Blazers", "Portland, Trail Blazers")  # unquoted comma: 30 fields
    return _write(d, name, "\n".join(lines).encode())


def truncated_last_row(d: Path, name: str) -> list[Path]:
    """An upload cut off inside the last row's points: '...,18,109,-14,1' arrives as '...,18,10'.
    Padded with blanks (the old behaviour) it was a valid 123-10 loss."""
    text = _gamelog_text()
    assert text.endswith(",18,109,-14,1\n")
    return _write(d, name, text[: -len("9,-14,1\n")].encode())


def missing_column(d: Path, name: str) -> list[Path]:
    t = gamelog()
    i = t.col("PTS")
    t.header.pop(i)
    for r in t.rows:
        r.pop(i)
    return _write(d, name, t.text().encode())


def header_missing(d: Path, name: str) -> list[Path]:
    return _write(d, name, _gamelog_text().split("\n", 1)[1].encode())


def latin1_team_name(d: Path, name: str) -> list[Path]:
    t = gamelog()
    assert t.get(300, "TEAM_NAME") == "LA Clippers"
    t.set(300, "TEAM_NAME", LATIN1_NAME)
    return _write(d, name, t.text().encode("latin-1"))


def cp1252_team_name(d: Path, name: str) -> list[Path]:
    """A spreadsheet's Windows-1252 export: curly quotes and an en dash (bytes 0x93 0x94 0x96)."""
    t = gamelog()
    assert t.get(300, "TEAM_NAME") == "LA Clippers"
    t.set(300, "TEAM_NAME", CP1252_NAME)
    return _write(d, name, t.text().encode("cp1252"))


CP1252_NAME = "LA Clippers \u201cClips\u201d \u2013 Montréal"
LATIN1_NAME = "LA Clippers (Montréal)"


def invalid_bytes_gz(d: Path, name: str) -> list[Path]:
    text = _gamelog_text().encode()
    lines = text.split(b"\n")
    assert b"Brooklyn Nets" in lines[1200]
    # 0x81 and 0x8D: undefined in Windows-1252, C1 controls in Latin-1; not UTF-8 either
    lines[1200] = lines[1200].replace(b"Brooklyn Nets", b"Brooklyn \x81\x8d Nets")
    return _write(d, name, gzip.compress(b"\n".join(lines)))


def truncated_gzip(d: Path, name: str) -> list[Path]:
    data = GAMELOG_2022_23.read_bytes()
    return _write(d, name, data[: len(data) * 6 // 10])


def unplaceable_row(d: Path, name: str) -> list[Path]:
    t = gamelog()
    t.set(10, "GAME_ID", "")
    t.set(10, "GAME_DATE", "")
    return _write(d, name, t.text().encode())


def future_season_row(d: Path, name: str) -> list[Path]:
    """No game id and a typo'd date: this used to create a season partition 2098-99."""
    t = gamelog()
    t.set(11, "GAME_ID", "")
    t.set(11, "GAME_DATE", "2099-01-15")
    return _write(d, name, t.text().encode())


# ---------------------------------------------------------------- game log: landed, bad rows quarantined


def wrong_types(d: Path, name: str) -> list[Path]:
    t = gamelog()
    t.set(20, "PTS", "abc")
    t.set(21, "FG_PCT", "forty")
    return _write(d, name, t.text().encode())


def duplicate_and_conflicting_rows(d: Path, name: str) -> list[Path]:
    """Rows 1-50 again (rows 2461-2510), and row 21 a third time (row 2511) with 10 more points
    from 5 more field goals: a different score that is consistent in itself (still a win), so
    only the copies disagree."""
    t = gamelog()
    t.rows += [list(r) for r in t.rows[:50]]
    assert t.get(21, "WL") == "W"
    copy = list(t.row(21))
    for column, more in (("PTS", 10), ("FGM", 5), ("FGA", 5)):
        copy[t.col(column)] = str(int(copy[t.col(column)]) + more)
    t.rows.append(copy)
    return _write(d, name, t.text().encode())


def null_keys(d: Path, name: str) -> list[Path]:
    t = gamelog()
    t.set(40, "GAME_ID", "")  # still placed in 2022-23 by its date
    t.set(45, "TEAM_ID", "")
    return _write(d, name, t.text().encode())


def impossible_values(d: Path, name: str) -> list[Path]:
    """Negative points, 300 points, a date in 2099, and a third team (row 2461) in row 65's game."""
    t = gamelog()
    t.set(50, "PTS", "-5")
    t.set(55, "PTS", "300")
    t.set(60, "GAME_DATE", "2099-01-15")
    third = list(t.row(65))
    assert t.get(65, "MATCHUP") == "SAS vs. POR"
    third[t.col("TEAM_ID")], third[t.col("TEAM_ABBREVIATION")], third[t.col("TEAM_NAME")] = MIA
    third[t.col("MATCHUP")] = "MIA @ POR"
    t.rows.append(third)
    return _write(d, name, t.text().encode())


def swapped_columns(d: Path, name: str) -> list[Path]:
    """PTS and FGM headers swapped: every value is valid text, in the wrong column."""
    t = gamelog()
    i, j = t.col("PTS"), t.col("FGM")
    t.header[i], t.header[j] = t.header[j], t.header[i]
    return _write(d, name, t.text().encode())


def injection_text(d: Path, name: str) -> list[Path]:
    """SQL and HTML in text fields: every GSW row's abbreviation and name, row 1's name."""
    t = gamelog()
    for n in range(1, len(t.rows) + 1):
        if t.get(n, "TEAM_ABBREVIATION") == "GSW":
            t.set(n, "TEAM_ABBREVIATION", SQL_INJECTION)
            t.set(n, "TEAM_NAME", SCRIPT_INJECTION)
    t.set(1, "TEAM_NAME", IMG_INJECTION)
    return _write(d, name, t.text().encode())


LARGE_COPIES = 100  # ~35 MB: 50 MB (143 copies) alone took ~40 s of the suite on 2 busy cores


def very_large(d: Path, name: str) -> list[Path]:
    """The real season LARGE_COPIES times over (246,000 rows, ~35 MB), written one copy at a time."""
    header, body = _gamelog_text().split("\n", 1)
    d.mkdir(parents=True, exist_ok=True)
    path = d / name
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(header + "\n")
        for _ in range(LARGE_COPIES):
            f.write(body)
    return [path]


# ---------------------------------------------------------------- real shapes lost before (issue 16)

# Shipped 2022-23 games made neutral-site as stats.nba.com lists them from 2024-25 on: '@' on both
# rows. Row 1 is MIN vs. NOP (becomes MIN @ NOP and NOP @ MIN), row 1001 CLE @ HOU.
NEUTRAL_ROWS = (1, 1001)


def neutral_site_games(d: Path, name: str) -> list[Path]:
    t = gamelog()
    for n in NEUTRAL_ROWS:
        m = t.partner(n)
        for row, other in ((n, m), (m, n)):
            t.set(row, "MATCHUP", f"{t.get(row, 'TEAM_ABBREVIATION')} @ {t.get(other, 'TEAM_ABBREVIATION')}")
    assert t.get(1, "MATCHUP") == "MIN @ NOP" and t.get(t.partner(1), "MATCHUP") == "NOP @ MIN"
    return _write(d, name, t.text().encode())


EXTRA_COLUMNS = ("NOTES", "EXPORTED_BY", "ROW_COLOR")


def extra_columns(d: Path, name: str, extra: tuple[str, ...] = EXTRA_COLUMNS) -> list[Path]:
    """The real season with columns a spreadsheet added (outside the LeagueGameLog shape)."""
    t = gamelog()
    t.header += list(extra)
    for r in t.rows:
        r += ["x"] * len(extra)
    return _write(d, name, t.text().encode())


def one_team_logs(d: Path, name: str) -> list[Path]:
    """BOS's 82 rows of the real 2022-23 LeagueGameLog (one team's log, as teamgamelog exports
    it), and, in another source (the shipped slim log), only their opponents' rows of those games."""
    t = gamelog()
    t.rows = [r for r in t.rows if r[t.col("TEAM_ABBREVIATION")] == "BOS"]
    assert len(t.rows) == 82
    games = {r[t.col("GAME_ID")] for r in t.rows}
    slim = Table.parse(gzip.decompress(SLIM_LOG.read_bytes()).decode())
    slim.rows = [r for r in slim.rows if r[slim.col("GAME_ID")] in games and r[slim.col("TEAM_ABBREVIATION")] != "BOS"]
    assert len(slim.rows) == 82
    _write(d, "opponents-2022-23.csv", slim.text().encode())
    return [d / "opponents-2022-23.csv", *_write(d, name, t.text().encode())]


# ---------------------------------------------------------------- box scores (2020-21)


@cache
def _box_members() -> dict[str, bytes]:
    with tarfile.open(BOXSCORES_2020_21) as tar:
        return {g: tar.extractfile(f"nba_boxscores/{g}.csv").read() for g in BOX_GAMES}


def box_member(game_id: str) -> Table:
    return Table.parse(_box_members()[game_id].decode())


def member_name(archive: str, game_id: str) -> str:
    return f"{archive}!nba_boxscores/{game_id}.csv"


def _archive(d: Path, name: str, members: dict[str, bytes]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for game_id, data in members.items():
            info = tarfile.TarInfo(f"nba_boxscores/{game_id}.csv")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (d / name).write_bytes(buf.getvalue())
    return d / name


def box_team_rows(d: Path) -> Path:
    """Those four games' team rows from the shipped slim game log, so the box scores' games exist."""
    t = Table.parse(gzip.decompress(SLIM_LOG.read_bytes()).decode())
    t.rows = [r for r in t.rows if r[t.col("GAME_ID")] in BOX_GAMES]
    assert len(t.rows) == 2 * len(BOX_GAMES)
    d.mkdir(parents=True, exist_ok=True)
    (d / "team-rows-2020-21.csv").write_text(t.text())
    return d / "team-rows-2020-21.csv"


def box_player_row(t: Table, player: str) -> int:
    [n] = [i for i in range(1, len(t.rows) + 1) if t.get(i, "PLAYER_NAME") == player]
    return n


def box_latin1_player_name(d: Path, name: str) -> list[Path]:
    members = dict(_box_members())
    t = box_member("0022000002")
    n = box_player_row(t, "Dennis Schroder")
    t.set(n, "PLAYER_NAME", "Dennis Schröder")
    members["0022000002"] = t.text().encode("latin-1")
    return [box_team_rows(d), _archive(d, name, members)]


def box_ragged_member(d: Path, name: str) -> list[Path]:
    members = dict(_box_members())
    t = box_member("0022000003")
    lines = t.text().split("\n")
    fields = lines[5].split(",")
    del fields[t.col("COMMENT")]  # row 5 loses a field
    lines[5] = ",".join(fields)
    members["0022000003"] = "\n".join(lines).encode()
    return [_archive(d, name, members)]


# Player rows damaged by box_hostile_values: (game, player) -> what was done
BOX_DAMAGE = {
    ("0022000001", "Kevin Durant"): ("PLAYER_NAME", SCRIPT_INJECTION),
    ("0022000001", "Stephen Curry"): ("PLAYER_NAME", PLAYER_SQL_INJECTION),
    ("0022000002", "LeBron James"): ("PTS", "300.0"),
    ("0022000003", "Jayson Tatum"): ("PTS", "-2.0"),
    ("0022000004", "Luka Doncic"): ("MIN", "abc"),
}


def box_rows_of(archive: str) -> dict[tuple[str, str], tuple[str, int]]:
    """(game, player) -> (source_file, source_row) of the damaged rows."""
    out = {}
    for game_id, player in BOX_DAMAGE:
        out[(game_id, player)] = (member_name(archive, game_id), box_player_row(box_member(game_id), player))
    return out


def box_hostile_values(d: Path, name: str) -> list[Path]:
    members = dict(_box_members())
    for game_id in BOX_GAMES:
        t = box_member(game_id)
        for (g, player), (column, value) in BOX_DAMAGE.items():
            if g == game_id:
                t.set(box_player_row(t, player), column, value)
        members[game_id] = t.text().encode()
    return [box_team_rows(d), _archive(d, name, members)]


def box_rows_total() -> int:
    return sum(len(box_member(g).rows) for g in BOX_GAMES)


# ---------------------------------------------------------------- player shapes (issue 16)

# Recorded stats.nba.com responses, unmodified (nba_platform_tests/data/stats_api/PROVENANCE.md).
STATS_API_DATA = Path(__file__).parent / "data" / "stats_api"
BOX_V3 = STATS_API_DATA / "boxscoretraditionalv3_0022200552.json"  # CLE 145-134 CHI (OT), 2 Jan 2023
BOX_V3_ROWS = 23  # 11 CLE + 12 CHI players, 4 of them DNP
BOX_V3_MITCHELL_ROW = 5  # Donovan Mitchell's 71 points: the 5th player listed
PLAYER_GAME_LOG_2025_26 = STATS_API_DATA / "playergamelog_1628378_2025-26.json"  # Mitchell, 53 games
COMMON_PLAYER_INFO = STATS_API_DATA / "commonplayerinfo_1628378.json"


def box_v3(d: Path, name: str) -> list[Path]:
    """The recorded V3 box score as landed, with the real 2022-23 game log its game is in."""
    return [*_write(d, "gamelog-2022-23.csv", GAMELOG.text().encode()), *_write(d, name, BOX_V3.read_bytes())]


def box_v3_player_without_statistics(d: Path, name: str) -> list[Path]:
    """The recorded V3 box score with Mitchell's `statistics` object removed."""
    import json

    doc = json.loads(BOX_V3.read_text(encoding="utf-8"))
    mitchell = doc["boxScoreTraditional"]["homeTeam"]["players"][BOX_V3_MITCHELL_ROW - 1]
    assert mitchell["familyName"] == "Mitchell" and mitchell["statistics"]["points"] == 71
    del mitchell["statistics"]
    text = json.dumps(doc, ensure_ascii=False).encode()
    return [*_write(d, "gamelog-2022-23.csv", GAMELOG.text().encode()), *_write(d, name, text)]


PLAYER_GAME_LOG_HEADER = ["SEASON_ID", "Player_ID", "Game_ID", "GAME_DATE", "MATCHUP", "WL", "MIN"]
PLAYER_GAME_LOG_STATS = ["FGM", "FGA", "FG_PCT", "FG3M", "FG3A", "FG3_PCT", "FTM", "FTA", "FT_PCT", "OREB", "DREB"]
PLAYER_GAME_LOG_STATS += ["REB", "AST", "STL", "BLK", "TOV", "PF", "PTS", "PLUS_MINUS"]
PLAYER_LOG_UNKNOWN_TEAM_ROW = 3


def player_game_log_table() -> Table:
    """PlayerGameLog rows (nba_api's columns; no TEAM_ID) of every player who played in the four
    shipped 2020-21 box scores: stats from the box rows, date, matchup and result from the
    shipped slim game log, minutes rounded to whole minutes as PlayerGameLog reports them."""
    slim = Table.parse(gzip.decompress(SLIM_LOG.read_bytes()).decode())
    team_rows = {
        (r[slim.col("GAME_ID")], r[slim.col("TEAM_ID")]): r for r in slim.rows if r[slim.col("GAME_ID")] in BOX_GAMES
    }
    rows = []
    for game_id in BOX_GAMES:
        box = box_member(game_id)
        for n in range(1, len(box.rows) + 1):
            if not box.get(n, "MIN"):
                continue  # a game log lists the games a player played
            team = team_rows[(game_id, box.get(n, "TEAM_ID"))]
            minutes, seconds = box.get(n, "MIN").split(":")
            counts = [box.get(n, "TO" if c == "TOV" else c) for c in PLAYER_GAME_LOG_STATS]
            counts = [
                c[:-2] if c.endswith(".0") and "PCT" not in s else c for c, s in zip(counts, PLAYER_GAME_LOG_STATS)
            ]
            rows.append(
                [
                    team[slim.col("SEASON_ID")],
                    box.get(n, "PLAYER_ID"),
                    game_id,
                    team[slim.col("GAME_DATE")],
                    team[slim.col("MATCHUP")],
                    team[slim.col("WL")],
                    str(round(int(minutes) + int(seconds) / 60)),
                    *counts,
                    "1",
                ]
            )
    assert len(rows) > 60
    return Table([*PLAYER_GAME_LOG_HEADER, *PLAYER_GAME_LOG_STATS, "VIDEO_AVAILABLE"], rows)


def player_game_log(d: Path, name: str) -> list[Path]:
    return [box_team_rows(d), *_write(d, name, player_game_log_table().text().encode())]


def player_game_log_with_box_scores(d: Path, name: str) -> list[Path]:
    """The game log and the box scores it was made from: two sources of the same player-games."""
    return [*player_game_log(d, name), _archive(d, "boxscores_2020-21.tar.gz", dict(_box_members()))]


def player_game_log_unknown_team(d: Path, name: str) -> list[Path]:
    t = player_game_log_table()
    n = PLAYER_LOG_UNKNOWN_TEAM_ROW
    team, rest = t.get(n, "MATCHUP").split(" ", 1)
    t.set(n, "MATCHUP", f"XYZ {rest}")  # no team has this abbreviation
    return [box_team_rows(d), *_write(d, name, t.text().encode())]


def player_game_log_rows() -> int:
    return len(player_game_log_table().rows)


def common_player_info(d: Path, name: str) -> list[Path]:
    """The recorded commonplayerinfo response as landed (three result sets; CommonPlayerInfo first)."""
    return _write(d, name, COMMON_PLAYER_INFO.read_bytes())


PLAYER_BIOS = SAMPLE / "nba_player_bios_2016_2024" / "player_bios.csv.gz"
PLAYER_INDEX_ROWS = 10
PLAYER_INDEX_NO_TEAM_ROW = 4  # TEAM_ID 0, as PlayerIndex lists a player without a team


def player_index_records() -> list[dict]:
    """PlayerIndex rows (nba_api's column names; no recording is shipped, see PROVENANCE.md) of
    the first ten players of the shipped 2016-17 bios; FROM_YEAR = TO_YEAR = 2016."""
    bios = Table.parse(gzip.decompress(PLAYER_BIOS.read_bytes()).decode())
    out = []
    for n in range(1, PLAYER_INDEX_ROWS + 1):
        assert bios.get(n, "season") == "2016-17"
        first, _, last = bios.get(n, "full_name").partition(" ")
        out.append(
            {
                "PERSON_ID": bios.get(n, "person_id"),
                "PLAYER_LAST_NAME": last,
                "PLAYER_FIRST_NAME": first,
                "PLAYER_SLUG": bios.get(n, "slug"),
                "TEAM_ID": bios.get(n, "team_id"),
                "TEAM_ABBREVIATION": bios.get(n, "team_abbrev"),
                "POSITION": bios.get(n, "position"),
                "HEIGHT": bios.get(n, "height"),
                "WEIGHT": bios.get(n, "weight"),
                "COLLEGE": bios.get(n, "school"),
                "FROM_YEAR": "2016",
                "TO_YEAR": "2016",
            }
        )
    return out


def player_index(d: Path, name: str) -> list[Path]:
    """PlayerIndex as nba_api's get_normalized_dict() gives it, one player without a team."""
    import json

    rows = player_index_records()
    rows[PLAYER_INDEX_NO_TEAM_ROW - 1].update(TEAM_ID="0", TEAM_ABBREVIATION=None)
    return _write(d, name, json.dumps({"PlayerIndex": rows}).encode())


def result_sets_of_no_shape(d: Path, name: str) -> list[Path]:
    """The recorded commonplayerinfo response without its CommonPlayerInfo result set, as
    get_normalized_dict() gives it: two result sets, neither a known shape."""
    import json

    doc = json.loads(COMMON_PLAYER_INFO.read_text())
    sets = {s["name"]: [dict(zip(s["headers"], r)) for r in s["rowSet"]] for s in doc["resultSets"][1:]}
    return _write(d, name, json.dumps(sets).encode())
