"""Reading landed files exactly as they arrived, and recognising which source shape they are.

Raw rows keep every value as the source text (no type inference, no NA guessing); only the
column *names* are upper-cased, so files of the same shape but different header case stack.
Every row carries its lineage: `_source_file` (landing-relative name, `archive!member` for
archives) and `_source_row` (1-based data row within that file or member).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from nba_platform.lib.box_score import BoxScoreError, flatten_box_score_v3, is_box_score_v3
from nba_platform.lib.schedule import ScheduleError, flatten_league_schedule, is_league_schedule
from nba_platform.lib.seasons import normalise_game_id, season_from_date, season_from_game_id

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
LINEAGE = [SOURCE_FILE, SOURCE_ROW]
LINEAGE_UPPER = [c.upper() for c in LINEAGE]  # a file may not pass these off as its own columns

ENCODING_ATTR = "encodings"  # frame.attrs: {file or archive member: encoding} of the text read

SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".json", ".json.gz", ".jsonl", ".jsonl.gz", ".parquet", ".tar.gz", ".tgz")


class LandingError(ValueError):
    """A landed file that cannot be read or placed; the message names the file, row and rule."""


@dataclass(frozen=True)
class SourceShape:
    name: str
    entity: str  # team_game | player_game | player
    signature: frozenset[str]  # upper-case columns that identify the shape
    description: str
    canonical_rows_per_row: int = 1  # Kaggle games: one landed row -> a home and an away row
    # Published columns besides the signature; any other column is not carried into raw.
    columns: frozenset[str] = frozenset()
    column_patterns: tuple[str, ...] = ()  # regexes of further published columns (e.g. league ranks)

    def knows(self, column: str) -> bool:
        return (
            column in self.signature
            or column in self.columns
            or any(re.fullmatch(p, column) for p in self.column_patterns)
        )


TEAM_BOX = frozenset(
    {"FGM", "FGA", "FG_PCT", "FG3M", "FG3A", "FG3_PCT", "FTM", "FTA", "FT_PCT", "OREB", "DREB", "REB", "AST", "STL"}
    | {"BLK", "TOV", "TO", "PF", "PTS", "PLUS_MINUS"}
)
# Columns a landed file may have besides its shape's: dropped from raw and named in the metadata.
# Above this many the file is refused: it is not the source it looks like (a 10,000-column file
# made every later ingest of its season take 65 s and 3.9 GB).
MAX_EXTRA_COLUMNS = 50
# Error messages name at most this many of a file's columns.
COLUMNS_SHOWN = 40

# Ordered most specific first: the first shape whose signature the header contains wins.
SHAPES: tuple[SourceShape, ...] = (
    # First: PlayerGameLogs carries every column of team_game_logs' and box_score_traditional's
    # signatures too; PLAYER_ID with MATCHUP is what only a player game log has.
    SourceShape(
        "player_game_log",
        "player_game",
        frozenset({"PLAYER_ID", "GAME_ID", "GAME_DATE", "MATCHUP", "WL", "MIN", "PTS"}),
        "nba_api PlayerGameLog (one player's season; no TEAM_ID: the team is the MATCHUP's first "
        "abbreviation) or PlayerGameLogs (any players, with TEAM_ID and league ranks)",
        columns=frozenset(
            {"SEASON_ID", "SEASON_YEAR", "PLAYER_NAME", "NICKNAME", "TEAM_ID", "TEAM_ABBREVIATION", "TEAM_NAME"}
            | {"VIDEO_AVAILABLE", "MIN_SEC", "BLKA", "PFD", "NBA_FANTASY_PTS", "WNBA_FANTASY_PTS", "DD2", "TD3"}
            | {"AVAILABLE_FLAG", *TEAM_BOX}
        ),
        column_patterns=(r"[A-Z0-9_]+_RANK",),
    ),
    SourceShape(
        "team_game_logs",
        "team_game",
        frozenset({"SEASON_YEAR", "TEAM_ID", "GAME_ID", "GAME_DATE", "MATCHUP", "WL", "FGM", "PTS", "PLUS_MINUS"}),
        "nba_api TeamGameLogs (box score + league ranks), e.g. playoff team totals 2010-24",
        columns=frozenset(
            {"TEAM_ABBREVIATION", "TEAM_NAME", "MIN", "BLKA", "PFD", "AVAILABLE_FLAG", "MIN_SEC", *TEAM_BOX}
        ),
        column_patterns=(r"[A-Z0-9_]+_RANK",),
    ),
    SourceShape(
        "league_game_log_slim",
        "team_game",
        frozenset({"SEASON_ID", "TEAM_ID", "GAME_ID", "GAME_DATE", "MATCHUP", "WL", "PTS", "SEASON", "WON"}),
        "slim LeagueGameLog (points and plus-minus only), 2016-24",
        columns=frozenset({"TEAM_ABBREVIATION", "TEAM_NAME", "PLUS_MINUS"}),
    ),
    SourceShape(
        "team_game_log",
        "team_game",
        frozenset({"TEAM_ID", "GAME_ID", "GAME_DATE", "MATCHUP", "WL", "W", "L", "W_PCT", "FGM", "PTS"}),
        "nba_api TeamGameLog (per team; W/L/W_PCT are post-game records)",
        columns=frozenset({"TEAM_ABBREVIATION", "TEAM_NAME", "SEASON_ID", "MIN", *TEAM_BOX}),
    ),
    SourceShape(
        "league_game_log",
        "team_game",
        frozenset({"SEASON_ID", "TEAM_ID", "GAME_ID", "GAME_DATE", "MATCHUP", "WL", "FGM", "FGA", "PTS"}),
        "nba_api LeagueGameLog (team), the 29-column schema",
        columns=frozenset({"TEAM_ABBREVIATION", "TEAM_NAME", "MIN", "VIDEO_AVAILABLE", *TEAM_BOX}),
    ),
    SourceShape(
        "kaggle_games",
        "team_game",
        frozenset({"GAME_DATE_EST", "GAME_ID", "HOME_TEAM_ID", "VISITOR_TEAM_ID", "PTS_HOME", "PTS_AWAY"}),
        "Kaggle nba-games games.csv: one row per game, both teams on the row",
        canonical_rows_per_row=2,
        columns=frozenset(
            {"GAME_STATUS_TEXT", "SEASON", "TEAM_ID_HOME", "TEAM_ID_AWAY", "HOME_TEAM_WINS"}
            | {f"{stat}_{side}" for stat in ("FG_PCT", "FT_PCT", "FG3_PCT", "AST", "REB") for side in ("HOME", "AWAY")}
        ),
    ),
    SourceShape(
        "box_score_traditional",
        "player_game",
        frozenset({"GAME_ID", "TEAM_ID", "PLAYER_ID", "PLAYER_NAME", "MIN", "PTS"}),
        "nba_api BoxScoreTraditionalV2 player table",
        columns=frozenset(
            {"UNNAMED: 0", "TEAM_ABBREVIATION", "TEAM_CITY", "NICKNAME", "START_POSITION", "COMMENT", *TEAM_BOX}
            | {"STATISTICS"}  # V3 only (lib/box_score.py): "missing" for a player entry without statistics
        ),
    ),
    SourceShape(
        "player_bios",
        "player",
        frozenset({"PERSON_ID", "FULL_NAME", "BIRTH_DATE", "SEASON", "TEAM_ID"}),
        "season rosters with bios (one row per player-season-team)",
        columns=frozenset(
            {
                "SLUG",
                "JERSEY",
                "POSITION",
                "HEIGHT",
                "WEIGHT",
                "AGE",
                "EXPERIENCE",
                "SCHOOL",
                "TEAM_ABBREV",
                "TEAM_NAME",
                "HEIGHT_INCHES",
                "HEADSHOT_URL",
                "TEAM_LOGO_URL",
            }
        ),
    ),
    # Player records without a season column: the season is the file's SEASON column if it has
    # one, else the TO_YEAR season (the player's latest; a file does not say what season it was
    # exported for). lib/normalise.py `normalise_player_seasons` maps them onto player_bios' fields.
    SourceShape(
        "player_info",
        "player",
        frozenset({"PERSON_ID", "DISPLAY_FIRST_LAST", "BIRTHDATE", "TEAM_ID", "FROM_YEAR", "TO_YEAR"}),
        "nba_api CommonPlayerInfo (one player's current record; season = TO_YEAR's)",
        columns=frozenset(
            {"FIRST_NAME", "LAST_NAME", "DISPLAY_LAST_COMMA_FIRST", "DISPLAY_FI_LAST", "PLAYER_SLUG", "SCHOOL"}
            | {"COUNTRY", "LAST_AFFILIATION", "HEIGHT", "WEIGHT", "SEASON_EXP", "JERSEY", "POSITION"}
            | {"ROSTERSTATUS", "GAMES_PLAYED_CURRENT_SEASON_FLAG", "TEAM_NAME", "TEAM_ABBREVIATION", "TEAM_CODE"}
            | {"TEAM_CITY", "PLAYERCODE", "DLEAGUE_FLAG", "NBA_FLAG", "GAMES_PLAYED_FLAG", "DRAFT_YEAR"}
            | {"DRAFT_ROUND", "DRAFT_NUMBER", "GREATEST_75_FLAG", "SEASON"}
        ),
    ),
    SourceShape(
        "player_index",
        "player",
        frozenset({"PERSON_ID", "PLAYER_LAST_NAME", "PLAYER_FIRST_NAME", "TEAM_ID", "FROM_YEAR", "TO_YEAR"}),
        "nba_api PlayerIndex (every player, no birth date; season = TO_YEAR's)",
        columns=frozenset(
            {"PLAYER_SLUG", "TEAM_SLUG", "IS_DEFUNCT", "TEAM_CITY", "TEAM_NAME", "TEAM_ABBREVIATION"}
            | {"JERSEY_NUMBER", "POSITION", "HEIGHT", "WEIGHT", "COLLEGE", "COUNTRY", "DRAFT_YEAR", "DRAFT_ROUND"}
            | {"DRAFT_NUMBER", "ROSTER_STATUS", "PTS", "REB", "AST", "STATS_TIMEFRAME", "SEASON"}
        ),
    ),
    # The schedule (lib/schedule.py): games before they are played. Last, so a results file is
    # never taken for one (every game shape above has points; these two have none).
    SourceShape(
        "league_schedule",
        "schedule",
        frozenset({"GAMEID", "GAMESTATUS", "GAMEDATEEST", "HOMETEAM_TEAMID", "AWAYTEAM_TEAMID"}),
        "stats.nba.com scheduleleaguev2 (leagueSchedule.gameDates[].games[], one row per game; nba_api ScheduleLeagueV2)",
        columns=frozenset(
            {"SEASONYEAR", "LEAGUEID", "GAMEDATE", "GAMECODE", "GAMESTATUSTEXT", "GAMESEQUENCE", "GAMETIMEEST"}
            | {"GAMEDATETIMEEST", "GAMEDATEUTC", "GAMETIMEUTC", "GAMEDATETIMEUTC", "AWAYTEAMTIME", "HOMETEAMTIME"}
            | {"DAY", "MONTHNUM", "WEEKNUMBER", "WEEKNAME", "IFNECESSARY", "SERIESGAMENUMBER", "GAMELABEL"}
            | {"GAMESUBLABEL", "SERIESTEXT", "ARENANAME", "ARENASTATE", "ARENACITY", "POSTPONEDSTATUS"}
            | {"BRANCHLINK", "GAMESUBTYPE", "ISNEUTRAL", "SERIESCONFERENCE", "POROUNDDESC"}
        ),
        column_patterns=(r"(HOME|AWAY)TEAM_[A-Z]+",),
    ),
    SourceShape(
        "schedule_file",
        "schedule",
        frozenset({"GAME_ID", "GAME_DATE", "HOME_TEAM_ID", "AWAY_TEAM_ID"}),
        "plain schedule: game_id, game_date, tipoff_utc (optional), home_team_id, away_team_id, neutral (optional), "
        "status (optional: scheduled, final, postponed)",
        columns=frozenset({"TIPOFF_UTC", "NEUTRAL", "STATUS"}),
    ),
)
SHAPES_BY_NAME = {s.name: s for s in SHAPES}

# Not data: corrections to source values (lib/corrections.py). Kept out of SHAPES (no raw asset,
# no season partition); checked after every data shape, so a data file is never taken for one.
CORRECTIONS = SourceShape(
    "corrections",
    "correction",
    frozenset({"ENTITY", "KEY", "FIELD", "VALUE"}),
    "corrections to source values by natural key (entity, key, field, value, reason, author, recorded_at)",
)


def describe_columns(columns) -> str:
    """At most COLUMNS_SHOWN names, each cut at 40 characters: an error stays readable for any file."""
    names = [c if len(c) <= 40 else c[:37] + "..." for c in columns]
    shown = ", ".join(names[:COLUMNS_SHOWN])
    return shown + (f", ... and {len(names) - COLUMNS_SHOWN} more" if len(names) > COLUMNS_SHOWN else "")


def detect_shape(columns, file_name: str) -> SourceShape:
    cols = {str(c).strip().upper() for c in columns} - set(LINEAGE_UPPER)
    for shape in SHAPES:
        if shape.signature <= cols:
            return shape
    if CORRECTIONS.signature <= cols:
        return CORRECTIONS
    # The nearest shapes first, by how many of their columns are missing.
    nearest = sorted((*SHAPES, CORRECTIONS), key=lambda s: len(s.signature - cols))[:3]
    known = "; ".join(f"{s.name} lacks {sorted(s.signature - cols)}" for s in nearest)
    raise LandingError(
        f"{file_name}: unrecognised source shape ({len(cols)} columns: {describe_columns(sorted(cols))}). "
        f"Nearest known shapes: {known} (every shape: {', '.join(s.name for s in (*SHAPES, CORRECTIONS))})"
    )


def restrict_columns(frame: pd.DataFrame, shape: SourceShape, file_name: str) -> tuple[pd.DataFrame, list[str]]:
    """Only the shape's published columns (and lineage) go into raw; the others are named.
    More than MAX_EXTRA_COLUMNS of them refuse the file."""
    extra = [c for c in frame.columns if c not in LINEAGE and not shape.knows(c)]
    if len(extra) > MAX_EXTRA_COLUMNS:
        raise LandingError(
            f"{file_name}: {len(extra)} columns outside the {shape.name} shape (at most {MAX_EXTRA_COLUMNS} are "
            f"dropped and named; more means this is not that source): {describe_columns(extra)} (rule: shape_width)"
        )
    return (frame.drop(columns=extra) if extra else frame), extra


def _with_lineage(frame: pd.DataFrame, file_name: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise LandingError(f"{file_name}: duplicate columns after upper-casing: {dupes}")
    frame = frame.astype("string[pyarrow]")
    frame[SOURCE_FILE] = file_name
    frame[SOURCE_ROW] = pd.RangeIndex(1, len(frame) + 1).astype("int64")
    return frame


# Candidate encodings, in order. Windows-1252 is a superset of Latin-1's printable characters
# (0xA0-0xFF decode alike), so a Latin-1 export decodes through it unchanged; what it cannot
# explain is its five undefined bytes and control characters, and those files are refused.
UTF8 = "utf-8"
WINDOWS_1252 = "windows-1252"
LATIN_1 = "latin-1"
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _where(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line} (data row {line - 1})" if line > 1 else "line 1 (the header)"


def decode_text(data: bytes, file_name: str) -> tuple[str, str]:
    """-> (text, encoding): UTF-8 (a BOM allowed), else Windows-1252 / Latin-1, as spreadsheets
    save CSVs. Refused: bytes no candidate explains, control characters, and files mixing UTF-8
    sequences with single-byte text (either reading would garble part of it)."""
    try:
        text, encoding = data.decode("utf-8-sig"), UTF8
    except UnicodeDecodeError as utf8_error:
        if _UTF8_MULTIBYTE.search(data):
            raise LandingError(
                f"{file_name}: mixes UTF-8 text with bytes that are not UTF-8 (byte {utf8_error.start}, on "
                f"{_where(data, utf8_error.start)}): no single encoding reads it (rule: text_encoding)"
            ) from None
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise LandingError(
                f"{file_name}: not UTF-8, Windows-1252 or Latin-1 text: byte 0x{data[exc.start]:02X} (byte {exc.start}) "
                f"is undefined in every candidate encoding, on {_where(data, exc.start)} (rule: text_encoding)"
            ) from None
        encoding = WINDOWS_1252 if any(0x80 <= b <= 0x9F for b in data) else LATIN_1
    bad = _CONTROL.search(text)
    if bad:
        offset = len(text[: bad.start()].encode("utf-8" if encoding == UTF8 else "cp1252"))
        raise LandingError(
            f"{file_name}: control character {bad.group()!r} in {encoding} text (byte {offset}), on "
            f"{_where(data, offset)}: binary data, not a text export (rule: text_encoding)"
        )
    return text, encoding


def _read_csv_text(data: bytes, file_name: str) -> pd.DataFrame:
    if not data.strip():
        raise LandingError(f"{file_name}: empty file")
    text, encoding = decode_text(data, file_name)
    if not text.strip():
        raise LandingError(f"{file_name}: empty file")
    _check_csv_records(text, file_name)
    # UTF-8 bytes for Arrow: the landed bytes themselves when they are UTF-8 (no second copy)
    utf8 = (data[3:] if data.startswith(b"\xef\xbb\xbf") else data) if encoding == UTF8 else text.encode("utf-8")
    frame = _csv_as_arrow_text(utf8, text)
    if frame is None:
        try:
            # index_col=False: a trailing delimiter must not turn the first column into an index
            # (which would shift every value one column to the left).
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False, index_col=False)
        except pd.errors.EmptyDataError:
            raise LandingError(f"{file_name}: empty file") from None
        except pd.errors.ParserError as exc:
            raise LandingError(f"{file_name}: malformed CSV: {exc} (rule: csv_well_formed)") from None
    frame.attrs[ENCODING_ATTR] = {file_name: encoding}
    return frame


def text_lines(text: str):
    """The lines of `text`, newline kept, one at a time: what csv.reader needs, without the copy
    io.StringIO makes (4 bytes a character: 400 MB for a 100 MB file)."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end == -1:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _csv_as_arrow_text(utf8: bytes, text: str) -> pd.DataFrame | None:
    """The CSV's values as Arrow-backed text (string[pyarrow]): a 100 MB game log takes ~0.2 GB this
    way against ~1.1 GB as one Python str per cell. None when the file needs pandas' reading
    (a repeated column name, which pandas renames `X.1`; a row longer than the header, whose
    trailing delimiter pandas drops), so both readers give the same frame."""
    header = next(csv.reader(text_lines(text)), [])
    if not header or len(set(header)) != len(header):
        return None
    try:
        table = pacsv.read_csv(
            io.BytesIO(utf8),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except pa.ArrowInvalid:
        return None
    if table.column_names != header or not all(pa.types.is_string(f.type) for f in table.schema):
        return None
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)


