"""Hand-written landed files in every source shape, shared by the lib tests.

One small, internally consistent universe of games (real team ids, box scores whose points add
up) is written out in each source's own layout, so a test can land the same games from several
sources, or corrupt one value, and know exactly what the canonical rows must be.

Builders return lists of dicts keyed by the source's own column names (including its header
case); serialisers turn them into landed bytes (CSV, JSON records, JSONL, stats.nba.com
resultSets, Parquet, tar.gz of per-game CSVs).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nba_platform.lib.landing import detect_shape, read_landed_bytes
from nba_platform.lib.normalise import normalise_player_games, normalise_player_seasons, normalise_team_games
from nba_platform.lib.quality import PLAYER_GAME_RULES, PLAYER_SEASON_RULES, TEAM_GAME_RULES, apply_rules
from nba_platform.lib.schema import PLAYER_GAME_SCHEMA, PLAYER_SEASON_SCHEMA, TEAM_GAME_SCHEMA

# stats.nba.com franchise ids
ATL, BOS, DAL, DET, NOP, NYK, PHI, SAS, TOR = (
    1610612737,
    1610612738,
    1610612742,
    1610612765,
    1610612740,
    1610612752,
    1610612755,
    1610612759,
    1610612761,
)
TEAMS = {
    ATL: ("ATL", "Atlanta Hawks"),
    BOS: ("BOS", "Boston Celtics"),
    DAL: ("DAL", "Dallas Mavericks"),
    DET: ("DET", "Detroit Pistons"),
    NOP: ("NOP", "New Orleans Pelicans"),
    NYK: ("NYK", "New York Knicks"),
    PHI: ("PHI", "Philadelphia 76ers"),
    SAS: ("SAS", "San Antonio Spurs"),
    TOR: ("TOR", "Toronto Raptors"),
}

# Regular season 2021-22: G1 in regulation (240 player-minutes), G2 in overtime (265).
G1, G2 = "0022101228", "0022101229"
# Playoffs 2023-24 (TeamGameLogs report game minutes: 48, 53 in overtime).
P1, P2 = "0042300401", "0042300402"

# game_id -> (date, home team, away team, player-minutes as LeagueGameLog reports them)
GAMES = {
    G1: ("2022-04-10", PHI, DET, 240),
    G2: ("2022-04-10", BOS, NYK, 265),
    P1: ("2024-06-06", BOS, DAL, 240),
    P2: ("2024-06-09", BOS, DAL, 265),
}

_BOX_COLS = [
    "fgm",
    "fga",
    "fg_pct",
    "fg3m",
    "fg3a",
    "fg3_pct",
    "ftm",
    "fta",
    "ft_pct",
    "oreb",
    "dreb",
    "reb",
    "ast",
    "stl",
    "blk",
    "tov",
    "pf",
    "pts",
]


def _box(*values) -> dict:
    return dict(zip(_BOX_COLS, values))


# Points always equal 2*FGM + FG3M + FTM, OREB + DREB = REB.
BOX = {
    (G1, PHI): _box(46, 88, 0.523, 5, 25, 0.2, 21, 23, 0.913, 10, 32, 42, 25, 13, 6, 11, 23, 118),
    (G1, DET): _box(40, 90, 0.444, 10, 30, 0.333, 16, 20, 0.8, 9, 30, 39, 20, 7, 3, 15, 20, 106),
    (G2, BOS): _box(44, 95, 0.463, 14, 40, 0.35, 18, 22, 0.818, 12, 38, 50, 27, 8, 5, 12, 19, 120),
    (G2, NYK): _box(42, 96, 0.438, 12, 35, 0.343, 19, 25, 0.76, 14, 35, 49, 22, 6, 4, 13, 21, 115),
    (P1, BOS): _box(39, 86, 0.453, 16, 42, 0.381, 13, 16, 0.813, 9, 42, 51, 26, 6, 7, 11, 17, 107),
    (P1, DAL): _box(34, 77, 0.442, 6, 27, 0.222, 15, 19, 0.789, 6, 32, 38, 17, 9, 3, 13, 18, 89),
    (P2, BOS): _box(40, 84, 0.476, 12, 33, 0.364, 13, 14, 0.929, 8, 35, 43, 23, 6, 4, 12, 20, 105),
    (P2, DAL): _box(37, 80, 0.463, 11, 30, 0.367, 13, 17, 0.765, 9, 32, 41, 19, 8, 2, 11, 15, 98),
}


def team_games(game_ids=(G1, G2)) -> list[dict]:
    """Neutral per-team facts: one dict per team per game, home team first."""
    out = []
    for g in game_ids:
        date, home, away, minutes = GAMES[g]
        for me, opp, is_home in ((home, away, True), (away, home, False)):
            box = BOX[(g, me)]
            opp_pts = BOX[(g, opp)]["pts"]
            abbr, name = TEAMS[me]
            out.append(
                dict(
                    game_id=g,
                    date=date,
                    team_id=me,
                    opponent_id=opp,
                    abbr=abbr,
                    name=name,
                    is_home=is_home,
                    matchup=f"{abbr} vs. {TEAMS[opp][0]}" if is_home else f"{abbr} @ {TEAMS[opp][0]}",
                    wl="W" if box["pts"] > opp_pts else "L",
                    min=minutes,
                    opp_pts=opp_pts,
                    **box,
                )
            )
    return out


def league_game_log_rows(game_ids=(G1, G2)) -> list[dict]:
    """nba_api LeagueGameLog (team), the 29 lower-case columns of the bwbensonjr export."""
    rows = []
    for t in team_games(game_ids):
        rows.append(
            {
                "season_id": "2" + "20" + t["game_id"][3:5],
                "team_id": t["team_id"],
                "team_abbreviation": t["abbr"],
                "team_name": t["name"],
                "game_id": t["game_id"],
                "game_date": t["date"],
                "matchup": t["matchup"],
                "wl": t["wl"],
                "min": t["min"],
                **{c: t[c] for c in _BOX_COLS[:-1]},
                "pts": t["pts"],
                "plus_minus": t["pts"] - t["opp_pts"],
                "video_available": 1,
            }
        )
    return rows


def team_game_log_rows(game_ids=(G1, G2)) -> list[dict]:
    """nba_api TeamGameLog: mixed-case id columns, 'APR 10, 2022' dates, post-game W/L/W_PCT."""
    rows = []
    for i, t in enumerate(team_games(game_ids)):
        date = pd.Timestamp(t["date"]).strftime("%b %d, %Y").upper()
        wins, losses = 40 + i, 30 + (t["wl"] == "L")
        rows.append(
            {
                "Team_ID": t["team_id"],
                "Game_ID": t["game_id"],
                "GAME_DATE": date,
                "MATCHUP": t["matchup"],
                "WL": t["wl"],
                "W": wins,
                "L": losses,
                "W_PCT": round(wins / (wins + losses), 3),
                "MIN": t["min"],
                **{c.upper(): t[c] for c in _BOX_COLS},
                "TEAM_ABBREVIATION": t["abbr"],
            }
        )
    return rows


def slim_rows(game_ids=(G1, G2)) -> list[dict]:
    """Slim LeagueGameLog (masonwm23): points, float PLUS_MINUS, SEASON label, WON."""
    rows = []
    for t in team_games(game_ids):
        start = 2000 + int(t["game_id"][3:5])
        rows.append(
            {
                "SEASON_ID": f"2{start}",
                "TEAM_ID": t["team_id"],
                "TEAM_ABBREVIATION": t["abbr"],
                "GAME_ID": t["game_id"],
                "GAME_DATE": t["date"],
                "MATCHUP": t["matchup"],
                "WL": t["wl"],
                "PTS": t["pts"],
                "PLUS_MINUS": float(t["pts"] - t["opp_pts"]),
                "SEASON": f"{start}-{(start + 1) % 100:02d}",
                "WON": int(t["wl"] == "W"),
            }
        )
    return rows


def team_game_logs_rows(game_ids=(P1, P2)) -> list[dict]:
    """nba_api TeamGameLogs (playoff totals): ISO timestamps, game minutes, *_RANK, AVAILABLE_FLAG."""
    rows = []
    for i, t in enumerate(team_games(game_ids)):
        start = 2000 + int(t["game_id"][3:5])
        rows.append(
            {
                "SEASON_YEAR": f"{start}-{(start + 1) % 100:02d}",
                "TEAM_ID": t["team_id"],
                "TEAM_ABBREVIATION": t["abbr"],
                "TEAM_NAME": t["name"],
                "GAME_ID": t["game_id"],
                "GAME_DATE": t["date"] + "T00:00:00",
                "MATCHUP": t["matchup"],
                "WL": t["wl"],
                "MIN": t["min"] / 5,
                **{c.upper(): float(t[c]) if c == "tov" else t[c] for c in _BOX_COLS[:-1]},
                "BLKA": 3,
                "PFD": 18,
                "PTS": t["pts"],
                "PLUS_MINUS": float(t["pts"] - t["opp_pts"]),
                "GP_RANK": 1,
                "PTS_RANK": 10 + i,
                "PLUS_MINUS_RANK": 20 + i,
                "AVAILABLE_FLAG": "",
            }
        )
    return rows


def kaggle_rows(game_ids=(G1, G2)) -> list[dict]:
    """Kaggle games.csv: one row per game, integer GAME_ID without the leading '00'."""
    rows = []
    for g in game_ids:
        date, home, away, _ = GAMES[g]
        h, a = BOX[(g, home)], BOX[(g, away)]
        row = {
            "GAME_DATE_EST": date,
            "GAME_ID": str(int(g)),
            "GAME_STATUS_TEXT": "Final",
            "HOME_TEAM_ID": home,
            "VISITOR_TEAM_ID": away,
            "SEASON": 2000 + int(g[3:5]),
        }
        for side, team, box in (("home", home, h), ("away", away, a)):
            row.update(
                {
                    f"TEAM_ID_{side}": team,
                    f"PTS_{side}": float(box["pts"]),
                    f"FG_PCT_{side}": box["fg_pct"],
                    f"FT_PCT_{side}": box["ft_pct"],
                    f"FG3_PCT_{side}": box["fg3_pct"],
                    f"AST_{side}": float(box["ast"]),
                    f"REB_{side}": float(box["reb"]),
                }
            )
        row["HOME_TEAM_WINS"] = int(h["pts"] > a["pts"])
        rows.append(row)
    return rows


BOX_SCORE_COLUMNS = [
    "GAME_ID",
    "TEAM_ID",
    "TEAM_ABBREVIATION",
    "TEAM_CITY",
    "PLAYER_ID",
    "PLAYER_NAME",
    "START_POSITION",
    "COMMENT",
    "MIN",
    "FGM",
    "FGA",
    "FG_PCT",
    "FG3M",
    "FG3A",
    "FG3_PCT",
    "FTM",
    "FTA",
    "FT_PCT",
    "OREB",
    "DREB",
    "REB",
    "AST",
    "STL",
    "BLK",
    "TO",
    "PF",
    "PTS",
    "PLUS_MINUS",
]

# (team, player_id, name, start, comment, MIN, fgm, fga, fg3m, fg3a, ftm, fta, oreb, dreb, ast, stl, blk, to, pf, +/-)
PLAYERS = {
    G1: [
        (PHI, 203954, "Joel Embiid", "C", "", "41:05", 10, 20, 2, 5, 8, 9, 3, 9, 4, 1, 2, 3, 2, 10),
        (PHI, 1630178, "Tyrese Maxey", "G", "", "35:30", 9, 15, 3, 6, 0, 0, 0, 3, 5, 2, 0, 1, 1, 8),
        (PHI, 1629001, "Charles Bassey", "", "DNP - Coach's Decision      ", "", *[None] * 14),
        (DET, 1630595, "Cade Cunningham", "G", "", "36:00", 8, 19, 2, 6, 4, 4, 1, 5, 7, 1, 0, 4, 3, -12),
    ],
    G2: [
        (BOS, 1628369, "Jayson Tatum", "F", "", "44:12", 12, 24, 4, 9, 6, 7, 2, 8, 5, 1, 1, 2, 3, 5),
        (NYK, 1628973, "Jalen Brunson", "G", "", "43:01", 11, 22, 3, 7, 5, 6, 0, 4, 8, 0, 0, 2, 2, -5),
    ],
}


def box_score_rows(game_id) -> list[dict]:
    """BoxScoreTraditionalV2 player rows as the jimtheflash CSVs hold them: counts as floats."""
    rows = []
    for team, pid, name, start, comment, mins, *stats in PLAYERS[game_id]:
        fgm, fga, fg3m, fg3a, ftm, fta, oreb, dreb, ast, stl, blk, to, pf, pm = stats
        played = fgm is not None

        def f(v):
            return "" if v is None else f"{float(v)}"

        def pct(m, a, played=played):
            return "" if not played else (f"{round(m / a, 3)}" if a else "0.0")

        rows.append(
            {
                "GAME_ID": game_id,
                "TEAM_ID": team,
                "TEAM_ABBREVIATION": TEAMS[team][0],
                "TEAM_CITY": "City",
                "PLAYER_ID": pid,
                "PLAYER_NAME": name,
                "START_POSITION": start,
                "COMMENT": comment,
                "MIN": mins,
                "FGM": f(fgm),
                "FGA": f(fga),
                "FG_PCT": pct(fgm or 0, fga),
                "FG3M": f(fg3m),
                "FG3A": f(fg3a),
                "FG3_PCT": pct(fg3m or 0, fg3a),
                "FTM": f(ftm),
                "FTA": f(fta),
                "FT_PCT": pct(ftm or 0, fta),
                "OREB": f(oreb),
                "DREB": f(dreb),
                "REB": f(None if not played else oreb + dreb),
                "AST": f(ast),
                "STL": f(stl),
                "BLK": f(blk),
                "TO": f(to),
                "PF": f(pf),
                "PTS": f(None if not played else 2 * fgm + fg3m + ftm),
                "PLUS_MINUS": f(pm),
            }
        )
    return rows


BIOS_COLUMNS = [
    "person_id",
    "full_name",
    "slug",
    "jersey",
    "position",
    "height",
    "weight",
    "birth_date",
    "age",
    "experience",
    "school",
    "season",
    "team_id",
    "team_abbrev",
    "team_name",
    "height_inches",
]


def bios_rows() -> list[dict]:
    base = dict(slug="", jersey="", team_abbrev="", team_name="")
    return [
        {
            **base,
            "person_id": 1627761,
            "full_name": "DeAndre' Bembry",
            "position": "F-G",
            "height": "6-6",
            "weight": 210,
            "birth_date": "JUL 04, 1994",
            "age": 22.0,
            "experience": "R",
            "school": "St. Joseph's (PA)",
            "season": "2016-17",
            "team_id": ATL,
            "height_inches": 78.0,
        },
        {
            **base,
            "person_id": 1627761,
            "full_name": "DeAndre' Bembry",
            "position": "F-G",
            "height": "6-5",
            "weight": 210,
            "birth_date": "JUL 04, 1994",
            "age": 23.0,
            "experience": "1",
            "school": "St. Joseph's (PA)",
            "season": "2017-18",
            "team_id": ATL,
            "height_inches": "",
        },
        {
            **base,
            "person_id": 203954,
            "full_name": "Joel Embiid",
            "position": "C-F",
            "height": "7-0",
            "weight": 280,
            "birth_date": "MAR 16, 1994",
            "age": 27.0,
            "experience": "5",
            "school": "Kansas",
            "season": "2021-22",
            "team_id": PHI,
            "height_inches": 84.0,
        },
    ]


# ---------------------------------------------------------------- serialisers


def _cell(v) -> str:
    return "" if v is None else str(v)


def csv_bytes(rows: list[dict], columns: list[str] | None = None, index_column: bool = False) -> bytes:
    columns = columns or list(rows[0])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(([""] if index_column else []) + columns)
    for i, r in enumerate(rows):
        w.writerow(([i] if index_column else []) + [_cell(r.get(c)) for c in columns])
    return buf.getvalue().encode("utf-8")


def json_records_bytes(rows: list[dict]) -> bytes:
    return json.dumps(rows).encode("utf-8")


def jsonl_bytes(rows: list[dict]) -> bytes:
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode("utf-8")


def result_sets_bytes(rows: list[dict], name: str = "LeagueGameLog") -> bytes:
    """A stats.nba.com response: upper-case headers, typed values in rowSet."""
    headers = [c.upper() for c in rows[0]]
    body = {
        "resource": name.lower(),
        "parameters": {},
        "resultSets": [{"name": name, "headers": headers, "rowSet": [list(r.values()) for r in rows]}],
    }
    return json.dumps(body).encode("utf-8")


def parquet_bytes(rows: list[dict]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def tar_gz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def box_score_archive() -> bytes:
    """Two per-game members: the first with the unnamed pandas index column the README
    describes, the second without it (as most shipped members are)."""
    return tar_gz_bytes(
        {
            f"nba_boxscores/{G1}.csv": csv_bytes(box_score_rows(G1), BOX_SCORE_COLUMNS, index_column=True),
            f"nba_boxscores/{G2}.csv": csv_bytes(box_score_rows(G2), BOX_SCORE_COLUMNS),
        }
    )


# ---------------------------------------------------------------- pipeline helpers


def land(data: bytes, name: str):
    """read_landed_bytes -> detect_shape, as the landing zone does."""
    raw = read_landed_bytes(data, name)
    return raw, detect_shape(raw.columns, name)


NORMALISERS = {
    "team_game": normalise_team_games,
    "player_game": normalise_player_games,
    "player": normalise_player_seasons,
}
RULES = {
    "team_game": (TEAM_GAME_RULES, TEAM_GAME_SCHEMA),
    "player_game": (PLAYER_GAME_RULES, PLAYER_GAME_SCHEMA),
    "player": (PLAYER_SEASON_RULES, PLAYER_SEASON_SCHEMA),
}


def normalise(data: bytes, name: str) -> pd.DataFrame:
    raw, shape = land(data, name)
    return NORMALISERS[shape.entity](raw, shape.name)


def validate(*files: tuple[bytes, str]):
    """Normalise landed files of one entity, concatenate them and apply that entity's rules."""
    frames, entities = [], set()
    for data, name in files:
        raw, shape = land(data, name)
        entities.add(shape.entity)
        frames.append(NORMALISERS[shape.entity](raw, shape.name))
    assert len(entities) == 1, entities
    entity = entities.pop()
    rules, schema = RULES[entity]
    frame = pd.concat(frames, ignore_index=True)
    return apply_rules(frame, rules, entity, schema), frame


