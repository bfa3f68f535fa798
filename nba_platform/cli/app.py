"""`nba-platform`: the command line for what is quicker outside the UI.

nba-platform build              every asset, every season found in the landing zone
nba-platform ingest PATH...     land file(s) and build the season partitions they touch
nba-platform predict-season --gamelog FILE --season 2024-25 --out predictions.csv
nba-platform replay --gamelog FILE --season 2023-24 --out forecasts.csv   a season replayed day by day
nba-platform seasons            the season partitions the instance knows
nba-platform correct --entity team_game --key game_id=..,team_id=.. --field pts --value 112 ...
nba-platform backup             one verified backup now (serving + Dagster databases, lake manifest)
nba-platform restore --date YYYY-MM-DD --target-db URL   restore a backup into a new database
nba-platform rollback-champion  restore the previous champion game model
nba-platform doctor             PASS/FAIL per configured service (databases, stores, secrets, MLflow)
nba-platform migrate-lake       move an old-layout lake to season=<season>/ folders (once)

nba-platform --version | --verbose COMMAND (Dagster's raw event stream instead of the progress display)

Runs are planned with the automation's own functions (defs/ingestion/sensors.plan_landing_runs,
defs/monitoring/sensors.drift_request_for) and launched in-process (cli/runs.run_job).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nba_platform.api import commands as forecast_api_commands
from nba_platform.cli import migrate_lake
from nba_platform.cli import replay as replay_cli
from nba_platform.observability.cli import add_parser as add_metrics_parser


def _print(msg: str) -> None:
    print(msg, flush=True)


def report(outcome, instance) -> None:
    """The run's summary, then where to look: the lake, the Dagster home, the run in the UI."""
    from nba_platform.resources.environment import build_resources

    for line in outcome.summary:
        _print(line)
    _print(f"  lake: {build_resources()['io_manager'].root}   Dagster home: {instance.root_directory}")
    _print(f"  UI: `dg dev`, then http://localhost:3000/runs/{outcome.run_id} (full event log)")


def cmd_build(args) -> int:
    from nba_platform.cli.runs import get_instance, register_seasons, run_job
    from nba_platform.defs.ingestion.sensors import plan_landing_runs
    from nba_platform.resources.environment import build_resources

    instance = get_instance()
    landing = build_resources()["landing"]
    _print("scanning the landing zone ...")
    # The landing sensor's own planning over the whole zone (sample included): the run then carries
    # a handled tag per file, so the sensor does not rebuild what this build covered.
    plan = plan_landing_runs(instance, landing, {}, include_sample=None, rerun_handled=True)
    for name in sorted(plan.entries):
        if name in plan.data_files:
            _print(f"  {name}: {len(plan.data_files[name])} season(s)")
        else:
            _print(f"  {name}: corrections (applied in the validated tables)")
    for rejected in plan.rejected:  # a bad file dropped in by hand: the raw assets skip it too
        _print(f"  skipped (unreadable): {rejected}")
    seasons: set[str] = set().union(*plan.data_files.values()) if plan.data_files else set()
    if args.season:
        seasons &= set(args.season)
    if not seasons:
        _print("no landed data: nothing to build")
        return 1
    added = register_seasons(instance, seasons)
    _print(f"{len(seasons)} season partition(s) ({len(added)} new): {min(seasons)} .. {max(seasons)}")
    _print("materializing every asset in one in-process run ...")
    tags = {"nba/trigger": "cli-build", **plan.handled_tags(seasons)}
    outcome = run_job("build_all", sorted(seasons), instance, tags=tags)
    report(outcome, instance)
    return 0 if outcome.success else 1


