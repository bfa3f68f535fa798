"""Deduplication on natural keys across sources, its invariants, and the real shipped data end to end."""

import json
import pathlib

import pandas as pd
import pytest

import nba_platform
from nba_platform.lib.dedup import (
    SOURCE_PRIORITY,
    dedup_key_unique,
    dedup_player_games,
    dedup_players,
    dedup_team_games,
)
from nba_platform.lib.landing import detect_shape, read_landed_bytes
from nba_platform.lib.normalise import normalise_player_games, normalise_player_seasons, normalise_team_games
from nba_platform.lib.quality import PLAYER_GAME_RULES, PLAYER_SEASON_RULES, TEAM_GAME_RULES, apply_rules
from nba_platform.lib.schema import (
    PLAYER_GAME_CONTEXT,
    PLAYER_GAME_KEY,
    PLAYER_GAME_SCHEMA,
    PLAYER_SCHEMA,
    PLAYER_SEASON_SCHEMA,
    QUARANTINE_COLUMNS,
    TEAM_GAME_KEY,
    TEAM_GAME_SCHEMA,
    TEAM_ID_MAX,
    TEAM_ID_MIN,
)

TS = pd.Timestamp


def accepted(src, *files) -> pd.DataFrame:
    split, _ = src.validate(*files)
    assert split.quarantined.empty, split.quarantined[["rule", "reason"]].to_dict("records")
    return split.accepted


def assert_team_table_invariants(result, rows_in: int):
    t = result.table
    assert result.rows_in == rows_in
    assert list(t.columns) == [*TEAM_GAME_SCHEMA, "sources"]
    assert dedup_key_unique(t, TEAM_GAME_KEY)
    if len(t):
        per_game = t.groupby("game_id").agg(n=("team_id", "size"), home=("is_home", "sum"))
        assert (per_game["n"] == 2).all() and (per_game["home"] == 1).all()
        partner = t.set_index(["game_id", "team_id"])["pts"]
        assert t["opp_pts"].tolist() == [partner[(g, o)] for g, o in zip(t["game_id"], t["opponent_id"])]
        assert (t["plus_minus"] == (t["pts"] - t["opp_pts"]).astype("Float64")).all()
        assert t.equals(t.sort_values(["game_date", "game_id", "is_home"], ignore_index=True))
    q = result.quarantined
    assert list(q.columns) == list(QUARANTINE_COLUMNS)
    assert (q["stage"] == "dedup").all()
    assert all(json.loads(r)["game_id"] for r in q["record"])
    assert sum(result.quarantined_by_rule.values()) == len(q)
    # every input row is in the table, collapsed, merged into another row, or quarantined
    assert len(t) + result.exact_duplicates + result.merged_across_sources + len(q) == rows_in


def rows_of(table, **where):
    mask = pd.Series(True, index=table.index)
    for c, v in where.items():
        mask &= table[c] == v
    return table[mask]


def src_one(frame, **where):
    rows = rows_of(frame, **where)
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


# ---------------------------------------------------------------- within one source


def test_kaggle_duplicate_rows_differing_only_in_float_noise_collapse(src):
    rows = src.kaggle_rows([src.G1])
    noisy = dict(rows[0], FG_PCT_home="0.5229999999999999", FT_PCT_away="0.8000000000000002")
    frame = accepted(src, (src.csv_bytes(rows + [noisy]), "games.csv"))
    assert len(frame) == 4
    r = dedup_team_games(frame)
    assert r.exact_duplicates == 2 and r.merged_across_sources == 0 and r.quarantined.empty
    assert len(r.table) == 2
    assert r.table["source_row"].tolist() == [1, 1]  # the first landed copy is kept
    assert src.one(r.table, team_id=src.PHI)["fg_pct"] == 0.523
    assert_team_table_invariants(r, 4)


def test_playoff_rows_doubled_with_different_ranks_collapse(src):
    rows = src.team_game_logs_rows()
    doubled = [dict(rows[0], PTS_RANK=99, PLUS_MINUS_RANK=1, AVAILABLE_FLAG=1), dict(rows[3], GP_RANK=2)]
    frame = accepted(src, (src.csv_bytes(rows + doubled), "play_off_totals.csv"))
    r = dedup_team_games(frame)
    assert r.exact_duplicates == 2 and r.quarantined.empty
    assert len(r.table) == 4
    assert sorted(r.table["source_row"]) == [1, 2, 3, 4]
    assert_team_table_invariants(r, 6)


