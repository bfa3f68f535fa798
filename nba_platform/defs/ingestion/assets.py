"""Raw assets: one per source shape, one partition per season, rows exactly as landed (except
personal data in text cells, masked before anything is stored: `mask_pii`).

Four shapes can instead come straight from stats.nba.com (`RawSourceConfig.source =
"stats_api"`): league_game_log (LeagueGameLog, team rows), league_schedule (scheduleleaguev2:
every game of the season, played or not, with its status), box_score_traditional
(BoxScoreTraditionalV2, or V3 from 2025-26 on, for every game of the season's league game log) and player_bios
(CommonPlayerInfo for every player in the season's box scores). API rows go through the same
parser as landed files, so everything downstream is the same either way."""

from collections import Counter
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from nba_platform.defs.ingestion.partitions import season_partitions, single_run
from nba_platform.lib import stats_api as api
from nba_platform.lib.landing import LINEAGE, SHAPES, LandingError, SourceShape, split_by_season
from nba_platform.lib.metadata import markdown_table, seasons_covered
from nba_platform.lib.pii import counts_by_kind, mask_frame
from nba_platform.lib.platform_metrics import (
    STATS_API_BREAKERS,
    STATS_API_FAILURES,
    STATS_API_REQUESTS,
    STATS_API_RETRIES,
)
from nba_platform.resources.landing import LandingZone
from nba_platform.resources.stats_api import StatsApi

API_SHAPES = ("league_game_log", "box_score_traditional", "player_bios", "league_schedule")

# Step retries for API-backed assets, on top of the client's own per-request retries: the
# first delay outlasts the default circuit-breaker cooldown (60 s), so a retried step starts
# with a half-open probe instead of failing fast again.
API_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=90, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


class RawSourceConfig(dg.Config):
    source: Literal["landing", "stats_api"] = Field(
        "landing", description="Where the rows come from: landed files (default) or the stats.nba.com API."
    )
    season_types: list[str] = Field(
        default_factory=lambda: ["Regular Season", "Playoffs"],
        description="stats_api only: the SeasonType values fetched (league game log, and the games whose box scores are fetched).",
    )
    player_ids: list[int] = Field(
        default_factory=list,
        description="stats_api, player_bios only: fetch bios for just these players (default: everyone in the season's box scores).",
    )


def _empty_raw() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string[pyarrow]" if c == LINEAGE[0] else "int64") for c in LINEAGE})


def mask_pii(out: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], dict]:
    """Raw rows are the first thing stored: personal data in any text cell is masked here, so no
    table holds it (lib/pii.py). The landed files themselves stay as delivered."""
    by_kind, by_column = Counter(), Counter()
    masked = {}
    for season, frame in out.items():
        masked[season], kinds, columns = mask_frame(frame, skip=tuple(LINEAGE))
        by_kind.update(kinds)
        by_column.update(columns)
    return masked, {
        "pii_masked": dg.MetadataValue.json(counts_by_kind(by_kind)),
        "pii_masked_by_column": dg.MetadataValue.json(dict(sorted(by_column.items()))),
    }


def _output(out: dict[str, pd.DataFrame], metadata: dict, log=None) -> dg.Output:
    out, pii = mask_pii(out)
    if log is not None and sum(pii["pii_masked"].value.values()):
        # counts and columns only: the values themselves never reach a log
        log.warning(
            f"masked personal data in raw rows: {pii['pii_masked'].value} in columns {pii['pii_masked_by_column'].value}"
        )
    sample = next((f for f in out.values() if len(f)), _empty_raw())
    return dg.Output(
        out,
        metadata={
            "rows": sum(len(f) for f in out.values()),
            "rows_by_season": dg.MetadataValue.json({s: len(f) for s, f in sorted(out.items())}),
            "seasons_covered": seasons_covered(out),
            **metadata,
            **pii,
            "preview": dg.MetadataValue.md(markdown_table(sample)),
        },
    )