def cmd_ingest(args) -> int:
    from nba_platform.cli.runs import get_instance, register_seasons
    from nba_platform.defs.ingestion.sensors import is_corrections_file, plan_landing_runs
    from nba_platform.lib.corrections import read_corrections
    from nba_platform.lib.landing import LandingError
    from nba_platform.resources.environment import build_resources

    landing = build_resources()["landing"]
    instance = get_instance()
    landed: list[str] = []
    correction_counts: dict[str, int] = {}
    for path in args.paths:
        p = Path(path)
        if not p.is_file():
            _print(f"error: {path}: no such file")
            return 2
        data = p.read_bytes()
        try:
            if is_corrections_file(landing, p.name, data):
                corrections = read_corrections(data, p.name)  # a bad corrections file never enters the zone
                name = landing.accept(p.name, data, replace=args.replace)
                correction_counts[name] = len(corrections)  # printed with the seasons they touch, below
                landed.append(name)
                continue
            name, shape_name, rows, seasons = land_data_file(landing, p.name, data, args.replace)
        except LandingError as exc:
            _print(f"error: {exc}")
            return 2
        del data  # the builds below must not carry the file's bytes
        _print(f"landed {name}: shape {shape_name}, {rows} rows, seasons {', '.join(seasons)}")
        landed.append(name)
    # The landing sensor's planning, on the files just landed: same seasons, same job.
    plan = plan_landing_runs(instance, landing, {}, names=set(landed), rerun_handled=True)
    for name, count in correction_counts.items():
        entry = plan.entries.get(name, "")
        touched = plan.seasons_by_file.get(f"{name}@{entry.split('#')[0]}", set())
        _print(f"landed {name}: {count} correction(s), known seasons touched: {', '.join(sorted(touched)) or 'none'}")
    added = register_seasons(instance, plan.touched)
    if added:
        _print(f"new season partition(s): {', '.join(added)}")
    if args.no_run or not plan.touched:
        return 0  # the landing sensor builds them when the daemon runs
    _print(f"building season partition(s) {', '.join(plan.touched)} ...")
    return run_update(instance, plan.touched, "cli-ingest", drift=not args.no_drift, tags=plan.handled_tags())


def land_data_file(landing, file_name: str, data: bytes, replace: bool) -> tuple[str, str, int, list[str]]:
    """Read a data file whole (a bad file never enters the zone), land it, and index it with its
    season pieces, so neither the plan nor the builds parse it again -> (name, shape, rows, seasons).
    Its frames end with this call: the builds that follow start without them."""
    rows = landing.read_file(file_name, data)
    name = landing.accept(file_name, data, replace=replace)
    file = landing.landed_file(name)
    if file is not None:
        landing.record_pieces(file, rows)
        landing.record_index(file, rows.shape.name, rows.by_season)
    return name, rows.shape.name, sum(len(f) for f in rows.by_season.values()), sorted(rows.by_season)


def run_update(instance, seasons: list[str], trigger: str, drift: bool = True, tags: dict | None = None) -> int:
    """The run new data needs (job_for_new_data, as the landing sensor picks), then what
    `drift_after_season_update` requests after it (drift_request_for, the sensor's own function),
    run here right away; the sensor then finds that report in the instance and requests none. Many
    seasons run as consecutive runs of at most MAX_SEASONS_PER_RUN (memory), each followed by its
    drift report; every run carries the handled-file tags, as one run did."""
    from nba_platform.cli.runs import season_chunks
    from nba_platform.resources.lake import release_read_cache

    drifted = False
    for chunk in season_chunks(instance, seasons):
        release_read_cache()  # the tables of the last run's seasons are not read by this one
        code, reported = update_and_drift(instance, chunk, trigger, drift, tags)
        if code != 0:
            return code
        drifted = drifted or reported
    # after an update the model serves (a drift report was made): the champion must be current
    return ensure_current_champion(instance, None, trigger) if drifted else 0


