"""Issue 16: the player shapes that were refused, through the lib pipeline (read -> detect ->
season -> normalise -> rules -> dedup), count invariant asserted (rows in = accepted +
quarantined). Real recorded responses where one exists (nba_platform_tests/data/stats_api,
PROVENANCE.md); otherwise rows built in code from shipped real data (hostile_files.py)."""

from __future__ import annotations

import json
import urllib.parse

import pandas as pd
import pytest

from nba_platform.lib import stats_api as api
from nba_platform.lib.box_score import V3_STATISTICS
from nba_platform.lib.dedup import dedup_player_games, dedup_players, dedup_team_games
from nba_platform.lib.landing import SOURCE_FILE, LandingError, detect_shape, read_landed_bytes, split_by_season
from nba_platform.lib.normalise import normalise_player_games, normalise_player_seasons, normalise_team_games
from nba_platform.lib.quality import (
    PLAYER_GAME_RULES,
    PLAYER_SEASON_RULES,
    TEAM_GAME_RULES,
    apply_rules,
)
from nba_platform.lib.schema import PLAYER_GAME_SCHEMA, PLAYER_SEASON_SCHEMA, TEAM_GAME_SCHEMA
from nba_platform_tests import hostile_files

CLE, CHI = 1610612739, 1610612741
MITCHELL = 1628378


def through_rules(data: bytes, name: str, shape_name: str, season: str):
    """read -> detect -> season partition -> normalise -> rules; the count invariant asserted."""
    raw = read_landed_bytes(data, name)
    shape = detect_shape(raw.columns, name)
    assert shape.name == shape_name
    assert list(split_by_season(raw, shape)) == [season]
    if shape.entity == "player_game":
        frame = normalise_player_games(raw, shape.name)
        split = apply_rules(frame, PLAYER_GAME_RULES, "player_game", PLAYER_GAME_SCHEMA)
    else:
        frame = normalise_player_seasons(raw, shape.name)
        split = apply_rules(frame, PLAYER_SEASON_RULES, "player", PLAYER_SEASON_SCHEMA)
    assert len(split.accepted) + len(split.quarantined) == len(raw)  # rows in = accepted + quarantined
    return raw, split


@pytest.fixture(scope="module")
def team_games_2022_23():
    """The deduplicated team games of the shipped real 2022-23 game log."""
    raw = read_landed_bytes(hostile_files.GAMELOG.text().encode(), "gamelog-2022-23.csv")
    shape = detect_shape(raw.columns, "gamelog-2022-23.csv")
    split = apply_rules(normalise_team_games(raw, shape.name), TEAM_GAME_RULES, "team_game", TEAM_GAME_SCHEMA)
    return dedup_team_games(split.accepted).table


# ---------------------------------------------------------------- box score V3


def test_recorded_v3_box_score_reaches_player_games(team_games_2022_23):
    raw, split = through_rules(
        hostile_files.BOX_V3.read_bytes(), hostile_files.BOX_V3.name, "box_score_traditional", "2022-23"
    )
    assert len(raw) == hostile_files.BOX_V3_ROWS and split.quarantined.empty
    result = dedup_player_games(split.accepted, team_games_2022_23)
    table = result.table
    assert len(table) == hostile_files.BOX_V3_ROWS and result.quarantined.empty
    mitchell = table.set_index("player_id").loc[MITCHELL]
    assert (mitchell["pts"], mitchell["fgm"], mitchell["ftm"], mitchell["minutes"]) == (71, 22, 20, 49.8)
    assert mitchell["player_name"] == "Donovan Mitchell" and mitchell["start_position"] == "G"
    assert mitchell["is_home"] and mitchell["opponent_id"] == CHI
    assert str(mitchell["game_date"].date()) == "2023-01-02"
    # The players' points add up to each team's points in the shipped game log.
    game = team_games_2022_23[team_games_2022_23["game_id"] == "0022200552"].set_index("team_id")["pts"]
    assert table.groupby("team_id")["pts"].sum().to_dict() == {CLE: game[CLE], CHI: game[CHI]} == {CLE: 145, CHI: 134}
    # V3 writes zeros for a DNP where V2 writes nulls: no stats, and the comment kept.
    dnp = table[~table["did_play"]]
    assert len(dnp) == 4 and dnp["pts"].isna().all() and dnp["minutes"].isna().all()
    assert set(dnp["comment"]) == {"DNP - Injury/Illness", "DNP - Coach's Decision"}
    assert "Nikola Vučević" in set(table["player_name"])  # UTF-8 names kept


