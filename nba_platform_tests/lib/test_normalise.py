"""Every source shape -> canonical rows, with each documented source quirk handled explicitly.

Each shape is landed from hand-written bytes (read_landed_bytes -> detect_shape -> normalise) and
the canonical values are asserted exactly.
"""

import pandas as pd
import pytest

from nba_platform.lib.normalise import (
    PARSE_ERRORS,
    normalise_player_games,
    normalise_player_seasons,
    normalise_team_games,
    parse_dates,
    parse_minutes,
)
from nba_platform.lib.quality import PLAYER_GAME_RULES, TEAM_GAME_RULES, apply_rules
from nba_platform.lib.schema import PLAYER_GAME_SCHEMA, PLAYER_SEASON_SCHEMA, TEAM_GAME_SCHEMA

TS = pd.Timestamp

# Per-team facts for G1 (PHI 118 - DET 106, regulation) and G2 (BOS 120 - NYK 115, overtime).
REGULAR_KEYS = {
    ("0022101228", 1610612755): dict(opponent_id=1610612765, is_home=True, pts=118, opp_pts=106, game_minutes=48.0),
    ("0022101228", 1610612765): dict(opponent_id=1610612755, is_home=False, pts=106, opp_pts=118, game_minutes=48.0),
    ("0022101229", 1610612738): dict(opponent_id=1610612752, is_home=True, pts=120, opp_pts=115, game_minutes=53.0),
    ("0022101229", 1610612752): dict(opponent_id=1610612738, is_home=False, pts=115, opp_pts=120, game_minutes=53.0),
}

# The complete canonical row of PHI in G1 when the source has the full LeagueGameLog box score.
PHI_G1_FULL_BOX = dict(
    game_id="0022101228",
    season="2021-22",
    season_type="regular",
    game_date=TS("2022-04-10"),
    team_id=1610612755,
    opponent_id=1610612765,
    is_home=True,
    team_abbreviation="PHI",
    pts=118,
    opp_pts=106,
    game_minutes=48.0,
    fgm=46,
    fga=88,
    fg3m=5,
    fg3a=25,
    ftm=21,
    fta=23,
    oreb=10,
    dreb=32,
    reb=42,
    ast=25,
    stl=13,
    blk=6,
    tov=11,
    pf=23,
    fg_pct=0.523,
    fg3_pct=0.2,
    ft_pct=0.913,
    plus_minus=12.0,
)


def canonical(data: bytes, name: str, expected_shape: str, src) -> pd.DataFrame:
    """Landed bytes -> canonical team-game rows (the accepted side of validation), asserting the shape."""
    raw, shape = src.land(data, name)
    assert shape.name == expected_shape
    normalised = normalise_team_games(raw, shape.name)
    split = apply_rules(normalised, TEAM_GAME_RULES, "team_game", TEAM_GAME_SCHEMA)
    assert split.quarantined.empty, split.quarantined[["rule", "reason"]].to_dict("records")
    assert list(split.accepted.columns) == list(TEAM_GAME_SCHEMA)
    return split.accepted


def assert_regular_keys(frame: pd.DataFrame, src):
    assert len(frame) == 4
    for (game_id, team_id), expected in REGULAR_KEYS.items():
        row = src.one(frame, game_id=game_id, team_id=team_id)
        assert {k: row[k] for k in expected} == expected
        assert (row["season"], row["season_type"], row["game_date"]) == ("2021-22", "regular", TS("2022-04-10"))
        assert isinstance(row["game_id"], str) and len(row["game_id"]) == 10


def subset(row: dict, keys) -> dict:
    return {k: (None if pd.isna(row[k]) else row[k]) for k in keys}


# ---------------------------------------------------------------- the seven shapes


@pytest.mark.parametrize("fmt", ["csv_lower_case", "result_sets_json"])
def test_league_game_log(src, fmt):
    rows = src.league_game_log_rows()
    if fmt == "csv_lower_case":
        data, name = src.csv_bytes(rows), "nba-gamelog-2021-22.csv"
        assert next(iter(rows[0])) == "season_id"  # the bwbensonjr export is lower-case
    else:
        data, name = src.result_sets_bytes(rows), "leaguegamelog_2021-22.json"
    out = canonical(data, name, "league_game_log", src)
    assert_regular_keys(out, src)
    phi = src.one(out, game_id="0022101228", team_id=src.PHI)
    assert subset(phi, PHI_G1_FULL_BOX) == PHI_G1_FULL_BOX
    assert (phi["source"], phi["source_file"], phi["source_row"]) == ("league_game_log", name, 1)


