"""A local stand-in for stats.nba.com, for tests: a threaded HTTP server on 127.0.0.1 (free
port) answering `leaguegamelog`, `boxscoretraditionalv2` and `commonplayerinfo` in the API's
`resultSets` JSON shape (and `scheduleleaguev2` with a recorded response), from the real data shipped under `nba_platform/data/landing/`.

Like the real API it refuses requests without the nba.com browser headers (403), rejects
missing parameters (400), gzips when asked and returns an empty rowSet for things it has no
data for. Faults are injected on demand per endpoint (status with Retry-After, slow answers,
truncated or cut-off bodies, wrong schema, HTML instead of JSON) or an endpoint is killed
outright; every request is recorded with its parameters, headers and time.
"""

from __future__ import annotations

import gzip
import http.server
import io
import json
import re
import tarfile
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nba_platform.resources.landing import sample_root

SAMPLE = Path(sample_root())
RECORDED_SCHEDULE = Path(__file__).parent / "data" / "stats_api" / "scheduleleaguev2_2024-25.json"
REQUIRED_HEADERS = {"user-agent", "referer", "origin", "x-nba-stats-origin", "x-nba-stats-token"}
# Columns the API sends as strings even when they look numeric.
TEXT_COLUMNS = {
    "GAME_ID",
    "SEASON_ID",
    "GAME_DATE",
    "MATCHUP",
    "WL",
    "TEAM_ABBREVIATION",
    "TEAM_NAME",
    "TEAM_CITY",
    "PLAYER_NAME",
    "NICKNAME",
    "START_POSITION",
    "COMMENT",
    "MIN",
    "JERSEY",
    "HEIGHT",
    "WEIGHT",
    "BIRTHDATE",
    "DISPLAY_FIRST_LAST",
    "PLAYER_SLUG",
    "SCHOOL",
    "POSITION",
}
LEAGUE_GAME_LOG_HEADERS = [
    "SEASON_ID",
    "TEAM_ID",
    "TEAM_ABBREVIATION",
    "TEAM_NAME",
    "GAME_ID",
    "GAME_DATE",
    "MATCHUP",
    "WL",
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
    "TOV",
    "PF",
    "PTS",
    "PLUS_MINUS",
    "VIDEO_AVAILABLE",
]
COMMON_PLAYER_INFO_HEADERS = [
    "PERSON_ID",
    "FIRST_NAME",
    "LAST_NAME",
    "DISPLAY_FIRST_LAST",
    "DISPLAY_LAST_COMMA_FIRST",
    "DISPLAY_FI_LAST",
    "PLAYER_SLUG",
    "BIRTHDATE",
    "SCHOOL",
    "COUNTRY",
    "LAST_AFFILIATION",
    "HEIGHT",
    "WEIGHT",
    "SEASON_EXP",
    "JERSEY",
    "POSITION",
    "ROSTERSTATUS",
    "GAMES_PLAYED_CURRENT_SEASON_FLAG",
    "TEAM_ID",
    "TEAM_NAME",
    "TEAM_ABBREVIATION",
    "TEAM_CODE",
    "TEAM_CITY",
    "PLAYERCODE",
    "FROM_YEAR",
    "TO_YEAR",
    "DLEAGUE_FLAG",
    "NBA_FLAG",
    "GAMES_PLAYED_FLAG",
    "DRAFT_YEAR",
    "DRAFT_ROUND",
    "DRAFT_NUMBER",
    "GREATEST_75_FLAG",
]


# --------------------------------------------------------------------------------------------
# Real shipped data in the API's shape


def api_value(text: str, column: str):
    """A CSV cell as the JSON value the API sends: null, number, or string."""
    if text == "":
        return None
    if column in TEXT_COLUMNS:
        return text
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d*\.\d+", text):
        return float(text)
    return text


def api_rows(frame: pd.DataFrame) -> list[list]:
    cols = list(frame.columns)
    return [[api_value(v, c) for v, c in zip(row, cols)] for row in frame.itertuples(index=False)]


def _read_csv(data: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, index_col=False)
    frame = frame[[c for c in frame.columns if c.strip() and not c.startswith("Unnamed")]]  # CSV index columns
    frame.columns = [c.strip().upper() for c in frame.columns]
    return frame


def league_game_log(season: str) -> pd.DataFrame:
    """Regular-season LeagueGameLog team rows, from the shipped nba-gamelog export of `season`."""
    path = SAMPLE / "nba_api_league_gamelog_2021_2024" / f"nba-gamelog-{season}.csv.gz"
    return _read_csv(gzip.decompress(path.read_bytes()))