def _check_csv_records(text: str, file_name: str) -> None:
    """Refuse what pandas would accept silently: it pads a short row with blanks (a truncated
    upload would land a cut-off score) and lets a stray opening quote swallow the records after
    it into one value (rows vanish). Rows are numbered like `_source_row`."""
    reader = csv.reader(text_lines(text))
    width = len(next(reader, []))
    row, line = 0, reader.line_num
    records = iter(reader)
    while True:
        try:
            record = next(records, None)
        except csv.Error as exc:  # e.g. a quote left open runs past the 128 KB field limit
            raise LandingError(
                f"{file_name}: malformed CSV: row {row + 1} (line {line + 1}): {exc}, so a quote was left open "
                "(rule: csv_quotes_balanced)"
            ) from None
        if record is None:
            break
        first, line = line + 1, reader.line_num
        if not record:  # a blank line: pandas skips it too
            continue
        row += 1
        if any("\n" in v and v.count(",") >= max(width - 1, 1) for v in record):
            raise LandingError(
                f"{file_name}: malformed CSV: row {row} (line {first}) opens a quote that runs over whole "
                "records (rule: csv_quotes_balanced)"
            )
        # One extra empty field is a trailing delimiter (index_col=False handles it).
        if len(record) != width and not (len(record) == width + 1 and record[-1] == ""):
            raise LandingError(
                f"{file_name}: malformed CSV: row {row} (line {first}) has {len(record)} fields where the header "
                f"has {width} (rule: csv_row_width)"
            )


