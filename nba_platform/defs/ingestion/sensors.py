"""The landing sensor: new or changed files in the landing zone become season partitions
and runs of `season_update` (`season_tables` before a model exists) for every season they touch.

`plan_landing_runs` is the one place that decides what a landed file needs: the sensor calls it
on the whole zone, `nba-platform ingest` and `build` on the files they land or find. Every run
it plans carries one tag per file version it handles (`handled_tags`), so whoever evaluates the
zone next (the sensor, after the CLI built a file; or after its cursor was lost) finds that
version handled in the instance and requests nothing for it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import dagster as dg

from nba_platform.defs.ingestion.jobs import season_tables_job
from nba_platform.defs.ingestion.partitions import season_partitions
from nba_platform.defs.pipelines.jobs import job_for_new_data, season_update_job
from nba_platform.lib.corrections import correction_tokens, read_corrections, seasons_of_tokens
from nba_platform.lib.landing import CORRECTIONS, LandingError
from nba_platform.resources.landing import LandingZone

# Run tag marking a landed file version as handled by the run: key per file (digest of its name),
# value `name@entry` where entry is the cursor's entry for it (fingerprint, or fingerprint#tokens).
HANDLED_TAG_PREFIX = "nba/landed_file."


def is_corrections_file(landing: LandingZone, name: str, data: bytes) -> bool:
    """Header peek; an unreadable header is left to `read_rows`, whose full read names the precise problem."""
    try:
        return landing.shape_of(name, data).name == CORRECTIONS.name
    except LandingError:
        return False


def handled_tag(name: str, entry: str) -> tuple[str, str]:
    return HANDLED_TAG_PREFIX + hashlib.sha1(name.encode()).hexdigest()[:16], f"{name}@{entry}"


def handled_by_a_run(instance: dg.DagsterInstance, name: str, entry: str) -> bool:
    """A run in the instance (any trigger: this sensor, `ingest`, `build`) already handled this file version."""
    key, value = handled_tag(name, entry)
    return bool(instance.get_run_records(dg.RunsFilter(tags={key: value}), limit=1))


@dataclass
class LandingPlan:
    """What the landed files evaluated need: the seasons each file version touches, and the cursor after."""

    seen: dict[str, str]  # landed file -> entry handled (the sensor's cursor)
    seasons_by_file: dict[str, set[str]] = field(default_factory=dict)  # "name@fingerprint" -> seasons
    data_files: dict[str, set[str]] = field(default_factory=dict)  # data (not corrections) files -> seasons
    entries: dict[str, str] = field(default_factory=dict)  # file versions this plan handles: name -> entry
    already_handled: list[str] = field(default_factory=list)  # versions a run in the instance handled
    rejected: list[str] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)  # season partitions known before
    job_name: str | None = None

    @property
    def touched(self) -> list[str]:
        return sorted(set().union(*self.seasons_by_file.values())) if self.seasons_by_file else []

    @property
    def new_partitions(self) -> list[str]:
        return [s for s in self.touched if s not in self.existing]

    def handled_tags(self, seasons=None, whole_files_only: bool = True) -> dict[str, str]:
        """Tags for a run covering `seasons` (default: all touched): one per file version it handles.
        `whole_files_only`: a file counts only if the run covers all its seasons (a `build --season`);
        the sensor's per-season runs, requested together, each carry every file touching their season."""
        covered = set(self.touched if seasons is None else seasons)
        names = {
            key.split("@")[0]
            for key, touched in self.seasons_by_file.items()
            if (touched <= covered if whole_files_only else touched & covered or not touched)
        }
        return dict(handled_tag(name, self.entries[name]) for name in sorted(names) if name in self.entries)

    def files_for(self, season: str) -> list[str]:
        return sorted(k for k, v in self.seasons_by_file.items() if season in v)

    def run_requests(self, trigger: str) -> list[dg.RunRequest]:
        """One run per touched season (what the sensor requests); the CLI runs the same job over the range."""
        requests = []
        for season in self.touched:
            files = self.files_for(season)
            requests.append(
                dg.RunRequest(
                    run_key=f"{season}:{'|'.join(files)}",
                    partition_key=season,
                    job_name=self.job_name,
                    tags={
                        "nba/trigger": trigger,
                        "nba/landed_files": ", ".join(k.split("@")[0] for k in files)[:250],
                        **self.handled_tags([season], whole_files_only=False),
                    },
                )
            )
        return requests