def landing_rows(context: dg.AssetExecutionContext, landing: LandingZone, shape: SourceShape) -> dg.Output:
    wanted = set(context.partition_keys)
    parts: dict[str, list[pd.DataFrame]] = {s: [] for s in wanted}
    files_read, files_by_piece, unrecognised, skipped, unindexed = [], [], [], 0, 0
    encodings: dict[str, str] = {}
    columns_dropped: dict[str, list[str]] = {}
    files = landing.list_files()
    # The file index (resources/landing.py) knows each file version's shape and seasons: a file of
    # another shape, or with none of the run's seasons, is skipped unread. Rows are exactly those
    # of a full scan; a file without a valid entry is read as before and its entry written.
    for f, known in zip(files, landing.index_entries(files)):
        if known is not None and (
            known.shape != shape.name or (known.seasons is not None and not known.seasons & wanted)
        ):
            skipped += 1
            continue
        try:
            landed = None
            if known is not None and known.seasons is not None and len(known.seasons) > 1:
                # A multi-season file: the run's seasons from its season pieces, not a parse of the whole file.
                landed = landing.read_pieces(f, known.seasons & wanted)
            if landed is not None:
                files_by_piece.append(f.name)
            else:
                data = landing.read_bytes(f.name)  # inside: a link out of the zone is refused, reported here
                if known is None:
                    found = landing.shape_of(f.name, data).name
                    if found != shape.name:
                        # shape only: its own raw asset adds the seasons
                        unindexed += not landing.record_index(f, found)
                        continue
                landed = landing.read_file(f.name, data)
                del data
                if len(landed.by_season) > 1:  # the next run of a few of its seasons reads only theirs
                    unindexed += not landing.record_pieces(f, landed)
            by_season = landed.by_season
        except LandingError as exc:
            # The sensor and CLI refuse such files; one dropped in by hand is reported, not hidden (no entry: reported every run).
            unrecognised.append(str(exc))
            context.log.warning(str(exc))
            continue
        if known is None or known.seasons is None:
            unindexed += not landing.record_index(f, shape.name, by_season)
        files_read.append(f.name)
        encodings.update(landed.encodings)
        if landed.columns_dropped:
            columns_dropped[f.name] = landed.columns_dropped
        for season, rows in by_season.items():
            if season in parts:
                parts[season].append(rows)
    if unindexed:
        context.log.warning(
            f"landing file index not writable ({unindexed} entries or pieces): files are re-read every run"
        )
    out = {s: (pd.concat(v, ignore_index=True) if v else _empty_raw()) for s, v in parts.items()}
    return _output(
        out,
        {
            "files": dg.MetadataValue.json(files_read),
            "files_skipped_by_index": skipped,
            # of `files`, those whose rows of the run's seasons came from their season pieces (not parsed again)
            "files_read_by_season_piece": dg.MetadataValue.json(files_by_piece),
            "unreadable_files": dg.MetadataValue.json(unrecognised),
            # how each file's text was decoded (utf-8, windows-1252, latin-1; parquet is binary)
            "encodings": dg.MetadataValue.json(encodings),
            # columns outside the shape, not carried into raw (lib.landing.MAX_EXTRA_COLUMNS refuses more)
            "columns_dropped": dg.MetadataValue.json(columns_dropped),
        },
        context.log,
    )


def fetch_season(
    client: api.StatsApiClient, shape: SourceShape, season: str, config: RawSourceConfig
) -> "tuple[pd.DataFrame | None, dict]":
    """One season's raw rows of `shape` from the API, plus what was fetched."""
    if shape.name == "league_game_log":
        return api.league_game_log_rows(client, season, config.season_types), {}
    if shape.name == "league_schedule":
        return api.league_schedule_rows(client, season), {}
    game_ids = api.season_game_ids(client, season, config.season_types)
    box_scores = api.box_score_rows(client, game_ids)
    if shape.name == "box_score_traditional":
        return box_scores, {"games": len(game_ids)}
    teams = api.player_teams(box_scores)
    if config.player_ids:
        teams = teams[teams["PLAYER_ID"].isin([str(p) for p in config.player_ids])]
    bios, unknown = api.player_bio_rows(client, season, teams)
    return bios, {
        "games": len(game_ids),
        "players": int(teams["PLAYER_ID"].nunique()),
        "players_unknown_to_api": unknown,
    }