def update_and_drift(instance, seasons: list[str], trigger: str, drift: bool, tags: dict | None) -> tuple[int, bool]:
    """One update run and its drift report -> (exit code, whether a report was made)."""
    from nba_platform.cli.runs import run_job
    from nba_platform.defs.monitoring.sensors import DRIFT_BY_TAG, drift_request_for
    from nba_platform.defs.pipelines.jobs import job_for_new_data

    job = job_for_new_data(instance)
    tags = {"nba/trigger": trigger, **(tags or {}), **({} if drift else {DRIFT_BY_TAG: "none"})}
    outcome = run_job(job, seasons, instance, tags=tags)
    report(outcome, instance)
    if not outcome.success:
        return 1, False
    request = drift_request_for(instance.get_run_by_id(outcome.run_id), instance) if job == "season_update" else None
    if request is None:
        return 0, False
    _print(f"drift report of {', '.join(outcome.seasons)} against the champion ...")
    drift_tags = {k: v for k, v in request.tags.items() if not k.startswith("dagster/")}
    drift_outcome = run_job(request.job_name, outcome.seasons, instance, tags={**drift_tags, "nba/trigger": trigger})
    report(drift_outcome, instance)
    return (0, True) if drift_outcome.success else (1, True)


def ensure_current_champion(instance, target_season: str | None, trigger: str) -> int:
    """The retraining sensor's stale-champion rule (defs/models/sensors.stale_champion_cause), run
    here right away: when the champion missed the last completed season before `target_season`
    (default: the next season), the sensor's own request (retrain_request: refit on every completed
    season, then the promotion check) runs in-process. The sensor then finds a current champion."""
    from nba_platform.cli.runs import run_job
    from nba_platform.defs.models.sensors import retrain_request, stale_champion_cause

    cause = stale_champion_cause(instance, target_season)
    if cause is None:
        return 0
    _print(f"{cause['detail']}: refitting the game model on every completed season ...")
    request = retrain_request([cause])
    outcome = run_job(request.job_name, [], instance, tags={**request.tags, "nba/trigger": trigger})
    report(outcome, instance)
    return 0 if outcome.success else 1


def cmd_correct(args) -> int:
    import datetime as dt

    from nba_platform.cli.runs import SEASON_PARTITIONS, get_instance
    from nba_platform.defs.ingestion.sensors import handled_tag, plan_landing_runs
    from nba_platform.lib.corrections import CLI_FILE, append_correction, correction_tokens, seasons_of_tokens
    from nba_platform.lib.landing import LandingError
    from nba_platform.lib.storage import Store
    from nba_platform.resources.environment import build_resources
    from nba_platform.resources.lake import read_lake_frame

    landing = build_resources()["landing"]
    store = Store(landing.uri, landing.endpoint_url, landing.region)
    recorded_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    try:
        # Read, append, validate, then one atomic write of the whole file (temp + rename / one S3 put).
        existing = store.read_bytes(CLI_FILE) if store.exists(CLI_FILE) else None
        data, c = append_correction(
            existing, CLI_FILE, args.entity, args.key, args.field, args.value, args.reason, args.by, recorded_at
        )
    except (LandingError, ValueError) as exc:
        _print(f"error: {exc}")
        return 2
    store.write_bytes(CLI_FILE, data)
    _print(
        f"recorded {c.entity} {c.key_text}: {c.field} = {c.value_text or 'null'} (by {c.author}, {c.recorded_at}) "
        f"in {landing.uri.rstrip('/')}/{CLI_FILE}, row {c.row}"
    )
    instance = get_instance()
    known = instance.get_dynamic_partitions(SEASON_PARTITIONS)
    seasons = sorted(seasons_of_tokens(correction_tokens([c]), known))
    if not seasons:
        _print(f"season {c.season} is not ingested yet: the correction applies when it is")
        return 0
    if not args.run:
        _print(
            f"applies at the next build of {', '.join(seasons)} (the landing sensor requests one; or rerun with --run)"
        )
        return 0
    _print(f"building season partition(s) {', '.join(seasons)} ...")
    table = {"team_game": "team_games", "player_game": "player_games", "player": "player_seasons"}[c.entity]
    # The landing sensor's reading of the corrections file, so its run marks this version handled.
    plan = plan_landing_runs(instance, landing, {}, names={CLI_FILE}, rerun_handled=True)
    handled = dict([handled_tag(CLI_FILE, plan.entries[CLI_FILE])]) if CLI_FILE in plan.entries else {}
    if run_update(instance, seasons, "cli-correct", tags=handled) != 0:
        return 1
    _print(f"audit: corrections/{table} in the lake")
    io = build_resources()["io_manager"]
    lake = Store(io.root, io.endpoint_url, io.region)
    for season in seasons:
        audit = read_lake_frame(lake, ["corrections", table], season)
        mine = audit[(audit["correction_file"] == CLI_FILE) & (audit["correction_row"] == c.row)]
        for r in mine.itertuples():
            _print(
                f"  {r.row_key} {r.field}: {r.old_value or 'null'} -> {r.new_value or 'null'} ({r.source}): {r.outcome}"
            )
        if mine.empty:
            _print(f"  {season}: the key matched no row (see unmatched_corrections in the run's metadata)")
    return 0