def test_v3_and_v2_of_one_game_give_the_same_rows():
    """A shipped V2 box score (2020-21) rewritten as the V3 response nests it (in code; minutes
    in both recorded forms, 'MM:SS' and 'PTmmMss.00S'): the same canonical rows."""
    v2 = hostile_files.box_member("0022000001")
    records = [dict(zip(v2.header, row)) for row in v2.rows]
    fields = {column: field for field, column in V3_STATISTICS.items()}

    def number(text: str):
        return 0 if text == "" else float(text) if "." in text else int(text)

    teams = {}
    for i, r in enumerate(records):
        team = teams.setdefault(
            r["TEAM_ID"],
            {
                "teamId": int(r["TEAM_ID"]),
                "teamTricode": r["TEAM_ABBREVIATION"],
                "teamCity": r["TEAM_CITY"],
                "players": [],
            },
        )
        first, _, family = r["PLAYER_NAME"].partition(" ")
        minutes = r["MIN"]
        if minutes and i % 2:
            m, s = minutes.split(":")
            minutes = f"PT{int(m):02d}M{int(s):02d}.00S"
        stats = {fields[c]: number(r[c]) for c in fields if c != "MIN"}
        team["players"].append(
            {
                "personId": int(r["PLAYER_ID"]),
                "firstName": first,
                "familyName": family,
                "position": r["START_POSITION"],
                "comment": r["COMMENT"],
                "statistics": {"minutes": minutes, **stats},
            }
        )
    home, away = teams.values()
    doc = {"boxScoreTraditional": {"gameId": "0022000001", "homeTeam": home, "awayTeam": away}}
    _, from_v3 = through_rules(json.dumps(doc).encode(), "v3.json", "box_score_traditional", "2020-21")
    _, from_v2 = through_rules(v2.text().encode(), "v2.csv", "box_score_traditional", "2020-21")
    columns = [c for c in PLAYER_GAME_SCHEMA if c not in ("source_file", "source_row")]
    key = ["team_id", "player_id"]
    v3_rows = from_v3.accepted[columns].sort_values(key, ignore_index=True)
    v2_rows = from_v2.accepted[columns].sort_values(key, ignore_index=True)
    assert len(v3_rows) == len(records) and from_v3.quarantined.empty
    pd.testing.assert_frame_equal(v3_rows, v2_rows)


def test_a_v3_player_without_statistics_is_quarantined_not_taken_for_a_dnp(tmp_path):
    _, data = hostile_files.box_v3_player_without_statistics(tmp_path, "v3.json")
    raw, split = through_rules(data.read_bytes(), "v3.json", "box_score_traditional", "2022-23")
    assert len(split.quarantined) == 1 and len(split.accepted) == hostile_files.BOX_V3_ROWS - 1
    bad = split.quarantined.iloc[0]
    assert (bad["rule"], bad["source_row"]) == ("statistics_present", hostile_files.BOX_V3_MITCHELL_ROW)
    assert "no statistics" in bad["reason"]


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"boxScoreTraditional": {"gameId": "0022200552", "homeTeam": {"players": []}}}, "awayTeam is missing"),
        ({"boxScoreTraditional": {"gameId": "0022200552", "homeTeam": {}, "awayTeam": {}}}, "has no players list"),
        (
            {"boxScoreTraditional": {"gameId": "0022200552", "homeTeam": {"players": []}, "awayTeam": {"players": []}}},
            "lists no players",
        ),
    ],
)
def test_a_malformed_v3_box_score_is_refused_with_a_clear_error(doc, message):
    with pytest.raises(LandingError, match=message) as error:
        read_landed_bytes(json.dumps(doc).encode(), "v3.json")
    assert str(error.value).startswith("v3.json: ")