def playoff_league_game_log(season: str) -> pd.DataFrame:
    """Playoff team rows of `season` in the LeagueGameLog columns, from the shipped TeamGameLogs
    playoff totals (its extra rank columns dropped; SEASON_ID built from the game id as the API does)."""
    path = SAMPLE / "nba_api_playoff_team_totals_2010_2024" / "play_off_totals_2010_2024.csv.gz"
    frame = _read_csv(gzip.decompress(path.read_bytes()))
    frame = frame[frame["SEASON_YEAR"] == season].copy()
    frame["SEASON_ID"] = frame["GAME_ID"].str.slice(2, 3) + "20" + frame["GAME_ID"].str.slice(3, 5)
    frame["GAME_DATE"] = frame["GAME_DATE"].str.slice(0, 10)
    return frame[[c for c in LEAGUE_GAME_LOG_HEADERS if c in frame.columns]].sort_values(
        ["GAME_DATE", "GAME_ID", "TEAM_ID"]
    )


def box_scores(season: str, game_type: str = "4") -> dict[str, pd.DataFrame]:
    """Per-game BoxScoreTraditionalV2 player rows of `season` from the shipped archive
    (game_type: the GAME_ID type digit, '2' regular season, '4' playoffs)."""
    path = SAMPLE / "nba_api_player_boxscores_2015_2021" / f"boxscores_{season}.tar.gz"
    out = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            game_id = Path(member.name).stem
            if member.isfile() and re.fullmatch(rf"00{game_type}\d{{7}}", game_id):
                out[game_id] = _read_csv(tar.extractfile(member).read())
    return out


def player_info() -> dict[str, dict]:
    """CommonPlayerInfo rows by PERSON_ID from the shipped player bios (latest season's row)."""
    path = SAMPLE / "nba_player_bios_2016_2024" / "player_bios.csv.gz"
    bios = _read_csv(gzip.decompress(path.read_bytes())).sort_values("SEASON").drop_duplicates("PERSON_ID", keep="last")
    out = {}
    for row in bios.to_dict("records"):
        birth = pd.to_datetime(row["BIRTH_DATE"], format="%b %d, %Y", errors="coerce")
        info = {
            "PERSON_ID": int(row["PERSON_ID"]),
            "DISPLAY_FIRST_LAST": row["FULL_NAME"],
            "PLAYER_SLUG": row["SLUG"],
            "BIRTHDATE": birth.strftime("%Y-%m-%dT%H:%M:%S") if pd.notna(birth) else None,
            "SCHOOL": row["SCHOOL"] or None,
            "HEIGHT": row["HEIGHT"] or None,
            "WEIGHT": row["WEIGHT"] or None,
            "JERSEY": row["JERSEY"] or None,
            "POSITION": row["POSITION"] or None,
            "TEAM_ID": int(row["TEAM_ID"]),
            "TEAM_NAME": row["TEAM_NAME"],
            "TEAM_ABBREVIATION": row["TEAM_ABBREV"],
        }
        out[row["PERSON_ID"]] = [info.get(h) for h in COMMON_PLAYER_INFO_HEADERS]
    return out


