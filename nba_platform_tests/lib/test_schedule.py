"""The schedule source: a recorded scheduleleaguev2 response and plain schedule files, read as
landed files, normalised with a status, bad rows quarantined; forecasts' point-in-time inputs."""

import datetime as dt
import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from nba_platform.lib import stats_api as api
from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.features import game_features, team_game_features
from nba_platform.lib.landing import LandingError, detect_shape, read_landed_bytes, restrict_columns, split_by_season
from nba_platform.lib.normalise import normalise_team_games
from nba_platform.lib.schedule import (
    combine_schedule,
    flatten_league_schedule,
    forecast_team_games,
    forecast_window,
    normalise_schedule,
)
from nba_platform.resources.landing import sample_root
from nba_platform_tests.stats_api_server import RECORDED_SCHEDULE, FakeStatsApi

BOS, DEN, LAL, NYK, MIA = 1610612738, 1610612743, 1610612747, 1610612752, 1610612748


def landed(data: bytes, name: str):
    frame = read_landed_bytes(data, name)
    shape = detect_shape([c for c in frame.columns if not c.startswith("_")], name)
    frame, dropped = restrict_columns(frame, shape, name)
    return frame, shape, dropped


def test_recorded_scheduleleaguev2_response_lands_as_the_league_schedule_shape():
    frame, shape, dropped = landed(RECORDED_SCHEDULE.read_bytes(), "scheduleleaguev2_2024-25.json")
    assert shape.name == "league_schedule" and dropped == []
    assert list(split_by_season(frame, shape)) == ["2024-25"]
    rows, bad = normalise_schedule(frame, shape.name)
    assert bad.empty
    [game] = rows.to_dict("records")
    # The Abu Dhabi preseason game as recorded: Boston at Denver, final, at a neutral site.
    assert game["game_id"] == "0012400001" and game["season_type"] == "preseason"
    assert (game["home_team_id"], game["away_team_id"], game["neutral"]) == (DEN, BOS, True)
    assert game["game_date"] == pd.Timestamp("2024-10-04") and game["tipoff_utc"] == pd.Timestamp("2024-10-04 16:00")
    assert game["status"] == "final"


def schedule_doc(games: list[dict]) -> dict:
    """A scheduleleaguev2 document built in code in the recorded response's shape (the recording
    has a single final game; statuses 1 and PPD need games of their own)."""
    return {"leagueSchedule": {"seasonYear": "2024-25", "gameDates": [{"gameDate": "x", "games": games}]}}


def api_game(game_id, date, home, away, status=1, text="7:30 pm ET", neutral=False):
    return {
        "gameId": game_id,
        "gameStatus": status,
        "gameStatusText": text,
        "gameDateEst": f"{date}T00:00:00Z",
        "gameDateTimeUTC": f"{date}T23:30:00Z",
        "isNeutral": neutral,
        "homeTeam": {"teamId": home, "teamTricode": "X", "score": 0},
        "awayTeam": {"teamId": away, "teamTricode": "Y", "score": 0},
        "broadcasters": {"nationalBroadcasters": []},
    }


def test_statuses_postponed_and_bad_rows_quarantined_with_their_rule():
    doc = schedule_doc(
        [
            api_game("0022400100", "2024-11-01", BOS, NYK),
            api_game("0022400101", "2024-11-01", LAL, DEN, status=3, text="Final"),
            api_game("0022400102", "2024-11-02", MIA, BOS, text="PPD"),
            api_game("0022400103", "2024-11-02", MIA, MIA),  # same team twice
            api_game("0022400104", "2024-11-03", 99, BOS),  # no franchise
            api_game("nonsense", "2024-11-03", LAL, BOS),
        ]
    )
    frame, shape, _ = landed(json.dumps(doc).encode(), "schedule.json")
    rows, bad = normalise_schedule(frame, shape.name)
    assert dict(zip(rows["game_id"], rows["status"])) == {
        "0022400100": "scheduled",
        "0022400101": "final",
        "0022400102": "postponed",
    }
    assert dict(zip(bad["source_row"], bad["rule"])) == {4: "teams_differ", 5: "team_id_valid", 6: "game_id_valid"}
    assert bad["raw"].map(json.loads).iloc[0]["GAMEID"] == "0022400103"