def test_differing_copies_within_a_source_are_quarantined_not_guessed(src):
    # As Kaggle game 22000070: the two copies differ in REB_away (44 vs 45).
    rows = src.kaggle_rows([src.G1])
    other = dict(rows[0], REB_away=40.0)
    frame = accepted(src, (src.csv_bytes(rows + [other]), "games.csv"))
    alone = dedup_team_games(frame)
    assert alone.quarantined_by_rule == {"source_internal_conflict": 2, "game_incomplete": 1}
    q = alone.quarantined
    assert sorted(zip(q["rule"], q["source_row"], [json.loads(x)["team_id"] for x in q["record"]])) == [
        ("game_incomplete", 1, src.PHI),  # the identical home copies collapse, but lose their away row
        ("source_internal_conflict", 1, src.DET),
        ("source_internal_conflict", 2, src.DET),
    ]
    assert alone.exact_duplicates == 1 and alone.table.empty
    assert_team_table_invariants(alone, 4)
    # With a second source carrying the game, the game survives from that source.
    lgl = accepted(src, (src.csv_bytes(src.league_game_log_rows([src.G1])), "lgl.csv"))
    both = dedup_team_games(pd.concat([frame, lgl], ignore_index=True))
    assert both.quarantined_by_rule == {"source_internal_conflict": 2}
    assert len(both.table) == 2
    assert src.one(both.table, team_id=src.DET)["sources"] == "league_game_log"
    assert src.one(both.table, team_id=src.PHI)["sources"] == "league_game_log,kaggle_games"
    assert src.one(both.table, team_id=src.DET)["reb"] == 39
    assert_team_table_invariants(both, 6)


def test_a_conflict_inside_one_file_quarantines_that_files_rows_only(src):
    """Issue 16: a new file with an internal conflict used to quarantine the agreeing rows of
    another file of the same source (the shipped sample) and let a lower source fill the game."""
    good = accepted(src, (src.csv_bytes(src.league_game_log_rows([src.G1])), "sample.csv"))
    rows = src.league_game_log_rows([src.G1])
    bad_copy = dict(rows[0], reb=int(rows[0]["reb"]) + 1, dreb=int(rows[0]["dreb"]) + 1)
    bad = accepted(src, (src.csv_bytes(rows + [bad_copy]), "new.csv"))
    r = dedup_team_games(pd.concat([good, bad], ignore_index=True))
    q = r.quarantined
    assert r.quarantined_by_rule == {"source_internal_conflict": 2}
    assert set(q["source_file"]) == {"new.csv"}  # the new file's two copies of that row, nothing else
    assert len(r.table) == 2
    team = json.loads(q["record"].iloc[0])["team_id"]
    kept = src.one(r.table, team_id=team)
    assert kept["source_file"] == "sample.csv" and kept["reb"] == int(rows[0]["reb"])  # the sample's row stands
    assert r.exact_duplicates == 1  # the new file's other row equals the sample's
    assert_team_table_invariants(r, 5)


def test_files_of_one_source_that_differ_follow_the_priority_and_are_recorded(src):
    """Between files of one source: a disputed result quarantines the game (never guessed); a
    differing non-result field comes from the first file by name, and the difference is counted."""
    rows = src.league_game_log_rows([src.G1])
    first = accepted(src, (src.csv_bytes(rows), "a.csv"))
    more_ast = [dict(rows[0], ast=int(rows[0]["ast"]) + 3), rows[1]]
    second = accepted(src, (src.csv_bytes(more_ast), "b.csv"))
    r = dedup_team_games(pd.concat([first, second], ignore_index=True))
    assert r.quarantined.empty and len(r.table) == 2
    assert set(r.table["source_file"]) == {"a.csv"}
    assert r.repaired["rows_differing_between_files"] == 1
    team = int(rows[0]["team_id"])
    assert src.one(r.table, team_id=team)["ast"] == int(rows[0]["ast"])
    assert_team_table_invariants(r, 4)
    more_pts = [dict(rows[0], pts=int(rows[0]["pts"]) + 2, ftm=int(rows[0]["ftm"]) + 2, fta=int(rows[0]["fta"]) + 2)]
    third = accepted(src, (src.csv_bytes([*more_pts, rows[1]]), "c.csv"))
    disputed = dedup_team_games(pd.concat([first, third], ignore_index=True))
    assert disputed.table.empty and disputed.quarantined_by_rule == {"source_conflict": 4}
    assert disputed.quarantined["reason"].str.contains("pts").all()