def test_team_game_log_mixed_case_ids_text_dates_and_post_game_records(src):
    out = canonical(src.csv_bytes(src.team_game_log_rows()), "team_game_logs.csv", "team_game_log", src)
    assert_regular_keys(out, src)  # 'APR 10, 2022' -> 2022-04-10, Team_ID/Game_ID read
    phi = src.one(out, game_id="0022101228", team_id=src.PHI)
    expected = {**PHI_G1_FULL_BOX, "plus_minus": None}  # TeamGameLog has no PLUS_MINUS
    assert subset(phi, expected) == expected
    assert phi["source"] == "team_game_log"


def test_slim_league_game_log_from_json_records(src):
    rows = src.slim_rows()
    rows[0]["PLUS_MINUS"], rows[1]["PLUS_MINUS"] = 11.8, -11.8  # the upstream float defect
    out = canonical(src.json_records_bytes(rows), "league_game_logs.json", "league_game_log_slim", src)
    assert len(out) == 4
    for (game_id, team_id), exp in REGULAR_KEYS.items():
        row = src.one(out, game_id=game_id, team_id=team_id)
        # The slim log has no minutes and no box score.
        assert subset(row, ["opponent_id", "is_home", "pts", "opp_pts", "game_minutes", "fgm", "reb", "fg_pct"]) == {
            **{k: exp[k] for k in ["opponent_id", "is_home", "pts", "opp_pts"]},
            "game_minutes": None,
            "fgm": None,
            "reb": None,
            "fg_pct": None,
        }
        assert (row["season"], row["season_type"], row["game_date"]) == ("2021-22", "regular", TS("2022-04-10"))
    # The float PLUS_MINUS is kept as the source's value here; dedup recomputes it (see test_dedup).
    assert src.one(out, game_id="0022101228", team_id=src.PHI)["plus_minus"] == 11.8
    assert src.one(out, game_id="0022101228", team_id=src.DET)["plus_minus"] == -11.8


@pytest.mark.parametrize("fmt", ["parquet", "csv_gz"])
def test_team_game_logs_playoffs(src, fmt):
    rows = src.team_game_logs_rows()
    if fmt == "parquet":
        data, name = src.parquet_bytes(rows), "play_off_totals.parquet"
    else:
        data, name = src.gzip(src.csv_bytes(rows)), "play_off_totals_2010_2024.csv.gz"
    out = canonical(data, name, "team_game_logs", src)
    assert len(out) == 4
    bos = src.one(out, game_id="0042300401", team_id=src.BOS)
    assert subset(
        bos,
        [
            "season",
            "season_type",
            "game_date",
            "opponent_id",
            "is_home",
            "pts",
            "opp_pts",
            "game_minutes",
            "tov",
            "fgm",
            "fg3m",
            "ftm",
            "reb",
            "fg_pct",
            "plus_minus",
        ],
    ) == dict(
        season="2023-24",
        season_type="playoffs",
        game_date=TS("2024-06-06"),  # from '2024-06-06T00:00:00'
        opponent_id=src.DAL,
        is_home=True,
        pts=107,
        opp_pts=89,
        game_minutes=48.0,  # MIN is game minutes: 48 stays 48
        tov=11,
        fgm=39,
        fg3m=16,
        ftm=13,
        reb=51,
        fg_pct=0.453,
        plus_minus=18.0,
    )
    dal = src.one(out, game_id="0042300402", team_id=src.DAL)
    assert subset(dal, ["game_date", "is_home", "pts", "opp_pts", "game_minutes"]) == dict(
        game_date=TS("2024-06-09"), is_home=False, pts=98, opp_pts=105, game_minutes=53.0
    )  # OT, 53 stays 53
    assert not any(c.endswith("_rank") or c == "available_flag" for c in out.columns)


