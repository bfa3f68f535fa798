"""The landing sensor: new or changed files in the landing zone become season partitions
and runs of `season_tables` for every season they touch."""

import json

import dagster as dg

from nba_platform.defs.ingestion.jobs import job_for_new_data, season_tables_job, season_update_job
from nba_platform.defs.ingestion.partitions import season_partitions
from nba_platform.lib.corrections import correction_tokens, read_corrections, seasons_of_tokens
from nba_platform.lib.landing import CORRECTIONS, LandingError
from nba_platform.resources.landing import LandingZone


def is_corrections_file(landing: LandingZone, name: str, data: bytes) -> bool:
    """Header peek; an unreadable header is left to `read_rows`, whose full read names the precise problem."""
    try:
        return landing.shape_of(name, data).name == CORRECTIONS.name
    except LandingError:
        return False


@dg.sensor(
    name="landing_zone_sensor",
    jobs=[season_tables_job, season_update_job],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the landing zone (local dir or S3 prefix). A new or changed file is read, its shape "
    "detected and its rows split by season; unknown seasons become partitions and each touched season gets a "
    "`season_update` run (tables, features, champion predictions, shadow, publish; drift follows in `season_drift`; `season_tables` before "
    "any model exists). Unreadable files are reported once per version, never half-ingested. A corrections file "
    "adds no partition: it requests runs for the existing seasons whose corrections were added, changed or removed.",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
    # Cursor: landed file -> fingerprint (size:mtime) already handled, so one file version
    # triggers its runs exactly once. A corrections file's entry is 'fingerprint#token,token,...'
    # (one token per correction: its season and a digest), so an edit re-runs only what changed.
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    seasons_by_file: dict[str, set[str]] = {}
    rejected: list[str] = []
    existing = set(context.instance.get_dynamic_partitions(season_partitions.name))
    listed = landing.list_files(include_sample=False)
    for name in sorted(set(seen) - {f.name for f in listed}):
        if "#" in seen[name]:  # a removed corrections file: its seasons are rebuilt without it
            fingerprint, _, tokens = seen.pop(name).partition("#")
            seasons_by_file[f"{name}@{fingerprint}-removed"] = seasons_of_tokens(
                set(filter(None, tokens.split(","))), existing
            )
    for f in listed:
        before = seen.get(f.name, "")
        if before.split("#", 1)[0] == f.fingerprint:
            continue
        seen[f.name] = f.fingerprint
        try:
            data = landing.read_bytes(f.name)
            if is_corrections_file(landing, f.name, data):
                tokens = correction_tokens(read_corrections(data, f.name))
                old = set(filter(None, before.split("#", 1)[1].split(","))) if "#" in before else set()
                seen[f.name] = f"{f.fingerprint}#{','.join(sorted(tokens))}"
                seasons = seasons_of_tokens(tokens ^ old, existing)
                context.log.info(f"{f.name}: corrections, {len(tokens)} in all; seasons to rebuild {sorted(seasons)}")
                seasons_by_file[f"{f.name}@{f.fingerprint}"] = seasons
                continue
            shape, by_season = landing.read_rows(f.name, data)
        except LandingError as exc:
            rejected.append(str(exc))
            context.log.error(f"landing file rejected: {exc}")
            continue
        context.log.info(f"{f.name}: {shape.name}, seasons {sorted(by_season)}")
        landing.record_index(f, shape.name, by_season)  # the runs it requests then read only what they need
        seasons_by_file[f"{f.name}@{f.fingerprint}"] = set(by_season)

    touched = sorted(set().union(*seasons_by_file.values())) if seasons_by_file else []
    new = [s for s in touched if s not in existing]
    run_requests = []
    job_name = job_for_new_data(context.instance) if touched else None
    for season in touched:
        files = sorted(k for k, v in seasons_by_file.items() if season in v)
        run_requests.append(
            dg.RunRequest(
                run_key=f"{season}:{'|'.join(files)}",
                partition_key=season,
                job_name=job_name,
                tags={
                    "nba/trigger": "landing_sensor",
                    "nba/landed_files": ", ".join(k.split("@")[0] for k in files)[:250],
                },
            )
        )
    if not run_requests and not rejected:
        return dg.SensorResult(skip_reason="no new or changed files in the landing zone", cursor=json.dumps(seen))
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[season_partitions.build_add_request(new)] if new else [],
        cursor=json.dumps(seen, sort_keys=True),
        skip_reason=None if run_requests else f"rejected: {'; '.join(rejected)[:500]}",
    )