def cmd_predict_season(args) -> int:
    import pandas as pd

    from nba_platform.cli.runs import get_instance, register_seasons, run_job
    from nba_platform.lib.csv_safety import neutralise_frame
    from nba_platform.lib.landing import LandingError
    from nba_platform.lib.seasons import season_start_year
    from nba_platform.lib.storage import Store
    from nba_platform.lib.venue import with_venue
    from nba_platform.resources.environment import build_resources
    from nba_platform.resources.lake import read_lake_frame

    try:
        season_start_year(args.season)
    except ValueError as exc:
        _print(f"error: {exc}")
        return 2
    resources = build_resources()
    landing, lake = (
        resources["landing"],
        Store(resources["io_manager"].root, resources["io_manager"].endpoint_url, resources["io_manager"].region),
    )
    if not lake.exists("models/game_outcome_model.parquet"):
        _print("error: no trained model in the lake yet: run `nba-platform build` first")
        return 2
    path = Path(args.gamelog)
    if not path.is_file():
        _print(f"error: {path}: no such file")
        return 2
    data = path.read_bytes()
    try:
        shape, by_season = landing.read_rows(path.name, data)
        if shape.entity != "team_game":
            raise LandingError(
                f"{path.name}: a {shape.name} file holds {shape.entity} rows; predict-season needs a team game log"
            )
        if set(by_season) != {args.season}:
            raise LandingError(
                f"{path.name}: holds seasons {sorted(by_season)}, not only {args.season} (rule: season_matches)"
            )
        name = landing.accept(path.name, data, replace=args.replace)
    except LandingError as exc:
        _print(f"error: {exc}")
        return 2
    instance = get_instance()
    register_seasons(instance, [args.season])
    _print(
        f"landed {name}: {shape.name}, {len(by_season[args.season])} rows; building {args.season} tables, features, predictions ..."
    )
    # Never predict a season with a champion that missed the last completed season before it.
    if ensure_current_champion(instance, args.season, "cli-predict-season") != 0:
        return 1
    outcome = run_job("predict_season", [args.season], instance, tags={"nba/trigger": "cli-predict-season"})
    if not outcome.success:
        report(outcome, instance)
        return 1
    preds = read_lake_frame(lake, ["serving", "game_predictions"], args.season)
    quarantined = len(read_lake_frame(lake, ["quarantine", "team_games"], args.season))
    conflicts = len(read_lake_frame(lake, ["quarantine", "team_games_dedup"], args.season))
    out = preds[["game_id", "game_date", "home_team_id", "away_team_id", "p_home_win", "model_version"]].copy()
    out["model_version"] = preds["model_name"] + "/v" + preds["model_version"].astype(str)  # the registry label
    # neutral sites: p_home_win is the first-listed team's probability, and the file says so
    out = with_venue(out, read_lake_frame(lake, ["tables", "team_games"], args.season))
    out["game_date"] = pd.to_datetime(out["game_date"]).dt.strftime("%Y-%m-%d")
    neutralise_frame(out).to_csv(args.out, index=False, float_format="%.6f")  # no cell read as a formula
    _print(
        f"run {outcome.run_id}: SUCCESS; wrote {len(out)} predictions to {args.out} (model {out['model_version'].iloc[0] if len(out) else '-'})"
    )
    if quarantined or conflicts:
        _print(
            f"note: {quarantined} row(s) failed validation and {conflicts} were set aside at dedup for {args.season}: "
            "see quarantine/team_games and quarantine/team_games_dedup"
        )
    return 0


