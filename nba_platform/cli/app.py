"""`nba-platform`: the command line for what is quicker outside the UI.

nba-platform build              every asset, every season found in the landing zone
nba-platform ingest PATH...     land file(s) and build the season partitions they touch
nba-platform predict-season --gamelog FILE --season 2024-25 --out predictions.csv
nba-platform seasons            the season partitions the instance knows
nba-platform correct --entity team_game --key game_id=..,team_id=.. --field pts --value 112 ...
nba-platform backup             one verified backup now (serving + Dagster databases, lake manifest)
nba-platform restore --date YYYY-MM-DD --target-db URL   restore a backup into a new database
nba-platform doctor             PASS/FAIL per configured service (databases, stores, secrets, MLflow)
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from nba_platform.observability.cli import add_parser as add_metrics_parser


def _print(msg: str) -> None:
    print(msg, flush=True)


# Tag that lets the progress thread find the run this invocation launches.
INVOCATION_TAG = "nba/cli_invocation"


@contextmanager
def step_progress(instance, tags: dict, interval: float = 1.0):
    """One line per step started, finished or failed while a run executes in this process. A thread
    reads the run's step events back from the instance (found by its invocation tag), so the lines
    are the same whatever the Dagster log level."""
    import dagster as dg

    stop = threading.Event()
    t0 = time.perf_counter()
    wanted = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}

    def poll() -> None:
        run_id, cursor = None, None
        while True:
            stopping = stop.wait(interval)
            if run_id is None:
                found = instance.get_run_records(dg.RunsFilter(tags={INVOCATION_TAG: tags[INVOCATION_TAG]}), limit=1)
                run_id = found[0].dagster_run.run_id if found else None
            if run_id is not None:
                page = instance.get_records_for_run(run_id, cursor=cursor, of_type=wanted)
                cursor = page.cursor
                for record in page.records:
                    event = record.event_log_entry.dagster_event
                    at = f"  [{time.perf_counter() - t0:6.1f}s]"
                    if event.event_type == dg.DagsterEventType.STEP_START:
                        _print(f"{at} started  {event.step_key}")
                    elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                        _print(f"{at} finished {event.step_key} ({event.event_specific_data.duration_ms / 1000:.1f}s)")
                    else:
                        _print(f"{at} FAILED   {event.step_key}")
            if stopping:
                return

    thread = threading.Thread(target=poll, name="nba-step-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def cmd_build(args) -> int:
    from nba_platform.cli.runs import get_instance, register_seasons, run_job
    from nba_platform.defs.ingestion.sensors import is_corrections_file
    from nba_platform.lib.landing import LandingError
    from nba_platform.resources.environment import build_resources

    instance = get_instance()
    landing = build_resources()["landing"]
    seasons: set[str] = set()
    _print("scanning the landing zone ...")
    for f in landing.list_files():
        try:
            data = landing.read_bytes(f.name)
            if is_corrections_file(landing, f.name, data):
                _print(f"  {f.name}: corrections (applied in the validated tables)")
                continue
            shape, by_season = landing.read_rows(f.name, data)
        except LandingError as exc:  # a bad file dropped in by hand: the raw assets skip it too
            _print(f"  skipped (unreadable): {exc}")
            continue
        landing.record_index(f, shape.name, by_season)  # each raw asset then reads only its own files
        seasons |= set(by_season)
        _print(f"  {f.name}: {len(by_season)} season(s)")
    if args.season:
        seasons &= set(args.season)
    if not seasons:
        _print("no landed data: nothing to build")
        return 1
    added = register_seasons(instance, seasons)
    _print(f"{len(seasons)} season partition(s) ({len(added)} new): {min(seasons)} .. {max(seasons)}")
    t0 = time.perf_counter()
    _print("materializing every asset in one in-process run ...")
    tags = {"nba/trigger": "cli-build", INVOCATION_TAG: uuid.uuid4().hex}
    with step_progress(instance, tags):
        outcome = run_job("build_all", sorted(seasons), instance, tags=tags)
    _print(f"run {outcome.run_id}: {'SUCCESS' if outcome.success else 'FAILED'} in {time.perf_counter() - t0:.1f}s")
    _print(f"lake: {build_resources()['io_manager'].root}   Dagster home: {instance.root_directory}")
    return 0 if outcome.success else 1


def cmd_ingest(args) -> int:
    from nba_platform.cli.runs import get_instance, register_seasons
    from nba_platform.defs.ingestion.sensors import is_corrections_file
    from nba_platform.lib.corrections import correction_tokens, read_corrections, seasons_of_tokens
    from nba_platform.lib.landing import LandingError
    from nba_platform.resources.environment import build_resources

    landing = build_resources()["landing"]
    instance = get_instance()
    touched: set[str] = set()
    for path in args.paths:
        p = Path(path)
        if not p.is_file():
            _print(f"error: {path}: no such file")
            return 2
        data = p.read_bytes()
        try:
            if is_corrections_file(landing, p.name, data):
                # Corrections add no season: they rebuild the known seasons they touch.
                corrections = read_corrections(data, p.name)
                name = landing.accept(p.name, data, replace=args.replace)
                seasons = seasons_of_tokens(correction_tokens(corrections), instance.get_dynamic_partitions("season"))
                _print(
                    f"landed {name}: {len(corrections)} correction(s), known seasons touched: {', '.join(sorted(seasons)) or 'none'}"
                )
                touched |= seasons
                continue
            # Read everything before landing anything: a bad file never enters the zone.
            shape, by_season = landing.read_rows(p.name, data)
            name = landing.accept(p.name, data, replace=args.replace)
            landed = landing.landed_file(name)
            if landed is not None:  # indexed now: the raw assets skip it unread unless it is theirs
                landing.record_index(landed, shape.name, by_season)
        except LandingError as exc:
            _print(f"error: {exc}")
            return 2
        rows = sum(len(f) for f in by_season.values())
        _print(f"landed {name}: shape {shape.name}, {rows} rows, seasons {', '.join(sorted(by_season))}")
        touched |= set(by_season)
    added = register_seasons(instance, touched)
    if added:
        _print(f"new season partition(s): {', '.join(added)}")
    if args.no_run or not touched:
        return 0
    _print(f"building season partition(s) {', '.join(sorted(touched))} ...")
    return run_update(instance, sorted(touched), "cli-ingest", drift=not args.no_drift)


def run_update(instance, seasons: list[str], trigger: str, drift: bool = True) -> int:
    """The run new data needs (job_for_new_data), then, after a successful `season_update`, its drift
    report in a second run, as `drift_after_season_update` does when the daemon runs. The update run is
    tagged so that sensor leaves it to us (no second report)."""
    from nba_platform.cli.runs import run_job
    from nba_platform.defs.ingestion.jobs import job_for_new_data, season_drift_job, season_update_job
    from nba_platform.defs.monitoring.sensors import DRIFT_BY_TAG

    job = job_for_new_data(instance)
    tags = {"nba/trigger": trigger, INVOCATION_TAG: uuid.uuid4().hex, DRIFT_BY_TAG: "invoker" if drift else "none"}
    t0 = time.perf_counter()
    with step_progress(instance, tags):
        outcome = run_job(job, seasons, instance, tags=tags)
    _print(
        f"run {outcome.run_id}: {'SUCCESS' if outcome.success else 'FAILED'} in {time.perf_counter() - t0:.1f}s "
        f"(job {job}, covered {', '.join(outcome.seasons)})"
    )
    if not outcome.success or not drift or job != season_update_job.name:
        return 0 if outcome.success else 1
    _print(f"drift report of {', '.join(outcome.seasons)} against the champion ...")
    t0 = time.perf_counter()
    tags = {"nba/trigger": trigger, "nba/after_run": outcome.run_id, INVOCATION_TAG: uuid.uuid4().hex}
    with step_progress(instance, tags):
        drift_outcome = run_job(season_drift_job.name, outcome.seasons, instance, tags=tags)
    _print(
        f"run {drift_outcome.run_id}: {'SUCCESS' if drift_outcome.success else 'FAILED'} in {time.perf_counter() - t0:.1f}s (job {season_drift_job.name})"
    )
    return 0 if drift_outcome.success else 1


def cmd_correct(args) -> int:
    import datetime as dt

    from nba_platform.cli.runs import SEASON_PARTITIONS, get_instance
    from nba_platform.lib.corrections import CLI_FILE, append_correction, correction_tokens, seasons_of_tokens
    from nba_platform.lib.landing import LandingError
    from nba_platform.lib.storage import Store
    from nba_platform.resources.environment import build_resources

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
    if run_update(instance, seasons, "cli-correct") != 0:
        return 1
    _print(f"audit: corrections/{table} in the lake")
    io = build_resources()["io_manager"]
    lake = Store(io.root, io.endpoint_url, io.region)
    for season in seasons:
        audit = lake.read_table(f"corrections/{table}/{season}.parquet").to_pandas()
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
    from nba_platform.lib.landing import LandingError
    from nba_platform.lib.seasons import season_start_year
    from nba_platform.lib.storage import Store
    from nba_platform.resources.environment import build_resources

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
    outcome = run_job("predict_season", [args.season], instance, tags={"nba/trigger": "cli-predict-season"})
    if not outcome.success:
        _print(f"run {outcome.run_id}: FAILED; see the run in the Dagster UI")
        return 1
    preds = lake.read_table(f"serving/game_predictions/{args.season}.parquet").to_pandas()
    quarantined = lake.read_table(f"quarantine/team_games/{args.season}.parquet").num_rows
    conflicts = lake.read_table(f"quarantine/team_games_dedup/{args.season}.parquet").num_rows
    out = preds[["game_id", "game_date", "home_team_id", "away_team_id", "p_home_win", "model_version"]].copy()
    out["game_date"] = pd.to_datetime(out["game_date"]).dt.strftime("%Y-%m-%d")
    out.to_csv(args.out, index=False, float_format="%.6f")
    _print(
        f"run {outcome.run_id}: SUCCESS; wrote {len(out)} predictions to {args.out} (model {out['model_version'].iloc[0] if len(out) else '-'})"
    )
    if quarantined or conflicts:
        _print(
            f"note: {quarantined} row(s) failed validation and {conflicts} were set aside at dedup for {args.season}: "
            "see quarantine/team_games and quarantine/team_games_dedup"
        )
    return 0


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
    from nba_platform.resources.environment import build_resources
    from nba_platform.resources.model_registry import rollback

    mlflow = build_resources()["mlflow"]
    try:
        replaced, restored = rollback(mlflow, to_version=args.to_version)
    except RuntimeError as exc:
        _print(f"error: {exc}")
        return 1
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
        help="CSV to write: game_id, game_date, home_team_id, away_team_id, p_home_win, model_version",
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
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
