"""What an operator sees in the UI is complete: every asset described, owned, kinded and grouped by
its domain folder; every check described; schedules and sensors clearly named and described.
Each test names every offender, not just the first."""

import re
from pathlib import Path

import dagster as dg
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.ingestion.jobs import DAILY_TABLES_SELECTION

DEFS_DIR = Path(__file__).resolve().parents[2] / "nba_platform" / "defs"
DOMAINS = sorted(p.name for p in DEFS_DIR.iterdir() if (p / "__init__.py").is_file())
MIN_DESCRIPTION = 30
SNAKE_CASE_WORDS = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)+")


@pytest.fixture(scope="module")
def code_location() -> dg.Definitions:
    return defs()


@pytest.fixture(scope="module")
def graph(code_location):
    return code_location.resolve_asset_graph()


def domain_folder(assets_def: dg.AssetsDefinition) -> str | None:
    """`defs/<domain>/...` of the module that defines the asset's compute function."""
    if not assets_def.is_executable:
        return None
    fn = assets_def.op.compute_fn
    module = getattr(fn, "decorated_fn", fn).__module__
    parts = module.split(".")
    return parts[2] if parts[:2] == ["nba_platform", "defs"] and len(parts) > 2 else None


def asset_offenders(graph) -> list[str]:
    offenders = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        problems = []
        if not node.description or len(node.description.strip()) < MIN_DESCRIPTION:
            problems.append(f"description missing or under {MIN_DESCRIPTION} characters")
        if not node.owners:
            problems.append("no owners")
        if not node.kinds:
            problems.append("no kinds")
        folder = domain_folder(node.assets_def)
        if folder is None:
            problems.append("not defined in a defs/<domain>/ module")
        elif node.group_name != folder:
            problems.append(f"group {node.group_name!r} but defined in defs/{folder}/")
        if problems:
            offenders.append(f"{key.to_user_string()}: {'; '.join(problems)}")
    return offenders


def test_every_asset_is_described_owned_kinded_and_grouped_by_its_domain_folder(graph):
    assert len(graph.get_all_asset_keys()) >= 20
    offenders = asset_offenders(graph)
    assert not offenders, "assets incomplete for the UI:\n" + "\n".join(offenders)


def test_the_policy_test_catches_an_undescribed_ownerless_misgrouped_asset():
    # The check itself is live: an asset with none of it is named with every problem.
    @dg.asset(key=["tables", "bare"], group_name="models")
    def bare(): ...

    (line,) = asset_offenders(dg.Definitions(assets=[bare]).resolve_asset_graph())
    assert line.startswith("tables/bare: ")
    assert "description missing" in line and "no owners" in line and "no kinds" in line
    assert "not defined in a defs/<domain>/ module" in line


def test_groups_are_the_domain_folders(graph):
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups <= set(DOMAINS), sorted(groups - set(DOMAINS))
    assert {"ingestion", "tables", "features", "models", "serving", "ops"} <= set(DOMAINS)


def test_every_asset_check_is_described(graph):
    offenders = [
        f"{k.asset_key.to_user_string()}:{k.name}"
        for k in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))
        if len((graph.get_check_spec(k).description or "").strip()) < MIN_DESCRIPTION
    ]
    assert len(graph.asset_check_keys) >= 12
    assert not offenders, "asset checks without a description: " + ", ".join(offenders)


def test_schedules_and_sensors_have_clear_names_and_descriptions(code_location):
    d = code_location
    offenders = []
    for kind, items in (("schedule", d.schedules or []), ("sensor", d.sensors or [])):
        for item in items:
            if not SNAKE_CASE_WORDS.fullmatch(item.name):
                offenders.append(f"{kind} {item.name}: name is not snake_case words")
            if len((item.description or "").strip()) < 40:
                offenders.append(f"{kind} {item.name}: description missing or under 40 characters")
            if kind == "schedule" and item.execution_timezone is None:
                offenders.append(f"schedule {item.name}: no execution_timezone (cron read in the server's zone)")
    assert not offenders, "\n".join(offenders)
    assert {"daily_season_ingest", "daily_database_backup"} <= {s.name for s in d.schedules}
    assert {"landing_zone_sensor", "run_failure_alert", "failed_check_alert"} <= {s.name for s in d.sensors}


def test_tables_fed_by_the_daily_schedule_carry_its_freshness_policy(code_location, graph):
    assert code_location.resolve_schedule_def("daily_season_ingest").job_name == "daily_tables"
    fed = DAILY_TABLES_SELECTION.resolve(graph)
    assert {dg.AssetKey(["tables", "team_games"]), dg.AssetKey(["tables", "schedule"])} <= fed and len(fed) >= 12
    # player tables are not fed daily (they refresh when player files land): no daily promise on them
    assert graph.get(dg.AssetKey(["tables", "player_games"])).freshness_policy is None
    missing = sorted(k.to_user_string() for k in fed if graph.get(k).freshness_policy is None)
    assert not missing, f"no freshness policy: {missing}"
    policy = graph.get(dg.AssetKey(["tables", "team_games"])).freshness_policy
    assert isinstance(policy, dg.FreshnessPolicy)
    assert policy.deadline_cron == "0 12 * * *" and policy.timezone == "UTC"
    # Assets the schedule does not run promise nothing daily.
    assert graph.get(dg.AssetKey(["models", "game_outcome_model"])).freshness_policy is None


def test_owners_default_by_domain_where_an_asset_names_none(code_location):
    from nba_platform.definitions import DOMAIN_OWNERS, apply_asset_policy

    @dg.asset(key=["features", "unowned"], group_name="features", description="x" * 40, kinds={"pandas"})
    def unowned(): ...

    @dg.asset(key=["ops", "owned"], group_name="ops", owners=["team:someone"], description="x" * 40, kinds={"pandas"})
    def owned(): ...

    graph = apply_asset_policy(
        dg.Definitions.merge(code_location, dg.Definitions(assets=[unowned, owned]))
    ).resolve_asset_graph()
    assert graph.get(dg.AssetKey(["features", "unowned"])).owners == [DOMAIN_OWNERS["features"]]
    assert graph.get(dg.AssetKey(["ops", "owned"])).owners == ["team:someone"]
