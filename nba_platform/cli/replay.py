"""`nba-platform replay`: a completed season replayed day by day through the daily jobs.

A replay is a backfill of `serving/game_forecasts` partitions over a season, with the world as it
was each day: for each forecast day D (lib/replay.py `replay_days`) it

1. lands the game log cut to the results dated before D and the season's schedule (games before D
   final, the rest scheduled) in the replay home's landing zone (replacing yesterday's files);
2. runs what the daily schedule runs: `daily_tables` (results and schedule) for the season, tagged as the schedule's run
   of D 10:00 UTC (cli/runs.run_job, the CLI's launch code);
3. ticks the daemon's sensors (dg.build_sensor_context against the replay instance, with cursors
   kept across days): `forecast_after_daily_ingest` requests `daily_forecast` for partition D
   (features -> serving/game_forecasts D -> live skill); `drift_after_season_update` and
   `retraining_sensor` request what they would; every request is launched, and the sensors are
   ticked again until they request nothing. After a retrain, the declarative automation of the
   promotion (`models/champion_promotion`, eager) is evaluated with D as its clock and run when
   it asks to.

The forecasts are therefore the materializations of `serving/game_forecasts` partitions D, the
same asset and code as production. The replay runs in its own home: a fresh temporary one, `--home
DIR`, or a copy of `--history-home DIR` (a built home; the copy's MLflow paths are moved to the
copy, the source is only read). Every store setting is pointed into that home, so the live
instance is never opened.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import pandas as pd

from nba_platform.lib import replay as rp

# The sensors a replayed day ticks (the daemon's, minus the landing sensor: the replay's own
# landing plan marks what each run handled, as `nba-platform ingest` does, and alerts).
REPLAY_SENSORS = ("forecast_after_daily_ingest", "drift_after_season_update", "retraining_sensor")
PROMOTION_KEY = ("models", "champion_promotion")
# Store settings pointed into the replay home (whatever the environment or ./.env says).
HOME_FIELDS = (
    "lake_uri",
    "landing_uri",
    "mlflow_tracking_uri",
    "mlflow_artifact_uri",
    "serving_db_url",
    "backup_uri",
    "dagster_home",
    "dagster_db_url",
    "stats_api_cache_uri",
)


def _print(msg: str) -> None:
    print(msg, flush=True)


def home_environment(home: Path) -> dict[str, str]:
    """Every store setting of a local home at `home` (env var -> value)."""
    from nba_platform.settings import Settings

    env = {"NBA_PLATFORM_ENV": "local", "NBA_HOME": str(home), "NBA_INCLUDE_SAMPLE": "false"}
    values = {
        "lake_uri": str(home / "lake"),
        "landing_uri": str(home / "landing"),
        "mlflow_tracking_uri": f"sqlite:///{home / 'mlflow' / 'mlflow.db'}",
        "mlflow_artifact_uri": str(home / "mlflow" / "artifacts"),
        "serving_db_url": f"sqlite:///{home / 'serving' / 'serving.db'}",
        "backup_uri": str(home / "backups"),
        "dagster_home": str(home / "dagster"),
        "dagster_db_url": f"sqlite:///{home / 'dagster'}",
        "stats_api_cache_uri": str(home / "stats_api_cache"),
    }
    for name in HOME_FIELDS:
        alias = Settings.model_fields[name].validation_alias
        env[str(alias)] = values[name]
    env["DAGSTER_HOME"] = values["dagster_home"]
    env["NBA_DAILY_INGEST_SOURCE"] = "landing"
    return env


def rehome_sqlite(db: Path, source: str, target: str) -> int:
    """Replace the path `source` by `target` in every text cell of a copied SQLite database (MLflow
    keeps absolute artifact locations): the copy then writes its artifacts under itself."""
    changed = 0
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in con.execute(f'PRAGMA table_info("{table}")').fetchall():
                name, kind = column[1], (column[2] or "").upper()
                if "CHAR" not in kind and "TEXT" not in kind and kind != "":
                    continue
                cur = con.execute(
                    f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) WHERE instr("{name}", ?) > 0',
                    (source, target, source),
                )
                changed += cur.rowcount
    return changed


def prepare_home(args) -> Path:
    if args.home:
        home = Path(args.home).resolve()
    else:
        home = Path(tempfile.mkdtemp(prefix="nba-replay-")).resolve() / "home"
    if args.history_home:
        source = Path(args.history_home).resolve()
        if not (source / "dagster").is_dir():
            raise rp.ReplayError(f"--history-home {source}: not a built home (no dagster/ folder)")
        if home.exists() and any(home.iterdir()):
            raise rp.ReplayError(f"{home}: not empty; a history home is copied into an empty replay home")
        shutil.copytree(source, home, dirs_exist_ok=True)
        mlflow_db = home / "mlflow" / "mlflow.db"
        if mlflow_db.exists():
            rehome_sqlite(mlflow_db, str(source), str(home))
    home.mkdir(parents=True, exist_ok=True)
    return home


def land(landing, name: str, data: bytes) -> None:
    """Land one file as `nba-platform ingest` does (read first, then accept, then index)."""
    shape, by_season = landing.read_rows(name, data)
    accepted = landing.accept(name, data, replace=True)
    file = landing.landed_file(accepted)
    if file is not None:
        landing.record_index(file, shape.name, by_season)


class SensorTicker:
    """Ticks the replay's sensors as the daemon does, keeping their cursors across days."""

    def __init__(self, instance, resources):
        from nba_platform.definitions import defs

        self.instance, self.resources = instance, resources
        self.definitions = defs()
        self.repository = self.definitions.get_repository_def()
        self.sensors = [s for s in self.repository.sensor_defs if s.name in REPLAY_SENSORS]
        self.cursors: dict[str, str | None] = {}
        self.automation_cursor = None

    def tick(self) -> list[tuple[str, object]]:
        import dagster as dg

        requests = []
        for sensor in self.sensors:
            with dg.build_sensor_context(
                instance=self.instance,
                cursor=self.cursors.get(sensor.name),
                repository_def=self.repository,
                sensor_name=sensor.name,
                resources=self.resources,
            ) as context:
                data = sensor.evaluate_tick(context)
            self.cursors[sensor.name] = data.cursor
            for request in data.run_requests or []:
                requests.append((request.job_name or sensor.job_name, request))
        return requests

    def promotion_requested(self, day: dt.date) -> bool:
        """The eager condition of the promotion asset, evaluated with D 10:00 UTC as the clock."""
        import dagster as dg

        key = dg.AssetKey(list(PROMOTION_KEY))
        result = dg.evaluate_automation_conditions(
            defs=self.definitions,
            instance=self.instance,
            asset_selection=dg.AssetSelection.assets(key),
            evaluation_time=dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC),
            cursor=self.automation_cursor,
        )
        self.automation_cursor = result.cursor
        return bool(result.get_num_requested(key))

    def run_promotion(self, day: dt.date):
        import dagster as dg

        key = dg.AssetKey(list(PROMOTION_KEY))
        job = self.definitions.resolve_implicit_job_def_def_for_assets([key])
        return job.execute_in_process(
            instance=self.instance,
            asset_selection=[key],
            tags={"nba/trigger": "replay-automation", "nba/replay_day": day.isoformat()},
            raise_on_error=False,
        )