def cmd_forecast(args) -> int:
    """The job the daily cycle runs after the ingest (`forecast_after_daily_ingest`), for one day."""
    import datetime as dt

    from nba_platform.cli.runs import get_instance, run_partition_job
    from nba_platform.defs.serving.forecasts import FORECAST_START_DATE
    from nba_platform.defs.serving.jobs import daily_forecast_job

    day = args.day or dt.datetime.now(dt.UTC).date().isoformat()
    try:
        parsed = dt.date.fromisoformat(day)
    except ValueError:
        _print(f"error: --day wants a date YYYY-MM-DD, got {day!r}")
        return 2
    if parsed < dt.date.fromisoformat(FORECAST_START_DATE) or parsed > dt.datetime.now(dt.UTC).date():
        _print(f"error: --day {day} is outside the forecast days ({FORECAST_START_DATE} .. today, UTC)")
        return 2
    instance = get_instance()
    if not instance.get_dynamic_partitions("season"):
        _print("error: no season built yet: land results and a schedule, then `nba-platform build` first")
        return 2
    _print(
        f"forecast day {day}: features, forecasts of games dated {day} + {args.window_days - 1} days, live skill ..."
    )
    run_config = {"ops": {"serving__game_forecasts": {"config": {"window_days": args.window_days}}}}
    outcome = run_partition_job(
        daily_forecast_job.name, day, instance, tags={"nba/trigger": "cli-forecast"}, run_config=run_config
    )
    report(outcome, instance)
    return 0 if outcome.success else 1


def cmd_seasons(args) -> int:
    from nba_platform.cli.runs import SEASON_PARTITIONS, get_instance

    for s in get_instance().get_dynamic_partitions(SEASON_PARTITIONS):
        print(s)
    return 0


def cmd_backup(args) -> int:
    from nba_platform.cli.runs import get_instance
    from nba_platform.defs.ops.backups import run_backup_now

    _print(
        "backing up the serving and Dagster databases and the lake manifest; every dump is restored into a scratch database and compared ..."
    )
    ok, run_id, meta, error = run_backup_now(get_instance(), tags={"nba/trigger": "cli-backup"})
    if not ok or meta is None:
        _print(f"run {run_id}: FAILED: {error or 'see the run in the Dagster UI'}")
        return 1
    for url, size in sorted(meta["bytes_written"].items()):
        _print(f"  {url}  {size} bytes")
    rows = ", ".join(f"{db} {v['tables']} tables / {v['rows']} rows" for db, v in meta["rows_verified"].items())
    _print(
        f"run {run_id}: SUCCESS; backup {meta['backup_date']} verified ({rows}); lake {meta['lake_objects']} objects; "
        f"retention deleted {', '.join(meta['retention_deleted']) or 'nothing'}"
    )
    return 0


def cmd_restore(args) -> int:
    import datetime as dt

    from nba_platform.operations.backups import BackupError, restore_backup
    from nba_platform.resources.environment import build_resources
    from nba_platform.resources.secrets import SecretNotFound

    try:
        day = dt.date.fromisoformat(args.date)
    except ValueError:
        _print(f"error: --date must be YYYY-MM-DD, got {args.date!r}")
        return 2
    resources = build_resources()
    backups = resources["backups"]
    try:
        password = resources["secrets"].get(args.password_key) if args.password_key else None
        result = restore_backup(backups.store(), day, args.target_db, database=args.database, password=password)
    except (BackupError, SecretNotFound) as exc:
        _print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}")
        return 1
    rows = sum(s.rows for s in result.stats.values())
    _print(
        f"restored {result.url} (sha256 ok) into the target: {len(result.stats)} tables, {rows} rows, "
        "row counts and row digests equal to the backup's manifest"
    )
    return 0


