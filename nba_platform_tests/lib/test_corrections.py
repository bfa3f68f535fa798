"""Corrections: parsing (CLI arguments and landed files), applying them to normalised rows before
the row rules, the audit trail, unmatched corrections, and the sensor's change tokens."""

import json

import pandas as pd
import pytest

from nba_platform.lib.corrections import (
    AUDIT_SCHEMA,
    CorrectionError,
    append_correction,
    apply_corrections,
    correction_tokens,
    make_correction,
    mark_outcomes,
    parse_key,
    read_corrections,
    seasons_of_tokens,
    unmatched,
)
from nba_platform.lib.landing import CORRECTIONS, LandingError, detect_shape, read_landed_bytes, split_by_season
from nba_platform.lib.quality import RULES_BY_ENTITY, apply_rules
from nba_platform.lib.schema import PLAYER_GAME_SCHEMA, PLAYER_SEASON_SCHEMA, TEAM_GAME_SCHEMA

SCHEMAS = {"team_game": TEAM_GAME_SCHEMA, "player_game": PLAYER_GAME_SCHEMA, "player": PLAYER_SEASON_SCHEMA}
WHEN = "2024-05-01T10:00:00Z"


def corr(
    entity, key, field, value, reason="box score says so", author="Ana Lytic", recorded_at=WHEN, file="c.csv", row=1
):
    return make_correction(entity, key, field, value, reason, author, recorded_at, file, row)


def run(frame, entity, corrections, season="2021-22"):
    """apply -> rules -> outcomes, as the validated asset does."""
    applied = apply_corrections(frame, entity, corrections, season)
    split = apply_rules(applied.frame, RULES_BY_ENTITY[entity], entity, SCHEMAS[entity])
    applied.audit = mark_outcomes(applied.audit, entity, split.accepted, split.quarantined)
    return applied, split


# ---------------------------------------------------------------- parsing


def test_key_is_parsed_and_normalised():
    assert parse_key("game_id=22101228, team_id=1610612755", "team_game") == (
        ("game_id", "0022101228"),
        ("team_id", 1610612755),
    )
    assert parse_key('{"game_id": "0022101228", "player_id": 203954}', "player_game") == (
        ("game_id", "0022101228"),
        ("player_id", 203954),
    )
    assert parse_key("{'player_id': '203954', 'season': '2021-22'}", "player") == (
        ("player_id", 203954),
        ("season", "2021-22"),
    )
    assert parse_key("player_id=203954", "player") == (("player_id", 203954),)


