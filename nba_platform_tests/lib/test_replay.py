"""lib/replay.py: forecast days, the game log cut, the derived schedule and the scoring, on the
real shipped 2023-24 game log."""

import datetime as dt
import gzip

import numpy as np
import pandas as pd
import pytest

from nba_platform.lib import replay as rp
from nba_platform.lib.metrics import brier_score
from nba_platform.resources.landing import sample_root

LOG = f"{sample_root()}/nba_api_league_gamelog_2021_2024/nba-gamelog-2023-24.csv.gz"


@pytest.fixture(scope="module")
def raw():
    with gzip.open(LOG, "rt") as f:
        return pd.read_csv(f, dtype={"game_id": str})


@pytest.fixture(scope="module")
def schedule(raw):
    return rp.derive_schedule(rp.read_gamelog(raw))


def test_derived_schedule_is_one_row_per_game_with_its_home_and_away_team(raw, schedule):
    assert len(schedule) == raw["game_id"].nunique() == len(raw) // 2
    assert schedule["game_id"].is_unique and (schedule["home_team_id"] != schedule["away_team_id"]).all()
    row = schedule.set_index("game_id").loc["0022301196"]  # OKC vs. DAL, 14 April 2024
    assert (row["home_team_id"], row["away_team_id"]) == (1610612760, 1610612742)
    assert row["game_date"] == pd.Timestamp("2024-04-14") and not row["neutral"]


def test_upper_case_columns_and_short_ids_read_the_same(raw, schedule):
    upper = raw.rename(columns=str.upper).assign(GAME_ID=raw["game_id"].str.lstrip("0"))
    pd.testing.assert_frame_equal(rp.derive_schedule(rp.read_gamelog(upper)), schedule)


def test_days_start_the_day_before_the_first_game_and_every_game_is_covered_by_a_window(schedule):
    for step in (1, 7):
        days, first, last = rp.replay_days(schedule, step, dt.date(2024, 3, 1), dt.date(2024, 4, 14))
        assert (first, last) == (dt.date(2024, 3, 1), dt.date(2024, 4, 14))
        assert days[0] == dt.date(2024, 2, 29) and days[-1] < last
        assert all((b - a).days == step for a, b in zip(days, days[1:]))
        window = rp.window_days_for(step)
        dates = pd.to_datetime(schedule["game_date"]).dt.date
        for game_date in sorted(set(dates[(dates >= first) & (dates <= last)])):
            # some forecast day before the game whose window reaches it
            assert any(d < game_date <= d + dt.timedelta(days=window - 1) for d in days), game_date
    whole, first, last = rp.replay_days(schedule, 1)
    assert first == dt.date(2023, 10, 24) and last == dt.date(2024, 4, 14) and len(whole) == (last - first).days + 1


def test_days_outside_the_season_are_refused(schedule):
    with pytest.raises(rp.ReplayError, match="no regular-season game"):
        rp.replay_days(schedule, 1, dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    with pytest.raises(rp.ReplayError, match="--step"):
        rp.step_days("3d")


def test_gamelog_cut_and_schedule_status_as_of_a_day(raw, schedule):
    day = dt.date(2024, 3, 25)
    cut = rp.gamelog_cut(raw, day)
    assert list(cut.columns) == list(raw.columns)  # landed as exported
    assert pd.to_datetime(cut["game_date"]).max() < pd.Timestamp(day)
    assert len(cut) == (pd.to_datetime(raw["game_date"]) < pd.Timestamp(day)).sum()
    landed = rp.schedule_as_of(schedule, day)
    before = pd.to_datetime(landed["game_date"]) < pd.Timestamp(day)
    assert (landed.loc[before, "status"] == "final").all() and (landed.loc[~before, "status"] == "scheduled").all()
    assert set(landed.loc[before, "game_id"]) == set(cut["game_id"])


def test_a_plain_schedule_file_reads_like_the_derived_one(schedule):
    plain = schedule.assign(game_date=schedule["game_date"].dt.strftime("%Y-%m-%d"), neutral="false")
    pd.testing.assert_frame_equal(rp.read_schedule_file(plain), schedule)
    with pytest.raises(rp.ReplayError, match="away_team_id"):
        rp.read_schedule_file(plain.drop(columns="away_team_id"))


def test_latest_pregame_keeps_the_last_forecast_made_before_the_game():
    log = pd.DataFrame(
        {
            "game_id": ["g1", "g1", "g1", "g2"],
            "game_date": ["2024-03-03", "2024-03-03", "2024-03-03", "2024-03-05"],
            "as_of": ["2024-03-01 00:00:00", "2024-03-02 00:00:00", "2024-03-03 00:00:00", "2024-03-05 00:00:00"],
            "p_home_win": [0.5, 0.6, 0.7, 0.4],
            "model_version": [1, 1, 1, 1],
        }
    )
    pregame = rp.latest_pregame(log)
    assert pregame["game_id"].tolist() == ["g1"] and pregame["p_home_win"].tolist() == [0.6]


def test_scoring_against_elo_on_the_same_games(raw):
    log = rp.read_gamelog(raw)
    won = rp.home_wins(log)
    assert set(won.unique()) == {0, 1} and len(won) == len(log) // 2
    ids = won.index[:200]
    rng = np.random.default_rng(0)
    pregame = pd.DataFrame({"game_id": ids, "p_home_win": rng.uniform(0.2, 0.8, len(ids))})
    elo = pd.Series(0.6, index=ids[:150])  # Elo known for 150 of them: scored on those only
    score = rp.score_pregame(pregame, won, elo)
    assert score.games == 150
    y = won.loc[ids[:150]].to_numpy()
    assert score.brier == pytest.approx(brier_score(y, pregame["p_home_win"].to_numpy()[:150]))
    assert score.elo_brier == pytest.approx(brier_score(y, np.full(150, 0.6)))
    assert score.elo_accuracy == pytest.approx(y.mean())  # 0.6 always picks the home side


def test_summary_reports_figures_timings_and_events():
    score = rp.Score(10, 0.21, 0.61, 0.66, 0.22, 0.63, 0.64)
    timings = [rp.DayTiming(dt.date(2024, 3, d), s) for d, s in ((1, 2.0), (2, 4.0), (3, 9.0))]
    summary = rp.ReplaySummary(
        "2023-24", 1, dt.date(2024, 3, 2), dt.date(2024, 3, 4), score, timings, ["2024-03-02: retrain (x): y"]
    )
    assert summary.median_day_seconds == 4.0 and summary.total_seconds == 15.0
    text = "\n".join(summary.lines())
    assert "Brier 0.2100" in text and "Elo on the same games: Brier 0.2200" in text
    assert "median day 4.00 s, total 15.0 s" in text and "retrain (x)" in text