def _read_json(data: bytes, file_name: str, lines: bool) -> pd.DataFrame:

    text, encoding = decode_text(data, file_name)
    try:
        if lines:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LandingError(f"{file_name}: malformed JSON: {exc}") from None
    except RecursionError:
        raise LandingError(f"{file_name}: JSON nested too deeply to be a data export (rule: json_depth)") from None
    if is_league_schedule(records):
        # scheduleleaguev2: {"leagueSchedule": {"gameDates": [{"games": [...]}]}}, one row per game
        try:
            frame = pd.DataFrame(flatten_league_schedule(records, file_name), dtype=object)
        except ScheduleError as exc:
            raise LandingError(str(exc)) from None
    elif is_box_score_v3(records):
        # boxscoretraditionalv3: {"boxScoreTraditional": {"homeTeam": {"players": [...]}, ...}},
        # one row per player, named as the V2 player table (lib/box_score.py)
        try:
            frame = pd.DataFrame(flatten_box_score_v3(records, file_name), dtype=object)
        except BoxScoreError as exc:
            raise LandingError(str(exc)) from None
    elif isinstance(records, dict) and ("resultSets" in records or "resultSet" in records):
        # stats.nba.com responses (nba_api get_dict()): {"resultSets": [{"name", "headers", "rowSet"}]}
        frame = _pick_result_set(_result_sets(records, file_name), file_name)
    elif isinstance(records, list) and all(isinstance(r, dict) for r in records):
        frame = pd.DataFrame(records, dtype=object)
    elif _is_normalized_dict(records):
        # nba_api's get_normalized_dict(): {"LeagueGameLog": [{...}, ...], ...}
        sets = [(str(name), _record_columns(rows), rows) for name, rows in records.items()]
        frame = _pick_result_set(sets, file_name)
    else:
        raise LandingError(
            f"{file_name}: JSON must be a list of records, a stats.nba.com resultSets object, a "
            "boxscoretraditionalv3 or scheduleleaguev2 response, or nba_api's get_normalized_dict() output "
            "({result set name: [records]})"
        )
    # Text as it would have appeared in a CSV: no float reformatting of integers.
    try:
        frame = frame.map(lambda v: "" if v is None else str(v))
    except RecursionError:  # a value nested hundreds deep: not a data export
        raise LandingError(f"{file_name}: JSON nested too deeply to be a data export (rule: json_depth)") from None
    frame.attrs[ENCODING_ATTR] = {file_name: encoding}
    return frame


