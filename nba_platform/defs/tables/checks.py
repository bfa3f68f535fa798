"""Blocking checks on the tables: the GX contract, and 'nothing lost' invariants.

A failing blocking check stops downstream assets of the run: bad data never reaches the
deduplicated tables, features or models. Checks of season-partitioned tables are partitioned
the same way: they evaluate the partitions their run wrote, so one registered but unbuilt season
never fails another season's run, and a one-season update reads one season.
"""

import json

import dagster as dg
import pandas as pd

from nba_platform.defs.ingestion.partitions import season_partitions
from nba_platform.lib.landing import SHAPES_BY_NAME, SOURCE_FILE, SOURCE_ROW
from nba_platform.lib.quality import (
    SuiteResult,
    player_expectations,
    player_game_expectations,
    run_suite,
    team_game_expectations,
    team_game_pair_view,
)
from nba_platform.lib.validation import shapes_of
from nba_platform.resources.lake import concat_partitions


def _suite_result(result: SuiteResult, rows: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=result.success,
        metadata={
            "rows": rows,
            "expectations": result.evaluated,
            "failures": len(result.failures),
            "report": dg.MetadataValue.md(result.markdown()),
        },
    )


def gx_contract(table: pd.DataFrame, suite: str, expectations) -> dg.AssetCheckResult:
    if table.empty:
        return dg.AssetCheckResult(passed=True, metadata={"rows": 0, "note": "no rows in these partitions"})
    return _suite_result(run_suite(table, suite, expectations), len(table))


# ---------------------------------------------------------------- validated tables


@dg.asset_check(
    asset=dg.AssetKey(["tables", "team_games_validated"]),
    partitions_def=season_partitions,
    blocking=True,
    description="GX suite: schema, non-null keys, id formats, value ranges, dates within the season.",
)
def team_games_validated_contract(team_games_validated: dict) -> dg.AssetCheckResult:
    return gx_contract(
        concat_partitions(team_games_validated), "team_games_validated", team_game_expectations(deduplicated=False)
    )


@dg.asset_check(
    asset=dg.AssetKey(["tables", "player_games_validated"]),
    partitions_def=season_partitions,
    blocking=True,
    description="GX suite: non-null keys, id formats, minutes and counts in range.",
)
def player_games_validated_contract(player_games_validated: dict) -> dg.AssetCheckResult:
    return gx_contract(
        concat_partitions(player_games_validated),
        "player_games_validated",
        player_game_expectations(deduplicated=False),
    )


@dg.asset_check(
    asset=dg.AssetKey(["tables", "player_seasons_validated"]),
    partitions_def=season_partitions,
    blocking=True,
    description="GX suite: keys unique and non-null, birth date present, height/weight in range.",
)
def player_seasons_validated_contract(player_seasons_validated: dict) -> dg.AssetCheckResult:
    return gx_contract(
        concat_partitions(player_seasons_validated), "player_seasons_validated", player_expectations("player_seasons")
    )


def nothing_lost(
    raw: dict[str, pd.DataFrame], accepted: pd.DataFrame, quarantined: pd.DataFrame
) -> dg.AssetCheckResult:
    """accepted + quarantined = input, both as canonical row counts and as source lineage."""
    expected_rows = sum(len(f) * SHAPES_BY_NAME[shape].canonical_rows_per_row for shape, f in raw.items())
    raw_lineage = set()
    for f in raw.values():
        if len(f):
            raw_lineage |= set(zip(f[SOURCE_FILE], f[SOURCE_ROW].astype(int)))
    seen = set()
    for f in (accepted, quarantined):
        if len(f):
            seen |= set(zip(f["source_file"], f["source_row"].astype(int)))
    missing, unexpected = raw_lineage - seen, seen - raw_lineage
    got = len(accepted) + len(quarantined)
    passed = got == expected_rows and not missing and not unexpected
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "expected_rows": expected_rows,
            "accepted": len(accepted),
            "quarantined": len(quarantined),
            "source_rows_missing": len(missing),
            "unexpected_lineage": len(unexpected),
            "missing_sample": dg.MetadataValue.json([f"{a} row {b}" for a, b in sorted(missing)[:5]]),
        },
    )