# ---------------------------------------------------------------- across sources


def test_sources_merge_field_by_field_in_priority_order(src):
    files = [
        (src.csv_bytes(src.kaggle_rows()), "games.csv"),
        (src.json_records_bytes(src.slim_rows()), "slim.json"),
        (src.csv_bytes(src.team_game_log_rows()), "tgl.csv"),
        (src.csv_bytes(src.league_game_log_rows()), "lgl.csv"),
    ]
    frame = accepted(src, *files)
    r = dedup_team_games(frame)
    assert len(frame) == 16 and len(r.table) == 4
    assert r.merged_across_sources == 12 and r.exact_duplicates == 0 and r.duplicates_removed == 12
    assert r.quarantined.empty
    assert set(r.table["sources"]) == {"league_game_log,team_game_log,league_game_log_slim,kaggle_games"}
    phi = src.one(r.table, game_id=src.G1, team_id=src.PHI)
    # lineage points at the winning (highest-priority) source row
    assert (phi["source"], phi["source_file"], phi["source_row"]) == ("league_game_log", "lgl.csv", 1)
    assert (phi["pts"], phi["opp_pts"], phi["fgm"], phi["tov"], phi["fg_pct"], phi["game_minutes"]) == (
        118,
        106,
        46,
        11,
        0.523,
        48.0,
    )
    assert SOURCE_PRIORITY["league_game_log"] < SOURCE_PRIORITY["kaggle_games"]
    assert_team_table_invariants(r, 16)


def test_gaps_are_filled_from_lower_priority_sources(src):
    frame = accepted(
        src,
        (src.csv_bytes(src.slim_rows([src.G1])), "slim.csv"),
        (src.csv_bytes(src.kaggle_rows([src.G1])), "games.csv"),
    )
    r = dedup_team_games(frame)
    phi = src.one(r.table, team_id=src.PHI)
    # slim wins (points, lineage, abbreviation); Kaggle fills the percentages, assists and rebounds
    assert (phi["source"], phi["team_abbreviation"], phi["pts"]) == ("league_game_log_slim", "PHI", 118)
    assert (phi["fg_pct"], phi["ft_pct"], phi["fg3_pct"], phi["ast"], phi["reb"]) == (0.523, 0.913, 0.2, 25, 42)
    assert pd.isna(phi["fgm"]) and pd.isna(phi["game_minutes"])
    assert phi["sources"] == "league_game_log_slim,kaggle_games"
    assert_team_table_invariants(r, 4)


def test_float_plus_minus_is_recomputed_from_points_and_counted(src):
    rows = src.slim_rows()
    rows[0]["PLUS_MINUS"], rows[1]["PLUS_MINUS"] = 11.8, -11.8  # the upstream float defect
    rows[2]["PLUS_MINUS"] = 4.0  # integer, but not the margin (the shipped file has these too)
    r = dedup_team_games(accepted(src, (src.csv_bytes(rows), "slim.csv")))
    assert r.repaired == {"plus_minus_recomputed": 3, "plus_minus_filled": 0, "rows_differing_between_files": 0}
    assert src.one(r.table, team_id=src.PHI)["plus_minus"] == 12.0
    assert src.one(r.table, team_id=src.DET)["plus_minus"] == -12.0
    assert src.one(r.table, team_id=src.BOS)["plus_minus"] == 5.0
    assert_team_table_invariants(r, 4)
    kaggle_only = dedup_team_games(accepted(src, (src.csv_bytes(src.kaggle_rows()), "games.csv")))
    assert kaggle_only.repaired == {
        "plus_minus_recomputed": 0,
        "plus_minus_filled": 4,
        "rows_differing_between_files": 0,
    }
    assert sorted(kaggle_only.table["plus_minus"].tolist()) == [-12.0, -5.0, 5.0, 12.0]


