"""Validated tables (canonical schema, bad rows quarantined with their rule) and
deduplicated tables (one row per natural key across sources). Logic lives in `lib/`."""

from collections.abc import Callable

import dagster as dg
import pandas as pd

from nba_platform.defs.ingestion.partitions import season_partitions, single_run
from nba_platform.lib.corrections import (
    Applied,
    Correction,
    empty_audit,
    read_corrections,
    unmatched,
)
from nba_platform.lib.dedup import DedupResult, dedup_player_games, dedup_players, dedup_team_games
from nba_platform.lib.landing import CORRECTIONS, LandingError
from nba_platform.lib.metadata import counts_markdown, markdown_table, seasons_covered
from nba_platform.lib.platform_metrics import PARTITION_ROWS
from nba_platform.lib.schema import (
    PLAYER_SEASON_SCHEMA,
    empty_frame,
)
from nba_platform.lib.validation import shapes_of, validate_season
from nba_platform.resources.lake import concat_partitions
from nba_platform.resources.landing import LandingZone

OWNERS = ["team:data-engineering"]


def landed_corrections(landing: LandingZone) -> tuple[list[Correction], list[str]]:
    """Every correction in the landing zone; an invalid corrections file fails the step (never half-applied)."""
    corrections, files = [], []
    listed = landing.list_files()
    for f, entry in zip(listed, landing.index_entries(listed)):
        if entry is not None and entry.shape != CORRECTIONS.name:
            continue  # indexed as a data file of this version: no need to open it
        data = landing.read_bytes(f.name)
        try:
            if landing.shape_of(f.name, data).name != CORRECTIONS.name:
                continue
        except LandingError:
            continue  # an unreadable data file: the raw assets report it
        try:
            corrections += read_corrections(data, f.name)
        except LandingError as exc:
            raise dg.Failure(
                description=f"invalid corrections file in the landing zone: {exc}", allow_retries=False
            ) from None
        files.append(f.name)
    return corrections, files


AUDIT_PREVIEW = [
    "key",
    "row_key",
    "field",
    "old_value",
    "new_value",
    "reason",
    "author",
    "recorded_at",
    "source_file",
    "source_row",
    "outcome",
]


def corrections_metadata(audit: pd.DataFrame, results: list[Applied], files: list[str]) -> dict:
    missed = [c.describe() for c in unmatched(results)]
    return {
        "corrections_applied": len({i for r in results for i in r.matched}),
        "values_changed": len(audit),
        "unmatched_corrections": dg.MetadataValue.json(missed),
        "correction_files": dg.MetadataValue.json(files),
        "corrections": dg.MetadataValue.md(
            markdown_table(audit[AUDIT_PREVIEW] if len(audit) else audit, max_rows=20, max_cols=len(AUDIT_PREVIEW))
        ),
    }


def record_season_rows(context: dg.AssetExecutionContext, key: list[str], frames: dict[str, pd.DataFrame]) -> None:
    """Each season partition's own row count (the output metadata sums the run's seasons); the
    platform exporter reads it as rows accepted / quarantined per table and season."""
    for season, frame in frames.items():
        try:
            context.add_asset_metadata({PARTITION_ROWS: len(frame)}, asset_key=dg.AssetKey(key), partition_key=season)
        except AttributeError:
            # A body called as a function (build_asset_context, bench/plain_build.py): Dagster 1.13's
            # direct-invocation context has no per-partition metadata; the output metadata still sums.
            return