@pytest.mark.parametrize("game_id_text", ["22101228", "22101228.0", "0022101228"])
def test_kaggle_games_one_row_becomes_home_and_away(src, game_id_text):
    rows = src.kaggle_rows()
    rows[0]["GAME_ID"] = game_id_text
    raw, shape = src.land(src.csv_bytes(rows), "games.csv")
    assert shape.name == "kaggle_games" and len(raw) == 2
    out = canonical(src.csv_bytes(rows), "games.csv", "kaggle_games", src)
    assert len(out) == 4  # each landed row -> home and away
    home = src.one(out, game_id="0022101228", team_id=src.PHI)
    away = src.one(out, game_id="0022101228", team_id=src.DET)
    cols = [
        "season",
        "season_type",
        "game_date",
        "opponent_id",
        "is_home",
        "pts",
        "opp_pts",
        "fg_pct",
        "ft_pct",
        "fg3_pct",
        "ast",
        "reb",
        "fgm",
        "tov",
        "game_minutes",
        "plus_minus",
        "source_row",
    ]
    assert subset(home, cols) == dict(
        season="2021-22",
        season_type="regular",
        game_date=TS("2022-04-10"),
        opponent_id=src.DET,
        is_home=True,
        pts=118,
        opp_pts=106,
        fg_pct=0.523,
        ft_pct=0.913,
        fg3_pct=0.2,
        ast=25,
        reb=42,
        fgm=None,
        tov=None,
        game_minutes=None,
        plus_minus=None,
        source_row=1,
    )
    assert subset(away, cols) == dict(
        season="2021-22",
        season_type="regular",
        game_date=TS("2022-04-10"),
        opponent_id=src.PHI,
        is_home=False,
        pts=106,
        opp_pts=118,
        fg_pct=0.444,
        ft_pct=0.8,
        fg3_pct=0.333,
        ast=20,
        reb=39,
        fgm=None,
        tov=None,
        game_minutes=None,
        plus_minus=None,
        source_row=1,
    )  # same landed row


def test_kaggle_team_id_columns_disagreeing_with_home_visitor_are_flagged(src):
    rows = src.kaggle_rows()
    rows[0]["TEAM_ID_home"] = src.ATL
    out = src.normalise(src.csv_bytes(rows), "games.csv")
    assert out[PARSE_ERRORS].tolist() == ["TEAM_ID_HOME/TEAM_ID_AWAY;", "", "TEAM_ID_HOME/TEAM_ID_AWAY;", ""]