@pytest.mark.parametrize(
    "change, fields",
    [
        (lambda rows: [rows[0].update(PTS=119, PLUS_MINUS=13.0)], "opp_pts,pts"),
        (lambda rows: [r.update(GAME_DATE="2022-04-11") for r in rows[:2]], "game_date"),
        (lambda rows: [rows[0].update(MATCHUP="PHI @ DET"), rows[1].update(MATCHUP="DET vs. PHI")], "is_home"),
    ],
    ids=["score", "date", "venue"],
)
def test_sources_disagreeing_on_a_result_quarantine_the_whole_game(src, change, fields):
    slim = src.slim_rows()
    change(slim)
    frame = accepted(src, (src.csv_bytes(src.league_game_log_rows()), "lgl.csv"), (src.csv_bytes(slim), "slim.csv"))
    r = dedup_team_games(frame)
    assert r.quarantined_by_rule == {"source_conflict": 4}  # both teams, both sources
    q = r.quarantined
    assert set(q["rule"]) == {"source_conflict"}
    assert set(q["reason"]) == {f"sources disagree on: {fields}"}
    assert sorted(zip(q["source"], q["source_row"])) == [
        ("league_game_log", 1),
        ("league_game_log", 2),
        ("league_game_log_slim", 1),
        ("league_game_log_slim", 2),
    ]
    assert set(r.table["game_id"]) == {src.G2}  # the other game is untouched; no score is guessed
    assert_team_table_invariants(r, 8)


def test_team_row_whose_partner_was_quarantined_is_game_incomplete(src):
    rows = src.league_game_log_rows()
    rows[1]["pts"] = "abc"  # DET's row fails validation
    split, _ = src.validate((src.csv_bytes(rows), "lgl.csv"))
    assert split.quarantined["rule"].tolist() == ["value_unparseable"]
    r = dedup_team_games(split.accepted)
    assert r.quarantined_by_rule == {"game_incomplete": 1}
    rec = json.loads(r.quarantined["record"].iloc[0])
    assert (rec["game_id"], rec["team_id"]) == (src.G1, src.PHI)
    assert "lacks its other team's row" in r.quarantined["reason"].iloc[0]
    assert set(r.table["game_id"]) == {src.G2}
    assert_team_table_invariants(r, 3)


def test_kaggle_side_left_alone_by_a_null_partner_is_game_incomplete(src):
    rows = src.kaggle_rows()
    rows[0]["PTS_home"] = ""
    split, _ = src.validate((src.csv_bytes(rows), "games.csv"))
    assert split.quarantined["rule"].tolist() == ["pts_present"]
    r = dedup_team_games(split.accepted)
    assert r.quarantined_by_rule == {"game_incomplete": 1}
    assert json.loads(r.quarantined["record"].iloc[0])["team_id"] == src.DET
    assert_team_table_invariants(r, 3)


def test_dedup_of_an_empty_frame():
    from nba_platform.lib.schema import empty_frame

    r = dedup_team_games(empty_frame(TEAM_GAME_SCHEMA))
    assert r.table.empty and r.quarantined.empty and r.rows_in == 0
    assert list(r.table.columns) == [*TEAM_GAME_SCHEMA, "sources"]


# ---------------------------------------------------------------- idempotency


def test_dedup_is_idempotent_on_a_single_source(src):
    first = dedup_team_games(accepted(src, (src.csv_bytes(src.league_game_log_rows()), "lgl.csv")))
    second = dedup_team_games(first.table)
    pd.testing.assert_frame_equal(second.table, first.table)
    assert (second.exact_duplicates, second.merged_across_sources, len(second.quarantined)) == (0, 0, 0)
    assert second.repaired == {"plus_minus_recomputed": 0, "plus_minus_filled": 0, "rows_differing_between_files": 0}