def _is_normalized_dict(records) -> bool:
    return (
        isinstance(records, dict)
        and bool(records)
        and all(isinstance(v, list) and all(isinstance(r, dict) for r in v) for v in records.values())
    )


def _record_columns(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for r in rows for k in r))


def _result_sets(records: dict, file_name: str) -> list[tuple[str, list[str], list]]:
    """(name, headers, rows) of every well-formed result set of a resultSets response."""
    sets = records.get("resultSets") or records.get("resultSet")
    sets = [sets] if isinstance(sets, dict) else sets if isinstance(sets, list) else []
    out = [
        (str(s.get("name") or f"result set {i + 1}"), [str(h) for h in s["headers"]], s["rowSet"])
        for i, s in enumerate(sets)
        if isinstance(s, dict) and isinstance(s.get("headers"), list) and isinstance(s.get("rowSet"), list)
    ]
    if not out:
        raise LandingError(f"{file_name}: resultSets holds no result set with headers and rowSet")
    return out


def _pick_result_set(sets: list[tuple[str, list[str], list]], file_name: str) -> pd.DataFrame:
    """The first result set whose columns are a known shape's (a response lists its main table
    first, but e.g. a player info response has several). A lone result set is read whatever its
    columns (shape detection names them); of several, none known is a clear error naming them."""
    known = [s for s in sets if _is_known_shape(s[1], file_name)]
    if not known and len(sets) > 1:
        if not any(rows for _, _, rows in sets):
            raise LandingError(f"{file_name}: result sets {', '.join(repr(s[0]) for s in sets)} hold no rows")
        listed = "; ".join(f"{name} ({describe_columns(headers)})" for name, headers, _ in sets[:5])
        more = f" and {len(sets) - 5} more" if len(sets) > 5 else ""
        raise LandingError(
            f"{file_name}: none of its {len(sets)} result sets has the columns of a known source shape: "
            f"{listed}{more} (every shape: {', '.join(s.name for s in SHAPES)})"
        )
    name, headers, rows = (known or sets)[0]
    if not rows:
        raise LandingError(f"{file_name}: result set {name!r} holds no rows")
    if isinstance(rows[0], dict):
        return pd.DataFrame(rows, dtype=object)
    bad = [i for i, r in enumerate(rows) if not isinstance(r, list) or len(r) != len(headers)]
    if bad:
        raise LandingError(
            f"{file_name}: result set {name!r}: {len(bad)} row(s) do not match its {len(headers)} headers "
            f"(first: row {bad[0] + 1}) (rule: csv_row_width)"
        )
    # dtype=object: no float conversion of integer columns that contain nulls
    return pd.DataFrame(rows, columns=headers, dtype=object)