@pytest.mark.parametrize(
    "key, entity, message",
    [
        ("game_id=0022101228", "team_game", "missing ['team_id']"),
        ("game_id=0022101228,team_id=1610612755,player_id=1", "team_game", "unknown ['player_id']"),
        ("game_id=abc,team_id=1610612755", "team_game", "is not a game id"),
        ("game_id=0022101228;team_id=-4", "team_game", "not a positive integer id"),
        ("player_id=1,season=2021", "player", "not 'YYYY-YY'"),
        ("game_id", "team_game", "not column=value"),
    ],
)
def test_bad_keys_are_refused_with_the_reason(key, entity, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_key(key, entity)


def test_correction_is_validated_and_typed():
    c = corr("team_game", "game_id=0022101228,team_id=1610612755", "PTS", "119.0", recorded_at="2024-05-01 12:00")
    assert (c.entity, c.field, c.value, c.season, c.recorded_at) == (
        "team_game",
        "pts",
        119,
        "2021-22",
        "2024-05-01T12:00:00+00:00",
    )
    assert c.key_text == "game_id=0022101228,team_id=1610612755"
    assert corr("player", "player_id=1", "birth_date", "JUL 04, 1994").value == pd.Timestamp("1994-07-04")
    assert corr("team_game", "game_id=0022101228,team_id=1610612755", "is_home", "false").value is False
    assert corr("team_game", "game_id=0022101228,team_id=1610612755", "fg_pct", "0.51").value == 0.51
    assert corr("player_game", "game_id=0022101228,player_id=1", "minutes", "").value is None  # '' = null
    assert corr("player", "player_id=1", "school", "Kansas").season is None  # every season of the player


@pytest.mark.parametrize(
    "args, message",
    [
        (("team", "game_id=0022101228,team_id=1610612755", "pts", "1"), "entity 'team'"),
        (("team_game", "game_id=0022101228,team_id=1610612755", "opp_pts", "1"), "follows other fields"),
        (("team_game", "game_id=0022101228,team_id=1610612755", "team_id", "1"), "cannot be corrected"),
        (("team_game", "game_id=0022101228,team_id=1610612755", "pts", "11O"), "whole number"),
        (("team_game", "game_id=0022101228,team_id=1610612755", "pts", "112.5"), "whole number"),
        (("team_game", "game_id=0022101228,team_id=1610612755", "game_date", "yesterday"), "needs a date"),
        (("team_game", "game_id=0022101228,team_id=1610612755", "is_home", "maybe"), "true or false"),
        (("player_game", "game_id=0022101228,player_id=1", "did_play", "true"), "follows other fields"),
    ],
)
def test_invalid_corrections_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        corr(*args)


def test_reason_author_and_time_are_required():
    key = "game_id=0022101228,team_id=1610612755"
    with pytest.raises(ValueError, match="reason is empty"):
        corr("team_game", key, "pts", "1", reason=" ")
    with pytest.raises(ValueError, match="author is empty"):
        corr("team_game", key, "pts", "1", author="")
    with pytest.raises(ValueError, match="not an ISO 8601"):
        corr("team_game", key, "pts", "1", recorded_at="last tuesday")


def test_reason_and_text_values_are_pii_masked_but_the_author_is_kept():
    c = corr(
        "player_game",
        "game_id=0022101228,player_id=1",
        "comment",
        "DNP - call 212-555-0199",
        reason="per agent jo@agency.com",
        author="jo@agency.com",
    )
    assert c.value == "DNP - call [PHONE]" and c.reason == "per agent [EMAIL]" and c.author == "jo@agency.com"


CSV = (
    "entity,key,field,value,reason,author,recorded_at\n"
    'team_game,"game_id=0022101228,team_id=1610612755",pts,119,official box score,Ana,2024-05-01T10:00:00Z\n'
    "player,player_id=203954,school,Kansas,typo,Ana,2024-05-01T10:00:00Z\n"
)


def test_a_landed_corrections_file_is_recognised_and_never_taken_for_data():
    raw = read_landed_bytes(CSV.encode(), "fixes.csv")
    assert detect_shape(raw.columns, "fixes.csv") is CORRECTIONS
    with pytest.raises(LandingError, match="corrections file holds corrections, not data rows"):
        split_by_season(raw, CORRECTIONS)
    # A data file that happens to carry the same columns is still data.
    cols = ["SEASON_ID", "TEAM_ID", "GAME_ID", "GAME_DATE", "MATCHUP", "WL", "FGM", "FGA", "PTS"]
    assert detect_shape(cols + ["ENTITY", "KEY", "FIELD", "VALUE"], "f.csv").name == "league_game_log"


def test_csv_and_json_corrections_files_read_the_same():
    from_csv = read_corrections(CSV.encode(), "fixes.csv")
    records = [
        {
            "entity": "team_game",
            "key": {"game_id": "0022101228", "team_id": 1610612755},
            "field": "pts",
            "value": 119,
            "reason": "official box score",
            "author": "Ana",
            "recorded_at": "2024-05-01T10:00:00Z",
        },
        {
            "entity": "player",
            "key": "player_id=203954",
            "field": "school",
            "value": "Kansas",
            "reason": "typo",
            "author": "Ana",
            "recorded_at": "2024-05-01T10:00:00Z",
        },
    ]
    from_json = read_corrections(json.dumps(records).encode(), "fixes.json")

    def strip(cs):
        return [(c.entity, c.key, c.field, c.value, c.reason, c.author, c.recorded_at, c.row) for c in cs]

    assert strip(from_csv) == strip(from_json)
    assert [c.row for c in from_csv] == [1, 2] and {c.file for c in from_json} == {"fixes.json"}


def test_an_invalid_file_is_one_clear_error_naming_every_bad_row():
    bad = (
        CSV
        + "team_game,game_id=0022101228,pts,1,x,Ana,2024-05-01\nplayer,player_id=1,height_inches,tall,x,Ana,2024-05-01\n"
    )
    with pytest.raises(CorrectionError) as exc:
        read_corrections(bad.encode(), "fixes.csv")
    msg = str(exc.value)
    assert msg.startswith("fixes.csv: 2 invalid correction(s) (rule: correction_valid)")
    assert "row 3: a team_game key needs game_id+team_id" in msg and "row 4: height_inches needs a number" in msg
    with pytest.raises(CorrectionError, match=r"missing \['author', 'recorded_at'\]"):
        read_corrections(b"entity,key,field,value,reason\nplayer,player_id=1,school,K,x\n", "short.csv")


def test_append_builds_the_file_row_by_row_and_refuses_a_broken_one():
    key = "game_id=22101228,team_id=1610612755"
    first, c1 = append_correction(
        None, "corrections/corrections.csv", "team_game", key, "pts", "119", "box score", "Ana", WHEN
    )
    second, c2 = append_correction(
        first,
        "corrections/corrections.csv",
        "player",
        "player_id=203954",
        "school",
        "Kansas, KU",
        'said "KU"',
        "Bo",
        WHEN,
    )
    assert first.decode().splitlines()[0] == "entity,key,field,value,reason,author,recorded_at"
    assert second.startswith(first) and (c1.row, c2.row) == (1, 2)
    assert c1.key_text == "game_id=0022101228,team_id=1610612755"  # the canonical key is what is written
    back = read_corrections(second, "corrections/corrections.csv")
    assert [(c.field, c.value, c.reason) for c in back] == [
        ("pts", 119, "box score"),
        ("school", "Kansas, KU", 'said "KU"'),
    ]
    with pytest.raises(ValueError):
        append_correction(first, "corrections/corrections.csv", "team_game", key, "pts", "many", "r", "a", WHEN)
    with pytest.raises(CorrectionError):
        append_correction(
            b"entity,key,field,value,reason,author,recorded_at\nteam,k,f,v,r,a,t\n",
            "c.csv",
            "team_game",
            key,
            "pts",
            "1",
            "r",
            "a",
            WHEN,
        )
    # A hand-made file with its own column order and an extra column is appended to by its header.
    own = b"recorded_at,author,entity,key,field,value,reason,ticket\n2024-01-01,Cy,player,player_id=1,school,Duke,typo,T-1\n"
    data, c = append_correction(own, "c.csv", "team_game", key, "pts", "119", "box score", "Ana", WHEN)
    assert data.decode().splitlines()[-1] == f'{c.recorded_at},Ana,team_game,"{c.key_text}",pts,119,box score,'
    assert [(x.entity, x.author) for x in read_corrections(data, "c.csv")] == [("player", "Cy"), ("team_game", "Ana")]


# ---------------------------------------------------------------- applying


def phi_free_throw(src, pts="119", ftm="22", **kw):
    """PHI's G1 points (118) one free throw short: points and FTM corrected together (pts = 2*FGM + FG3M + FTM)."""
    key = f"game_id={src.G1},team_id={src.PHI}"
    return [
        corr("team_game", key, "pts", pts, **kw),
        corr("team_game", key, "ftm", ftm, **{**kw, "row": kw.get("row", 1) + 1}),
    ]


def test_corrected_points_pass_the_rules_and_follow_to_the_opponent(src):
    frame = src.normalise(src.csv_bytes(src.league_game_log_rows()), "lgl.csv")
    applied, split = run(frame, "team_game", phi_free_throw(src, reason="official box score: 119"))
    assert len(split.accepted) + len(split.quarantined) == len(frame) == 4  # nothing added or lost
    ok = split.accepted
    assert (
        src.one(ok, game_id=src.G1, team_id=src.PHI)["pts"],
        src.one(ok, game_id=src.G1, team_id=src.PHI)["ftm"],
    ) == (119, 22)
    assert src.one(ok, game_id=src.G1, team_id=src.DET)["opp_pts"] == 119
    assert src.one(ok, game_id=src.G2, team_id=src.BOS)["pts"] == 120  # other rows untouched
    audit = applied.audit
    assert list(audit.columns) == list(AUDIT_SCHEMA)
    rows = audit.set_index("field")
    assert rows.loc["pts", ["old_value", "new_value", "reason", "author", "outcome"]].tolist() == [
        "118",
        "119",
        "official box score: 119",
        "Ana Lytic",
        "accepted",
    ]
    assert rows.loc["pts", "row_key"] == f"game_id={src.G1},team_id={src.PHI}"
    assert rows.loc["opp_pts", "row_key"] == f"game_id={src.G1},team_id={src.DET}"
    assert rows.loc["opp_pts", "reason"].startswith("follows the pts correction of")
    assert (rows.loc["pts", "source_file"], rows.loc["pts", "source_row"]) == ("lgl.csv", 1)
    assert (rows.loc["pts", "correction_file"], rows.loc["pts", "correction_row"]) == ("c.csv", 1)
    assert rows.loc["ftm", ["old_value", "new_value"]].tolist() == ["21", "22"]
    assert applied.matched == {("c.csv", 1), ("c.csv", 2)} and unmatched([applied]) == []


def test_a_correction_that_breaks_a_rule_still_quarantines_the_row(src):
    frame = src.normalise(src.csv_bytes(src.league_game_log_rows()), "lgl.csv")
    c = corr("team_game", f"game_id={src.G1},team_id={src.PHI}", "pts", "250")
    applied, split = run(frame, "team_game", [c])
    bad = src.one(split.quarantined, rule="pts_range")
    assert json.loads(bad["record"])["pts"] == 250  # the quarantined row carries the corrected value
    assert applied.audit.set_index("field").loc["pts", "outcome"] == "quarantined: pts_range"
    # Points alone no longer match the box score: quarantined by that rule.
    applied, split = run(frame, "team_game", [corr("team_game", f"game_id={src.G1},team_id={src.PHI}", "pts", "119")])
    assert src.one(split.quarantined, source_row=1)["rule"] == "pts_consistent"
    assert applied.audit.set_index("field").loc["pts", "outcome"] == "quarantined: pts_consistent"


def test_a_correction_rescues_an_unparseable_value(src):
    rows = src.league_game_log_rows()
    rows[0]["pts"] = "11B"  # PHI's points, mistyped at the source
    frame = src.normalise(src.csv_bytes(rows), "lgl.csv")
    _, before = run(frame, "team_game", [])
    assert src.one(before.quarantined, rule="value_unparseable")["reason"] == "unparseable value in: PTS"
    applied, after = run(frame, "team_game", [corr("team_game", f"game_id={src.G1},team_id={src.PHI}", "pts", "118")])
    assert after.quarantined.empty and len(after.accepted) == 4
    assert applied.audit.set_index("field").loc["pts", ["old_value", "new_value"]].tolist() == ["", "118"]


def test_kaggle_points_correction_clears_the_side_flag_on_both_rows(src):
    rows = src.kaggle_rows()
    rows[0]["PTS_home"] = "one-eighteen"
    frame = src.normalise(src.csv_bytes(rows), "games.csv")
    _, before = run(frame, "team_game", [])
    assert len(before.quarantined) == 2  # the home row and the away row (its opp_pts) share the bad cell
    _, after = run(frame, "team_game", [corr("team_game", f"game_id={src.G1},team_id={src.PHI}", "pts", "118")])
    assert after.quarantined.empty
    assert src.one(after.accepted, game_id=src.G1, team_id=src.DET)["opp_pts"] == 118


def test_every_source_with_the_key_is_corrected(src):
    lgl = src.normalise(src.csv_bytes(src.league_game_log_rows()), "lgl.csv")
    tgl = src.normalise(src.csv_bytes(src.team_game_log_rows()), "tgl.csv")
    frame = pd.concat([lgl, tgl], ignore_index=True)
    applied, split = run(frame, "team_game", phi_free_throw(src))
    phi = split.accepted[(split.accepted["game_id"] == src.G1) & (split.accepted["team_id"] == src.PHI)]
    assert sorted(phi["source"]) == ["league_game_log", "team_game_log"] and set(phi["pts"]) == {119}
    assert sorted(applied.audit[applied.audit["field"] == "pts"]["source_file"]) == ["lgl.csv", "tgl.csv"]


def test_latest_correction_wins_and_the_audit_shows_each_step(src):
    frame = src.normalise(src.csv_bytes(src.league_game_log_rows()), "lgl.csv")
    later = phi_free_throw(src, "120", "23", recorded_at="2024-06-01T00:00:00Z", file="b.csv", row=1)
    earlier = phi_free_throw(src, "119", "22", recorded_at="2024-05-01T00:00:00Z", file="z.csv", row=7)
    applied, split = run(frame, "team_game", later + earlier)  # file order does not matter
    assert src.one(split.accepted, game_id=src.G1, team_id=src.PHI)["pts"] == 120
    steps = applied.audit[applied.audit["field"] == "pts"]
    assert steps[["old_value", "new_value"]].values.tolist() == [["118", "119"], ["119", "120"]]


def test_unmatched_and_out_of_season_corrections(src):
    frame = src.normalise(src.csv_bytes(src.league_game_log_rows()), "lgl.csv")
    nowhere = corr("team_game", f"game_id=0022101299,team_id={src.PHI}", "pts", "100", row=1)
    wrong_team = corr("team_game", f"game_id={src.G1},team_id={src.BOS}", "pts", "100", row=2)
    other_season = corr("team_game", f"game_id=0022200001,team_id={src.BOS}", "pts", "100", row=3)
    other_entity = corr("player", "player_id=203954", "school", "Kansas", row=4)
    applied, split = run(frame, "team_game", [nowhere, wrong_team, other_season, other_entity])
    assert applied.audit.empty and len(split.accepted) == 4
    assert [c.row for c in applied.considered] == [1, 2]  # 2022-23 and player corrections are not this run's
    assert [c.describe()["row"] for c in unmatched([applied])] == [1, 2]
    assert unmatched([applied])[0].describe() == {
        "entity": "team_game",
        "key": f"game_id=0022101299,team_id={src.PHI}",
        "field": "pts",
        "value": "100",
        "season": "2021-22",
        "file": "c.csv",
        "row": 1,
    }


def test_player_correction_without_season_reaches_every_season_row(src):
    frame = src.normalise(src.csv_bytes(src.bios_rows(), src.BIOS_COLUMNS), "bios.csv")
    c = corr("player", "player_id=1627761", "school", "Saint Joseph's")
    seasons = []
    for season in ("2016-17", "2017-18", "2021-22"):
        part = frame[frame["season"] == season].assign(season=season)
        seasons.append(apply_corrections(part, "player", [c], season))
    assert [len(a.audit) for a in seasons] == [1, 1, 0]
    assert unmatched(seasons) == []  # matched in some season of the run
    assert seasons[0].audit["row_key"].iloc[0] == f"player_id=1627761,season=2016-17,team_id={src.ATL}"
    narrowed = corr("player", "player_id=1627761,season=2017-18", "weight_lbs", "215")
    assert narrowed.season == "2017-18"
    assert apply_corrections(frame[frame["season"] == "2016-17"], "player", [narrowed], "2016-17").considered == []


def test_minutes_correction_keeps_did_play_in_step(src):
    raw = src.tar_gz_bytes({f"b/{src.G1}.csv": src.csv_bytes(src.box_score_rows(src.G1), src.BOX_SCORE_COLUMNS)})
    frame = src.normalise(raw, "box.tar.gz")
    c = corr("player_game", f"game_id={src.G1},player_id=1629001", "minutes", "0:00")  # Bassey: DNP -> played 0 min
    applied, split = run(frame, "player_game", [c])
    row = src.one(split.accepted, player_id=1629001)
    assert row["minutes"] == 0 and row["did_play"]
    assert applied.audit["field"].tolist() == ["minutes", "did_play"]
    assert applied.audit["new_value"].tolist() == ["0", "true"]


def test_no_corrections_leaves_the_frame_as_is(src):
    frame = src.normalise(src.csv_bytes(src.league_game_log_rows()), "lgl.csv")
    applied = apply_corrections(frame, "team_game", [], "2021-22")
    assert applied.frame is frame and applied.audit.empty and list(applied.audit.columns) == list(AUDIT_SCHEMA)


# ---------------------------------------------------------------- sensor tokens


def test_tokens_name_the_season_and_change_with_the_correction():
    a = corr("team_game", "game_id=0022200001,team_id=1610612738", "pts", "127")
    b = corr("team_game", "game_id=0022200001,team_id=1610612738", "pts", "128")
    bio = corr("player", "player_id=1", "school", "Kansas")
    ta, tb, tbio = correction_tokens([a]), correction_tokens([b]), correction_tokens([bio])
    assert ta != tb and next(iter(ta)).startswith("2022-23:") and next(iter(tbio)).startswith("*:")
    assert correction_tokens([a]) == correction_tokens(
        [corr("team_game", "game_id=22200001,team_id=1610612738", "pts", "127.0")]
    )
    existing = ["2021-22", "2022-23"]
    assert seasons_of_tokens(ta ^ tb, existing) == {"2022-23"}
    assert (
        seasons_of_tokens(
            correction_tokens([corr("team_game", "game_id=0023000001,team_id=1610612738", "pts", "1")]), existing
        )
        == set()
    )  # a season not ingested: no new partition
    assert seasons_of_tokens(tbio, existing) == set(existing)