def build_validated_asset(entity: str, table: str) -> dg.AssetsDefinition:
    shapes = shapes_of(entity)

    @dg.multi_asset(
        name=f"{table}_validated",
        outs={
            "validated": dg.AssetOut(
                key=["tables", f"{table}_validated"],
                description=f"Every source's {entity} rows in the canonical schema, minus rows that failed a rule.",
                kinds={"parquet", "pandas"},
                owners=OWNERS,
                is_required=False,  # subsettable: only the selected outputs are yielded
                tags={"layer": "validated", "entity": entity},
            ),
            "quarantine": dg.AssetOut(
                key=["quarantine", table],
                description=f"{entity} rows that failed validation: the failing rule, reason, source file and row, and the row itself.",
                kinds={"parquet", "pandas"},
                owners=OWNERS,
                is_required=False,  # subsettable: only the selected outputs are yielded
                tags={"layer": "quarantine", "entity": entity},
            ),
            "corrections": dg.AssetOut(
                key=["corrections", table],
                description=f"Audit of the corrections applied to {entity} rows: key, field, old and new value, reason, "
                "author, recorded_at, the correction's file and row, the source row changed, and whether it was accepted.",
                kinds={"parquet", "pandas"},
                owners=OWNERS,
                is_required=False,  # subsettable: only the selected outputs are yielded
                tags={"layer": "corrections", "entity": entity},
            ),
        },
        ins={shape: dg.AssetIn(key=["raw", shape]) for shape in shapes},
        partitions_def=season_partitions,
        backfill_policy=single_run,
        group_name="tables",
        can_subset=True,  # e.g. `dg launch --assets tables/team_games_validated`: only the selected outputs are stored
    )
    def validated_asset(context: dg.AssetExecutionContext, landing: LandingZone, **raw: dict[str, pd.DataFrame]):
        corrections, correction_files = landed_corrections(landing)
        accepted, quarantined, audits, applied, by_rule, rows_in = {}, {}, {}, [], {}, 0
        for season in context.partition_keys:
            validated = validate_season(entity, season, {shape: raw[shape][season] for shape in shapes}, corrections)
            corrected = validated.corrections
            accepted[season], quarantined[season], audits[season] = (
                validated.accepted,
                validated.quarantined,
                corrected.audit,
            )
            applied.append(corrected)
            rows_in += validated.rows_in
            for rule, c in validated.counts_by_rule.items():
                by_rule[rule] = by_rule.get(rule, 0) + c
        n_ok, n_bad = sum(map(len, accepted.values())), sum(map(len, quarantined.values()))
        q_rules = pd.concat(quarantined.values())["rule"].value_counts().to_dict() if n_bad else {}
        audit = pd.concat([a for a in audits.values() if len(a)] or [empty_audit()], ignore_index=True)
        corrections_meta = corrections_metadata(audit, applied, correction_files)
        missed = corrections_meta["unmatched_corrections"].value
        if missed:
            context.log.warning(
                f"{len(missed)} {entity} correction(s) matched no row in seasons {', '.join(context.partition_keys)}: "
                + "; ".join(f"{m['key']} {m['field']} ({m['file']} row {m['row']})" for m in missed[:10])
            )
        selected = context.selected_asset_keys
        if dg.AssetKey(["tables", f"{table}_validated"]) in selected:
            record_season_rows(context, ["tables", f"{table}_validated"], accepted)
            yield dg.Output(
                accepted,
                output_name="validated",
                metadata={
                    "rows_in": rows_in,
                    "rows_accepted": n_ok,
                    "rows_quarantined": n_bad,
                    "corrections_applied": corrections_meta["corrections_applied"],
                    "unmatched_corrections": corrections_meta["unmatched_corrections"],
                    "failures_by_rule": dg.MetadataValue.md(counts_markdown(by_rule)),
                    "seasons_covered": seasons_covered(accepted),
                    "preview": dg.MetadataValue.md(
                        markdown_table(next((f for f in accepted.values() if len(f)), pd.DataFrame()))
                    ),
                },
            )
        if dg.AssetKey(["quarantine", table]) in selected:
            record_season_rows(context, ["quarantine", table], quarantined)
            yield dg.Output(
                quarantined,
                output_name="quarantine",
                metadata={
                    "rows": n_bad,
                    "quarantined_by_rule": dg.MetadataValue.md(
                        counts_markdown({str(k): int(v) for k, v in q_rules.items()})
                    ),
                    "preview": dg.MetadataValue.md(
                        markdown_table(next((f for f in quarantined.values() if len(f)), pd.DataFrame()))
                    ),
                },
            )
        if dg.AssetKey(["corrections", table]) in selected:
            yield dg.Output(audits, output_name="corrections", metadata={"rows": len(audit), **corrections_meta})

    return validated_asset


team_games_validated = build_validated_asset("team_game", "team_games")
player_games_validated = build_validated_asset("player_game", "player_games")
player_seasons_validated = build_validated_asset("player", "player_seasons")


def _dedup_metadata(results: dict[str, DedupResult] | DedupResult, table: pd.DataFrame | dict) -> dict:
    results = results if isinstance(results, dict) else {"all": results}
    by_rule: dict[str, int] = {}
    repaired: dict[str, int] = {}
    for r in results.values():
        for k, v in r.quarantined_by_rule.items():
            by_rule[k] = by_rule.get(k, 0) + v
        for k, v in r.repaired.items():
            repaired[k] = repaired.get(k, 0) + v
    frames = table if isinstance(table, dict) else {"all": table}
    return {
        "rows_in": sum(r.rows_in for r in results.values()),
        "rows_out": sum(len(f) for f in frames.values()),
        "exact_duplicates_collapsed": sum(r.exact_duplicates for r in results.values()),
        "rows_merged_across_sources": sum(r.merged_across_sources for r in results.values()),
        "duplicates_removed": sum(r.duplicates_removed for r in results.values()),
        "rows_quarantined": sum(len(r.quarantined) for r in results.values()),
        "quarantined_by_rule": dg.MetadataValue.md(counts_markdown(by_rule)),
        "repairs": dg.MetadataValue.json(repaired),
        "seasons_covered": seasons_covered(frames),
        "preview": dg.MetadataValue.md(markdown_table(next((f for f in frames.values() if len(f)), pd.DataFrame()))),
    }