def cmd_rollback_champion(args) -> int:
    from nba_platform.lib.secret_scrubbing import redact
    from nba_platform.resources.environment import build_resources
    from nba_platform.resources.model_registry import publish_champion, rollback

    resources = build_resources()
    mlflow = resources["mlflow"]
    try:
        replaced, restored = rollback(mlflow, to_version=args.to_version)
    except RuntimeError as exc:
        _print(f"error: {exc}")
        return 1
    except Exception as exc:  # MLflow down or unreachable (MlflowException, connection errors): no traceback
        _print(f"error: the model registry (MLflow) is unavailable: {type(exc).__name__}: {redact(str(exc))[:300]}")
        return 1
    publish_champion(mlflow, resources["serving_db"])
    _print(
        f"champion of {restored.name}: v{replaced.version} -> v{restored.version} "
        f"(trained {restored.tags.get('train_first_season', '?')}..{restored.tags.get('train_last_season', '?')})"
    )
    return 0


def cmd_doctor(args) -> int:
    import warnings

    import dagster as dg

    from nba_platform.operations.doctor import prepare, run_checks
    from nba_platform.resources.environment import build_resources
    from nba_platform.settings import load_settings

    for category in (dg.BetaWarning, dg.PreviewWarning):  # API-maturity notes are noise in a health report
        warnings.filterwarnings("ignore", category=category)
    settings = load_settings()
    _print(f"nba-platform doctor: {settings.env} environment, {args.timeout:g} s per check")
    prepare(settings, args.timeout)
    results = run_checks(settings, build_resources(settings), timeout=args.timeout)
    for result in results:
        _print(result.line())
    failed = [r.name for r in results if not r.ok]
    _print(
        f"{len(results) - len(failed)} of {len(results)} checks passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nba_platform")
    except PackageNotFoundError:  # a checkout run without installing it
        return "unknown (not installed)"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps each command's help on one line: argparse sizes the help column without the extra
    indent of subcommands, so a long name (predict-season) would push its help to the next line."""

    def add_argument(self, action):
        super().add_argument(action)
        if action.nargs == argparse.PARSER:
            widest = max(len(name) for name in action.choices) + 2 * self._indent_increment
            self._action_max_length = max(self._action_max_length, widest)


EXAMPLES = """examples:
  nba-platform build                 every season found in the landing zone
  nba-platform ingest gamelog.csv    land a file, build the seasons it holds
  nba-platform predict-season --gamelog log.csv --season 2024-25 --out preds.csv
  nba-platform correct --entity team_game --field pts --value 127
      --key game_id=0022200001,team_id=1610612738
      --reason "official box score says 127" --by "A. Engineer"
  nba-platform restore --date 2024-06-01 --target-db sqlite:///restored.db