def test_plain_schedule_file_in_csv_json_and_parquet():
    rows = [
        {"game_id": "0022400200", "game_date": "2024-12-01", "home_team_id": BOS, "away_team_id": NYK},
        {"game_id": "22400201", "game_date": "2024-12-01", "home_team_id": LAL, "away_team_id": DEN},
    ]
    frame = pd.DataFrame(rows)
    csv = frame.to_csv(index=False).encode()
    as_json = json.dumps(rows).encode()
    parquet = frame.astype(str).to_parquet(index=False)
    results = []
    for data, name in [(csv, "s.csv"), (as_json, "s.json"), (parquet, "s.parquet")]:
        landed_frame, shape, _ = landed(data, name)
        assert shape.name == "schedule_file"
        ok, bad = normalise_schedule(landed_frame, shape.name)
        assert bad.empty
        results.append(ok.drop(columns=["source_file"]))
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0], other)
    assert list(results[0]["game_id"]) == ["0022400200", "0022400201"]  # Kaggle-style id without its 00
    assert list(results[0]["status"]) == ["scheduled", "scheduled"] and not results[0]["neutral"].any()


def test_a_plain_schedule_that_is_not_a_schedule_is_refused_clearly():
    with pytest.raises(LandingError, match="scheduleleaguev2|no games"):
        landed(json.dumps(schedule_doc([])).encode(), "empty.json")


def schedule_rows(records, name="s.csv"):
    frame, shape, _ = landed(pd.DataFrame(records).to_csv(index=False).encode(), name)
    return normalise_schedule(frame, shape.name)[0]


def test_a_moved_game_keeps_its_id_and_the_later_file_wins():
    first = schedule_rows(
        [{"game_id": "0022400300", "game_date": "2024-12-05", "home_team_id": BOS, "away_team_id": NYK}],
        "schedule_2024-12-01.csv",
    )
    moved = schedule_rows(
        [{"game_id": "0022400300", "game_date": "2024-12-09", "home_team_id": BOS, "away_team_id": NYK, "status": "scheduled"}],
        "schedule_2024-12-04.csv",
    )  # fmt: skip
    sched, superseded = combine_schedule([pd.concat([first, moved], ignore_index=True)], None)
    assert superseded == 1 and len(sched) == 1
    assert sched.iloc[0]["game_date"] == pd.Timestamp("2024-12-09") and sched.iloc[0]["game_id"] == "0022400300"


# ----------------------------------------------------------------- point in time, on real data

GAMELOG = Path(sample_root()) / "nba_api_league_gamelog_2021_2024" / "nba-gamelog-2023-24.csv.gz"
DAY = dt.date(2024, 3, 25)


@pytest.fixture(scope="module")
def real_team_games():
    raw = read_landed_bytes(gzip.decompress(GAMELOG.read_bytes()), "nba-gamelog-2023-24.csv")
    return normalise_team_games(raw, "league_game_log")


def real_schedule(team_games):
    home = team_games[team_games["is_home"].astype(bool)]
    return pd.DataFrame(
        {
            "game_id": home["game_id"].astype(object),
            "season": home["season"].astype(object),
            "season_type": home["season_type"].astype(object),
            "game_date": pd.to_datetime(home["game_date"]),
            "home_team_id": home["team_id"].astype("Int64"),
            "away_team_id": home["opponent_id"].astype("Int64"),
            "neutral": False,
            "status": "final",
        }
    )


def window_features(team_games, schedule, day):
    window = forecast_window(schedule, day, 7)
    tg = forecast_team_games(team_games, window, day)
    elo = pregame_elo(tg)
    games = game_features(team_game_features(tg, elo=elo), elo)
    return window, games[games["game_id"].isin(window["game_id"])].reset_index(drop=True)


