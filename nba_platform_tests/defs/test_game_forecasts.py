"""Forecasts of games not yet played, on real shipped data, through Dagster as users run it.

2023-24 is held back at 25 March 2024: only its results dated before that day are landed, plus
a plain schedule file of the regular-season games from that day on (ids, dates and teams taken
from the real game log). The forecast days 24 and 25 March forecast those games before they are
played and append them to the serving database; re-materializing 25 March after the remaining
results landed gives byte-identical forecasts (and overwrites nothing); live skill then scores the
latest pre-game forecast of each finished game.
"""

import datetime as dt
import gzip
import io
import os
import sqlite3
import subprocess
import sys

import dagster as dg
import pandas as pd
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.ingestion.jobs import SEASON_TABLES_SELECTION
from nba_platform.defs.serving.forecasts import forecast_features
from nba_platform.defs.serving.sensors import forecast_request_for
from nba_platform.lib.metrics import brier_score
from nba_platform.lib.schedule import forecast_window
from nba_platform.resources.landing import sample_root
from nba_platform.resources.model_registry import CHAMPION
from nba_platform.resources.serving_db import ServingDatabase
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import season_run_tags

GAMELOGS = f"{sample_root()}/nba_api_league_gamelog_2021_2024"
SEASONS = ["2021-22", "2022-23", "2023-24"]
HOLD_BACK = pd.Timestamp("2024-03-25")
FORECAST_DAYS = ["2024-03-24", "2024-03-25"]
FEATURES = dg.AssetSelection.groups("features")
FORECASTS = dg.AssetSelection.assets(dg.AssetKey(["serving", "game_forecasts"]))
LIVE_SKILL = dg.AssetSelection.assets(dg.AssetKey(["monitoring", "live_skill"]))
MODEL = dg.AssetSelection.assets(dg.AssetKey(["models", "game_outcome_model"]))


def gamelog(season: str) -> pd.DataFrame:
    return pd.read_csv(f"{GAMELOGS}/nba-gamelog-{season}.csv.gz", dtype={"game_id": str})