NOTHING_LOST = (
    "Every landed row is accounted for: accepted + quarantined = input rows, and every source "
    "(file, row) appears in one of them."
)


@dg.asset_check(
    asset=dg.AssetKey(["tables", "team_games_validated"]),
    partitions_def=season_partitions,
    blocking=True,
    description=NOTHING_LOST,
    additional_ins={
        "quarantine": dg.AssetIn(key=["quarantine", "team_games"]),
        **{shape: dg.AssetIn(key=["raw", shape]) for shape in shapes_of("team_game")},
    },
)
def team_games_nothing_lost(
    team_games_validated: dict,
    quarantine: dict,
    team_game_logs: dict,
    league_game_log_slim: dict,
    team_game_log: dict,
    league_game_log: dict,
    kaggle_games: dict,
) -> dg.AssetCheckResult:
    raw = {
        "team_game_logs": team_game_logs,
        "league_game_log_slim": league_game_log_slim,
        "team_game_log": team_game_log,
        "league_game_log": league_game_log,
        "kaggle_games": kaggle_games,
    }
    return nothing_lost(
        {k: concat_partitions(v) for k, v in raw.items()},
        concat_partitions(team_games_validated),
        concat_partitions(quarantine),
    )


@dg.asset_check(
    asset=dg.AssetKey(["tables", "player_games_validated"]),
    partitions_def=season_partitions,
    blocking=True,
    description=NOTHING_LOST,
    additional_ins={
        "quarantine": dg.AssetIn(key=["quarantine", "player_games"]),
        **{shape: dg.AssetIn(key=["raw", shape]) for shape in shapes_of("player_game")},
    },
)
def player_games_nothing_lost(
    player_games_validated: dict, quarantine: dict, box_score_traditional: dict, player_game_log: dict
) -> dg.AssetCheckResult:
    return nothing_lost(
        {
            "box_score_traditional": concat_partitions(box_score_traditional),
            "player_game_log": concat_partitions(player_game_log),
        },
        concat_partitions(player_games_validated),
        concat_partitions(quarantine),
    )


@dg.asset_check(
    asset=dg.AssetKey(["tables", "player_seasons_validated"]),
    partitions_def=season_partitions,
    blocking=True,
    description=NOTHING_LOST,
    additional_ins={
        "quarantine": dg.AssetIn(key=["quarantine", "player_seasons"]),
        **{shape: dg.AssetIn(key=["raw", shape]) for shape in shapes_of("player")},
    },
)
def player_seasons_nothing_lost(
    player_seasons_validated: dict, quarantine: dict, player_bios: dict, player_info: dict, player_index: dict
) -> dg.AssetCheckResult:
    return nothing_lost(
        {
            "player_bios": concat_partitions(player_bios),
            "player_info": concat_partitions(player_info),
            "player_index": concat_partitions(player_index),
        },
        concat_partitions(player_seasons_validated),
        concat_partitions(quarantine),
    )


# ---------------------------------------------------------------- deduplicated tables


@dg.asset_check(
    asset=dg.AssetKey(["tables", "team_games"]),
    partitions_def=season_partitions,
    blocking=True,
    description="GX suite: (game_id, team_id) unique, exactly two rows per game (one home), "
    "opp_pts equals the opponent row's points, plus the validated-table contract.",
)
def team_games_contract(team_games: dict) -> dg.AssetCheckResult:
    table = concat_partitions(team_games)
    if table.empty:
        return gx_contract(table, "team_games", [])
    return gx_contract(team_game_pair_view(table), "team_games", team_game_expectations(deduplicated=True))