Run `nba-platform COMMAND --help` for a command's options."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nba-platform",
        description="NBA data platform (Dagster) command line: what is quicker outside the UI.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="Dagster's raw event stream (DEBUG lines) instead of the progress display",
    )
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    b = sub.add_parser("build", help="materialize every asset for every landed season")
    b.add_argument("--season", action="append", help="limit to this season (repeatable)")
    b.set_defaults(fn=cmd_build)
    i = sub.add_parser(
        "ingest",
        help="land file(s) and build the seasons they touch",
        description="Land file(s) (CSV, JSON, Parquet, tar.gz of CSVs) and build the season partitions they touch.",
    )
    i.add_argument("paths", nargs="+")
    i.add_argument("--replace", action="store_true", help="replace a landed file of the same name")
    i.add_argument("--no-run", action="store_true", help="land and register partitions only")
    i.add_argument("--no-drift", action="store_true", help="skip the drift report that follows the update run")
    i.set_defaults(fn=cmd_ingest)
    p = sub.add_parser(
        "predict-season",
        help="walk-forward predictions for one season's game log",
        description="Land a LeagueGameLog export for one season and write walk-forward predictions to a CSV.",
    )
    p.add_argument(
        "--gamelog", required=True, help="nba_api LeagueGameLog (team) export: CSV/JSON/Parquet, any header case"
    )
    p.add_argument("--season", required=True, help="e.g. 2024-25")
    p.add_argument(
        "--out",
        required=True,
        help="CSV to write: game_id, game_date, home_team_id, away_team_id, p_home_win, model_version, neutral, "
        "p_home_win_is (the home team, or at a neutral site the first-listed team)",
    )
    p.add_argument("--replace", action="store_true", help="replace a landed file of the same name")
    p.set_defaults(fn=cmd_predict_season)
    c = sub.add_parser(
        "correct",
        help="record a correction to a wrong source value",
        description="Record a correction (appended to corrections/corrections.csv in the landing zone). "
        "It is applied by natural key in the validated tables at every build of its season.",
    )
    c.add_argument("--entity", required=True, choices=("team_game", "player_game", "player"))
    c.add_argument(
        "--key",
        required=True,
        help="natural key: game_id=..,team_id=.. | game_id=..,player_id=.. | player_id=..[,season=..][,team_id=..]",
    )
    c.add_argument("--field", required=True, help="canonical column to correct, e.g. pts, minutes, birth_date")
    c.add_argument("--value", required=True, help="the right value ('' = null)")
    c.add_argument("--reason", required=True, help="why the source is wrong")
    c.add_argument("--by", required=True, help="who records it (kept as given)")
    c.add_argument("--run", action="store_true", help="build the season it touches now (else the landing sensor does)")
    c.set_defaults(fn=cmd_correct)
    fc = sub.add_parser(
        "forecast",
        help="forecast a day's scheduled games, then live skill",
        description="Runs daily_forecast for one forecast day: features, forecasts of every scheduled game dated "
        "DAY .. DAY+window-1 by the champion (as of DAY 00:00 UTC, from results before DAY), appended to the serving "
        "database's game_forecasts, then live skill.",
    )
    fc.add_argument("--day", help="forecast day YYYY-MM-DD (default: today, UTC)")
    fc.add_argument("--window-days", type=int, default=7, help="days of games forecast from DAY on (default 7)")
    fc.set_defaults(fn=cmd_forecast)
    s = sub.add_parser("seasons", help="list the season partitions the instance knows")
    s.set_defaults(fn=cmd_seasons)
    add_metrics_parser(sub)
    bk = sub.add_parser(
        "backup",
        help="one verified backup of the databases and lake now",
        description="One verified backup now: what the daily_database_backup schedule runs.",
    )
    bk.set_defaults(fn=cmd_backup)
    r = sub.add_parser(
        "restore",
        help="restore a dated backup into a new, empty database",
        description="Restore a dated backup into a new (or empty) database; verifies checksum and row counts.",
    )
    r.add_argument(
        "--date", required=True, help="backup date, YYYY-MM-DD (a daily/<date>/ prefix under NBA_BACKUP_URI)"
    )
    r.add_argument(
        "--target-db",
        required=True,
        help="postgresql://user@host:port/db (created if missing, must hold no tables; "
        "password from PGPASSWORD/.pgpass or --password-key) or sqlite:///path for embedded backups",
    )
    r.add_argument(
        "--database",
        choices=("serving", "dagster"),
        default="serving",
        help="which database of the backup (default: serving)",
    )
    r.add_argument(
        "--password-key", help="read the target's password from the secrets resource under this key (e.g. rds_password)"
    )
    r.set_defaults(fn=cmd_restore)
    rb = sub.add_parser(
        "rollback-champion",
        help="restore the previous champion game model",
        description="Restore the previous champion of the game model (or --to-version N, an earlier champion).",
    )
    rb.add_argument("--to-version", help="an earlier champion's version (default: the one before the current)")
    rb.set_defaults(fn=cmd_rollback_champion)
    dr = sub.add_parser(
        "doctor",
        help="check the databases, stores, secrets and MLflow",
        description="One PASS/FAIL line per configured service: serving database, lake and landing stores, "
        "secrets, MLflow tracking store, Dagster instance storage. Exits 1 if any check fails.",
    )
    dr.add_argument("--timeout", type=float, default=15.0, help="seconds each check may take (default: 15)")
    dr.set_defaults(fn=cmd_doctor)
    replay_cli.add_parser(sub)
    migrate_lake.add_parser(sub)
    forecast_api_commands.add_parser(sub)
    args = parser.parse_args(argv)
    from nba_platform.cli.runs import VERBOSE

    VERBOSE["on"] = args.verbose
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