def launch(job_name: str, request, instance, day: dt.date, window_days: int):
    """A sensor's run request, launched in-process with the CLI's launch code (cli/runs.py)."""
    from nba_platform.cli.runs import run_partition_job, run_requested_job
    from nba_platform.defs.serving.jobs import daily_forecast_job

    tags = {**dict(request.tags), "nba/replay_day": day.isoformat()}
    if job_name == daily_forecast_job.name:
        config = {"ops": {"serving__game_forecasts": {"config": {"window_days": window_days}}}}
        return run_partition_job(job_name, request.partition_key, instance, tags=tags, run_config=config)
    if request.partition_key:
        return run_partition_job(job_name, request.partition_key, instance, tags=tags)
    return run_requested_job(job_name, instance, tags=tags)


def champion_label(resources) -> str:
    from nba_platform.resources.model_registry import CHAMPION

    try:
        champion = resources["mlflow"].version_by_alias(CHAMPION)
    except Exception:  # no registered model yet
        return "-"
    return champion.label if champion is not None else "-"


def read_forecast_log(serving_db) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = ", ".join(rp.FORECAST_LOG_COLUMNS)
    try:
        log = serving_db.query(f"SELECT {cols} FROM game_forecasts ORDER BY as_of, game_date, game_id")
        pregame = serving_db.query(f"SELECT {cols} FROM latest_pregame_forecast")
    except Exception as exc:  # no forecast table: nothing was forecast
        raise rp.ReplayError(f"no forecasts in the replay home's serving database: {exc}") from exc
    return log, pregame


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    from nba_platform.lib.csv_safety import neutralise_frame

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    neutralise_frame(frame).to_csv(temporary, index=False, float_format="%.6f")
    temporary.replace(path)


