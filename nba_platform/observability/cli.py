"""`nba-platform metrics`: the platform exporter's HTTP endpoint (observability/exporter.py)."""

from __future__ import annotations


def cmd_metrics(args) -> int:
    from nba_platform.observability.exporter import serve
    from nba_platform.settings import load_settings

    ttl = args.cache_ttl if args.cache_ttl is not None else load_settings().metrics_cache_ttl_seconds
    try:
        serve(args.host, args.port, ttl)
    except KeyboardInterrupt:
        pass
    return 0


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "metrics",
        help="serve Prometheus metrics of runs, tables and models",
        description="Serve Prometheus metrics read from the Dagster instance and the serving database: "
        "freshness lag per asset, last run status and duration per job, rows accepted and quarantined per "
        "table and season, live Brier and log loss per model version, drift share, stats API requests, "
        "retries and circuit-breaker state. Sources are re-read at most once per cache TTL.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9464, help="port to listen on (default 9464; 0 = any free port)")
    parser.add_argument(
        "--cache-ttl",
        type=float,
        default=None,
        help="seconds a snapshot of the sources is reused between scrapes (default NBA_METRICS_CACHE_TTL_SECONDS, 15)",
    )
    parser.set_defaults(fn=cmd_metrics)
