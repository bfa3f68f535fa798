"""The forecast API under load against a bare uvicorn endpoint, in the same run.

    .venv/bin/python bench/api_load.py                       # builds a 3-season home first (~2 min)
    .venv/bin/python bench/api_load.py --home /path/to/home  # a built NBA_HOME (serving/serving.db)
    .venv/bin/python bench/api_load.py --clients 50 --seconds 10 --rounds 3

Servers, each `uvicorn` in its own process, one worker, same options (httptools, uvloop, no
uvicorn access log), on 127.0.0.1:
  * api:  `nba-platform serve-api` on a copy of the home's serving database with forecasts
          appended from its real games (nba_platform_tests/integration/api_support.py). Requests:
          GET /v1/teams/{team_id}/forecasts?limit=20&last=10 with a bearer token, the team id
          rotating over the 30 franchises; everything on (JWT check, rate limiter set high enough
          not to refuse, JSON access log to a file, Prometheus metrics); its answers are reused for
          NBA_API_CACHE_SECONDS (default 5 s), as in production.
  * api_uncached: the same with NBA_API_CACHE_SECONDS=0 (every request reads the database).
  * bare: a plain ASGI app answering every GET with a constant JSON body.
Load: `--clients` concurrent keep-alive HTTP/1.1 connections (a minimal asyncio client, so the
client's own cost stays small), each sending its next request as soon as the answer arrives,
for `--seconds`, alternating bare / api for `--rounds` rounds (both see the same machine load).
Figures: p50/p95/p99 latency and throughput of each; ratio api p95 / bare p95 (target <= 2).
Reference a user would pick instead: the same team query run directly in Python on one SQLite
connection (lib/forecast_queries.team_form, and the bare SQL of its two statements), median and
p95 over the same team ids.
Writes bench/results/api_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

TEAMS = list(range(1610612737, 1610612767))


def say(msg: str) -> None:
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the bare endpoint -------------------------------------------------------------------------

CONSTANT = json.dumps({"team_id": 1610612738, "forecasts": []}).encode()


async def bare_app(scope, receive, send):
    if scope["type"] != "http":  # lifespan
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(CONSTANT)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": CONSTANT})


def serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


# --- the load generator ------------------------------------------------------------------------


async def _connection(port: int, paths: list[str], headers: str, until: float, latencies: list, errors: list):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while time.perf_counter() < until:
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _load(port: int, paths: list[str], headers: str, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[int] = []
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *[
            _connection(port, paths[k % len(paths) :] + paths[: k % len(paths)], headers, until, latencies, errors)
            for k in range(clients)
        ]
    )
    wall = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "wall": wall}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary(runs: list[dict]) -> dict:
    latencies = [x for r in runs for x in r["latencies"]]
    wall = sum(r["wall"] for r in runs)
    return {
        "requests": len(latencies),
        "non_200": sum(len(r["errors"]) for r in runs),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "throughput_rps": len(latencies) / wall,
    }


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError(f"server on port {port} did not answer in {timeout:.0f}s")


def direct_sql(db: Path, repeats: int) -> dict:
    from nba_platform.lib import forecast_queries as queries

    con = sqlite3.connect(db)
    shaped, bare = [], []
    sql_forecasts, params = queries.bind(
        f"SELECT {queries.FORECAST_COLUMNS}, {queries.RESULT_COLUMNS} FROM latest_pregame_forecast f "
        "LEFT JOIN games g ON g.game_id = f.game_id WHERE f.game_id IN ("
        "SELECT game_id FROM (SELECT game_id, game_date FROM game_forecasts WHERE home_team_id = :team "
        "UNION SELECT game_id, game_date FROM game_forecasts WHERE away_team_id = :team) AS team_games "
        "ORDER BY game_date DESC, game_id LIMIT 20) ORDER BY f.game_date DESC, f.game_id",
        {"team": 0},
        "sqlite",
    )
    for i in range(repeats):
        team = TEAMS[i % len(TEAMS)]
        t0 = time.perf_counter()
        queries.team_form(con, team, 20, 0, 10)
        shaped.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        con.execute(sql_forecasts, {"team": team}).fetchall()
        con.execute(
            "SELECT game_id, home_pts, away_pts FROM games WHERE (home_team_id = ? OR away_team_id = ?) "
            "AND home_pts IS NOT NULL ORDER BY game_date DESC LIMIT 10",
            (team, team),
        ).fetchall()
        bare.append(time.perf_counter() - t0)
    con.close()
    return {
        "team_form_p50_ms": statistics.median(shaped) * 1000,
        "team_form_p95_ms": percentile(shaped, 95) * 1000,
        "raw_sql_p50_ms": statistics.median(bare) * 1000,
        "raw_sql_p95_ms": percentile(bare, 95) * 1000,
        "repeats": repeats,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="a built NBA_HOME (default: build 3 seasons first)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="per round and server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "api_load.json")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(args.bare_server)
        return 0

    from nba_platform.lib.api_tokens import issue_token
    from nba_platform_tests.integration import api_support

    work = Path(tempfile.mkdtemp(prefix="nba-api-load-"))
    procs: list[subprocess.Popen] = []
    try:
        if args.home:
            api_support._BUILT["db"] = args.home / "serving" / "serving.db"
        else:
            say("building a 3-season home (nba-platform build) ...")
        db = api_support.serving_copy(work)
        key = secrets.token_urlsafe(48)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "MLFLOW_", "DAGSTER_"))}
        env.update(
            {
                "NBA_HOME": str(work),
                "NBA_INCLUDE_SAMPLE": "false",
                "NBA_API_JWT_SECRET": key,
                "NBA_API_RATE_LIMIT_PER_MINUTE": "1e9",
                "NBA_API_RATE_LIMIT_BURST": "1000000000",
                "PYTHONPATH": str(REPO),
            }
        )
        api_port, uncached_port, bare_port = free_port(), free_port(), free_port()
        for port, extra, log_name in (
            (api_port, {}, "api.log"),
            (uncached_port, {"NBA_API_CACHE_SECONDS": "0"}, "api-uncached.log"),
        ):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "nba_platform.cli.app", "serve-api", "--port", str(port)],
                    env={**env, **extra},
                    cwd=work,
                    stdout=open(work / log_name, "w"),  # noqa: SIM115 (the process holds it)
                    stderr=subprocess.STDOUT,
                )
            )
        procs.append(
            subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--bare-server", str(bare_port)], env=env, cwd=work
            )
        )
        wait_http(api_port, "/healthz", procs[0])
        wait_http(uncached_port, "/healthz", procs[1])
        wait_http(bare_port, "/", procs[2])
        token = issue_token(key, "bench", ["read:forecasts"], 3600, "nba-platform", "nba-forecast-api")
        api_paths = [f"/v1/teams/{t}/forecasts?limit=20&last=10" for t in TEAMS]
        auth = f"Authorization: Bearer {token}\r\n"
        say(f"warm-up; then {args.rounds} round(s) x {args.seconds:g}s per server at {args.clients} clients")
        targets = {
            "bare": (bare_port, ["/"], ""),
            "api": (api_port, api_paths, auth),
            "api_uncached": (uncached_port, api_paths, auth),
        }
        for port, paths, headers in targets.values():
            asyncio.run(_load(port, paths, headers, args.clients, 2.0))
        runs: dict[str, list] = {name: [] for name in targets}
        loads = []
        for r in range(args.rounds):
            for name, (port, paths, headers) in targets.items():
                runs[name].append(asyncio.run(_load(port, paths, headers, args.clients, args.seconds)))
            loads.append(os.getloadavg()[0])
            say(
                f"  round {r + 1}: "
                + ", ".join(f"{n} p95 {percentile(runs[n][-1]['latencies'], 95) * 1000:.1f} ms" for n in targets)
                + f", load {loads[-1]:.1f}"
            )
        figures = {k: summary(v) for k, v in runs.items()}
        sql = direct_sql(db, 600)
        result = {
            "clients": args.clients,
            "seconds_per_round": args.seconds,
            "rounds": args.rounds,
            **figures,
            "p95_ratio": figures["api"]["p95_ms"] / figures["bare"]["p95_ms"],
            "p95_ratio_uncached": figures["api_uncached"]["p95_ms"] / figures["bare"]["p95_ms"],
            "target_p95_ratio": 2.0,
            "direct_sql": sql,
            "load_1m": loads,
            "cpus": os.cpu_count(),
            "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        say("")
        say("| server | requests | non-200 | p50 ms | p95 ms | p99 ms | throughput req/s |")
        say("|---|---|---|---|---|---|---|")
        for name in targets:
            f = figures[name]
            say(
                f"| {name} | {f['requests']} | {f['non_200']} | {f['p50_ms']:.1f} | {f['p95_ms']:.1f} | "
                f"{f['p99_ms']:.1f} | {f['throughput_rps']:.0f} |"
            )
        met = "met" if result["p95_ratio"] <= 2.0 else "NOT met"
        say(f"\np95 ratio api/bare: {result['p95_ratio']:.2f} (target <= 2: {met}); load 1m {loads}")
        say(f"p95 ratio api_uncached/bare (NBA_API_CACHE_SECONDS=0): {result['p95_ratio_uncached']:.2f}")
        say(
            f"direct SQL (same team query in-process, one SQLite connection): team_form p50 "
            f"{sql['team_form_p50_ms']:.2f} ms, p95 {sql['team_form_p95_ms']:.2f} ms; raw SQL p50 "
            f"{sql['raw_sql_p50_ms']:.2f} ms, p95 {sql['raw_sql_p95_ms']:.2f} ms"
        )
        say(f"wrote {args.out}")
        return 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