def elo_of_games(io_manager, seasons: list[str]) -> pd.Series:
    """Point-in-time 538-style Elo (lib/elo.py) of every game, from the results before it, over the
    replay home's tables/team_games (history plus the replayed season)."""
    from nba_platform.lib.elo import pregame_elo
    from nba_platform.lib.storage import Store
    from nba_platform.resources.lake import read_lake_frame

    lake = Store(io_manager.root, io_manager.endpoint_url, io_manager.region)
    frames = [read_lake_frame(lake, ["tables", "team_games"], s).assign(season=s) for s in seasons]
    team_games = pd.concat([f for f in frames if len(f)], ignore_index=True)
    return pregame_elo(team_games).set_index("game_id")["elo_p_home_win"]


def cmd_replay(args) -> int:
    try:
        step = rp.step_days(args.step)
        start = dt.date.fromisoformat(args.date_from) if args.date_from else None
        end = dt.date.fromisoformat(args.date_to) if args.date_to else None
    except ValueError as exc:
        _print(f"error: {exc}")
        return 2
    gamelog_path = Path(args.gamelog)
    if not gamelog_path.is_file():
        _print(f"error: {gamelog_path}: no such file")
        return 2
    try:
        raw = read_table(gamelog_path)
        log = rp.read_gamelog(raw)
        schedule = rp.derive_schedule(log)
        if args.schedule:
            schedule = rp.read_schedule_file(read_table(Path(args.schedule)))
        days, first, last = rp.replay_days(schedule, step, start, end)
        live = live_home()
        if args.home and Path(args.home).resolve() == live:
            raise rp.ReplayError(f"--home {live} is the live home: a replay runs in its own home")
        home = prepare_home(args)
    except (rp.ReplayError, OSError, ValueError) as exc:
        _print(f"error: {exc}")
        return 2
    os.environ.update(home_environment(home))
    return replay(args, raw, log, schedule, days, first, last, step, home)


def live_home() -> Path | None:
    from nba_platform.settings import load_settings

    try:
        return load_settings().home
    except ValueError:  # settings that do not load: there is no live home to protect
        return None


