"""Raw assets: one per source shape, one partition per season, rows exactly as landed."""


import dagster as dg
import pandas as pd

from nba_platform.defs.ingestion.partitions import season_partitions, single_run
from nba_platform.lib.landing import LINEAGE, SHAPES, LandingError, SourceShape
from nba_platform.lib.metadata import markdown_table, seasons_covered
from nba_platform.resources.landing import LandingZone


def _empty_raw() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string[pyarrow]" if c == LINEAGE[0] else "int64") for c in LINEAGE})


def build_raw_asset(shape: SourceShape) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", shape.name],
        partitions_def=season_partitions,
        backfill_policy=single_run,
        group_name="ingestion",
        kinds={"parquet", "pandas"},
        owners=["team:data-engineering"],
        tags={"layer": "raw", "entity": shape.entity},
        description=(
            f"Raw rows of every landed `{shape.name}` file ({shape.description}), as landed: "
            "values kept as source text, column names upper-cased, plus `_source_file` and "
            "`_source_row` lineage on every row."
        ),
    )
    def raw_asset(context: dg.AssetExecutionContext, landing: LandingZone):
        wanted = set(context.partition_keys)
        parts: dict[str, list[pd.DataFrame]] = {s: [] for s in wanted}
        files_read, unrecognised = [], []
        for f in landing.list_files():
            data = landing.read_bytes(f.name)
            try:
                if landing.shape_of(f.name, data).name != shape.name:
                    continue
                _, by_season = landing.read_rows(f.name, data)
            except LandingError as exc:
                # The sensor and CLI refuse such files; one dropped in by hand is reported, not hidden.
                unrecognised.append(str(exc))
                context.log.warning(str(exc))
                continue
            files_read.append(f.name)
            for season, rows in by_season.items():
                if season in parts:
                    parts[season].append(rows)
        out = {s: (pd.concat(v, ignore_index=True) if v else _empty_raw()) for s, v in parts.items()}
        sample = next((f for f in out.values() if len(f)), _empty_raw())
        return dg.Output(
            out,
            metadata={
                "rows": sum(len(f) for f in out.values()),
                "rows_by_season": dg.MetadataValue.json({s: len(f) for s, f in sorted(out.items())}),
                "files": dg.MetadataValue.json(files_read),
                "seasons_covered": seasons_covered(out),
                "unreadable_files": dg.MetadataValue.json(unrecognised),
                "preview": dg.MetadataValue.md(markdown_table(sample)),
            },
        )

    return raw_asset


raw_assets = [build_raw_asset(shape) for shape in SHAPES]