# --------------------------------------------------------------------------------------------
# Faults and recording


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour, consumed by the next request to its endpoint.

    kind: 'status' (HTTP `status`, optional Retry-After), 'slow' (answer normally after
    `delay_s`), 'truncated' (JSON cut in half, length consistent), 'incomplete' (Content-Length
    of the whole body, half sent, connection closed), 'wrong_schema' (a required column
    renamed), 'html' (a 200 HTML page, as a CDN block page)."""

    kind: str
    status: int = 500
    retry_after: str | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Request:
    endpoint: str
    params: dict[str, str]
    headers: dict[str, str]  # lower-case names
    at: float  # time.monotonic() on arrival
    outcome: str  # 'ok', 'empty', a fault kind, 'dead', 'forbidden', 'bad_request'


@dataclass
class FakeStatsApi:
    league_game_logs: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)  # (season, season type)
    box_scores: dict[str, pd.DataFrame] = field(default_factory=dict)  # game id
    players: dict[str, list] = field(default_factory=dict)  # person id -> CommonPlayerInfo row

    def __post_init__(self):
        self.requests: list[Request] = []
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._dead: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._typed: dict[tuple, list[list]] = {}  # typed rowSets, built once per key

    # lifecycle
    def __enter__(self) -> FakeStatsApi:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # slow handlers must not hold up shutdown
        threading.Thread(target=self._server.serve_forever, name="fake-stats-api", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/stats"

    # control
    def inject(self, endpoint: str, *faults: Fault) -> None:
        with self._lock:
            self._faults[endpoint].extend(faults)

    def kill(self, endpoint: str, status: int = 503) -> None:
        """Every request to `endpoint` fails with `status` until `revive`."""
        with self._lock:
            self._dead[endpoint] = status

    def revive(self, endpoint: str) -> None:
        with self._lock:
            self._dead.pop(endpoint, None)

    def requests_to(self, endpoint: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def _next_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            if endpoint in self._dead:
                return Fault("dead", status=self._dead[endpoint])
            return self._faults[endpoint].popleft() if self._faults[endpoint] else None

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    # answers
    def answer(self, endpoint: str, params: dict[str, str]) -> tuple[int, dict | str]:
        """(status, JSON document or error text) the API gives for a well-formed request."""
        if endpoint == "leaguegamelog":
            missing = [
                p
                for p in ("Season", "SeasonType", "PlayerOrTeam", "LeagueID", "Counter", "Direction", "Sorter")
                if p not in params
            ]
            if missing:
                return 400, f"{missing[0]} is required"
            if params["PlayerOrTeam"] != "T":
                return 400, "this stand-in serves team game logs only"
            frame = self.league_game_logs.get((params["Season"], params["SeasonType"]))
            name, headers = "LeagueGameLog", LEAGUE_GAME_LOG_HEADERS
        elif endpoint == "boxscoretraditionalv2":
            if "GameID" not in params or not re.fullmatch(r"\d{10}", params["GameID"]):
                return 400, "The GameID property is required."
            frame = self.box_scores.get(params["GameID"])
            name, headers = "PlayerStats", None
        elif endpoint == "scheduleleaguev2":
            # The recorded 2024-25 response (nba_platform_tests/data/stats_api, see PROVENANCE.md), as
            # recorded; any other season: a schedule without games.
            if "Season" not in params or "LeagueID" not in params:
                return 400, "The Season property is required."
            if params["Season"] == "2024-25":
                return 200, json.loads(RECORDED_SCHEDULE.read_text())
            return 200, {"leagueSchedule": {"seasonYear": params["Season"], "leagueId": "00", "gameDates": []}}
        elif endpoint == "commonplayerinfo":
            if "PlayerID" not in params:
                return 400, "The PlayerID property is required."
            row = self.players.get(params["PlayerID"])
            rows = [row] if row else []
            return 200, _document(endpoint, params, "CommonPlayerInfo", COMMON_PLAYER_INFO_HEADERS, rows)
        else:
            return 404, "not found"
        if frame is None:
            return 200, _document(
                endpoint, params, name, headers or ["GAME_ID", "TEAM_ID", "PLAYER_ID", "PLAYER_NAME", "MIN", "PTS"], []
            )
        key = (endpoint, *sorted(params.items()))
        with self._lock:
            if key not in self._typed:
                self._typed[key] = api_rows(frame)
            rows = self._typed[key]
        return 200, _document(endpoint, params, name, list(frame.columns), [list(r) for r in rows])


def _has_rows(doc: dict) -> bool:
    if "leagueSchedule" in doc:
        return any(d.get("games") for d in doc["leagueSchedule"]["gameDates"])
    return bool(doc["resultSets"][0]["rowSet"])


def _document(endpoint: str, params: dict, name: str, headers: list[str], rows: list[list]) -> dict:
    return {
        "resource": endpoint,
        "parameters": params,
        "resultSets": [{"name": name, "headers": headers, "rowSet": rows}],
    }


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (timeout test) closes its end; nothing to report


class _Handler(http.server.BaseHTTPRequestHandler):
    api: FakeStatsApi
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        endpoint = url.path.rstrip("/").rsplit("/", 1)[-1]
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        at = time.monotonic()
        if not set(headers) >= REQUIRED_HEADERS:
            self.api._record(Request(endpoint, params, headers, at, "forbidden"))
            return self._send(403, b"Access Denied", "text/html")
        fault = self.api._next_fault(endpoint)
        status, doc = self.api.answer(endpoint, params)
        outcome = fault.kind if fault else ("bad_request" if status != 200 else "ok" if _has_rows(doc) else "empty")
        self.api._record(Request(endpoint, params, headers, at, outcome))
        if status != 200:
            return self._send(status, doc.encode(), "text/plain")
        gzip_ok = "gzip" in headers.get("accept-encoding", "")
        if fault is None:
            return self._send_json(doc, gzip_ok)
        if fault.kind in ("status", "dead"):
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return self._send(fault.status, b'{"message": "error"}', "application/json", extra)
        if fault.kind == "slow":
            time.sleep(fault.delay_s)
            try:
                return self._send_json(doc, gzip_ok)
            except OSError:  # the client gave up first
                return
        if fault.kind == "wrong_schema":
            rs = doc["resultSets"][0]
            rs["headers"] = [h if h != "PTS" and h != "BIRTHDATE" else h + "_RENAMED" for h in rs["headers"]]
            return self._send_json(doc, gzip_ok)
        if fault.kind == "html":
            return self._send(200, b"<html><body>Request blocked</body></html>", "text/html")
        body = json.dumps(doc).encode()
        if fault.kind == "truncated":
            return self._send(200, body[: len(body) // 2], "application/json")
        if fault.kind == "incomplete":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _send_json(self, doc: dict, gzip_ok: bool) -> None:
        body = json.dumps(doc).encode()
        if gzip_ok:
            return self._send(200, gzip.compress(body), "application/json", {"Content-Encoding": "gzip"})
        self._send(200, body, "application/json")

    def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