def csv_gz(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(frame.to_csv(index=False).encode())
    return buf.getvalue()


def schedule_of(log: pd.DataFrame) -> pd.DataFrame:
    """The plain schedule a league office would publish: ids, dates and teams of the real games."""
    home = log[log["matchup"].str.contains(" vs. ")].set_index("game_id")
    away = log[log["matchup"].str.contains(" @ ")].set_index("game_id")
    return pd.DataFrame(
        {
            "game_id": home.index,
            "game_date": home["game_date"].to_numpy(),
            "home_team_id": home["team_id"].to_numpy(),
            "away_team_id": away.loc[home.index, "team_id"].to_numpy(),
        }
    ).sort_values(["game_date", "game_id"], ignore_index=True)


def key(*path) -> dg.AssetKey:
    return dg.AssetKey(list(path))


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecasts")
    resources = embedded_resources(root, include_sample=False)
    d = defs()
    everything = [*d.assets, *(d.asset_checks or [])]
    out = {"resources": resources, "root": root}
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:

        def run(selection, tags, run_config=None):
            result = dg.materialize(
                everything,
                resources=resources,
                instance=instance,
                selection=selection,
                tags=tags,
                run_config=run_config or {},
                raise_on_error=False,
            )
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            return result

        landing = resources["landing"]
        for season in SEASONS[:2]:
            landing.accept(f"nba-gamelog-{season}.csv.gz", csv_gz(gamelog(season)))
        held = gamelog("2023-24")
        dates = pd.to_datetime(held["game_date"])
        landing.accept("nba-gamelog-2023-24-to-0324.csv.gz", csv_gz(held[dates < HOLD_BACK]))
        upcoming = schedule_of(held[dates >= HOLD_BACK])
        landing.accept("schedule_2024-03-24.csv", upcoming.to_csv(index=False).encode())
        out["upcoming"] = upcoming
        instance.add_dynamic_partitions("season", SEASONS)
        model_config = {"ops": {"models__game_outcome_model": {"config": {"candidates": ["logistic"]}}}}
        out["build"] = run(SEASON_TABLES_SELECTION | FEATURES | MODEL, season_run_tags(SEASONS), model_config)
        out["champion"] = resources["mlflow"].version_by_alias(CHAMPION)

        # The forecast days, as a backfill of the daily partitions runs them (one single-run range).
        range_tags = {
            "dagster/asset_partition_range_start": FORECAST_DAYS[0],
            "dagster/asset_partition_range_end": FORECAST_DAYS[-1],
        }
        out["forecast"] = run(FORECASTS, range_tags)
        out["published_before"] = serving_rows(resources, "SELECT * FROM game_forecasts")
        out["pregame_before"] = serving_rows(resources, "SELECT * FROM latest_pregame_forecast")
        out["schedule_before"] = schedule_table(resources)

        # 25 March alone, before and after the held-back results land: the leakage test.
        out["day_before"] = run(FORECASTS, {"dagster/partition": FORECAST_DAYS[-1]})
        landing.accept("nba-gamelog-2023-24-from-0325.csv.gz", csv_gz(held[dates >= HOLD_BACK]))
        out["results"] = run(SEASON_TABLES_SELECTION | FEATURES, season_run_tags(["2023-24"]))
        out["schedule_after"] = schedule_table(resources)
        out["day_after"] = run(FORECASTS, {"dagster/partition": FORECAST_DAYS[-1]})
        out["published_after"] = serving_rows(resources, "SELECT * FROM game_forecasts")

        # The next day's cycle scores them: live skill on the latest pre-game forecasts.
        out["skill"] = run(LIVE_SKILL, {})
        out["outcomes"] = held
        yield out


def serving_rows(resources, sql: str) -> pd.DataFrame:
    path = resources["serving_db"].url[len("sqlite:///") :]
    with sqlite3.connect(path) as con:
        return pd.read_sql_query(sql, con)


def schedule_table(resources) -> pd.DataFrame:
    root = resources["io_manager"].root
    return pd.read_parquet(f"{root}/tables/schedule/season=2023-24/data.parquet")


def meta(result, asset_key: dg.AssetKey) -> dict:
    events = [
        e.event_specific_data.materialization
        for e in result.all_events
        if e.is_step_materialization and e.event_specific_data.materialization.asset_key == asset_key
    ]
    return {k: v.value for k, v in events[-1].metadata.items()}


def test_unplayed_games_are_scheduled_in_the_schedule_table_and_final_once_played(cycle):
    before, after, upcoming = cycle["schedule_before"], cycle["schedule_after"], cycle["upcoming"]
    by_status = before["status"].value_counts().to_dict()
    assert by_status["scheduled"] == len(upcoming) > 100  # every held-back game, none quarantined
    assert set(before.loc[before["status"] == "scheduled", "game_id"]) == set(upcoming["game_id"])
    assert (after["status"] == "final").all() and after["has_result"].all()
    assert len(after) == len(before)  # results and schedule are one game each: ids kept


def test_forecasts_are_published_before_the_games_for_every_scheduled_game_of_the_window(cycle):
    published, upcoming = cycle["published_before"].copy(), cycle["upcoming"]
    published["game_date"] = pd.to_datetime(published["game_date"])
    published["as_of"] = pd.to_datetime(published["as_of"])
    for day in FORECAST_DAYS:
        made = published[published["as_of"] == pd.Timestamp(day)]
        # the 24th's window starts with games already played (dated 24 March): they are forecast
        # from results before the 24th, as they would have been that morning
        assert (made["game_date"] >= pd.Timestamp(day)).all()
        assert made["game_date"].max() <= pd.Timestamp(day) + pd.Timedelta(days=6)
    on_25 = published[published["as_of"] == pd.Timestamp("2024-03-25")]
    window = upcoming[pd.to_datetime(upcoming["game_date"]) <= pd.Timestamp("2024-03-31")]
    assert set(on_25["game_id"]) == set(window["game_id"])
    assert published["p_home_win"].between(0.02, 0.98).all()
    champion = cycle["champion"]
    assert set(published["model_name"]) == {champion.name} and set(published["model_version"]) == {
        int(champion.version)
    }
    # the champion saw 2022-23, the last completed season before 2023-24: current, every day forecast
    assert champion.tags["train_last_season"] == "2022-23"
    assert published["top_factors"].str.startswith("[").all()
    # latest_pregame_forecast: one row per game, made before its date (25 March's games by the 24th)
    pregame = cycle["pregame_before"]
    assert pregame["game_id"].is_unique and (pregame["as_of"] < pregame["game_date"]).all()
    dated_25 = upcoming.loc[upcoming["game_date"] == "2024-03-25", "game_id"]
    assert set(dated_25) <= set(pregame["game_id"])
    assert set(pd.to_datetime(pregame.loc[pregame["game_id"].isin(dated_25), "as_of"])) == {pd.Timestamp("2024-03-24")}


def test_forecast_day_is_point_in_time_results_landed_later_change_nothing(cycle):
    before, after = (
        meta(cycle["day_before"], key("serving", "game_forecasts")),
        meta(cycle["day_after"], key("serving", "game_forecasts")),
    )
    assert before["forecasts"] == after["forecasts"] > 40
    print(f"\nforecast day 2024-03-25: {before['forecasts']} games in {before['median_day_seconds']:.2f} s")
    assert before["forecast_digest"] == after["forecast_digest"]  # byte-identical rows
    # append-only: the re-runs inserted nothing and changed nothing already published
    assert before["forecasts_inserted"] == after["forecasts_inserted"] == 0
    assert after["forecasts_already_published"] == after["forecasts"]
    pd.testing.assert_frame_equal(cycle["published_before"], cycle["published_after"])


def test_live_skill_scores_the_latest_pregame_forecast_of_each_finished_game(cycle):
    skill = meta(cycle["skill"], key("monitoring", "live_skill"))
    assert skill["scored_from"] == "latest_pregame_forecast"
    pregame = cycle["pregame_before"]
    assert skill["games"] == len(pregame)
    # the same Brier, computed here from the published forecasts and the real results
    log = cycle["outcomes"]
    won = log[log["matchup"].str.contains(" vs. ")].set_index("game_id")["wl"].eq("W").astype(int)
    brier = brier_score(won.reindex(pregame["game_id"]).to_numpy(), pregame["p_home_win"].to_numpy())
    assert skill["champion_brier_season_to_date"] == pytest.approx(brier)  # every scored game is of 2023-24
    assert 0.15 < brier < 0.26
    # 538-style Elo on the same games with the same information (results before each forecast day)
    lake = cycle["resources"]["io_manager"].root
    team_games = pd.concat(
        [pd.read_parquet(f"{lake}/tables/team_games/season={s}/data.parquet").assign(season=s) for s in SEASONS]
    )
    schedule = cycle["schedule_after"].assign(season="2023-24")
    elo = []
    for as_of, games in pregame.groupby("as_of"):
        day = pd.Timestamp(as_of).date()
        window = forecast_window(schedule, day, 7)
        window = window[window["game_id"].isin(games["game_id"])]
        elo.append(forecast_features(team_games, window, day)[["game_id", "elo_p_home_win"]])
    elo = pd.concat(elo).set_index("game_id").reindex(pregame["game_id"])
    elo_brier = brier_score(won.reindex(pregame["game_id"]).to_numpy(), elo["elo_p_home_win"].to_numpy())
    assert elo["elo_p_home_win"].notna().all()
    print(
        f"\nlive skill of {len(pregame)} pre-game forecasts (2024-03-25 .. 03-31): Brier {brier:.4f} "
        f"(point-in-time Elo on the same games: {elo_brier:.4f})"
    )


def test_daily_ingest_success_requests_the_days_forecast_run():
    run = dg.DagsterRun(
        job_name="season_tables",
        run_id="r1",
        tags={"nba/trigger": "daily_season_ingest", "dagster/scheduled_execution_time": "2024-03-25T10:00:00+00:00"},
    )
    request = forecast_request_for(run, today=pd.Timestamp("2030-01-01").date())
    assert (request.job_name, request.partition_key) == ("daily_forecast", "2024-03-25")
    assert forecast_request_for(dg.DagsterRun(job_name="season_tables", run_id="r2", tags={}), today=None) is None


def test_the_cli_runs_the_same_forecast_job_for_a_day(cycle):
    """`nba-platform forecast --day D` on this home: the job the daily cycle's sensor requests."""
    env = {**os.environ, "NBA_HOME": str(cycle["root"]), "NBA_INCLUDE_SAMPLE": "false", "NBA_PLATFORM_ENV": "local"}
    env.pop("DAGSTER_HOME", None)
    cli = [sys.executable, "-m", "nba_platform.cli", "forecast"]
    bad = subprocess.run([*cli, "--day", "25/03/2024"], env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stdout
    proc = subprocess.run([*cli, "--day", "2024-03-26"], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "daily_forecast" in proc.stdout
    made = serving_rows(cycle["resources"], "SELECT * FROM game_forecasts WHERE as_of LIKE '2024-03-26%'")
    upcoming = cycle["upcoming"]
    window = upcoming[(upcoming["game_date"] >= "2024-03-26") & (upcoming["game_date"] <= "2024-04-01")]
    assert set(made["game_id"]) == set(window["game_id"])


def test_a_postponed_game_retires_its_published_forecasts_once(tmp_path):
    from nba_platform.defs.serving.forecasts import as_of_for, retire_postponed
    from nba_platform.resources.secrets import Secrets

    db = ServingDatabase(url=f"sqlite:///{tmp_path / 'serving.db'}", secrets=Secrets())
    schedule = pd.DataFrame(
        {
            "game_id": ["0022300901", "0022300902", "0022300903"],
            "status": ["postponed", "scheduled", "postponed"],
        }
    )
    assert retire_postponed(db, schedule, as_of_for(dt.date(2024, 3, 20))) == []  # nothing forecast yet
    forecasts = pd.DataFrame(
        {
            "game_id": ["0022300901", "0022300902"],
            "game_date": pd.Timestamp("2024-03-22"),
            "as_of": as_of_for(dt.date(2024, 3, 18)),
            "home_team_id": 1610612738,
            "away_team_id": 1610612752,
            "neutral": False,
            "p_home_win": [0.6, 0.4],
            "model_name": "nba_game_outcome",
            "model_version": 1,
            "top_factors": "[]",
        }
    )
    assert db.append("game_forecasts", forecasts) == 2
    # the postponed game with a forecast is retired; the one never forecast needs nothing
    assert retire_postponed(db, schedule, as_of_for(dt.date(2024, 3, 20))) == ["0022300901"]
    assert retire_postponed(db, schedule, as_of_for(dt.date(2024, 3, 21))) == []  # already retired
    assert list(db.query("SELECT game_id FROM latest_pregame_forecast")["game_id"]) == ["0022300902"]
    assert db.query("SELECT count(*) AS n FROM game_forecasts")["n"][0] == 2  # nothing deleted