def test_dedup_rerun_keeps_every_canonical_value_across_sources(src):
    frame = accepted(
        src,
        (src.csv_bytes(src.league_game_log_rows()), "lgl.csv"),
        (src.json_records_bytes(src.slim_rows()), "slim.json"),
        (src.csv_bytes(src.kaggle_rows()), "games.csv"),
    )
    first = dedup_team_games(frame)
    second = dedup_team_games(first.table)
    cols = list(TEAM_GAME_SCHEMA)
    pd.testing.assert_frame_equal(second.table[cols], first.table[cols])
    assert dedup_key_unique(second.table, TEAM_GAME_KEY)


def test_dedup_rerun_is_the_same_table_including_sources(src):
    frame = accepted(
        src,
        (src.csv_bytes(src.league_game_log_rows()), "lgl.csv"),
        (src.json_records_bytes(src.slim_rows()), "slim.json"),
    )
    first = dedup_team_games(frame)
    assert set(first.table["sources"]) == {"league_game_log,league_game_log_slim"}
    pd.testing.assert_frame_equal(dedup_team_games(first.table).table, first.table)


# ---------------------------------------------------------------- player games


@pytest.fixture
def team_table(src):
    return dedup_team_games(accepted(src, (src.csv_bytes(src.league_game_log_rows()), "lgl.csv"))).table


def test_player_games_get_date_opponent_and_venue_from_team_games(src, team_table):
    players = accepted(src, (src.box_score_archive(), "box.tar.gz"))
    r = dedup_player_games(players, team_table)
    t = r.table
    assert list(t.columns) == [*PLAYER_GAME_SCHEMA, *PLAYER_GAME_CONTEXT]
    assert len(t) == 6 and r.quarantined.empty and dedup_key_unique(t, PLAYER_GAME_KEY)
    embiid = src.one(t, player_id=203954)
    assert (embiid["game_date"], embiid["opponent_id"], embiid["is_home"]) == (TS("2022-04-10"), src.DET, True)
    cade = src.one(t, player_id=1630595)
    assert (cade["opponent_id"], cade["is_home"]) == (src.PHI, False)
    assert src.one(t, player_id=1629001)["did_play"] == False  # noqa: E712  DNP rows are kept
    assert t["game_id"].tolist() == [src.G1] * 4 + [src.G2] * 2  # sorted by date, game, team, player


def test_player_games_without_a_team_game_are_quarantined(src):
    team_g1 = dedup_team_games(accepted(src, (src.csv_bytes(src.league_game_log_rows([src.G1])), "lgl.csv"))).table
    r = dedup_player_games(accepted(src, (src.box_score_archive(), "box.tar.gz")), team_g1)
    assert r.quarantined_by_rule == {"game_not_in_team_games": 2}
    assert set(r.quarantined["reason"]) == {"no accepted team-game row for this game and team"}
    assert set(r.table["game_id"]) == {src.G1}


def test_player_game_copies_collapse_or_conflict(src, team_table):
    rows = src.box_score_rows(src.G1)
    same = dict(rows[1])  # an exact second copy of Maxey
    changed = dict(rows[0], PLUS_MINUS="9.0")  # a differing copy of Embiid
    players = accepted(src, (src.csv_bytes(rows + [same, changed], src.BOX_SCORE_COLUMNS), "0022101228.csv"))
    r = dedup_player_games(players, team_table)
    assert r.exact_duplicates == 1
    assert r.quarantined_by_rule == {"source_conflict": 2}
    assert set(r.quarantined["source_row"]) == {1, 6}
    assert sorted(r.table["player_id"]) == [1629001, 1630178, 1630595]
    assert dedup_key_unique(r.table, PLAYER_GAME_KEY)


def test_player_dedup_rerun_is_idempotent(src, team_table):
    first = dedup_player_games(accepted(src, (src.box_score_archive(), "box.tar.gz")), team_table)
    second = dedup_player_games(first.table, team_table)
    pd.testing.assert_frame_equal(second.table, first.table)


# ---------------------------------------------------------------- players