def test_the_stats_api_uses_v3_from_2025_26_and_v2_before():
    assert api.box_score_endpoint("0022500165") is api.BOX_SCORE_TRADITIONAL_V3
    assert api.box_score_endpoint("0042400407") is api.BOX_SCORE_TRADITIONAL
    assert api.box_score_endpoint("0022200552") is api.BOX_SCORE_TRADITIONAL
    recorded = hostile_files.BOX_V3.read_bytes()
    requested = []

    def transport(url, headers, timeout_s):
        requested.append(url)
        return 200, {}, recorded

    client = api.StatsApiClient(transport=transport, rate_per_s=0)
    # The recorded V3 response answers a V3 request: its rows are the landed file's rows.
    rows = api.rows_frame(
        api.BOX_SCORE_TRADITIONAL_V3, *client.fetch(api.BOX_SCORE_TRADITIONAL_V3, GameID="0022200552")
    )
    landed = read_landed_bytes(recorded, "v3.json")
    data_columns = [c for c in landed.columns if not c.startswith("_")]
    assert rows[data_columns].equals(landed[data_columns])
    assert rows[SOURCE_FILE].eq("stats_api/boxscoretraditionalv3?GameID=0022200552").all()
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(requested[0]).query, keep_blank_values=True))
    assert urllib.parse.urlsplit(requested[0]).path.endswith("/boxscoretraditionalv3")
    assert query == {
        "GameID": "0022200552",
        "LeagueID": "00",
        "StartPeriod": "0",
        "EndPeriod": "0",
        "StartRange": "0",
        "EndRange": "0",
        "RangeType": "0",
    }
    # box_score_rows asks V3 for a 2025-26 game
    requested.clear()
    api.box_score_rows(client, ["0022500165"])
    assert "/boxscoretraditionalv3?" in requested[0]
    # A V3 response without the nested object is the wrong schema (retried, never cached).
    with pytest.raises(api.ResponseInvalid, match="no boxScoreTraditional object"):
        api.parse_response(api.BOX_SCORE_TRADITIONAL_V3, b'{"resultSets": []}')


# ---------------------------------------------------------------- player game logs


def test_recorded_player_game_log_is_accepted_with_the_team_from_the_matchup():
    raw, split = through_rules(
        hostile_files.PLAYER_GAME_LOG_2025_26.read_bytes(), "playergamelog.json", "player_game_log", "2025-26"
    )
    assert len(raw) == 53 and split.quarantined.empty
    rows = split.accepted
    assert (rows["team_id"] == CLE).all() and (rows["player_id"] == MITCHELL).all()  # 'CLE @ CHA' -> CLE
    # Fields a game log does not publish stay null: no name (PlayerGameLog), position or comment.
    assert rows["player_name"].isna().all() and rows["start_position"].isna().all() and rows["comment"].isna().all()
    recorded = json.loads(hostile_files.PLAYER_GAME_LOG_2025_26.read_text())["resultSets"][0]
    assert rows["pts"].sum() == sum(r[recorded["headers"].index("PTS")] for r in recorded["rowSet"])
    best = rows.set_index("game_id").loc["0022501212"]  # an Emirates NBA Cup game (id above 1230)
    assert (best["pts"], best["minutes"], best["season_type"]) == (48, 35.0, "regular")
    # dedup: each game's date and opponent come from team games (built here from the log itself)
    matchups = raw["MATCHUP"].str.extract(r"^(\w+) (@|vs\.) (\w+)$")
    context = pd.DataFrame(
        {
            "game_id": raw["GAME_ID"],
            "team_id": CLE,
            "game_date": pd.to_datetime(raw["GAME_DATE"], format="%b %d, %Y"),
            "opponent_id": matchups[2].map({"CHA": 1610612766}).fillna(1610612737).astype("Int64"),
            "is_home": matchups[1].eq("vs."),
        }
    )
    result = dedup_player_games(rows, context)
    assert len(result.table) == 53 and result.quarantined.empty