def build_dedup_asset(
    table: str,
    entity: str,
    dedup: Callable[..., DedupResult],
    description: str,
    conflicts_description: str,
    upstream: dict[str, str] | None = None,
) -> dg.AssetsDefinition:
    """One season-partitioned dedup multi-asset: `tables/<table>` and its conflicts
    `quarantine/<table>_dedup`, from `tables/<table>_validated` (passed to `dedup` first) and the
    `upstream` tables (input name -> table; passed after it, same season). Subsettable: either
    output can be materialized alone (`dg launch --assets tables/team_games --partition 2023-24`)."""
    conflicts = f"{table}_conflicts"
    upstream = upstream or {}

    @dg.multi_asset(
        name=table,
        outs={
            table: dg.AssetOut(
                key=["tables", table],
                kinds={"parquet", "pandas"},
                owners=OWNERS,
                is_required=False,  # subsettable: only the selected outputs are yielded
                tags={"layer": "deduplicated", "entity": entity},
                description=description,
            ),
            conflicts: dg.AssetOut(
                key=["quarantine", f"{table}_dedup"],
                kinds={"parquet", "pandas"},
                owners=OWNERS,
                is_required=False,  # subsettable: only the selected outputs are yielded
                tags={"layer": "quarantine", "entity": entity},
                description=conflicts_description,
            ),
        },
        ins={
            "validated": dg.AssetIn(key=["tables", f"{table}_validated"]),
            **{name: dg.AssetIn(key=["tables", source]) for name, source in upstream.items()},
        },
        partitions_def=season_partitions,
        backfill_policy=single_run,
        group_name="tables",
        can_subset=True,
    )
    def dedup_asset(context: dg.AssetExecutionContext, validated: dict[str, pd.DataFrame], **inputs):
        results = {
            season: dedup(validated[season], *(inputs[name][season] for name in upstream))
            for season in context.partition_keys
        }
        tables = {s: r.table for s, r in results.items()}
        if dg.AssetKey(["tables", table]) in context.selected_asset_keys:
            record_season_rows(context, ["tables", table], tables)
            yield dg.Output(tables, output_name=table, metadata=_dedup_metadata(results, tables))
        if dg.AssetKey(["quarantine", f"{table}_dedup"]) in context.selected_asset_keys:
            record_season_rows(
                context, ["quarantine", f"{table}_dedup"], {s: r.quarantined for s, r in results.items()}
            )
            yield dg.Output(
                {s: r.quarantined for s, r in results.items()},
                output_name=conflicts,
                metadata={"rows": sum(len(r.quarantined) for r in results.values())},
            )

    return dedup_asset


team_games = build_dedup_asset(
    "team_games",
    "team_game",
    dedup_team_games,
    description="One row per (game_id, team_id) across all sources: most complete source wins field by field, "
    "margins recomputed from points, every game exactly two rows (home and away).",
    conflicts_description="Team-game rows set aside at dedup: sources disagreeing on a result, or games left without both teams.",
)
player_games = build_dedup_asset(
    "player_games",
    "player_game",
    dedup_player_games,
    description="One row per (game_id, player_id), with the game's date, opponent and venue from team_games.",
    conflicts_description="Player-game rows set aside at dedup: conflicting copies, or no accepted team-game for the game.",
    upstream={"games": "team_games"},
)


@dg.multi_asset(
    outs={
        "players": dg.AssetOut(
            key=["tables", "players"],
            kinds={"parquet", "pandas"},
            owners=OWNERS,
            is_required=False,
            tags={"layer": "deduplicated", "entity": "player"},
            description="One row per player_id: latest season's attributes, first/last season on record.",
        ),
        "players_conflicts": dg.AssetOut(
            key=["quarantine", "players_dedup"],
            kinds={"parquet", "pandas"},
            owners=OWNERS,
            is_required=False,
            tags={"layer": "quarantine", "entity": "player"},
            description="Player rows set aside at dedup (identity conflicts such as differing birth dates).",
        ),
    },
    # the seasons that exist: a registered season not built yet is no error (issue 16)
    ins={
        "validated": dg.AssetIn(key=["tables", "player_seasons_validated"], metadata={"allow_missing_partitions": True})
    },
    group_name="tables",
    can_subset=True,
)
def players(context: dg.AssetExecutionContext, validated: dict[str, pd.DataFrame]):
    seasons = concat_partitions(validated)
    if seasons.empty:
        seasons = empty_frame(PLAYER_SEASON_SCHEMA)
    result = dedup_players(seasons)
    meta = _dedup_metadata(result, result.table)
    meta["seasons_covered"] = seasons_covered(dict(validated.items()))
    meta[PARTITION_ROWS] = len(result.table)
    if dg.AssetKey(["tables", "players"]) in context.selected_asset_keys:
        yield dg.Output(result.table, output_name="players", metadata=meta)
    if dg.AssetKey(["quarantine", "players_dedup"]) in context.selected_asset_keys:
        yield dg.Output(
            result.quarantined,
            output_name="players_conflicts",
            metadata={"rows": len(result.quarantined), PARTITION_ROWS: len(result.quarantined)},
        )