def test_players_take_the_latest_season(src):
    seasons = accepted(src, (src.csv_bytes(src.bios_rows(), src.BIOS_COLUMNS), "player_bios.csv"))
    r = dedup_players(seasons)
    t = r.table
    assert list(t.columns) == list(PLAYER_SCHEMA)
    assert t["player_id"].tolist() == [203954, 1627761] and t["player_id"].is_unique
    bembry = src.one(t, player_id=1627761)
    assert {
        k: bembry[k]
        for k in ["first_season", "last_season", "seasons_on_record", "last_team_id", "height_inches", "source_row"]
    } == dict(
        first_season="2016-17",
        last_season="2017-18",
        seasons_on_record=2,
        last_team_id=src.ATL,
        height_inches=77.0,
        source_row=2,
    )
    assert r.merged_across_sources == 1 and r.quarantined.empty


def test_players_with_differing_birth_dates_are_quarantined(src):
    rows = src.bios_rows()
    rows[1]["birth_date"] = "JUL 05, 1994"
    rows.append(dict(rows[2]))  # an exact duplicate of Embiid's season row
    r = dedup_players(accepted(src, (src.csv_bytes(rows, src.BIOS_COLUMNS), "player_bios.csv")))
    assert r.quarantined_by_rule == {"identity_conflict": 2}
    assert set(r.quarantined["reason"]) == {"birth date differs between seasons"}
    assert r.exact_duplicates == 1
    assert r.table["player_id"].tolist() == [203954]


# ---------------------------------------------------------------- the real shipped files, end to end

LANDING = pathlib.Path(nba_platform.__file__).parent / "data" / "landing"
NORMALISERS = {
    "team_game": normalise_team_games,
    "player_game": normalise_player_games,
    "player": normalise_player_seasons,
}
REGULAR_SEASON_ROWS = {  # README: 1,230 games x 2, except the COVID seasons
    "2016-17": 2460,
    "2017-18": 2460,
    "2018-19": 2460,
    "2019-20": 2118,
    "2020-21": 2160,
    "2021-22": 2460,
    "2022-23": 2460,
    "2023-24": 2460,
}


@pytest.fixture(scope="module")
def real():
    """Every shipped landed file -> normalise -> apply_rules per season -> dedup per season."""
    raw_by_shape, normalised = {}, {}
    for path in sorted(p for p in LANDING.rglob("*") if p.is_file()):
        name = path.relative_to(LANDING).as_posix()
        raw = read_landed_bytes(path.read_bytes(), name)
        shape = detect_shape(raw.columns, name)
        raw_by_shape.setdefault(shape.name, []).append(raw)
        normalised.setdefault(shape.entity, []).append(NORMALISERS[shape.entity](raw, shape.name))
    raw_by_shape = {k: pd.concat(v, ignore_index=True) for k, v in raw_by_shape.items()}
    team = pd.concat(normalised["team_game"], ignore_index=True)
    team_splits = {s: apply_rules(g, TEAM_GAME_RULES, "team_game", TEAM_GAME_SCHEMA) for s, g in team.groupby("season")}
    team_dedup = {s: dedup_team_games(sp.accepted) for s, sp in team_splits.items()}
    player = pd.concat(normalised["player_game"], ignore_index=True)
    player_splits = {
        s: apply_rules(g, PLAYER_GAME_RULES, "player_game", PLAYER_GAME_SCHEMA) for s, g in player.groupby("season")
    }
    player_dedup = {s: dedup_player_games(sp.accepted, team_dedup[s].table) for s, sp in player_splits.items()}
    bios = pd.concat(normalised["player"], ignore_index=True)
    bios_split = apply_rules(bios, PLAYER_SEASON_RULES, "player", PLAYER_SEASON_SCHEMA)
    return dict(
        raw=raw_by_shape,
        team=team,
        team_splits=team_splits,
        team_dedup=team_dedup,
        player=player,
        player_splits=player_splits,
        player_dedup=player_dedup,
        bios=bios,
        bios_split=bios_split,
        players=dedup_players(bios_split.accepted),
    )


@pytest.mark.slow
def test_real_every_file_is_read_and_recognised(real):
    assert {k: len(v) for k, v in real["raw"].items()} == {
        "kaggle_games": 26651,
        "league_game_log": 3 * 2460,
        "league_game_log_slim": 19038,
        "box_score_traditional": 32727 + 33275,
        "team_game_logs": 2362,
        "team_game_log": 11658,
        "player_bios": 4009,
    }
    assert len(real["team"]) == 2 * 26651 + 3 * 2460 + 19038 + 2362 + 11658