@dg.asset_check(
    asset=dg.AssetKey(["tables", "player_games"]),
    partitions_def=season_partitions,
    blocking=True,
    description="GX suite: (game_id, player_id) unique, game date attached, counts in range.",
)
def player_games_contract(player_games: dict) -> dg.AssetCheckResult:
    return gx_contract(concat_partitions(player_games), "player_games", player_game_expectations(deduplicated=True))


@dg.asset_check(
    asset=dg.AssetKey(["tables", "players"]),
    blocking=True,
    description="GX suite: one row per player_id, names and birth dates present, sizes in range.",
)
def players_contract(players: pd.DataFrame) -> dg.AssetCheckResult:
    return gx_contract(players, "players", player_expectations("players"))


def keys_accounted(
    validated: pd.DataFrame, table: pd.DataFrame, quarantined: pd.DataFrame, key: list[str]
) -> dg.AssetCheckResult:
    """Dedup may collapse rows, never lose a key: each validated key is in the table or quarantined."""

    if validated.empty:  # e.g. every row of the run's season quarantined: nothing to lose, same metadata
        dupes = int(table.duplicated(key).sum()) if len(table) else 0
        return dg.AssetCheckResult(
            passed=dupes == 0 and table.empty,
            metadata={
                "validated_keys": 0,
                "table_keys": len(table),
                "quarantined_keys": len(quarantined),
                "keys_lost": 0,
                "duplicate_keys_in_table": dupes,
            },
        )
    vkeys = set(map(tuple, validated[key].astype(str).to_numpy()))
    tkeys = set(map(tuple, table[key].astype(str).to_numpy())) if len(table) else set()
    qkeys = set()
    if len(quarantined):
        recs = pd.DataFrame([json.loads(r) for r in quarantined["record"]])
        qkeys = set(map(tuple, recs[key].astype(str).to_numpy()))
    lost = vkeys - tkeys - qkeys
    dupes = int(table.duplicated(key).sum()) if len(table) else 0
    return dg.AssetCheckResult(
        passed=not lost and dupes == 0,
        metadata={
            "validated_keys": len(vkeys),
            "table_keys": len(tkeys),
            "quarantined_keys": len(qkeys),
            "keys_lost": len(lost),
            "duplicate_keys_in_table": dupes,
            "lost_sample": dg.MetadataValue.json([list(k) for k in sorted(lost)[:5]]),
        },
    )


def build_keys_check(
    table: str, validated_key: list[str], quarantine_key: str, key: list[str], partitioned: bool = True
):
    # A partitioned table's check reads the partitions its run wrote; the unpartitioned players
    # table's reads the validated seasons that exist (a registered, unbuilt season is no error).
    validated_in = dg.AssetIn(key=validated_key, metadata={} if partitioned else {"allow_missing_partitions": True})

    @dg.asset_check(
        asset=dg.AssetKey(["tables", table]),
        name=f"{table}_keys_accounted",
        partitions_def=season_partitions if partitioned else None,
        blocking=True,
        description=f"Dedup on {key}: no duplicate keys remain and every validated key is either in the table or in quarantine.",
        additional_ins={
            "validated": validated_in,
            "quarantined": dg.AssetIn(key=["quarantine", quarantine_key]),
        },
    )
    def check(deduplicated, validated, quarantined) -> dg.AssetCheckResult:
        return keys_accounted(
            concat_partitions(validated), concat_partitions(deduplicated), concat_partitions(quarantined), key
        )

    return check


keys_checks = [
    build_keys_check("team_games", ["tables", "team_games_validated"], "team_games_dedup", ["game_id", "team_id"]),
    build_keys_check(
        "player_games", ["tables", "player_games_validated"], "player_games_dedup", ["game_id", "player_id"]
    ),
    build_keys_check(
        "players", ["tables", "player_seasons_validated"], "players_dedup", ["player_id"], partitioned=False
    ),
]