def test_forecast_inputs_ignore_every_result_dated_on_or_after_the_forecast_day(real_team_games):
    schedule = real_schedule(real_team_games)
    window, before = window_features(real_team_games, schedule, DAY)
    assert len(window) > 40 and window["game_date"].min() == pd.Timestamp(DAY)
    # Results on and after D rewritten (and some removed): the inputs do not move by a bit.
    changed = real_team_games.copy()
    later = pd.to_datetime(changed["game_date"]) >= pd.Timestamp(DAY)
    changed.loc[later, "pts"] = changed.loc[later, "pts"] + 30
    changed.loc[later, "fga"] = 1
    changed = changed[~(later & changed["game_id"].isin(window["game_id"].head(3)))]
    _, after = window_features(changed, schedule, DAY)
    pd.testing.assert_frame_equal(before, after, check_exact=True)
    # ... and a result dated the day before D does move them (the inputs are not frozen).
    earlier = changed.copy()
    eve = pd.to_datetime(earlier["game_date"]) == pd.Timestamp(DAY) - pd.Timedelta(days=1)
    earlier.loc[eve, "pts"] = earlier.loc[eve, "pts"] + 30
    _, moved = window_features(earlier, schedule, DAY)
    assert not before["home_margin_last5"].equals(moved["home_margin_last5"])


def test_window_skips_postponed_games_and_keeps_team_state_as_of_the_day(real_team_games):
    schedule = real_schedule(real_team_games)
    first = forecast_window(schedule, DAY, 7).iloc[0]["game_id"]
    schedule.loc[schedule["game_id"] == first, "status"] = "postponed"
    window, games = window_features(real_team_games, schedule, DAY)
    assert first not in set(window["game_id"])
    # Elo of every window game is the team's rating after its last game before D: a team's two
    # games in the window carry the same pre-game Elo.
    long = pd.concat(
        [
            games[["game_id", "home_team_id", "home_elo_pre"]].set_axis(["g", "team", "elo"], axis=1),
            games[["game_id", "away_team_id", "away_elo_pre"]].set_axis(["g", "team", "elo"], axis=1),
        ]
    )
    assert (long.groupby("team")["elo"].nunique() == 1).all()


def test_stats_api_client_fetches_the_schedule_with_the_same_client_machinery():
    with FakeStatsApi({}, {}, {}) as server:
        client = api.StatsApiClient(server.base_url, rate_per_s=0)
        rows = api.league_schedule_rows(client, "2024-25")
        assert api.league_schedule_rows(client, "2025-26") is None  # a season without games yet
        [first, second] = server.requests
    assert first.params == {"LeagueID": "00", "Season": "2024-25"}
    assert set(rows["_source_file"]) == {"stats_api/scheduleleaguev2?Season=2024-25"}
    from_file, _, _ = landed(RECORDED_SCHEDULE.read_bytes(), "scheduleleaguev2_2024-25.json")
    cols = [c for c in from_file.columns if not c.startswith("_")]
    pd.testing.assert_frame_equal(rows[cols], from_file[cols])
    assert flatten_league_schedule(json.loads(RECORDED_SCHEDULE.read_text()))[0]["homeTeam_teamId"] == DEN


def test_forecasts_to_retire_are_postponed_games_with_a_forecast_since_their_last_retirement():
    from nba_platform.lib.schedule import forecasts_to_retire

    last_forecast = pd.Series({"A": "2024-01-08T00:00:00", "B": "2024-01-08T00:00:00", "C": "2024-01-20T00:00:00"})
    last_retired = pd.Series({"B": "2024-01-09T00:00:00", "C": "2024-01-09T00:00:00"})
    # A: never retired; B: retired after its last forecast; C: forecast again since; D: never forecast
    assert forecasts_to_retire(["A", "B", "C", "D"], last_forecast, last_retired) == ["A", "C"]
    assert forecasts_to_retire([], last_forecast, last_retired) == []


def test_only_rows_a_schedule_listed_decide_whether_a_season_is_over():
    from nba_platform.lib.schedule import TEAM_GAMES_SOURCE, listed_by_a_schedule

    table = pd.DataFrame(
        {
            "game_id": ["0022300001", "0022300002", "0022300003"],
            "status": ["final", "final", "scheduled"],
            "source_file": ["schedule_2024-03-25.csv", TEAM_GAMES_SOURCE, "schedule_2024-03-25.csv"],
        }
    )
    assert list(listed_by_a_schedule(table)["game_id"]) == ["0022300001", "0022300003"]
    # a schedule table made from results alone (no schedule landed) lists nothing: the results decide
    assert listed_by_a_schedule(table.iloc[[1]]).empty
    plain = table.drop(columns="source_file")
    assert listed_by_a_schedule(plain).equals(plain)