def _is_known_shape(columns: list[str], file_name: str) -> bool:
    try:
        detect_shape(columns, file_name)
    except LandingError:
        return False
    return True


def _read_tar_csvs(data: bytes, file_name: str) -> pd.DataFrame:
    try:
        return _read_tar_csvs_unchecked(data, file_name)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise LandingError(f"{file_name}: corrupt or truncated archive: {exc}") from None


def _read_tar_csvs_unchecked(data: bytes, file_name: str) -> pd.DataFrame:
    """An archive of per-game CSVs of one shape (e.g. one box score per game).

    Members sharing a header are parsed as one CSV (one parser call instead of ~1,300),
    with lineage rebuilt from each member's row count."""

    headers: list[bytes] = []
    bodies: list[bytes] = []
    names: list[str] = []
    encodings: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".csv")), key=lambda m: m.name)
        if not members:
            raise LandingError(f"{file_name}: archive holds no .csv members")
        for member in members:
            name = f"{file_name}!{member.name}"
            raw = tar.extractfile(member).read()
            if not raw.isascii():  # each member decoded on its own: one Latin-1 member does not garble the rest
                text, encodings[name] = decode_text(raw, name)
                raw = text.encode("utf-8")
            raw = raw.replace(b"\r\n", b"\n")
            header, _, body = raw.partition(b"\n")
            if body and not body.endswith(b"\n"):
                body += b"\n"
            headers.append(header)
            bodies.append(body)
            names.append(name)
    # Parse members sharing a header as one CSV; keep archive order for lineage.
    parts = []
    for header in dict.fromkeys(headers):
        idx = [i for i, h in enumerate(headers) if h == header]
        group_bodies = [bodies[i] for i in idx]
        try:
            frame = _read_csv_text(header + b"\n" + b"".join(group_bodies), file_name)
        except LandingError:
            for i in idx:  # name the member and its row: read this group's members one by one
                _read_csv_text(header + b"\n" + bodies[i], names[i])
            raise
        counts = [b.count(b"\n") for b in group_bodies]
        if sum(counts) != len(frame):  # quoted newlines: parse these members one by one
            frame = pd.concat(
                [_with_lineage(_read_csv_text(header + b"\n" + bodies[i], names[i]), names[i]) for i in idx]
            )
        else:
            frame = _with_lineage(frame, file_name)
            frame[SOURCE_FILE] = pd.Series([names[i] for i in idx], dtype="string[pyarrow]").repeat(counts).to_numpy()
            frame[SOURCE_ROW] = pd.Series([r for c in counts for r in range(1, c + 1)], dtype="int64").to_numpy()
        parts.append(frame)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values([SOURCE_FILE, SOURCE_ROW], kind="stable", ignore_index=True)
    # Members not listed are ASCII or UTF-8: only the exceptions are named.
    not_utf8 = {n: e for n, e in encodings.items() if e != UTF8}
    frame.attrs[ENCODING_ATTR] = {file_name: UTF8, **not_utf8}
    return frame