def test_real_validation_quarantines_exactly_kaggles_null_stat_rows(real):
    q = pd.concat([sp.quarantined for sp in real["team_splits"].values()], ignore_index=True)
    assert sum(len(sp.accepted) for sp in real["team_splits"].values()) + len(q) == len(real["team"])
    assert len(q) == 198 and set(q["rule"]) == {"pts_present"} and set(q["source"]) == {"kaggle_games"}
    kaggle = real["raw"]["kaggle_games"]
    null_rows = set(kaggle.loc[kaggle["PTS_HOME"].str.strip() == "", "_source_row"])
    assert len(null_rows) == 99  # README: 99 rows have null box stats
    assert q["source_row"].value_counts().to_dict() == dict.fromkeys(null_rows, 2)  # home and away of each


def test_real_team_games_keys_unique_and_every_game_has_two_rows(real):
    for season, r in real["team_dedup"].items():
        t = r.table
        assert dedup_key_unique(t, TEAM_GAME_KEY), season
        per_game = t.groupby("game_id").agg(n=("team_id", "size"), home=("is_home", "sum"))
        assert (per_game["n"] == 2).all() and (per_game["home"] == 1).all(), season
        assert (t["season"] == season).all()
        assert t["team_id"].between(TEAM_ID_MIN, TEAM_ID_MAX).all()
        # margins come from points (the slim log's float PLUS_MINUS never survives)
        assert (t["plus_minus"] == (t["pts"] - t["opp_pts"]).astype("Float64")).all(), season
        assert len(t) + r.exact_duplicates + r.merged_across_sources + len(r.quarantined) == r.rows_in


def test_real_regular_season_row_counts(real):
    counts = {s: int((r.table["season_type"] == "regular").sum()) for s, r in real["team_dedup"].items()}
    assert {s: counts[s] for s in REGULAR_SEASON_ROWS} == REGULAR_SEASON_ROWS
    assert counts["2011-12"] == 1980  # lockout season: 990 games


def test_real_playoff_rows_doubled_in_2023_24_collapse(real):
    po = real["raw"]["team_game_logs"]
    doubled = po[po.duplicated(["GAME_ID", "TEAM_ID"], keep=False)]
    assert po.duplicated(["GAME_ID", "TEAM_ID"]).sum() == 22  # README: 22 duplicated rows
    assert set(doubled["SEASON_YEAR"]) == {"2023-24"}
    differing = {c for _, g in doubled.groupby(["GAME_ID", "TEAM_ID"]) for c in po.columns[:-2] if g[c].nunique() > 1}
    assert differing and all(c.endswith("_RANK") or c == "AVAILABLE_FLAG" for c in differing)
    # no other source has duplicate keys in 2023-24, so every collapse there is a playoff double
    r = real["team_dedup"]["2023-24"]
    assert r.exact_duplicates == 22 and r.quarantined.empty
    playoffs = rows_of(r.table, season_type="playoffs")
    assert len(playoffs) == int((po["SEASON_YEAR"] == "2023-24").sum()) - 22 == 164
    # every playoff season of the file is in the table once per (game, team)
    for season, n in po.drop_duplicates(["GAME_ID", "TEAM_ID"]).groupby("SEASON_YEAR").size().items():
        assert int((real["team_dedup"][season].table["season_type"] == "playoffs").sum()) == n, season


