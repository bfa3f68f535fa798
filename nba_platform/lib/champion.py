"""The champion stays current: which seasons a deployed model must have seen, and the
season-boundary promotion rule. Pure functions, shared by the model assets, serving, the
retraining sensor and the CLI.

Freshness rule (`champion_is_current`): a model may serve season S only if it was trained
through the last completed season before S. "Completed" is `lib.seasons.complete_seasons`: the
season's regular season is over (its schedule says so, or the results alone show it), playoffs
or not. A champion that missed that season is stale: the retraining sensor asks for a refit
(cause `stale_champion`), `nba-platform predict-season` runs that refit before predicting, and
`serving/game_predictions` serves the season with the walk-forward refit on every earlier
season instead of the stale champion.

Deployed model (`deploy_train_seasons`): evaluation holds the latest played season out; the
model that is registered (and may serve) is then refit with the same kind and parameters on
every training season plus the evaluation season when that season is complete. A season still
in progress stays out, so shadow scoring can compare champion and challenger on its games.

Season-boundary rule (`season_boundary_decision`): the paired-bootstrap rule
(`lib.promotion`) needs games neither model saw, and a challenger refit through the season that
just ended has none until the next season is played. So at a season boundary a challenger that
is current replaces a champion that is stale, provided its evaluation twin (same kind and
parameters, the completed season held out) was not worse than Elo on that held-out season by
more than `elo_tolerance` in Brier. Otherwise the stale champion stays and the reason says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from nba_platform.lib.seasons import complete_seasons, season_label, season_start_year


def last_completed_before(completed_seasons, target_season: str) -> str | None:
    earlier = [s for s in completed_seasons if s < target_season]
    return max(earlier) if earlier else None


def next_season(season: str) -> str:
    return season_label(season_start_year(season) + 1)


def champion_is_current(
    champion_train_last_season: str | None, completed_seasons, target_season: str | None = None
) -> bool:
    """True when a model trained through `champion_train_last_season` saw the last completed
    season before `target_season` (default: the season after the latest completed one, i.e. the
    next season to forecast). No completed season before the target: any model is current; no
    model (None): never."""
    completed = sorted(set(completed_seasons))
    if target_season is None:
        if not completed:
            return champion_train_last_season is not None
        target_season = next_season(completed[-1])
    needed = last_completed_before(completed, target_season)
    if champion_train_last_season is None:
        return False
    return needed is None or champion_train_last_season >= needed


def games_as_team_rows(games: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Game rows (game_id, season, season_type, game_date, home_team_id, away_team_id) with their
    labels (game_outcomes: home_margin, NA when unplayed) as two team rows per game, the columns
    `complete_seasons` reads (pts stands for "has a result")."""
    merged = games[["game_id", "season", "season_type", "game_date", "home_team_id", "away_team_id"]].merge(
        outcomes[["game_id", "home_margin"]], on="game_id", how="left"
    )
    sides = [
        merged.rename(columns={side: "team_id"})[
            ["game_id", "season", "season_type", "game_date", "team_id", "home_margin"]
        ]
        for side in ("home_team_id", "away_team_id")
    ]
    return pd.concat(sides, ignore_index=True).rename(columns={"home_margin": "pts"})


def completed_seasons_of_games(games: pd.DataFrame, outcomes: pd.DataFrame) -> list[str]:
    return complete_seasons(games_as_team_rows(games, outcomes)) if len(games) else []


def deploy_train_seasons(train_seasons, eval_season: str, completed_seasons) -> list[str]:
    """The deployed model's seasons: the evaluation model's training seasons plus the evaluation
    season when it is complete (a season in progress stays out: shadow scoring needs its games)."""
    seasons = sorted(set(train_seasons))
    return sorted({*seasons, eval_season}) if eval_season in set(completed_seasons) else seasons


@dataclass(frozen=True)
class BoundaryDecision:
    applies: bool  # a season boundary: stale champion, current challenger
    promote: bool
    reason: str


def season_boundary_decision(
    champion_train_last_season: str | None,
    challenger_train_last_season: str | None,
    completed_seasons,
    holdout_brier: float | None,
    holdout_elo_brier: float | None,
    elo_tolerance: float = 0.005,
) -> BoundaryDecision:
    completed = sorted(set(completed_seasons))
    if not completed or champion_is_current(champion_train_last_season, completed):
        return BoundaryDecision(False, False, "champion is current: the paired rule decides")
    if not champion_is_current(challenger_train_last_season, completed):
        return BoundaryDecision(
            False,
            False,
            f"champion (to {champion_train_last_season}) and challenger (to {challenger_train_last_season}) both "
            f"missed {completed[-1]}",
        )
    boundary = f"season boundary: champion trained to {champion_train_last_season} missed completed {completed[-1]}"
    if holdout_brier is None or holdout_elo_brier is None or holdout_brier != holdout_brier:
        return BoundaryDecision(True, False, f"{boundary}; challenger has no held-out evaluation to check")
    if holdout_brier > holdout_elo_brier + elo_tolerance:
        return BoundaryDecision(
            True,
            False,
            f"{boundary}; challenger's held-out Brier {holdout_brier:.4f} is worse than Elo {holdout_elo_brier:.4f} "
            f"+ {elo_tolerance}",
        )
    return BoundaryDecision(
        True,
        True,
        f"{boundary}; challenger trained to {challenger_train_last_season}, held-out Brier {holdout_brier:.4f} "
        f"vs Elo {holdout_elo_brier:.4f} (tolerance {elo_tolerance})",
    )