def test_box_score_traditional_from_tar_gz(src):
    raw, shape = src.land(src.box_score_archive(), "boxscores_2021-22.tar.gz")
    assert shape.name == "box_score_traditional"
    out = normalise_player_games(raw, shape.name)
    assert (out[PARSE_ERRORS] == "").all()
    assert len(out) == 6
    embiid = src.one(out, player_id=203954)
    box = ["fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "reb", "ast", "stl", "blk", "tov", "pf", "pts"]
    assert subset(
        embiid,
        [
            "game_id",
            "season",
            "season_type",
            "team_id",
            "player_name",
            "start_position",
            "comment",
            "did_play",
            "minutes",
            "plus_minus",
            "source_file",
            "source_row",
        ],
    ) == dict(
        game_id="0022101228",
        season="2021-22",
        season_type="regular",
        team_id=src.PHI,
        player_name="Joel Embiid",
        start_position="C",
        comment=None,
        did_play=True,
        minutes=41.083,  # '41:05'
        plus_minus=10.0,
        source_file="boxscores_2021-22.tar.gz!nba_boxscores/0022101228.csv",
        source_row=1,
    )
    # counts written as floats ('10.0') become integers; 'TO' becomes tov
    assert [embiid[c] for c in box] == [10, 20, 2, 5, 8, 9, 3, 9, 12, 4, 1, 2, 3, 2, 30]
    tatum = src.one(out, player_id=1628369)
    assert (tatum["game_id"], tatum["minutes"], tatum["pts"], tatum["tov"]) == ("0022101229", 44.2, 34, 2)


def test_box_score_dnp_player_has_comment_and_no_stats(src):
    out = src.normalise(src.box_score_archive(), "boxscores_2021-22.tar.gz")
    dnp = src.one(out, player_id=1629001)
    assert dnp["comment"] == "DNP - Coach's Decision"  # padded source text is stripped
    assert bool(dnp["did_play"]) is False  # bool(pd.NA) would raise: did_play is known
    assert pd.isna(dnp["minutes"]) and pd.isna(dnp["pts"]) and pd.isna(dnp["plus_minus"])
    assert dnp["start_position"] == ""
    assert dnp[PARSE_ERRORS] == ""  # blank stats are absent, not unparseable


def test_player_bios(src):
    raw, shape = src.land(src.csv_bytes(src.bios_rows(), src.BIOS_COLUMNS), "player_bios.csv")
    assert shape.name == "player_bios"
    out = normalise_player_seasons(raw, shape.name)
    assert (out[PARSE_ERRORS] == "").all()
    cols = [c for c in PLAYER_SEASON_SCHEMA if c not in ("source", "source_file")]
    rookie, second, embiid = (subset(out.iloc[i].to_dict(), cols) for i in range(3))
    assert rookie == dict(
        player_id=1627761,
        season="2016-17",
        team_id=src.ATL,
        full_name="DeAndre' Bembry",
        position="F-G",
        height_inches=78.0,
        weight_lbs=210.0,
        birth_date=TS("1994-07-04"),
        experience_years=0,
        school="St. Joseph's (PA)",
        source_row=1,
    )  # 'R' -> 0 years
    assert second["height_inches"] == 77.0  # blank height_inches -> from '6-5'
    assert second["experience_years"] == 1
    assert embiid["birth_date"] == TS("1994-03-16") and embiid["height_inches"] == 84.0


def test_player_bios_bad_experience_and_birth_date_are_flagged(src):
    rows = src.bios_rows()
    rows[0]["experience"], rows[1]["birth_date"] = "veteran", "sometime in 1994"
    out = src.normalise(src.csv_bytes(rows, src.BIOS_COLUMNS), "player_bios.csv")
    assert out[PARSE_ERRORS].tolist() == ["EXPERIENCE;", "BIRTH_DATE;", ""]


# ---------------------------------------------------------------- quirks, one by one


def test_parse_dates_mixed_formats_in_one_column():
    text = pd.Series(
        [
            "2022-04-10",
            "APR 10, 2019",
            "2011-04-16T00:00:00",
            "apr 10, 2019",
            "Apr 10, 2019",
            "2022-04-10 19:30:00",
            "04/10/2019",
            "20190410",
            " 2022-04-10 ",
            "",
            None,
            "not a date",
            "2019-02-30",
        ],
        dtype="object",
    )
    out = parse_dates(text)
    assert str(out.dtype) == "datetime64[ns]"
    assert out.tolist()[:9] == [
        TS("2022-04-10"),
        TS("2019-04-10"),
        TS("2011-04-16"),
        TS("2019-04-10"),
        TS("2019-04-10"),
        TS("2022-04-10"),
        TS("2019-04-10"),
        TS("2019-04-10"),
        TS("2022-04-10"),
    ]
    assert out.iloc[9:].isna().all()


def test_parse_minutes():
    text = pd.Series(
        ["41:05", "0:00", "5:30", "PT41M05.00S", "PT12M30S", "41", "41.5", "", None, "abc", "41:05:00"], dtype="object"
    )
    out = parse_minutes(text)
    assert out.tolist()[:7] == [41.083, 0.0, 5.5, 41.083, 12.5, 41.0, 41.5]
    assert out.iloc[7:].isna().all()


def test_parse_minutes_rejects_seconds_over_59():
    assert parse_minutes(pd.Series(["41:75"])).isna().all()


def test_team_minutes_240_player_minutes_become_48_game_minutes(src):
    rows = src.league_game_log_rows()
    for r, m in zip(rows, ["240", "240.0", "265", "290"]):
        r["min"] = m
    out = src.normalise(src.csv_bytes(rows), "lgl.csv")
    assert out["game_minutes"].tolist() == [48.0, 48.0, 53.0, 58.0]


def test_turnovers_from_TO_or_TOV(src):
    tov_col = src.normalise(src.csv_bytes(src.league_game_log_rows()), "lgl.csv")
    assert tov_col["tov"].tolist() == [11, 15, 12, 13]
    to_col = src.normalise(src.box_score_archive(), "box.tar.gz")
    assert to_col["tov"].tolist()[:2] == [3, 1]
    # a box score that spells it TOV (newer nba_api) maps the same way
    rows = src.box_score_rows(src.G1)
    renamed = [{("TOV" if k == "TO" else k): v for k, v in r.items()} for r in rows]
    tov_box = src.normalise(src.csv_bytes(renamed), "box.csv")
    assert tov_box["tov"].tolist()[:2] == [3, 1]


def test_post_game_W_L_W_PCT_never_reach_canonical_output(src):
    raw, shape = src.land(src.csv_bytes(src.team_game_log_rows()), "tgl.csv")
    assert {"W", "L", "W_PCT"} <= set(raw.columns)
    out = normalise_team_games(raw, shape.name)
    lowered = {c.lower() for c in out.columns}
    assert not {"w", "l", "w_pct"} & lowered
    accepted = apply_rules(out, TEAM_GAME_RULES, "team_game", TEAM_GAME_SCHEMA).accepted
    assert list(accepted.columns) == list(TEAM_GAME_SCHEMA)


def test_result_check_columns_are_kept_for_validation_but_not_in_canonical_schema(src):
    out = src.normalise(src.csv_bytes(src.slim_rows()), "slim.csv")
    assert out["_check_wl"].tolist() == ["W", "L", "W", "L"]
    assert out["_check_won"].tolist() == [1, 0, 1, 0]
    assert not any(c.startswith("_check") for c in TEAM_GAME_SCHEMA)
    kaggle = src.normalise(src.csv_bytes(src.kaggle_rows()), "games.csv")
    assert kaggle["_check_won"].tolist() == [1, 1, 0, 0]  # HOME_TEAM_WINS for home, 1 - it for away


def test_is_home_from_matchup_and_unreadable_matchup_is_flagged(src):
    rows = src.league_game_log_rows()
    rows[0]["matchup"] = "PHI v DET"
    out = src.normalise(src.csv_bytes(rows), "lgl.csv")
    assert out["is_home"].tolist()[1:] == [False, True, False]
    assert pd.isna(out["is_home"].iloc[0])
    assert out[PARSE_ERRORS].tolist() == ["MATCHUP;", "", "", ""]


@pytest.mark.parametrize(
    "column, value, flagged",
    [
        ("pts", "abc", "PTS;"),
        ("pts", "118.5", "PTS;"),  # a count must be whole
        ("fg_pct", "n/a%", "FG_PCT;"),
        ("game_date", "10th April", "GAME_DATE;"),
        ("game_id", "G-1228", "GAME_ID;"),
        ("team_id", "PHI", "TEAM_ID;"),
        ("min", "forty-eight", "MIN;"),
    ],
)
def test_present_but_unparseable_values_are_flagged_not_silently_nulled(src, column, value, flagged):
    rows = src.league_game_log_rows()
    rows[0][column] = value
    out = src.normalise(src.csv_bytes(rows), "lgl.csv")
    assert out[PARSE_ERRORS].iloc[0] == flagged
    assert (out[PARSE_ERRORS].iloc[1:] == "").all()


def test_blank_and_null_text_is_absent_not_unparseable(src):
    rows = src.league_game_log_rows()
    rows[0]["ft_pct"], rows[1]["ft_pct"], rows[2]["ft_pct"] = "", "NaN", "null"
    out = src.normalise(src.csv_bytes(rows), "lgl.csv")
    assert out["ft_pct"].isna().tolist() == [True, True, True, False]
    assert (out[PARSE_ERRORS] == "").all()


def test_counts_written_as_floats_are_integers(src):
    rows = src.league_game_log_rows()
    rows[0].update(pts="118.0", fgm="46.0", tov="11.00")
    out = src.normalise(src.csv_bytes(rows), "lgl.csv")
    assert (out["pts"].iloc[0], out["fgm"].iloc[0], out["tov"].iloc[0]) == (118, 46, 11)
    assert str(out["pts"].dtype) == "Int64"
    assert out[PARSE_ERRORS].iloc[0] == ""


def test_opponent_pairing_needs_exactly_two_teams_in_the_file(src):
    rows = src.league_game_log_rows()
    third = dict(rows[1], team_id=src.ATL, team_abbreviation="ATL", matchup="ATL @ PHI")
    out = src.normalise(src.csv_bytes(rows + [third]), "lgl.csv")
    g1 = out[out["game_id"] == "0022101228"]
    # 3 teams: nobody is paired; each row's opponent comes from its matchup (game_pair quarantines them)
    assert g1["opponent_id"].tolist() == [src.DET, src.PHI, src.PHI]
    assert g1["opp_pts"].tolist() == [106, 118, 118]  # points - plus-minus
    g2 = out[out["game_id"] == "0022101229"]
    assert g2["opponent_id"].tolist() == [src.NYK, src.BOS]
    # one team's game log: the row stands alone, its opponent known from the matchup (issue 16)
    single = src.normalise(src.csv_bytes(rows[:1]), "lgl.csv")
    assert (single["opponent_id"].iloc[0], single["opp_pts"].iloc[0]) == (src.DET, 106)
    no_margin = src.normalise(src.csv_bytes([dict(rows[0], plus_minus="")]), "lgl.csv")
    assert no_margin["opponent_id"].iloc[0] == src.DET and pd.isna(no_margin["opp_pts"].iloc[0])


def test_normalised_player_rows_fit_the_schema(src):
    out = src.normalise(src.box_score_archive(), "box.tar.gz")
    split = apply_rules(out, PLAYER_GAME_RULES, "player_game", PLAYER_GAME_SCHEMA)
    assert list(split.accepted.columns) == list(PLAYER_GAME_SCHEMA)
    assert {c: str(t) for c, t in split.accepted.dtypes.items()} == {
        c: str(pd.Series(dtype=t).dtype) for c, t in PLAYER_GAME_SCHEMA.items()
    }
    assert split.accepted["did_play"].tolist() == [True, True, False, True, True, True]
    assert split.accepted["minutes"].tolist()[:2] == [41.083, 35.5]
