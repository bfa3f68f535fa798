"""When a season's regular season counts as complete (lib/seasons.complete_seasons), on the real
shipped game logs: a regular-season-only log completes its season, a log cut in March does not."""

import pandas as pd
import pytest

from nba_platform.lib.seasons import complete_seasons, regular_season_length
from nba_platform_tests.real_features import real_team_games


@pytest.fixture(scope="module")
def team_games() -> pd.DataFrame:
    return real_team_games()


def season(tg: pd.DataFrame, label: str, before: str | None = None) -> pd.DataFrame:
    rows = tg[tg["season"] == label]
    return rows[rows["game_date"] < pd.Timestamp(before)] if before else rows


def schedule_of(rows: pd.DataFrame, status: str = "final") -> pd.DataFrame:
    return pd.DataFrame({"game_id": rows["game_id"].unique(), "status": status})


def test_regular_season_only_log_completes_its_season(team_games):
    log = season(team_games, "2023-24")
    assert set(log["season_type"]) == {"regular"}  # no playoff rows in the shipped log
    assert complete_seasons(log) == ["2023-24"]


def test_a_log_cut_in_march_is_not_complete(team_games):
    assert complete_seasons(season(team_games, "2023-24", before="2024-03-15")) == []
    # ... unless a later season has games: then it is over, whatever its rows
    later = pd.concat([season(team_games, "2022-23", before="2023-03-15"), season(team_games, "2023-24")])
    assert complete_seasons(later) == ["2022-23", "2023-24"]


def test_short_seasons_complete_at_their_own_length(team_games):
    assert regular_season_length("2020-21") == 72 and regular_season_length("2011-12") == 66
    assert complete_seasons(season(team_games, "2020-21")) == ["2020-21"]  # 72 games a team
    # 2019-20: the bubble's seeding games end the regular season on 14 Aug 2020
    assert complete_seasons(season(team_games, "2019-20")) == ["2019-20"]
    # cut at the 11 Mar 2020 suspension, teams stood at 63-67 games: not complete
    suspended = season(team_games, "2019-20", before="2020-03-12")
    assert suspended.groupby("team_id")["game_id"].nunique().between(63, 67).all()
    assert complete_seasons(suspended) == []


def test_a_regular_season_game_without_points_holds_the_season_open(team_games):
    log = season(team_games, "2023-24").copy()
    log.loc[log.index[-1], "pts"] = pd.NA
    assert complete_seasons(log) == []


def test_the_schedule_decides_when_there_is_one(team_games):
    cut = season(team_games, "2023-24", before="2024-03-15")
    full = season(team_games, "2023-24")
    remaining = full[~full["game_id"].isin(cut["game_id"])]
    open_schedule = pd.concat([schedule_of(cut), schedule_of(remaining, "scheduled")])
    assert complete_seasons(cut, open_schedule) == []
    # every regular-season game final: complete, playoffs or not
    assert complete_seasons(full, schedule_of(full)) == ["2023-24"]
    # a game that left the schedule (postponed, never made up) does not hold the season open
    postponed = schedule_of(full)
    postponed.loc[postponed.index[-1], "status"] = "postponed"
    short = full[full["game_id"] != postponed["game_id"].iloc[-1]]
    assert complete_seasons(short, postponed) == ["2023-24"]
    # results alone would say complete; a schedule with games still to play says not
    still_open = schedule_of(full)
    still_open.loc[still_open.index[-1], "status"] = "scheduled"
    assert complete_seasons(short, still_open) == []
    with pytest.raises(ValueError, match="status"):
        complete_seasons(full, schedule_of(full, "cancelled"))


def test_playoff_rows_complete_the_regular_season_and_nothing_is_empty():
    playoffs = pd.DataFrame(
        {
            "game_id": ["0042300101", "0042300101"],
            "season": "2023-24",
            "season_type": "playoffs",
            "game_date": pd.Timestamp("2024-04-20"),
            "team_id": [1, 2],
            "pts": [100, 90],
        }
    )
    assert complete_seasons(playoffs) == ["2023-24"]
    assert complete_seasons(pd.DataFrame()) == [] and complete_seasons(None) == []