def read_table(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if name.endswith((".json", ".json.gz")):
        return pd.read_json(path, dtype={"game_id": str, "GAME_ID": str})
    return pd.read_csv(path, dtype={"game_id": str, "GAME_ID": str, "Game_ID": str})


def replay(args, raw, log, schedule, days, first, last, step, home: Path) -> int:
    from nba_platform.cli.runs import get_instance, register_seasons, run_job
    from nba_platform.defs.ingestion.sensors import plan_landing_runs
    from nba_platform.resources.environment import build_resources

    season = args.season
    resources = build_resources()
    landing = resources["landing"]
    instance = get_instance()
    if season in instance.get_dynamic_partitions("season"):
        _print(f"error: season {season} is already built in {home}: replay a season this home has not seen")
        return 2
    window = rp.window_days_for(step)
    _print(
        f"replay of {season} in {home}: {len(days)} forecast day(s) {days[0]} .. {days[-1]} (step {step}d, "
        f"window {window} days), games {first} .. {last}"
    )
    ticker = SensorTicker(instance, resources)
    timings: list[rp.DayTiming] = []
    events: list[str] = []
    log_name, schedule_name = f"replay-gamelog-{season}.csv", f"schedule_{season}_replay.csv"
    # The daemon was running before the season: the first tick starts the run-status sensors'
    # cursors (runs before it are not theirs) and launches what the others request already.
    champion_before = champion_label(resources)
    if settle(ticker, instance, days[0], window, events) is None:
        return 1
    if champion_label(resources) != champion_before:
        events.append(
            f"{days[0]}: champion {champion_before} -> {champion_label(resources)} ({promotion_reason(resources)})"
        )
    for day in days:
        started = time.perf_counter()
        cut = rp.gamelog_cut(raw, day)
        names = {schedule_name}
        if len(cut):
            land(landing, log_name, cut.to_csv(index=False).encode())
            names.add(log_name)
        land(landing, schedule_name, rp.schedule_as_of(schedule, day).to_csv(index=False).encode())
        plan = plan_landing_runs(instance, landing, {}, names=names, rerun_handled=True)
        register_seasons(instance, plan.touched or [season])
        champion_before = champion_label(resources)
        tags = {
            "nba/trigger": "daily_season_ingest",
            "dagster/scheduled_execution_time": f"{day.isoformat()}T10:00:00+00:00",
            "nba/replay_day": day.isoformat(),
            **plan.handled_tags(),
        }
        outcome = run_job("daily_tables", [season], instance, tags=tags)
        if not outcome.success:
            return failed(outcome, instance, day)
        forecasts = settle(ticker, instance, day, window, events)
        if forecasts is None:
            return 1
        champion_after = champion_label(resources)
        if champion_after != champion_before:
            events.append(f"{day}: champion {champion_before} -> {champion_after} ({promotion_reason(resources)})")
        timings.append(rp.DayTiming(day, time.perf_counter() - started, forecasts))
        _print(f"  {day}: {forecasts} forecast(s), champion {champion_after}, {timings[-1].seconds:.1f} s")
    # Closing: the results through the last game land, so the outcomes and Elo of every game are known.
    closing = last + dt.timedelta(days=1)
    land(landing, log_name, rp.gamelog_cut(raw, closing).to_csv(index=False).encode())
    land(landing, schedule_name, rp.schedule_as_of(schedule, closing).to_csv(index=False).encode())
    plan = plan_landing_runs(instance, landing, {}, names={log_name, schedule_name}, rerun_handled=True)
    outcome = run_job("daily_tables", [season], instance, tags={"nba/trigger": "replay-close", **plan.handled_tags()})
    if not outcome.success:
        return failed(outcome, instance, closing)
    forecast_log, _ = read_forecast_log(resources["serving_db"])
    write_csv_atomic(forecast_log, Path(args.out))
    summary = summarise(forecast_log, log, schedule, first, last, step, season, timings, events, resources)
    for line in summary.lines():
        _print(line)
    _print(f"wrote {len(forecast_log)} forecasts to {args.out}; replay home: {home}")
    return 1 if summary.missing else 0


def settle(ticker: SensorTicker, instance, day: dt.date, window: int, events: list[str]) -> int | None:
    """Tick the sensors, launch what they request, again until they request nothing (at most 5
    rounds); after a retrain, the promotion's automation condition with D as its clock. Returns the
    forecasts made (None: a run failed)."""
    forecasts, retrained = 0, False
    for _ in range(5):
        requests = ticker.tick()
        if not requests:
            break
        for job_name, request in requests:
            run = launch(job_name, request, instance, day, window)
            if not run.success:
                failed(run, instance, day)
                return None
            if job_name == "daily_forecast":
                forecasts += forecast_count(instance, run.run_id)
            if job_name == "retrain_game_model":
                retrained = True
                events.append(
                    f"{day}: retrain ({request.tags.get('nba/retrain_reason', '?')}): "
                    f"{request.tags.get('nba/retrain_detail', '')}"
                )
    if retrained and ticker.promotion_requested(day):
        result = ticker.run_promotion(day)
        if not result.success:
            _print(f"{day}: the promotion run {result.run_id} failed")
            return None
    return forecasts


def summarise(forecast_log, log, schedule, first, last, step, season, timings, events, resources) -> rp.ReplaySummary:
    from nba_platform.cli.runs import SEASON_PARTITIONS, get_instance

    in_range = forecast_log[
        pd.to_datetime(forecast_log["game_date"]).dt.date.between(first, last)
        & forecast_log["game_id"].isin(rp.regular_season_games(schedule)["game_id"])
    ]
    pregame = rp.latest_pregame(in_range)
    seasons = get_instance().get_dynamic_partitions(SEASON_PARTITIONS)
    elo = elo_of_games(resources["io_manager"], list(seasons))
    score = rp.score_pregame(pregame, rp.home_wins(log), elo)
    missing = rp.missing_pregame(schedule, pregame, first, last)
    return rp.ReplaySummary(season, step, first, last, score, timings, events, missing)


def forecast_count(instance, run_id: str) -> int:
    import dagster as dg

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(["serving", "game_forecasts"])), limit=5
    ).records
    for record in records:
        if record.run_id == run_id:
            value = record.asset_materialization.metadata.get("forecasts")
            return int(value.value) if value is not None else 0
    return 0