def record_stats_api_use(context: dg.AssetExecutionContext, client: api.StatsApiClient, before: dict) -> None:
    """The step's stats API counters and breaker states as an observation of the asset: recorded
    whether the step succeeds or fails (a failed step has no materialization), read by the
    platform exporter (`nba-platform metrics`)."""
    done = client.stats.since(before)
    context.log_event(
        dg.AssetObservation(
            asset_key=context.asset_key,
            metadata={
                STATS_API_REQUESTS: done["requests"],
                STATS_API_RETRIES: done["retries"],
                STATS_API_FAILURES: dg.MetadataValue.json(done["failures"]),
                STATS_API_BREAKERS: dg.MetadataValue.json(client.breaker_states()),
            },
        )
    )


def api_rows(
    context: dg.AssetExecutionContext, stats_api: StatsApi, shape: SourceShape, config: RawSourceConfig
) -> dg.Output:
    client = stats_api.client()
    client.log = context.log.warning
    before = client.stats.snapshot()
    out, fetched = {}, {}
    try:
        for season in sorted(context.partition_keys):
            rows, fetched[season] = fetch_season(client, shape, season, config)
            if rows is None:
                out[season] = _empty_raw()
                continue
            by_season = split_by_season(rows, shape)
            stray = sorted(set(by_season) - {season})
            if stray:
                raise LandingError(f"the API returned rows of season(s) {stray} when asked for {season}")
            out[season] = by_season[season]
    except (api.StatsApiError, LandingError, ValueError) as exc:
        if isinstance(exc, api.StatsApiError) and exc.retryable:
            raise  # the retry policy tries the step again later
        raise dg.Failure(description=f"{shape.name} from stats.nba.com: {exc}", allow_retries=False) from exc
    finally:
        client.log = None
        record_stats_api_use(context, client, before)
    done = client.stats.since(before)
    return _output(
        out,
        {
            "source": "stats_api",
            "base_url": stats_api.base_url,
            "api_calls": done["calls"],
            "http_requests": done["requests"],
            "cache_hits": done["cache_hits"],
            "retries": done["retries"],
            "retry_wait_seconds": done["retry_wait_s"],
            "rate_limit_wait_seconds": done["rate_limit_wait_s"],
            "failed_attempts": dg.MetadataValue.json(done["failures"]),
            "fetched": dg.MetadataValue.json(fetched),
        },
        context.log,
    )


def build_raw_asset(shape: SourceShape, retry_policy: dg.RetryPolicy | None = API_RETRY_POLICY) -> dg.AssetsDefinition:
    """The raw asset of `shape`; API-capable shapes get a source config and `retry_policy`."""
    spec = dict(
        key=["raw", shape.name],
        partitions_def=season_partitions,
        backfill_policy=single_run,
        group_name="ingestion",
        kinds={"parquet", "pandas"},
        owners=["team:data-engineering"],
        tags={"layer": "raw", "entity": shape.entity},
        description=(
            f"Raw rows of every landed `{shape.name}` file ({shape.description}), as landed: "
            "values kept as source text (personal data such as emails or phone numbers masked), column names "
            "upper-cased, plus `_source_file` and `_source_row` lineage on every row."
        ),
    )
    if shape.name not in API_SHAPES:

        @dg.asset(**spec)
        def raw_asset(context: dg.AssetExecutionContext, landing: LandingZone):
            return landing_rows(context, landing, shape)

        return raw_asset

    spec["description"] += (
        " With config `source: stats_api`, fetched from stats.nba.com instead (same shape, `_source_file` names the request)."
    )

    @dg.asset(**spec, retry_policy=retry_policy)
    def raw_api_asset(
        context: dg.AssetExecutionContext, config: RawSourceConfig, landing: LandingZone, stats_api: StatsApi
    ):
        if config.source == "landing":
            return landing_rows(context, landing, shape)
        return api_rows(context, stats_api, shape, config)

    return raw_api_asset


raw_assets = [build_raw_asset(shape) for shape in SHAPES]