def read_landed_bytes(data: bytes, file_name: str) -> pd.DataFrame:
    """Rows of a landed file as text, plus lineage. `file_name` decides the format."""

    name = file_name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return _read_tar_csvs(data, file_name)
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise LandingError(f"{file_name}: corrupt gzip: {exc}") from None
        name = name[:-3]
    if name.endswith(".csv"):
        frame = _read_csv_text(data, file_name)
    elif name.endswith(".jsonl"):
        frame = _read_json(data, file_name, lines=True)
    elif name.endswith(".json"):
        frame = _read_json(data, file_name, lines=False)
    elif name.endswith(".parquet"):
        try:
            table = pq.read_table(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise LandingError(f"{file_name}: unreadable Parquet: {exc}") from None
        frame = table.to_pandas().astype("string[pyarrow]").fillna("")
    else:
        raise LandingError(f"{file_name}: unsupported file type (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    if frame.columns.empty:
        raise LandingError(f"{file_name}: no header")
    if frame.empty:
        raise LandingError(f"{file_name}: header only, no data rows")
    encodings = frame.attrs.get(ENCODING_ATTR) or {file_name: "parquet"}
    frame = _with_lineage(frame, file_name)
    frame.attrs[ENCODING_ATTR] = encodings
    return frame


def row_seasons(frame: pd.DataFrame, shape: SourceShape) -> pd.Series:
    """The season partition each raw row belongs to: from the game id, else the game date,
    else (player records) the SEASON column or the TO_YEAR season."""
    if shape.entity == "player":
        return player_record_season(frame)
    season = season_from_game_id(normalise_game_id(frame["GAMEID" if "GAMEID" in frame.columns else "GAME_ID"]))
    date_col = next((c for c in ("GAME_DATE_EST", "GAME_DATE", "GAMEDATEEST") if c in frame.columns), None)
    if date_col is not None and season.isna().any():
        from nba_platform.lib.normalise import parse_dates

        season = season.fillna(season_from_date(parse_dates(frame[date_col])))
    return season


def player_record_season(raw: pd.DataFrame) -> pd.Series:
    """A player record's season: its SEASON column, else (CommonPlayerInfo, PlayerIndex: no
    season column, and a landed file does not say what season it was exported for) the TO_YEAR
    season, the player's latest: TO_YEAR 2025 -> '2025-26'. NA where neither is usable."""
    season = pd.Series(pd.NA, index=raw.index, dtype="string[pyarrow]")
    if "SEASON" in raw:
        season = raw["SEASON"].astype("string[pyarrow]").str.strip()
        season = season.where(season.str.fullmatch(r"\d{4}-\d{2}").fillna(False))
    if "TO_YEAR" in raw:
        year = pd.to_numeric(raw["TO_YEAR"].astype("string[pyarrow]").str.strip(), errors="coerce")
        year = year.where(year.notna() & (year == year.round()))
        from_to_year = year.map(lambda y: pd.NA if pd.isna(y) else f"{int(y)}-{(int(y) + 1) % 100:02d}")
        season = season.fillna(from_to_year.astype("string[pyarrow]"))
    return season.astype("string[pyarrow]")


FIRST_SEASON_START = 1946  # 1946-47, the first BAA season


def season_plausible(seasons: pd.Series, today: dt.date | None = None) -> pd.Series:
    """A season from 1946-47 to the current one: a typo'd date (2099) or game id must not
    create a season partition such as 2098-99."""

    start = pd.to_numeric(seasons.astype("string[pyarrow]").str.slice(0, 4), errors="coerce")
    latest = (today or dt.date.today()).year
    return ((start >= FIRST_SEASON_START) & (start <= latest)).fillna(False).astype(bool)


def split_by_season(frame: pd.DataFrame, shape: SourceShape) -> dict[str, pd.DataFrame]:
    """Raw rows grouped by season partition; rows that cannot be placed fail the whole file."""
    if shape is CORRECTIONS:
        name = frame[SOURCE_FILE].iloc[0] if len(frame) else "file"
        raise LandingError(
            f"{name}: a corrections file holds corrections, not data rows: it belongs to no season partition"
        )
    seasons = row_seasons(frame, shape)
    seasons = seasons.where(season_plausible(seasons))
    unplaced = frame[seasons.isna()]
    if len(unplaced):
        sample = ", ".join(f"{f} row {r}" for f, r in unplaced[LINEAGE].head(5).itertuples(index=False))
        raise LandingError(
            f"{len(unplaced)} row(s) have no usable game id, date or season (from {FIRST_SEASON_START} to this year's), "
            f"so no season partition can hold them (rule: season_derivable): {sample}"
        )
    return {str(s): part.reset_index(drop=True) for s, part in frame.groupby(seasons, sort=True)}


def landing_name(path: str) -> str:
    return PurePosixPath(path).name