def plan_landing_runs(
    instance: dg.DagsterInstance,
    landing: LandingZone,
    seen: dict[str, str],
    names: set[str] | None = None,
    include_sample: bool = False,
    rerun_handled: bool = False,
    log=None,
) -> LandingPlan:
    """The runs the landed files need. `names`: only these files (ingest); None: the whole zone,
    where a corrections file that disappeared rebuilds the seasons it touched. A file version whose
    entry equals `seen`'s is skipped; one a run in the instance handled is skipped too (and added
    to the cursor) unless `rerun_handled` (the CLI builds what it is asked to, again if need be).
    Every data file read is indexed (and a multi-season one split into season pieces), so the runs
    then read only what they need."""
    plan = LandingPlan(seen=dict(seen), existing=set(instance.get_dynamic_partitions(season_partitions.name)))
    seen = plan.seen
    listed = [f for f in landing.list_files(include_sample=include_sample) if names is None or f.name in names]
    if names is None:
        for name in sorted(set(seen) - {f.name for f in listed}):
            if "#" in seen[name]:  # a removed corrections file: its seasons are rebuilt without it
                fingerprint, _, tokens = seen.pop(name).partition("#")
                plan.seasons_by_file[f"{name}@{fingerprint}-removed"] = seasons_of_tokens(
                    set(filter(None, tokens.split(","))), plan.existing
                )
    candidates = []
    for f in listed:
        before = seen.get(f.name, "")
        if before.split("#", 1)[0] == f.fingerprint and not rerun_handled:
            continue
        if not rerun_handled and handled_by_a_run(instance, f.name, f.fingerprint):
            seen[f.name] = f.fingerprint
            plan.already_handled.append(f.name)
            continue
        candidates.append((f, before))
    # A data file version indexed already (by `ingest`, which read it before landing it) is not read again.
    indexed = landing.index_entries([f for f, _ in candidates])
    for (f, before), entry in zip(candidates, indexed):
        if entry is not None and entry.shape != CORRECTIONS.name and entry.seasons is not None:
            shape_name, seasons = entry.shape, set(entry.seasons)
        else:
            try:
                data = landing.read_bytes(f.name)
                if is_corrections_file(landing, f.name, data):
                    tokens = correction_tokens(read_corrections(data, f.name))
                    version = f"{f.fingerprint}#{','.join(sorted(tokens))}"
                    seen[f.name] = version
                    if not rerun_handled and handled_by_a_run(instance, f.name, version):
                        plan.already_handled.append(f.name)
                        continue
                    old = set(filter(None, before.split("#", 1)[1].split(","))) if "#" in before else set()
                    touched = seasons_of_tokens(tokens ^ old, plan.existing)
                    if log is not None:
                        log.info(f"{f.name}: corrections, {len(tokens)} in all; seasons to rebuild {sorted(touched)}")
                    plan.seasons_by_file[f"{f.name}@{f.fingerprint}"] = touched
                    plan.entries[f.name] = version
                    continue
                landed = landing.read_file(f.name, data)
            except LandingError as exc:
                seen[f.name] = f.fingerprint  # reported once per version
                plan.rejected.append(str(exc))
                if log is not None:
                    log.error(f"landing file rejected: {exc}")
                continue
            shape_name, seasons = landed.shape.name, set(landed.by_season)
            # The runs it requests then read only what they need: the files of their seasons, and
            # of a multi-season file only its pieces of those seasons.
            landing.record_pieces(f, landed)
            landing.record_index(f, shape_name, seasons)
            del landed, data  # a large file's frames are not kept while the zone's other files are read
        seen[f.name] = f.fingerprint
        if log is not None:
            log.info(f"{f.name}: {shape_name}, seasons {sorted(seasons)}")
        plan.seasons_by_file[f"{f.name}@{f.fingerprint}"] = seasons
        plan.data_files[f.name] = seasons
        plan.entries[f.name] = f.fingerprint
    plan.job_name = job_for_new_data(instance) if plan.touched else None
    return plan


@dg.sensor(
    name="landing_zone_sensor",
    jobs=[season_tables_job, season_update_job],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the landing zone (local dir or S3 prefix). A new or changed file is read, its shape "
    "detected and its rows split by season; unknown seasons become partitions and each touched season gets a "
    "`season_update` run (tables, features, champion predictions, shadow, publish; drift follows in `season_drift`; `season_tables` before "
    "any model exists). Unreadable files are reported once per version, never half-ingested. A corrections file "
    "adds no partition: it requests runs for the existing seasons whose corrections were added, changed or removed. "
    "A file version a run already handled (`nba-platform ingest` or `build`, tagged nba/landed_file.*) requests nothing.",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
    # Cursor: landed file -> fingerprint (size:mtime) already handled, so one file version
    # triggers its runs exactly once. A corrections file's entry is 'fingerprint#token,token,...'
    # (one token per correction: its season and a digest), so an edit re-runs only what changed.
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    plan = plan_landing_runs(context.instance, landing, seen, log=context.log)
    cursor = json.dumps(plan.seen, sort_keys=True)
    run_requests = plan.run_requests("landing_sensor")
    if not run_requests and not plan.rejected:
        handled = f" ({len(plan.already_handled)} handled by earlier runs)" if plan.already_handled else ""
        return dg.SensorResult(skip_reason=f"no new or changed files in the landing zone{handled}", cursor=cursor)
    new = plan.new_partitions
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[season_partitions.build_add_request(new)] if new else [],
        cursor=cursor,
        skip_reason=None if run_requests else f"rejected: {'; '.join(plan.rejected)[:500]}",
    )
