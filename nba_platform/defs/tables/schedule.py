"""`tables/schedule`: every game of a season, played or not, with its status (scheduled / final /
postponed), from the schedule sources (landed scheduleleaguev2 responses or plain schedule files,
or the stats API) and the finals of `tables/team_games`. Bad schedule rows go to
`quarantine/schedule` with their rule.

Unplayed games live here and nowhere else: team_games, features, labels and models only ever see
games that happened (why: lib/schedule.py). Forecasts (serving/game_forecasts) read this table.
"""

import dagster as dg
import pandas as pd

from nba_platform.defs.ingestion.partitions import season_partitions, single_run
from nba_platform.defs.tables.assets import OWNERS, record_season_rows
from nba_platform.lib.metadata import counts_markdown, markdown_table, seasons_covered
from nba_platform.lib.schedule import combine_schedule, normalise_schedule

# Priority order: a later source wins for a game both hold (the API's answer is the freshest).
SCHEDULE_SHAPES = ("schedule_file", "league_schedule")


def _by_file_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the file whose name sorts last come last (and win): name files by export day."""
    return frame.sort_values(["source_file", "source_row"], kind="mergesort", ignore_index=True)


@dg.multi_asset(
    name="schedule_table",
    outs={
        "schedule": dg.AssetOut(
            key=["tables", "schedule"],
            description="One row per game of the season, played or not: game_id, season, season_type, game_date, "
            "tipoff_utc, home/away team ids, neutral, status (scheduled | final | postponed), has_result, and the "
            "source row. Finals come from tables/team_games (a played game is final whatever the schedule says).",
            kinds={"parquet", "pandas"},
            owners=OWNERS,
            is_required=False,
            tags={"layer": "deduplicated", "entity": "schedule"},
        ),
        "quarantine": dg.AssetOut(
            key=["quarantine", "schedule"],
            description="Schedule rows that failed a rule (game id, date, team ids, teams differ, neutral flag, "
            "status), with the rule, reason, source file and row, and the raw row.",
            kinds={"parquet", "pandas"},
            owners=OWNERS,
            is_required=False,
            tags={"layer": "quarantine", "entity": "schedule"},
        ),
    },
    ins={
        **{shape: dg.AssetIn(key=["raw", shape]) for shape in SCHEDULE_SHAPES},
        "team_games": dg.AssetIn(key=["tables", "team_games"]),
    },
    partitions_def=season_partitions,
    backfill_policy=single_run,
    group_name="tables",
    can_subset=True,
)
def schedule_table(context: dg.AssetExecutionContext, team_games: dict, **raw: dict):
    out, bad, by_rule, status_counts, superseded = {}, {}, {}, {}, 0
    for season in context.partition_keys:
        rows, quarantined = [], []
        for shape in SCHEDULE_SHAPES:
            ok, failed = normalise_schedule(raw[shape][season], shape)
            rows.append(_by_file_order(ok))
            quarantined.append(failed)
        out[season], dropped = combine_schedule(rows, team_games[season])
        out[season] = out[season][out[season]["season"] == season].reset_index(drop=True)
        superseded += dropped
        bad[season] = pd.concat([q for q in quarantined if len(q)] or [quarantined[0]], ignore_index=True)
        for rule, n in bad[season]["rule"].value_counts().items():
            by_rule[str(rule)] = by_rule.get(str(rule), 0) + int(n)
        for status, n in out[season]["status"].value_counts().items():
            status_counts[str(status)] = status_counts.get(str(status), 0) + int(n)
    if by_rule:
        context.log.warning(f"schedule rows quarantined: {by_rule}")
    selected = context.selected_asset_keys
    if dg.AssetKey(["tables", "schedule"]) in selected:
        record_season_rows(context, ["tables", "schedule"], out)
        sample = next((f for f in out.values() if len(f)), pd.DataFrame())
        yield dg.Output(
            out,
            output_name="schedule",
            metadata={
                "games": sum(len(f) for f in out.values()),
                "by_status": dg.MetadataValue.json(status_counts),
                "scheduled_games": status_counts.get("scheduled", 0),
                "postponed_games": status_counts.get("postponed", 0),
                "rows_superseded_by_a_later_row": superseded,
                "seasons_covered": seasons_covered(out),
                "preview": dg.MetadataValue.md(markdown_table(sample.tail(5))),
            },
        )
    if dg.AssetKey(["quarantine", "schedule"]) in selected:
        record_season_rows(context, ["quarantine", "schedule"], bad)
        yield dg.Output(
            bad,
            output_name="quarantine",
            metadata={
                "rows": sum(len(f) for f in bad.values()),
                "quarantined_by_rule": dg.MetadataValue.md(counts_markdown(by_rule)),
            },
        )
