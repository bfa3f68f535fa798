"""`nba-platform build` without Dagster: the same transforms as plain Python function calls.

Run by `bench/cold_build.py` in a fresh subprocess (env NBA_HOME=<tmp>, like the platform run),
so interpreter start-up and imports are paid the same way. It can also be run by hand:

    NBA_HOME=/tmp/plain .venv/bin/python bench/plain_build.py --steps-json /tmp/plain/steps.json

What it mirrors, asset by asset (the asset bodies in nba_platform/defs/*/assets.py and the
blocking checks in nba_platform/defs/tables/checks.py), with the same lib functions, the same
inputs, the same parameters and the same metadata computations (markdown previews, counts,
the calibration plot), only without Dagster objects around them:

  raw/<shape>         every landed file read and shape-peeked once per shape, read_rows for its own shape
  tables/*_validated  normalise + apply_rules per season (validate_season)
  checks              the 3 GX suites + 3 nothing-lost checks on the validated tables,
                      the 3 GX suites + 3 keys-accounted checks on the deduplicated tables (blocking)
  dedup               dedup_team_games / dedup_player_games per season, dedup_players
  features/*          pregame_elo, team_game_features, game_features, game_outcomes, player_game_features
  models/*            select_and_train + MLflow log/register; evaluation (load model from MLflow, metrics, plot)
  serving/*           walk-forward train_kind + MLflow log/register per season; SQLite publish

Every asset output is written to a Parquet lake under NBA_HOME/lake exactly like
ParquetLakeIOManager.handle_output (one zstd Parquet file per partition, atomic rename).

Deliberately NOT done (this is what the platform adds as orchestration, see bench/README.md):
  * the CLI's partition-discovery scan (cmd_build parses every landed file once before the run),
  * Dagster instance, run/event storage, step events, asset materialization records,
  * reading each step's inputs back from the Parquet lake (ParquetLakeIOManager.load_input):
    here data is handed from step to step in memory.

Helper functions that live in modules importing dagster (peek_columns, sample_root,
validate_season, _dedup_metadata, the check functions, played_seasons, ...) are copied below
with their Dagster wrappers (dg.Output, dg.MetadataValue, dg.AssetCheckResult) replaced by
plain dicts; bench/cold_build.py records the hashes of the source files this mirror was written
against and warns when they change. MlflowTracking is used as is (the brief asks for it), which
imports dagster: that import is timed as its own step.
"""

from __future__ import annotations

import time

T_MAIN_START = time.time()  # interpreter is up, nothing of ours imported yet

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

# Module-level imports the platform also pays at start-up (cli -> ops_runner -> definitions ->
# defs/* import these lib modules at import time). lib.models (scikit-learn), GX and MLflow
# are imported lazily inside the assets on the platform side, and inside the steps here.
import gzip  # noqa: E402
import io  # noqa: E402
import tarfile  # noqa: E402
from importlib import resources as importlib_resources  # noqa: E402

import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402

from nba_platform.lib import features as F  # noqa: E402
from nba_platform.lib import metrics as M  # noqa: E402
from nba_platform.lib.dedup import dedup_player_games, dedup_players, dedup_team_games  # noqa: E402
from nba_platform.lib.elo import pregame_elo  # noqa: E402
from nba_platform.lib.landing import (  # noqa: E402
    LINEAGE,
    SHAPES,
    SHAPES_BY_NAME,
    SOURCE_FILE,
    SOURCE_ROW,
    SUPPORTED_SUFFIXES,
    LandingError,
    detect_shape,
    read_landed_bytes,
    split_by_season,
)
from nba_platform.lib.metadata import counts_markdown, markdown_table, seasons_covered  # noqa: E402
from nba_platform.lib.normalise import normalise_player_games, normalise_player_seasons, normalise_team_games  # noqa: E402
from nba_platform.lib.quality import (  # noqa: E402
    RULES_BY_ENTITY,
    apply_rules,
    player_expectations,
    player_game_expectations,
    run_suite,
    team_game_expectations,
    team_game_pair_view,
)
from nba_platform.lib.schema import (  # noqa: E402
    PLAYER_GAME_SCHEMA,
    PLAYER_SEASON_SCHEMA,
    QUARANTINE_COLUMNS,
    TEAM_GAME_SCHEMA,
    empty_frame,
)
from nba_platform.lib.serving_db import SERVING_TABLES, publish_sqlite  # noqa: E402
from nba_platform.lib.storage import Store  # noqa: E402
from nba_platform.settings import load_settings  # noqa: E402