def test_a_player_game_log_row_with_an_unknown_team_is_quarantined(tmp_path):
    [_, path] = hostile_files.player_game_log_unknown_team(tmp_path, "players-2020-21.csv")
    raw, split = through_rules(path.read_bytes(), path.name, "player_game_log", "2020-21")
    [bad] = split.quarantined.itertuples()
    assert (bad.rule, bad.source_row) == ("value_unparseable", hostile_files.PLAYER_LOG_UNKNOWN_TEAM_ROW)
    assert "MATCHUP (team abbreviation not in the team reference)" in bad.reason
    assert len(split.accepted) == len(raw) - 1


def test_player_game_logs_with_team_ids_and_ranks_are_not_taken_for_team_rows():
    """PlayerGameLogs (plural) carries every column of TeamGameLogs' signature too."""
    log = hostile_files.player_game_log_table()
    header = ["SEASON_YEAR", "PLAYER_ID", "PLAYER_NAME", "TEAM_ID", "TEAM_ABBREVIATION", "GAME_ID", "GAME_DATE"]
    header += ["MATCHUP", "WL", "MIN", *hostile_files.PLAYER_GAME_LOG_STATS, "PTS_RANK", "AVAILABLE_FLAG"]
    box = {
        (r[1], r[5]): r
        for g in hostile_files.BOX_GAMES
        for r in hostile_files.box_member(g).rows  # (GAME_ID, PLAYER_ID) -> the box row
    }
    rows = []
    for r in log.rows:
        source = box[(r[2], r[1])]
        rows.append(
            ["2020-21", r[1], source[6], source[2], source[3], r[2], r[3], r[4], r[5], r[6], *r[7:-1], "1", "1"]
        )
    data = hostile_files.Table(header, rows).text().encode()
    raw, split = through_rules(data, "playergamelogs.csv", "player_game_log", "2020-21")
    assert split.quarantined.empty and split.accepted["player_name"].notna().all()


@pytest.fixture(scope="module")
def box_and_log(tmp_path_factory):
    """The four shipped 2020-21 box scores and the game log made from them: two sources."""
    d = tmp_path_factory.mktemp("two_sources")
    team_path, log_path, archive_path = hostile_files.player_game_log_with_box_scores(d, "players-2020-21.csv")
    team_raw = read_landed_bytes(team_path.read_bytes(), team_path.name)
    team_shape = detect_shape(team_raw.columns, team_path.name)
    teams = apply_rules(normalise_team_games(team_raw, team_shape.name), TEAM_GAME_RULES, "team_game", TEAM_GAME_SCHEMA)
    _, log = through_rules(log_path.read_bytes(), log_path.name, "player_game_log", "2020-21")
    _, box = through_rules(archive_path.read_bytes(), archive_path.name, "box_score_traditional", "2020-21")
    return dedup_team_games(teams.accepted).table, log.accepted, box.accepted


def test_a_game_log_and_the_box_scores_of_the_same_games_merge_into_one_row_each(box_and_log):
    team_games, log, box = box_and_log
    assert log["player_name"].isna().all() and len(log) < len(box)
    result = dedup_player_games(pd.concat([box, log], ignore_index=True), team_games)
    assert result.quarantined.empty
    assert len(result.table) == len(box) == hostile_files.box_rows_total()
    assert result.merged_across_sources == len(log)  # rows in = table + quarantined + merged away
    assert len(result.table) + len(result.quarantined) + result.duplicates_removed == len(box) + len(log)
    # The box score's row is kept (seconds, position, name); the log's row agreed on every stat.
    assert (result.table["source"] == "box_score_traditional").all()
    assert result.table["player_name"].notna().all()


