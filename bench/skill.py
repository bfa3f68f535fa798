"""Game-outcome model skill: walk-forward Brier of 2021-22, 2022-23 and 2023-24, and a feature
ablation (issue 17). A benchmark script, not a test.

    PYTHONPATH=. .venv/bin/python bench/skill.py                 # every ablation row (~13 min on 2 busy cores)
    PYTHONPATH=. .venv/bin/python bench/skill.py --only baseline,all

Data: the shipped landing files (nba_platform/data/landing), turned into `tables/team_games`
in-process by the platform's own functions (read, split by season, validate, dedup), then
`pregame_elo`, `team_game_features`, `game_features` and `game_outcomes` as the feature assets
compute them. No Dagster home is needed.

Model: for each evaluation season S, `models.select_and_train` on every earlier season (the
platform's candidate selection, refit and sigmoid calibration), scored on S's played regular,
play-in and playoff games: the walk-forward version of `nba_game_outcome_backfill`.

Ablation over the feature groups of GROUPS: the landed ones (columns of `features.FEATURE_COLUMNS`)
and the ones measured but not landed (computed here). `baseline` is FEATURE_COLUMNS without any
group (the feature set before issue 17), `landed` is FEATURE_COLUMNS, `+group` the baseline plus
one group, `all` every group, `all-group` every group but one. Prints a table and writes
bench/results/skill.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

import nba_platform
from nba_platform.lib.dedup import dedup_team_games
from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.features import (
    FEATURE_COLUMNS,
    FEATURED_SEASON_TYPES,
    game_features,
    game_outcomes,
    team_game_features,
)
from nba_platform.lib.landing import detect_shape, read_landed_bytes, restrict_columns, split_by_season
from nba_platform.lib.metrics import brier_score, log_loss
from nba_platform.lib.ratings import margin_ratings, team_margin_ratings
from nba_platform.lib.validation import validate_season

LANDING = Path(nba_platform.__file__).parent / "data" / "landing"
EVAL_SEASONS = ("2021-22", "2022-23", "2023-24")
RESULTS = Path(__file__).resolve().parent / "results"


# Feature groups under test (issue 17), by the team features they name (game_features adds home_,
# away_ and diff_ columns). Landed: computed by lib/features.py and in FEATURE_COLUMNS.
LANDED_GROUPS: dict[str, tuple[str, ...]] = {
    "expected_margin": ("expected_margin",),
    "travel": ("travel_km", "tz_shift_hours", "home_distance_km"),
}
# Measured and not landed (no gain): computed here, from lib/ratings.py.
UNLANDED_GROUPS: dict[str, tuple[str, ...]] = {
    "margin_rating": ("margin_rating",),
    "schedule_strength": ("season_opp_rating_avg",),
}
GROUPS = {**LANDED_GROUPS, **UNLANDED_GROUPS}
UNLANDED_COLUMNS = [
    f"{side}_{c}" for cols in UNLANDED_GROUPS.values() for c in cols for side in ("home", "away", "diff")
]


def group_columns(prefixes: tuple[str, ...]) -> list[str]:
    """Model columns of a feature group: home_/away_/diff_ of the team features named."""
    return [c for c in FEATURE_COLUMNS + UNLANDED_COLUMNS if c.split("_", 1)[1] in prefixes]


def unlanded_candidates(team_games: pd.DataFrame) -> pd.DataFrame:
    """Per game: home_/away_/diff_ of each team's bare margin rating and the season-to-date mean
    rating of the opponents it has played (each as that opponent stood before the game)."""
    ratings = team_margin_ratings(margin_ratings(team_games))
    keys = ["game_id", "team_id", "opponent_id", "is_home", "season", "game_date", "pts", "opp_pts"]
    tg = team_games.loc[team_games["season_type"].isin(list(FEATURED_SEASON_TYPES)), keys].astype(
        {"team_id": "int64", "opponent_id": "int64", "is_home": bool, "pts": "float64", "opp_pts": "float64"}
    )
    tg = tg.merge(ratings[["game_id", "team_id", "margin_rating"]], on=["game_id", "team_id"])
    opponent = ratings.rename(columns={"team_id": "opponent_id", "margin_rating": "opp_rating"})
    tg = tg.merge(opponent[["game_id", "opponent_id", "opp_rating"]], on=["game_id", "opponent_id"])
    tg = tg.sort_values(["team_id", "game_date", "game_id"], kind="mergesort").reset_index(drop=True)
    played = (tg["pts"].notna() & tg["opp_pts"].notna()).astype("float64")
    faced = tg["opp_rating"].where(played > 0, 0.0)
    by = [tg["team_id"], tg["season"]]
    # strictly earlier games of the season: one game per team and date, so earlier rows are earlier dates
    total, count = faced.groupby(by).cumsum() - faced, played.groupby(by).cumsum() - played
    tg["season_opp_rating_avg"] = np.where(count > 0, total / count.where(count > 0, 1.0), np.nan)
    cols = ["margin_rating", "season_opp_rating_avg"]
    home, away = tg[tg["is_home"]], tg[~tg["is_home"]]
    games = home[["game_id", *cols]].merge(away[["game_id", *cols]], on="game_id", suffixes=("_h", "_a"))
    out = {"game_id": games["game_id"]}
    for c in cols:
        out[f"home_{c}"], out[f"away_{c}"] = games[f"{c}_h"], games[f"{c}_a"]
        out[f"diff_{c}"] = games[f"{c}_h"] - games[f"{c}_a"]
    return pd.DataFrame(out)


def shipped_team_games() -> pd.DataFrame:
    """`tables/team_games` of every shipped season, as the platform builds it (no corrections ship)."""
    raw: dict[str, dict[str, list[pd.DataFrame]]] = {}  # season -> shape -> frames
    for path in sorted(LANDING.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.name.lower().endswith(".md"):
            continue
        frame = read_landed_bytes(path.read_bytes(), path.name)
        shape = detect_shape(frame.columns, path.name)
        if shape.entity != "team_game":
            continue
        frame, _ = restrict_columns(frame, shape, path.name)
        for season, rows in split_by_season(frame, shape).items():
            raw.setdefault(season, {}).setdefault(shape.name, []).append(rows)
    tables = []
    for season, by_shape in sorted(raw.items()):
        merged = {shape: pd.concat(frames, ignore_index=True) for shape, frames in by_shape.items()}
        tables.append(dedup_team_games(validate_season("team_game", season, merged).accepted).table)
    return pd.concat(tables, ignore_index=True)


def feature_frames(team_games: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    elo = pregame_elo(team_games)
    games = game_features(team_game_features(team_games, elo=elo), elo)
    games = games.merge(unlanded_candidates(team_games), on="game_id", how="left", validate="one_to_one")
    return games, game_outcomes(team_games)


def ablation_rows(names: list[str] | None) -> dict[str, list[str]]:
    """Model input lists by ablation row name."""
    tested = {g: group_columns(p) for g, p in GROUPS.items()}
    every = [c for cols in tested.values() for c in cols]
    baseline = [c for c in FEATURE_COLUMNS if c not in every]
    rows = {"baseline": baseline, "landed": list(FEATURE_COLUMNS)}
    for g, cols in tested.items():
        rows[f"+{g}"] = baseline + cols
    if len(tested) > 1:
        rows["all"] = baseline + every
        for g, cols in tested.items():
            rows[f"all-{g}"] = [c for c in baseline + every if c not in cols]
    if names:
        # "+a+b": the baseline plus groups a and b
        combined = {n: baseline + [c for g in n[1:].split("+") for c in tested[g]] for n in names if n not in rows}
        rows = {n: rows.get(n) or combined[n] for n in names}
    return rows


def walk_forward(games: pd.DataFrame, outcomes: pd.DataFrame, columns: list[str], candidates) -> dict:
    from nba_platform.lib.model_params import GameModelParams
    from nba_platform.lib.models import select_and_train, training_frame

    params = GameModelParams(candidates=tuple(candidates))
    seasons = sorted(games["season"].astype(str).unique())
    out = {}
    for season in EVAL_SEASONS:
        model = select_and_train(games, outcomes, [s for s in seasons if s < season], params, columns)
        X, y, _ = training_frame(games, outcomes, [season], params.season_types, columns)
        p = model.predict_proba_home(X)
        out[season] = {
            "brier": brier_score(y, p),
            "log_loss": log_loss(y, p),
            "n": int(len(y)),
            "kind": model.kind,
            "mean_p": float(p.mean()),
            # the selection round: each candidate's Brier on the last training season
            "validation": {row.candidate: round(float(row.brier), 5) for row in model.validation.itertuples()},
            "home_win_rate": float(y.mean()),
        }
    out["mean_brier"] = float(np.mean([out[s]["brier"] for s in EVAL_SEASONS]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated ablation rows (baseline, +group, +group+group, all, all-group)")
    parser.add_argument(
        "--candidates",
        default="logistic,hist_gradient_boosting",
        help="model kinds to select from (default: the platform's)",
    )
    parser.add_argument("--out", default=str(RESULTS / "skill.json"))
    args = parser.parse_args()

    t0 = time.time()
    team_games = shipped_team_games()
    t1 = time.time()
    games, outcomes = feature_frames(team_games)
    t2 = time.time()
    print(f"team_games {len(team_games):,} rows in {t1 - t0:.1f}s; game_features {len(games):,} rows in {t2 - t1:.1f}s")

    rows = ablation_rows(args.only.split(",") if args.only else None)
    results = {}
    header = (
        f"{'row':<22} {'cols':>5} " + " ".join(f"{s:>9}" for s in EVAL_SEASONS) + f" {'mean':>9} {'vs base':>9}  kinds"
    )
    print(header)
    for name, columns in rows.items():
        t = time.time()
        r = walk_forward(games, outcomes, columns, args.candidates.split(","))
        r["columns"] = len(columns)
        r["seconds"] = round(time.time() - t, 1)
        results[name] = r
        base = results.get("baseline", {}).get("mean_brier", np.nan)
        kinds = ",".join(r[s]["kind"][:3] for s in EVAL_SEASONS)
        print(
            f"{name:<22} {len(columns):>5} "
            + " ".join(f"{r[s]['brier']:>9.4f}" for s in EVAL_SEASONS)
            + f" {r['mean_brier']:>9.4f} {r['mean_brier'] - base:>+9.4f}  {kinds} ({r['seconds']}s)",
            flush=True,
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    report = {
        "eval_seasons": list(EVAL_SEASONS),
        "groups": {g: group_columns(p) for g, p in GROUPS.items()},
        "candidates": args.candidates.split(","),
        "load_1m": os.getloadavg()[0],
        "rows": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {args.out} ({time.time() - t0:.0f}s)")


if __name__ == "__main__":
    main()