def test_real_kaggle_doubled_games_collapse_or_are_set_aside(real):
    kaggle = real["raw"]["kaggle_games"]
    dup = kaggle[kaggle.duplicated("GAME_ID", keep=False)]
    assert dup["GAME_ID"].nunique() == 29 and len(dup) == 58 and set(dup["SEASON"]) == {"2020"}
    # Per canonical side, are the two copies the same once floats are compared at 3 decimals?
    identical_sides, differing = 0, []
    for game_id, g in dup.groupby("GAME_ID"):
        for side, other in (("HOME", "AWAY"), ("AWAY", "HOME")):
            cols = [f"{s}_{side}" for s in ("PTS", "FG_PCT", "FT_PCT", "FG3_PCT", "AST", "REB")] + [f"PTS_{other}"]
            values = g[cols].astype(float).round(3)
            if len(values.drop_duplicates()) == 1:
                identical_sides += 1
            else:
                differing.append((game_id, side))
    assert identical_sides == 56  # 27 games differ only in float noise (54 rows) + 1 clean side in each of 2 games
    assert differing == [("22000070", "AWAY"), ("22000076", "HOME")]  # REB_away 45/44, FG_PCT_home .459/.453
    r = real["team_dedup"]["2020-21"]
    assert r.exact_duplicates == identical_sides
    assert r.quarantined_by_rule == {"source_internal_conflict": 4}  # 2 copies x 2 differing sides
    assert sorted(zip(r.quarantined["source_row"], [json.loads(x)["game_id"] for x in r.quarantined["record"]])) == [
        (2478, "0022000070"),
        (2484, "0022000076"),
        (3103, "0022000070"),
        (3105, "0022000076"),
    ]
    # the games themselves survive from the other sources
    for game_id in ("0022000070", "0022000076"):
        rows = rows_of(r.table, game_id=game_id)
        assert len(rows) == 2
    bos = src_one(r.table, game_id="0022000070", team_id=1610612738)
    assert "kaggle_games" not in bos["sources"] and bos["reb"] == 44 and bos["source"] == "team_game_log"
    # no other season collapses or conflicts at all
    others = {
        s: (x.exact_duplicates, len(x.quarantined))
        for s, x in real["team_dedup"].items()
        if s not in ("2020-21", "2023-24")
    }
    assert set(others.values()) == {(0, 0)}


def test_real_plus_minus_repairs_match_the_slim_logs_bad_margins(real):
    slim = real["raw"]["league_game_log_slim"]
    pts = slim["PTS"].astype(int)
    margin = pts - (pts.groupby(slim["GAME_ID"]).transform("sum") - pts)
    pm = slim["PLUS_MINUS"].astype(float)
    assert int((pm != pm.round()).sum()) == 95  # README: 95 non-integer PLUS_MINUS
    wrong = slim[pm != margin]
    # Where the full LeagueGameLog exists (2021-24) its exact margin wins; elsewhere the slim value is
    # the best PLUS_MINUS on offer and every wrong one is recomputed from the points.
    no_lgl = wrong[~wrong["SEASON"].isin(["2021-22", "2022-23", "2023-24"])]
    repaired = {s: r.repaired["plus_minus_recomputed"] for s, r in real["team_dedup"].items()}
    assert {s: n for s, n in repaired.items() if n} == no_lgl["SEASON"].value_counts().to_dict()
    assert sum(repaired.values()) == len(no_lgl) == 154


def test_real_player_games_and_bios(real):
    q = pd.concat([sp.quarantined for sp in real["player_splits"].values()], ignore_index=True)
    assert len(q) == 184 and set(q["rule"]) == {"team_id_valid"}  # foreign preseason opponents
    foreign = pd.DataFrame([json.loads(x) for x in q["record"]])
    assert not foreign["team_id"].between(TEAM_ID_MIN, TEAM_ID_MAX).any()
    assert set(foreign["season_type"]) == {"preseason"}
    for season, r in real["player_dedup"].items():
        assert dedup_key_unique(r.table, PLAYER_GAME_KEY), season
        assert r.table["game_date"].notna().all()
    # the NBA side of those preseason games has no team-game row to join: set aside, not dropped
    orphans = real["player_dedup"]["2019-20"].quarantined
    assert set(orphans["rule"]) == {"game_not_in_team_games"}
    assert {json.loads(x)["game_id"] for x in orphans["record"]} == set(foreign["game_id"])
    assert real["player_dedup"]["2020-21"].quarantined.empty
    assert len(real["player_dedup"]["2020-21"].table) == 33275
    dnp = real["player_dedup"]["2020-21"].table
    dnp = dnp[~dnp["did_play"]]
    assert len(dnp) > 0 and dnp["pts"].isna().all() and dnp["comment"].notna().all()
    assert real["bios_split"].quarantined.empty and len(real["bios_split"].accepted) == 4009
    players = real["players"].table
    assert players["player_id"].is_unique and len(players) == real["bios"]["player_id"].nunique()
