"""One real materialization in its own process, for the trace test (test_traces.py): the
platform's raw/league_game_log asset for 2022-23 fetched from a stats API server and written to
an S3 lake, on an instance whose python_logs config is the platform's (so the run log handler
sees the run's events). Prints the run id as JSON on its last stdout line.

    python -m nba_platform_tests.integration.traced_run HOME STATS_API_BASE_URL S3_ENDPOINT BUCKET
"""

import json
import sys
from pathlib import Path

import dagster as dg

SEASON = "2022-23"


def main(home: str, stats_api_url: str, s3_endpoint: str, bucket: str) -> int:
    from nba_platform.definitions import defs
    from nba_platform.observability.run_logs import PYTHON_LOGS_CONFIG
    from nba_platform.resources.lake import ParquetLakeIOManager
    from nba_platform.resources.stats_api import StatsApi
    from nba_platform_tests.conftest import embedded_resources

    resources = {
        **embedded_resources(Path(home), include_sample=False),
        "io_manager": ParquetLakeIOManager(root=f"s3://{bucket}/lake", endpoint_url=s3_endpoint, region="us-east-1"),
        "stats_api": StatsApi(base_url=stats_api_url, requests_per_second=0, backoff_base_seconds=0.05),
    }
    with dg.instance_for_test(overrides={"python_logs": PYTHON_LOGS_CONFIG}) as instance:
        instance.add_dynamic_partitions("season", [SEASON])
        result = dg.materialize(
            [defs().get_assets_def(dg.AssetKey(["raw", "league_game_log"]))],
            resources=resources,
            instance=instance,
            partition_key=SEASON,
            run_config={
                "ops": {"raw__league_game_log": {"config": {"source": "stats_api", "season_types": ["Regular Season"]}}}
            },
        )
    print(json.dumps({"run_id": result.run_id, "success": result.success}), flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