def test_a_game_log_that_disagrees_with_the_box_score_quarantines_that_player_game(box_and_log):
    team_games, log, box = box_and_log
    log = log.copy()
    first = log.index[0]
    log.loc[first, ["pts", "fgm"]] = [log.loc[first, "pts"] + 2, log.loc[first, "fgm"] + 1]
    result = dedup_player_games(pd.concat([box, log], ignore_index=True), team_games)
    player, game = log.loc[first, "player_id"], log.loc[first, "game_id"]
    q = result.quarantined
    assert len(q) == 2 and set(q["source"]) == {"box_score_traditional", "player_game_log"}
    assert (q["rule"] == "source_conflict").all() and q["reason"].str.contains("pts").all()
    assert not ((result.table["player_id"] == player) & (result.table["game_id"] == game)).any()
    assert len(result.table) + len(q) + result.duplicates_removed == len(box) + len(log)


# ---------------------------------------------------------------- player info


def test_recorded_common_player_info_is_a_player_row_of_its_to_year_season():
    raw, split = through_rules(
        hostile_files.COMMON_PLAYER_INFO.read_bytes(), "commonplayerinfo.json", "player_info", "2025-26"
    )
    assert len(raw) == 1 and split.quarantined.empty  # CommonPlayerInfo: the first of its three result sets
    row = split.accepted.iloc[0]
    assert (row["player_id"], row["team_id"], row["season"]) == (MITCHELL, CLE, "2025-26")
    assert (row["full_name"], row["position"], row["school"]) == ("Donovan Mitchell", "Guard", "Louisville")
    assert (row["height_inches"], row["weight_lbs"], row["experience_years"]) == (74, 215, 8)
    assert str(row["birth_date"].date()) == "1996-09-07"
    # A SEASON column, where a file has one, is the season.
    doc = json.loads(hostile_files.COMMON_PLAYER_INFO.read_text())
    info = doc["resultSets"][0]
    info["headers"].append("SEASON")
    info["rowSet"][0].append("2022-23")
    _, split = through_rules(json.dumps(doc).encode(), "cpi.json", "player_info", "2022-23")
    assert split.accepted["season"].tolist() == ["2022-23"]


def test_player_index_rows_are_players_without_a_birth_date():
    rows = hostile_files.player_index_records()  # the shipped 2016-17 bios as PlayerIndex rows
    raw, split = through_rules(
        json.dumps({"PlayerIndex": rows}).encode(), "playerindex.json", "player_index", "2016-17"
    )
    assert split.quarantined.empty and split.accepted["birth_date"].isna().all()  # PlayerIndex publishes none
    assert split.accepted["full_name"].notna().all()
    players = dedup_players(split.accepted)
    assert len(players.table) == len({r["PERSON_ID"] for r in rows})


# ---------------------------------------------------------------- nba_api dict outputs


def test_normalized_dict_and_get_dict_pick_the_result_set_of_a_known_shape():
    doc = json.loads(hostile_files.COMMON_PLAYER_INFO.read_text())
    normalized = {s["name"]: [dict(zip(s["headers"], r)) for r in s["rowSet"]] for s in doc["resultSets"]}
    # known shape listed last: still found
    reordered = {k: normalized[k] for k in ("AvailableSeasons", "PlayerHeadlineStats", "CommonPlayerInfo")}
    raw_response = {"resultSets": list(reversed(doc["resultSets"]))}
    for payload in (normalized, reordered, raw_response):
        raw = read_landed_bytes(json.dumps(payload).encode(), "info.json")
        assert detect_shape(raw.columns, "info.json").name == "player_info" and len(raw) == 1


def test_result_sets_of_no_known_shape_are_refused_naming_them():
    doc = json.loads(hostile_files.COMMON_PLAYER_INFO.read_text())
    others = {s["name"]: [dict(zip(s["headers"], r)) for r in s["rowSet"]] for s in doc["resultSets"][1:]}
    with pytest.raises(LandingError) as error:
        read_landed_bytes(json.dumps(others).encode(), "headline.json")
    message = str(error.value)
    assert message.startswith("headline.json: none of its 2 result sets has the columns of a known source shape")
    assert "PlayerHeadlineStats (" in message and "AvailableSeasons (SEASON_ID)" in message
    assert "_SOURCE_FILE" not in message