def promotion_reason(resources) -> str:
    from nba_platform.resources.model_registry import champion_history

    history = champion_history(resources["mlflow"])
    return history[-1]["reason"] if history else "?"


def failed(outcome, instance, day) -> int:
    from nba_platform.cli.app import report

    _print(f"replay stopped on {day}: run {outcome.run_id} of {outcome.job_name} failed")
    report(outcome, instance)
    return 1


def add_parser(sub) -> None:
    r = sub.add_parser(
        "replay",
        help="replay a completed season day by day",
        description="Replays a completed season through the daily cycle in its own home: for each forecast day D "
        "the results before D and the schedule are landed, daily_tables and daily_forecast run (serving/"
        "game_forecasts partition D), and the drift, retraining and promotion sensors are evaluated with D as "
        "their clock. Writes the forecast log and prints Brier, log loss and accuracy of the latest pre-game "
        "forecasts against a 538-style Elo on the same games, per-day timings, retrains and promotions.",
    )
    r.add_argument("--gamelog", required=True, help="the season's LeagueGameLog (team) export: CSV/JSON/Parquet")
    r.add_argument("--season", required=True, help="e.g. 2023-24")
    r.add_argument("--schedule", help="plain schedule file (game_id, game_date, home_team_id, away_team_id[, neutral])")
    r.add_argument("--step", default="1d", choices=sorted(rp.STEPS), help="days between forecast days (default 1d)")
    r.add_argument("--from", dest="date_from", help="first game date replayed (default: the season's first)")
    r.add_argument("--to", dest="date_to", help="last game date replayed (default: the regular season's last)")
    r.add_argument("--home", help="replay home (default: a new temporary folder); never the live home")
    r.add_argument("--history-home", help="a built home to start from: copied into the replay home, never modified")
    r.add_argument(
        "--out", required=True, help="forecast log CSV: " + ", ".join(rp.FORECAST_LOG_COLUMNS) + " (one row a forecast)"
    )
    r.set_defaults(fn=cmd_replay)