def one(frame: pd.DataFrame, **where) -> dict:
    """The single row matching column == value for every keyword."""
    mask = pd.Series(True, index=frame.index)
    for col, value in where.items():
        mask &= (frame[col] == value).fillna(False)
    hits = frame[mask]
    assert len(hits) == 1, f"{len(hits)} rows match {where}"
    return hits.iloc[0].to_dict()


@pytest.fixture(scope="session")
def src() -> SimpleNamespace:
    """Builders, serialisers and pipeline helpers for hand-written landed files."""
    return SimpleNamespace(
        ATL=ATL,
        BOS=BOS,
        DAL=DAL,
        DET=DET,
        NOP=NOP,
        NYK=NYK,
        PHI=PHI,
        SAS=SAS,
        TOR=TOR,
        TEAMS=TEAMS,
        G1=G1,
        G2=G2,
        P1=P1,
        P2=P2,
        GAMES=GAMES,
        BOX=BOX,
        team_games=team_games,
        league_game_log_rows=league_game_log_rows,
        team_game_log_rows=team_game_log_rows,
        slim_rows=slim_rows,
        team_game_logs_rows=team_game_logs_rows,
        kaggle_rows=kaggle_rows,
        box_score_rows=box_score_rows,
        BOX_SCORE_COLUMNS=BOX_SCORE_COLUMNS,
        bios_rows=bios_rows,
        BIOS_COLUMNS=BIOS_COLUMNS,
        csv_bytes=csv_bytes,
        json_records_bytes=json_records_bytes,
        jsonl_bytes=jsonl_bytes,
        result_sets_bytes=result_sets_bytes,
        parquet_bytes=parquet_bytes,
        tar_gz_bytes=tar_gz_bytes,
        box_score_archive=box_score_archive,
        gzip=gzip.compress,
        land=land,
        normalise=normalise,
        validate=validate,
        one=one,
    )
