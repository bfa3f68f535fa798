import re

import pandas as pd
import pytest

from nba_platform.lib.seasons import (
    GAME_ID_RE,
    SEASON_TYPE_BY_GAME_ID_DIGIT,
    SEASON_TYPES,
    normalise_game_id,
    season_from_date,
    season_from_game_id,
    season_label,
    season_start_year,
    season_type_from_game_id,
    season_window,
)


@pytest.mark.parametrize(
    "start, label",
    [(2021, "2021-22"), (2023, "2023-24"), (2009, "2009-10"), (1999, "1999-00"), (2003, "2003-04"), (1946, "1946-47")],
)
def test_season_label_and_start_year_round_trip(start, label):
    assert season_label(start) == label
    assert season_start_year(label) == start


def test_season_label_round_trips_for_every_modern_season():
    for start in range(1946, 2031):
        assert season_start_year(season_label(start)) == start


@pytest.mark.parametrize("bad", ["2021-23", "2021-21", "2021", "21-22", "2021-2022", "2021/22", " 2021-22", ""])
def test_season_start_year_rejects_malformed_labels(bad):
    with pytest.raises(ValueError, match="season label"):
        season_start_year(bad)


def test_normalise_game_id_pads_strips_and_rejects():
    raw = pd.Series(
        [
            "0022100001",  # already canonical
            "22200477",  # Kaggle integer, leading '00' dropped
            " 22100001.0 ",  # integer read as float, with whitespace
            "42300401",  # playoffs
            "52000101",  # play-in
            "12100005",  # preseason
            "32100001",  # all-star
            "62100001",  # type 6 does not exist
            "1",  # too short to be a game id once padded
            "00221000011",  # 11 digits
            "abc",
            "22100001.5",
            "-22100001",
            "",
            None,
        ],
        dtype="object",
    )
    out = normalise_game_id(raw)
    assert out.tolist()[:7] == [
        "0022100001",
        "0022200477",
        "0022100001",
        "0042300401",
        "0052000101",
        "0012100005",
        "0032100001",
    ]
    assert out.iloc[7:].isna().all()
    assert len(out) == len(raw) and out.index.equals(raw.index)


def test_game_id_regex_is_the_documented_00TYYNNNNN():
    assert re.fullmatch(GAME_ID_RE, "0022100001")
    assert re.fullmatch(GAME_ID_RE, "0042300401")
    assert not re.fullmatch(GAME_ID_RE, "0062100001")
    assert not re.fullmatch(GAME_ID_RE, "1022100001")
    assert not re.fullmatch(GAME_ID_RE, "002210000")


def test_season_from_game_id():
    ids = pd.Series(
        ["0022100001", "0042300401", "0029900001", "0020000001", "0024600001", "0011900001", None],
        dtype="string[pyarrow]",
    )
    assert season_from_game_id(ids).tolist()[:6] == ["2021-22", "2023-24", "1999-00", "2000-01", "1946-47", "2019-20"]
    assert pd.isna(season_from_game_id(ids).iloc[6])


def test_season_type_from_game_id_covers_every_type_code():
    ids = pd.Series(
        ["0012100001", "0022100001", "0032100001", "0042100001", "0052100001", None], dtype="string[pyarrow]"
    )
    out = season_type_from_game_id(ids)
    assert out.tolist()[:5] == ["preseason", "regular", "all_star", "playoffs", "play_in"]
    assert pd.isna(out.iloc[5])
    assert (
        set(SEASON_TYPE_BY_GAME_ID_DIGIT.values())
        == set(SEASON_TYPES)
        == {"preseason", "regular", "all_star", "playoffs", "play_in"}
    )


def test_season_from_date_starts_seasons_in_september():
    dates = pd.Series(
        pd.to_datetime(
            [
                "2021-10-19",  # opening night 2021-22
                "2022-04-10",  # end of the 2021-22 regular season
                "2022-06-16",  # 2022 finals
                "2021-09-01",  # first day that can belong to 2021-22
                "2021-08-31",  # still 2020-21
                "2020-08-20",  # bubble playoffs, 2019-20
                "2020-12-22",  # opening night 2020-21 (late start)
                "2011-12-25",  # lockout season opener, 2011-12
                None,
            ]
        )
    )
    out = season_from_date(dates)
    assert out.tolist()[:8] == ["2021-22", "2021-22", "2021-22", "2021-22", "2020-21", "2019-20", "2020-21", "2011-12"]
    assert pd.isna(out.iloc[8])


def test_season_from_date_agrees_with_season_window_for_the_2020_bubble_finals():
    finals = pd.Series(pd.to_datetime(["2020-09-30", "2020-10-11"]))
    lo, hi = season_window("2019-20")
    assert ((finals >= lo) & (finals <= hi)).all()  # the window says 2019-20 ...
    assert season_from_date(finals).tolist() == ["2019-20", "2019-20"]  # ... so should the fallback
    after = pd.Series(pd.to_datetime(["2020-11-01", "2020-12-22", "2021-09-01"]))
    assert season_from_date(after).tolist() == ["2020-21", "2020-21", "2021-22"]


def test_season_window():
    assert season_window("2021-22") == (pd.Timestamp("2021-09-01"), pd.Timestamp("2022-10-31"))
    lo, hi = season_window("2019-20")
    assert lo <= pd.Timestamp("2020-10-11") <= hi  # bubble finals
    lo, hi = season_window("2011-12")
    assert lo <= pd.Timestamp("2011-12-25") <= hi  # lockout start
    with pytest.raises(ValueError):
        season_window("2021")