T_IMPORTS_DONE = time.time()


# ------------------------------------------------------------------ step timing


class Steps:
    """Wall time of each step, and this process's peak RSS so far when it ended."""

    def __init__(self):
        self.rows: list[dict] = []

    @contextlib.contextmanager
    def __call__(self, group: str, name: str):
        t0 = time.time()
        yield
        t1 = time.time()
        self.rows.append({"group": group, "name": name, "start": t0, "end": t1, "seconds": t1 - t0,
                          "maxrss_mb_so_far": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        print(f"  {name}: {t1 - t0:.2f}s", flush=True)


# ------------------------------------------------------------------ copies of helpers from dagster-importing modules

SAMPLE_PREFIX = "sample/"  # resources/landing.py


def sample_root() -> str:  # resources/landing.py
    return str(importlib_resources.files("nba_platform") / "data" / "landing")


def peek_columns(data: bytes, name: str) -> list[str]:  # resources/landing.py, verbatim
    lower = name.lower()
    if lower.endswith((".tar.gz", ".tgz")):
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for m in tar:
                if m.isfile() and m.name.endswith(".csv"):
                    return tar.extractfile(m).readline().decode("utf-8-sig").strip().split(",")
        raise LandingError(f"{name}: archive holds no .csv members")
    if lower.endswith(".csv.gz") or lower.endswith(".csv"):
        raw = gzip.GzipFile(fileobj=io.BytesIO(data)).read(65536) if lower.endswith(".gz") else data[:65536]
        first = raw.split(b"\n", 1)[0]
        try:
            return pd.read_csv(io.BytesIO(first + b"\n"), dtype=str, nrows=0).columns.tolist()
        except Exception as exc:
            raise LandingError(f"{name}: unreadable header: {exc}") from None
    return list(read_landed_bytes(data, name).columns)


class Landing:
    """LandingZone.list_files / read_bytes / shape_of / read_rows (resources/landing.py) on local disk."""

    def __init__(self, uri: str, include_sample: bool):
        self.uri, self.include_sample = uri, include_sample

    def list_files(self) -> list[str]:
        files = []
        if self.include_sample:
            files += [SAMPLE_PREFIX + f.path for f in Store(sample_root()).list()]
        files += [f.path for f in Store(self.uri).list() if f.path.lower().endswith(SUPPORTED_SUFFIXES)]
        return files

    def read_bytes(self, name: str) -> bytes:
        if name.startswith(SAMPLE_PREFIX):
            return Store(sample_root()).read_bytes(name[len(SAMPLE_PREFIX):])
        return Store(self.uri).read_bytes(name)

    def shape_of(self, name: str, data: bytes):
        return detect_shape(peek_columns(data, name), name)

    def read_rows(self, name: str, data: bytes):
        frame = read_landed_bytes(data, name)
        shape = detect_shape(frame.columns, name)
        return shape, split_by_season(frame, shape)


class Lake:
    """ParquetLakeIOManager.handle_output (resources/lake.py): one Parquet file per partition."""

    def __init__(self, root: str):
        self.root = root
        self.files_written = 0

    def write(self, key: list[str], obj) -> None:
        store = Store(self.root)
        base = "/".join(key)
        if isinstance(obj, dict):  # a partitioned asset's {partition: frame}
            for partition, frame in obj.items():
                store.write_table(f"{base}/{partition}.parquet", pa.Table.from_pandas(frame, preserve_index=False))
                self.files_written += 1
        else:
            store.write_table(f"{base}.parquet", pa.Table.from_pandas(obj, preserve_index=False))
            self.files_written += 1


def _empty_raw() -> pd.DataFrame:  # defs/ingestion/assets.py
    return pd.DataFrame({c: pd.Series(dtype="string[pyarrow]" if c == LINEAGE[0] else "int64") for c in LINEAGE})


NORMALISERS = {"team_game": normalise_team_games, "player_game": normalise_player_games, "player": normalise_player_seasons}
SCHEMAS = {"team_game": TEAM_GAME_SCHEMA, "player_game": PLAYER_GAME_SCHEMA, "player": PLAYER_SEASON_SCHEMA}


def shapes_of(entity: str) -> list[str]:  # defs/tables/assets.py
    return [s.name for s in SHAPES if s.entity == entity]


def validate_season(entity: str, season: str, raw_by_shape: dict[str, pd.DataFrame]):  # defs/tables/assets.py, verbatim
    normalised = [
        NORMALISERS[entity](raw, shape).assign(season=season)
        for shape, raw in raw_by_shape.items()
        if len(raw)
    ]
    if not normalised:
        return empty_frame(SCHEMAS[entity]), empty_frame(QUARANTINE_COLUMNS), {}, 0
    frame = pd.concat(normalised, ignore_index=True)
    split = apply_rules(frame, RULES_BY_ENTITY[entity], entity, SCHEMAS[entity])
    return split.accepted, split.quarantined, split.counts_by_rule, len(frame)


def _dedup_metadata(results, table) -> dict:  # defs/tables/assets.py, dg.MetadataValue.* -> plain values
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
        "quarantined_by_rule": counts_markdown(by_rule),
        "repairs": repaired,
        "seasons_covered": seasons_covered(frames),
        "preview": markdown_table(next((f for f in frames.values() if len(f)), pd.DataFrame())),
    }


# defs/tables/checks.py (dg.AssetCheckResult -> dict)


def _concat(frames) -> pd.DataFrame:
    if isinstance(frames, pd.DataFrame):
        return frames
    parts = [f for f in frames.values() if len(f)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _suite_result(result, rows: int) -> dict:
    return {"passed": result.success, "metadata": {"rows": rows, "expectations": result.evaluated,
                                                    "failures": len(result.failures), "report": result.markdown()}}


def gx_contract(table: pd.DataFrame, suite: str, expectations) -> dict:
    if table.empty:
        return {"passed": True, "metadata": {"rows": 0, "note": "no rows in these partitions"}}
    return _suite_result(run_suite(table, suite, expectations), len(table))


def nothing_lost(raw: dict, accepted: pd.DataFrame, quarantined: pd.DataFrame) -> dict:
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
    return {"passed": passed, "metadata": {
        "expected_rows": expected_rows, "accepted": len(accepted), "quarantined": len(quarantined),
        "source_rows_missing": len(missing), "unexpected_lineage": len(unexpected),
        "missing_sample": [f"{a} row {b}" for a, b in sorted(missing)[:5]]}}


def keys_accounted(validated: pd.DataFrame, table: pd.DataFrame, quarantined: pd.DataFrame, key: list[str]) -> dict:
    if validated.empty:
        return {"passed": True, "metadata": {"keys": 0}}
    vkeys = set(map(tuple, validated[key].astype(str).to_numpy()))
    tkeys = set(map(tuple, table[key].astype(str).to_numpy())) if len(table) else set()
    qkeys = set()
    if len(quarantined):
        recs = pd.DataFrame([json.loads(r) for r in quarantined["record"]])
        qkeys = set(map(tuple, recs[key].astype(str).to_numpy()))
    lost = vkeys - tkeys - qkeys
    dupes = int(table.duplicated(key).sum()) if len(table) else 0
    return {"passed": not lost and dupes == 0, "metadata": {
        "validated_keys": len(vkeys), "table_keys": len(tkeys), "quarantined_keys": len(qkeys),
        "keys_lost": len(lost), "duplicate_keys_in_table": dupes, "lost_sample": [list(k) for k in sorted(lost)[:5]]}}


def blocking(name: str, result: dict) -> None:
    """A failing blocking check stops everything downstream, as in the platform run."""
    if not result["passed"]:
        raise SystemExit(f"blocking check {name} failed: {json.dumps(result['metadata'], default=str)[:2000]}")


# defs/features/assets.py


def _all(partitions: dict) -> pd.DataFrame:
    frames = [f for f in partitions.values() if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# defs/models/assets.py


def played_seasons(outcomes: pd.DataFrame, features: pd.DataFrame) -> list[str]:
    played = features.merge(outcomes[outcomes["home_win"].notna()][["game_id"]], on="game_id")
    return sorted(played["season"].unique())


def calibration_markdown(calib: pd.DataFrame) -> str:
    lines = ["| predicted | games | mean predicted | observed home-win rate |", "|---|---|---|---|"]
    lines += [f"| {r.bin_lower:.1f}-{r.bin_upper:.1f} | {r.n} | {r.mean_predicted:.3f} | {r.observed_rate:.3f} |" for r in calib.itertuples()]
    return "\n".join(lines)


def png_markdown(png: bytes, alt: str) -> str:
    import base64

    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


# defs/serving/assets.py

PREDICTION_COLUMNS = ["game_id", "game_date", "season", "season_type", "home_team_id", "away_team_id",
                      "p_home_win", "elo_p_home_win", "model_version"]


def empty_predictions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64" if c.startswith(("p_", "elo_")) else "object") for c in PREDICTION_COLUMNS})


def game_model_params(candidates=None):
    """GameModelConfig().params(candidates) with the config's defaults (the build passes no run config)."""
    from nba_platform.lib.models import GameModelParams

    return GameModelParams(
        candidates=tuple(candidates or ["logistic", "hist_gradient_boosting"]), logistic_c=0.1, hgb_max_iter=200,
        hgb_learning_rate=0.05, hgb_max_depth=3, hgb_min_samples_leaf=40, calibration="sigmoid", min_train_seasons=2,
    )


def publish(url: str, table_name: str, frame: pd.DataFrame) -> int:  # ServingDatabase.publish, SQLite branch
    path = url[len("sqlite:///"):]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return publish_sqlite(path, SERVING_TABLES[table_name], frame)


# ------------------------------------------------------------------ the build


def build(step: Steps) -> dict:
    settings = load_settings()
    landing = Landing(settings.landing_uri, settings.include_sample)
    lake = Lake(settings.lake_uri)
    meta: dict[str, dict] = {}  # what the platform attaches as asset metadata, kept to show it is computed

    # ---------------------------------------------------------------- raw/<shape> (7 assets)
    raw: dict[str, dict[str, pd.DataFrame]] = {}
    parts_by_shape: dict[str, dict[str, list[pd.DataFrame]]] = {}
    files_by_shape: dict[str, tuple[list, list]] = {}
    with step("raw", "raw/* read + split (7 shapes)"):
        for shape in SHAPES:  # raw_asset(): every file read and peeked per shape
            parts: dict[str, list[pd.DataFrame]] = {}
            files_read, unrecognised = [], []
            for name in landing.list_files():
                data = landing.read_bytes(name)
                try:
                    if landing.shape_of(name, data).name != shape.name:
                        continue
                    _, by_season = landing.read_rows(name, data)
                except LandingError as exc:
                    unrecognised.append(str(exc))
                    continue
                files_read.append(name)
                for season, rows in by_season.items():
                    parts.setdefault(season, []).append(rows)
            parts_by_shape[shape.name] = parts
            files_by_shape[shape.name] = (files_read, unrecognised)
    # The run's partitions: every season found (the platform gets them from the CLI scan).
    seasons = sorted(set().union(*(p.keys() for p in parts_by_shape.values())))
    with step("raw", "raw/* assemble partitions + metadata + Parquet"):
        for shape in SHAPES:
            parts = parts_by_shape[shape.name]
            out = {s: (pd.concat(parts[s], ignore_index=True) if parts.get(s) else _empty_raw()) for s in seasons}
            sample = next((f for f in out.values() if len(f)), _empty_raw())
            files_read, unrecognised = files_by_shape[shape.name]
            meta[f"raw/{shape.name}"] = {
                "rows": sum(len(f) for f in out.values()),
                "rows_by_season": {s: len(f) for s, f in sorted(out.items())},
                "files": files_read, "seasons_covered": seasons_covered(out),
                "unreadable_files": unrecognised, "preview": markdown_table(sample),
            }
            lake.write(["raw", shape.name], out)
            raw[shape.name] = out
    del parts_by_shape

    # ---------------------------------------------------------------- tables/*_validated (3 multi-assets)
    validated: dict[str, dict[str, pd.DataFrame]] = {}
    quarantine: dict[str, dict[str, pd.DataFrame]] = {}
    for entity, table in (("team_game", "team_games"), ("player_game", "player_games"), ("player", "player_seasons")):
        with step("validate", f"tables/{table}_validated"):
            shapes = shapes_of(entity)
            accepted, quarantined, by_rule, rows_in = {}, {}, {}, 0
            for season in seasons:
                ok, bad, counts, n = validate_season(entity, season, {shape: raw[shape][season] for shape in shapes})
                accepted[season], quarantined[season] = ok, bad
                rows_in += n
                for rule, c in counts.items():
                    by_rule[rule] = by_rule.get(rule, 0) + c
            n_ok, n_bad = sum(map(len, accepted.values())), sum(map(len, quarantined.values()))
            q_rules = pd.concat(quarantined.values())["rule"].value_counts().to_dict() if n_bad else {}
            meta[f"tables/{table}_validated"] = {
                "rows_in": rows_in, "rows_accepted": n_ok, "rows_quarantined": n_bad,
                "failures_by_rule": counts_markdown(by_rule), "seasons_covered": seasons_covered(accepted),
                "preview": markdown_table(next((f for f in accepted.values() if len(f)), pd.DataFrame())),
            }
            lake.write(["tables", f"{table}_validated"], accepted)
            meta[f"quarantine/{table}"] = {
                "rows": n_bad,
                "quarantined_by_rule": counts_markdown({str(k): int(v) for k, v in q_rules.items()}),
                "preview": markdown_table(next((f for f in quarantined.values() if len(f)), pd.DataFrame())),
            }
            lake.write(["quarantine", table], quarantined)
            validated[table], quarantine[table] = accepted, quarantined

    # ---------------------------------------------------------------- blocking checks on the validated tables
    with step("checks_validated", "GX team_games_validated"):
        blocking("team_games_validated_contract", gx_contract(
            _concat(validated["team_games"]), "team_games_validated", team_game_expectations(deduplicated=False)))
    with step("checks_validated", "GX player_games_validated"):
        blocking("player_games_validated_contract", gx_contract(
            _concat(validated["player_games"]), "player_games_validated", player_game_expectations(deduplicated=False)))
    with step("checks_validated", "GX player_seasons_validated"):
        blocking("player_seasons_validated_contract", gx_contract(
            _concat(validated["player_seasons"]), "player_seasons_validated", player_expectations("player_seasons")))
    with step("checks_validated", "nothing-lost x3"):
        blocking("team_games_nothing_lost", nothing_lost(
            {k: _concat(raw[k]) for k in shapes_of("team_game")}, _concat(validated["team_games"]), _concat(quarantine["team_games"])))
        blocking("player_games_nothing_lost", nothing_lost(
            {"box_score_traditional": _concat(raw["box_score_traditional"])}, _concat(validated["player_games"]),
            _concat(quarantine["player_games"])))
        blocking("player_seasons_nothing_lost", nothing_lost(
            {"player_bios": _concat(raw["player_bios"])}, _concat(validated["player_seasons"]), _concat(quarantine["player_seasons"])))

    # ---------------------------------------------------------------- dedup + their blocking checks
    with step("dedup", "tables/team_games"):
        results = {season: dedup_team_games(validated["team_games"][season]) for season in seasons}
        team_games = {s: r.table for s, r in results.items()}
        meta["tables/team_games"] = _dedup_metadata(results, team_games)
        lake.write(["tables", "team_games"], team_games)
        team_games_conflicts = {s: r.quarantined for s, r in results.items()}
        meta["quarantine/team_games_dedup"] = {"rows": sum(len(r.quarantined) for r in results.values())}
        lake.write(["quarantine", "team_games_dedup"], team_games_conflicts)
    with step("checks_dedup", "GX team_games"):
        tg_all = _concat(team_games)
        blocking("team_games_contract", gx_contract(tg_all, "team_games", []) if tg_all.empty else
                 gx_contract(team_game_pair_view(tg_all), "team_games", team_game_expectations(deduplicated=True)))
    with step("checks_dedup", "keys team_games"):
        blocking("team_games_keys_accounted", keys_accounted(
            _concat(validated["team_games"]), _concat(team_games), _concat(team_games_conflicts), ["game_id", "team_id"]))

    with step("dedup", "tables/player_games"):
        results = {s: dedup_player_games(validated["player_games"][s], team_games[s]) for s in seasons}
        player_games = {s: r.table for s, r in results.items()}
        meta["tables/player_games"] = _dedup_metadata(results, player_games)
        lake.write(["tables", "player_games"], player_games)
        player_games_conflicts = {s: r.quarantined for s, r in results.items()}
        meta["quarantine/player_games_dedup"] = {"rows": sum(len(r.quarantined) for r in results.values())}
        lake.write(["quarantine", "player_games_dedup"], player_games_conflicts)
    with step("checks_dedup", "GX player_games"):
        blocking("player_games_contract", gx_contract(_concat(player_games), "player_games", player_game_expectations(deduplicated=True)))
    with step("checks_dedup", "keys player_games"):
        blocking("player_games_keys_accounted", keys_accounted(
            _concat(validated["player_games"]), _concat(player_games), _concat(player_games_conflicts), ["game_id", "player_id"]))

    with step("dedup", "tables/players"):
        frames = [f for f in validated["player_seasons"].values() if len(f)]
        season_rows = pd.concat(frames, ignore_index=True) if frames else empty_frame(PLAYER_SEASON_SCHEMA)
        result = dedup_players(season_rows)
        m = _dedup_metadata(result, result.table)
        m["seasons_covered"] = seasons_covered({s: f for s, f in validated["player_seasons"].items()})
        meta["tables/players"] = m
        players = result.table
        lake.write(["tables", "players"], players)
        meta["quarantine/players_dedup"] = {"rows": len(result.quarantined)}
        lake.write(["quarantine", "players_dedup"], result.quarantined)
    with step("checks_dedup", "GX players"):
        blocking("players_contract", gx_contract(players, "players", player_expectations("players")))
    with step("checks_dedup", "keys players"):
        blocking("players_keys_accounted", keys_accounted(
            _concat(validated["player_seasons"]), _concat(players), _concat(result.quarantined), ["player_id"]))

    # ---------------------------------------------------------------- features/* (5 assets)
    with step("features", "features/elo_ratings"):
        elo = pregame_elo(_all(team_games))
        last = elo.sort_values("game_date").tail(1)
        meta["features/elo_ratings"] = {
            "games": len(elo), "seasons": int(elo["season"].nunique()),
            "latest_game_date": str(last["game_date"].iloc[0].date()) if len(last) else "none",
            "preview": markdown_table(elo.tail(8))}
        lake.write(["features", "elo_ratings"], elo)
    with step("features", "features/team_game_features"):
        team_feats = F.team_game_features(_all(team_games), elo=elo)
        meta["features/team_game_features"] = {"rows": len(team_feats), "columns": len(team_feats.columns),
                                               "preview": markdown_table(team_feats.tail(5))}
        lake.write(["features", "team_game_features"], team_feats)
    with step("features", "features/game_features"):
        features = F.game_features(team_feats, elo)
        meta["features/game_features"] = {"games": len(features), "feature_columns": len(F.FEATURE_COLUMNS),
                                          "preview": markdown_table(features.tail(5))}
        lake.write(["features", "game_features"], features)
    with step("features", "features/game_outcomes"):
        outcomes = F.game_outcomes(_all(team_games))
        played = outcomes["home_win"].notna()
        meta["features/game_outcomes"] = {"games": len(outcomes), "played": int(played.sum()),
                                          "home_win_rate": float(outcomes.loc[played, "home_win"].astype(float).mean())}
        lake.write(["features", "game_outcomes"], outcomes)
    with step("features", "features/player_game_features"):
        pg = _all(player_games)
        pfeats = F.player_game_features(pg) if len(pg) else pd.DataFrame()
        meta["features/player_game_features"] = {"rows": len(pfeats), "players": int(pfeats["player_id"].nunique()) if len(pfeats) else 0,
                                                 "preview": markdown_table(pfeats.tail(5))}
        lake.write(["features", "player_game_features"], pfeats)

    # ---------------------------------------------------------------- models/*
    with step("mlflow_import", "import MlflowTracking (pulls in dagster)"):
        from nba_platform.resources.mlflow import MlflowTracking
    mlflow = MlflowTracking(tracking_uri=settings.mlflow_tracking_uri, artifact_location=settings.mlflow_artifact_uri)
    mlflow_models_logged = 0

    with step("model", "models/game_outcome_model"):
        from nba_platform.lib.models import select_and_train, training_frame

        seasons_played = played_seasons(outcomes, features)
        eval_season = seasons_played[-1]  # config.eval_season is None
        train = [s for s in seasons_played if s < eval_season]  # config.first_train_season is None
        trained = select_and_train(features, outcomes, train, game_model_params())
        chosen = trained.validation.set_index("candidate").loc[trained.kind]
        X, _, _ = training_frame(features, outcomes, train[-1:], trained.params.get("season_types", ("regular", "playoffs", "play_in")))
        logged = mlflow.log_sklearn_model(
            trained.estimator, X[trained.feature_columns].head(200),
            params={**trained.params, "kind": trained.kind, "train_seasons": f"{train[0]}..{train[-1]}", "eval_season": eval_season},
            metrics={"validation_brier": chosen["brier"], "validation_log_loss": chosen["log_loss"],
                     "validation_accuracy": chosen["accuracy"], "n_train_rows": trained.n_train_rows},
            tags={"purpose": "evaluation", "eval_season": eval_season, "kind": trained.kind},
            artifacts={"feature_columns.json": json.dumps(trained.feature_columns, indent=1),
                       "validation.md": M.markdown_comparison(trained.validation.rename(columns={"candidate": "method"}).set_index("method"))},
            run_name=f"game_outcome_model eval {eval_season}",
        )
        mlflow_models_logged += 1
        card = pd.DataFrame([{
            "model_name": logged.name, "model_version": logged.version, "model_uri": logged.model_uri, "run_id": logged.run_id,
            "kind": trained.kind, "eval_season": eval_season, "train_first_season": train[0], "train_last_season": train[-1],
            "n_train_rows": trained.n_train_rows, "feature_columns": json.dumps(trained.feature_columns),
            "params": json.dumps(trained.params, default=str),
        }])
        meta["models/game_outcome_model"] = {
            "model": logged.label, "kind": trained.kind, "mlflow_run_id": logged.run_id,
            "train_seasons": f"{train[0]} .. {train[-1]}", "eval_season": eval_season, "n_train_rows": trained.n_train_rows,
            "validation (last training season)": M.markdown_comparison(
                trained.validation.rename(columns={"candidate": "method"}).set_index("method"))}
        lake.write(["models", "game_outcome_model"], card)

    with step("evaluation", "models/game_model_evaluation"):
        row = card.iloc[0]
        model = mlflow.load_sklearn_model(row["model_uri"])
        columns = json.loads(row["feature_columns"])
        eval_season = row["eval_season"]
        params = json.loads(row["params"])
        types = tuple(params.get("season_types", ("regular", "playoffs", "play_in")))
        X, y, keys = training_frame(features, outcomes, [eval_season], types)
        train_seasons = [s for s in played_seasons(outcomes, features) if row["train_first_season"] <= s <= row["train_last_season"]]
        _, y_train, _ = training_frame(features, outcomes, train_seasons, types)
        probs = {
            "model": model.predict_proba(X[columns])[:, 1],
            "elo": X["elo_p_home_win"].to_numpy(dtype=float),
            "home_base_rate": [float(y_train.mean())] * len(y),
            "coin_flip": [0.5] * len(y),
        }
        comparison = M.compare_methods(y, probs)
        png = M.calibration_plot_png(y, {"model": probs["model"], "elo": probs["elo"]}, title=f"Calibration, {eval_season}")
        calib = M.calibration_table(y, probs["model"])
        by_method = comparison.set_index("method") if "method" in comparison.columns else comparison
        mlflow.log_metrics(row["run_id"], {f"eval_{m}_{k}": by_method.loc[m, k] for m in by_method.index for k in ("brier", "log_loss", "accuracy")})
        model_brier, elo_brier = float(by_method.loc["model", "brier"]), float(by_method.loc["elo", "brier"])
        meta["models/game_model_evaluation"] = {
            "eval_season": eval_season, "games": len(y), "model": f"{row['model_name']}/v{row['model_version']}",
            "model_brier": model_brier, "elo_brier": elo_brier, "beats_elo": model_brier < elo_brier,
            "comparison": M.markdown_comparison(by_method), "calibration_table": calibration_markdown(calib),
            "calibration_plot": png_markdown(png, "calibration")}
        lake.write(["models", "game_model_evaluation"], comparison.reset_index() if "method" not in comparison.columns else comparison)

    # ---------------------------------------------------------------- serving/*
    with step("predictions", "serving/game_predictions (walk-forward)"):
        from nba_platform.lib.models import train_kind, walk_forward_train_seasons

        kind = card["kind"].iloc[0]
        params = game_model_params(candidates=[kind])
        out, briefs = {}, {}
        for season in seasons:
            season_games = features[features["season"] == season]
            train = walk_forward_train_seasons(played_seasons(outcomes, features), season)
            if len(season_games) == 0 or len(train) < params.min_train_seasons:
                out[season] = empty_predictions()
                briefs[season] = f"not predicted: {len(train)} earlier season(s) with games (need {params.min_train_seasons})"
                continue
            trained = train_kind(features, outcomes, train, kind, params)
            X = season_games[trained.feature_columns]
            logged = mlflow.log_sklearn_model(
                trained.estimator, X.head(200),
                params={**trained.params, "kind": kind, "train_seasons": f"{train[0]}..{train[-1]}"},
                metrics={"n_train_rows": trained.n_train_rows},
                tags={"purpose": "walk_forward", "predicts_season": season, "kind": kind},
                artifacts={"feature_columns.json": json.dumps(trained.feature_columns)},
                run_name=f"walk-forward {season}",
            )
            mlflow_models_logged += 1
            preds = season_games[["game_id", "game_date", "season", "season_type", "home_team_id", "away_team_id", "elo_p_home_win"]].copy()
            preds["p_home_win"] = trained.predict_proba_home(season_games)
            preds["model_version"] = logged.label
            out[season] = preds[PREDICTION_COLUMNS].sort_values(["game_date", "game_id"], ignore_index=True)
            Xp, y, keys = training_frame(features, outcomes, [season], params.season_types)
            if len(y):
                scored = keys[["game_id"]].assign(y=y).merge(out[season][["game_id", "p_home_win", "elo_p_home_win"]], on="game_id")
                cmp = M.compare_methods(scored["y"].to_numpy(), {"model": scored["p_home_win"].to_numpy(), "elo": scored["elo_p_home_win"].to_numpy()})
                by = cmp.set_index("method") if "method" in cmp.columns else cmp
                briefs[season] = (f"{len(out[season])} games by {logged.label} (trained {train[0]}..{train[-1]}); played {len(y)}: "
                                  f"Brier model {by.loc['model', 'brier']:.4f} vs Elo {by.loc['elo', 'brier']:.4f}")
            else:
                briefs[season] = f"{len(out[season])} games by {logged.label} (trained {train[0]}..{train[-1]}); none played yet"
        meta["serving/game_predictions"] = {"games": sum(len(f) for f in out.values()),
                                            "by_season": "\n".join(f"- **{s}**: {b}" for s, b in sorted(briefs.items()))}
        lake.write(["serving", "game_predictions"], out)
        predictions = out

    with step("publish", "serving/published_predictions (SQLite)"):
        published = {"games": 0, "game_predictions": 0}
        now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
        for season in seasons:
            tg = team_games[season]
            home = tg[tg["is_home"] == True]  # noqa: E712
            game_rows = pd.DataFrame({
                "game_id": home["game_id"], "season": home["season"], "season_type": home["season_type"],
                "game_date": home["game_date"], "home_team_id": home["team_id"], "away_team_id": home["opponent_id"],
                "home_pts": home["pts"], "away_pts": home["opp_pts"],
            })
            published["games"] += publish(settings.serving_db_url, "games", game_rows)
            preds = predictions[season]
            if len(preds):
                published["game_predictions"] += publish(settings.serving_db_url, "game_predictions", preds.assign(published_at=now))
        meta["serving/published_predictions"] = {"database": settings.serving_db_url, "games_upserted": published["games"],
                                                 "predictions_upserted": published["game_predictions"]}

    return {
        "seasons": seasons,
        "lake_files_written": lake.files_written,
        "mlflow_models_logged": mlflow_models_logged,
        "rows": {k: v.get("rows", v.get("rows_out", v.get("games"))) for k, v in meta.items()},
        "published": published,
        "model": meta["models/game_outcome_model"]["model"],
        "model_kind": meta["models/game_outcome_model"]["kind"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps-json", required=True, help="where to write the step timings (JSON)")
    args = parser.parse_args(argv)
    step = Steps()
    print(f"plain build: NBA_HOME={load_settings().home} (imports {T_IMPORTS_DONE - T_MAIN_START:.2f}s)", flush=True)
    t0 = time.time()
    summary = build(step)
    t1 = time.time()
    print(f"plain build done in {t1 - t0:.1f}s: {len(summary['seasons'])} seasons, {summary['lake_files_written']} Parquet files, "
          f"{summary['mlflow_models_logged']} MLflow models, {summary['published']}", flush=True)
    with open(args.steps_json, "w") as f:
        json.dump({"t_main_start": T_MAIN_START, "t_imports_done": T_IMPORTS_DONE, "t_build_start": t0, "t_build_end": t1,
                   "steps": step.rows, "summary": summary,
                   "maxrss_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
