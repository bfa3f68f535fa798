import dagster as dg

from nba_platform.definitions import defs
from nba_platform.defs.ingestion.jobs import SEASON_TABLES_SELECTION


def season_run_tags(seasons: list[str]) -> dict:
    seasons = sorted(seasons)
    return {"dagster/asset_partition_range_start": seasons[0], "dagster/asset_partition_range_end": seasons[-1]}


def materialize_seasons(seasons, resources, instance, selection=SEASON_TABLES_SELECTION, raise_on_error=True):
    """Materialize `selection` (default: the season spine, raw -> deduplicated) for `seasons` in one run."""
    d = defs()
    missing = [s for s in sorted(seasons) if not instance.has_dynamic_partition("season", s)]
    if missing:
        instance.add_dynamic_partitions("season", missing)
    return dg.materialize(
        [*d.assets, *(d.asset_checks or [])],
        resources=resources,
        instance=instance,
        selection=selection,
        tags=season_run_tags(seasons),
        raise_on_error=raise_on_error,
    )


def check_results(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
