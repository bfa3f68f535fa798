"""Point-in-time features: every value of a game uses only games before its date.

Unpartitioned on purpose: rolling windows and Elo run across season boundaries, so a season's
features need every earlier season; recomputing the whole history takes about a second.

Every feature asset has the same body (concatenate the season-partitioned inputs, compute one
frame with `lib.features` / `lib.elo`, attach its counts and a preview): `build_feature_asset`
builds each from a `FeatureAsset` spec.
"""

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from nba_platform.lib import features
from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.metadata import markdown_table
from nba_platform.lib.schedule import listed_by_a_schedule
from nba_platform.lib.seasons import complete_seasons
from nba_platform.resources.lake import concat_partitions

OWNERS = ["team:ml"]
# Refresh when the deduplicated tables change (e.g. a landed game day), under the daemon.
EAGER = dg.AutomationCondition.eager()


@dataclass(frozen=True)
class FeatureAsset:
    name: str  # asset key features/<name>
    ins: dict[str, str]  # parameter of `compute` -> upstream asset key ("tables/team_games")
    description: str
    compute: Callable[..., pd.DataFrame]  # the inputs, season partitions concatenated -> the frame
    facts: Callable[[pd.DataFrame, dict[str, pd.DataFrame]], dict]  # (frame, inputs) -> metadata
    preview_rows: int = 5
    # Inputs read for the partitions that exist (a season-partitioned table not every season has).
    allow_missing: tuple[str, ...] = ()


def build_feature_asset(spec: FeatureAsset) -> dg.AssetsDefinition:
    @dg.asset(
        key=["features", spec.name],
        ins={
            param: dg.AssetIn(
                key=dg.AssetKey.from_user_string(key),
                metadata={"allow_missing_partitions": True} if param in spec.allow_missing else None,
            )
            for param, key in spec.ins.items()
        },
        group_name="features",
        kinds={"parquet", "pandas"},
        owners=OWNERS,
        automation_condition=EAGER,
        description=spec.description,
    )
    def feature_asset(**inputs) -> dg.Output:
        # a season-partitioned upstream arrives as {season: frame}
        frames = {p: concat_partitions(v) if isinstance(v, dict) else v for p, v in inputs.items()}
        frame = spec.compute(**frames)
        return dg.Output(
            frame,
            metadata={
                **spec.facts(frame, frames),
                "preview": dg.MetadataValue.md(markdown_table(frame.tail(spec.preview_rows))),
            },
        )

    return feature_asset


def _latest_game_date(elo: pd.DataFrame) -> str:
    return str(elo["game_date"].max().date()) if len(elo) else "none"


def _player_game_features(player_games: pd.DataFrame) -> pd.DataFrame:
    return features.player_game_features(player_games) if len(player_games) else pd.DataFrame()


def _outcome_facts(outcomes: pd.DataFrame, inputs: dict[str, pd.DataFrame]) -> dict:
    played = outcomes["home_win"].notna()
    return {
        "games": len(outcomes),
        "played": int(played.sum()),
        "home_win_rate": float(outcomes.loc[played, "home_win"].astype(float).mean()),
        # the retraining sensor retrains when a new season completes: by the schedule where there is
        # one (every regular-season game final), else by the results
        "complete_seasons": dg.MetadataValue.json(
            complete_seasons(inputs["team_games"], schedule=listed_by_a_schedule(inputs["schedule"]))
        ),
    }


FEATURE_ASSETS = [
    FeatureAsset(
        name="elo_ratings",
        ins={"team_games": "tables/team_games"},
        description="538-style pre-game Elo for every regular, play-in and playoff game (K=20, home advantage 100, "
        "margin-of-victory multiplier, 25% regression to 1505 between seasons).",
        compute=pregame_elo,
        facts=lambda elo, _: {
            "games": len(elo),
            "seasons": int(elo["season"].nunique()),
            "latest_game_date": _latest_game_date(elo),
        },
        preview_rows=8,
    ),
    FeatureAsset(
        name="team_game_features",
        ins={"team_games": "tables/team_games", "elo": "features/elo_ratings"},
        description="Per team-game, from earlier games only: rolling 5/10/20-game margin, points, win rate, "
        "offensive/defensive rating and eFG%, season-to-date record, rest days, back-to-backs, games in the last "
        "7 days, pre-game Elo.",
        compute=features.team_game_features,
        facts=lambda frame, _: {"rows": len(frame), "columns": len(frame.columns)},
    ),
    FeatureAsset(
        name="game_features",
        ins={"team_features": "features/team_game_features", "elo": "features/elo_ratings"},
        description="One row per game from the home side: home_*, away_* and diff_* features plus the Elo win "
        "probability. Labels are kept apart in features/game_outcomes.",
        compute=features.game_features,
        facts=lambda games, _: {"games": len(games), "feature_columns": len(features.FEATURE_COLUMNS)},
    ),
    FeatureAsset(
        name="game_outcomes",
        ins={"team_games": "tables/team_games", "schedule": "tables/schedule"},
        description="Labels: home_win and home_margin per game (NA for unplayed games), separate from the features. "
        "Its metadata lists the complete seasons (by the schedule where landed) that the retraining sensor reads.",
        compute=lambda team_games, schedule: features.game_outcomes(team_games),
        facts=_outcome_facts,
        allow_missing=("schedule",),
    ),
    FeatureAsset(
        name="player_game_features",
        ins={"player_games": "tables/player_games"},
        description="Per player-game, from the player's earlier games only: rolling points, minutes, usage proxy, "
        "rebounds, assists, season averages, rest days, previous game started.",
        compute=_player_game_features,
        facts=lambda frame, _: {
            "rows": len(frame),
            "players": int(frame["player_id"].nunique()) if len(frame) else 0,
        },
    ),
]

elo_ratings, team_game_features, game_features, game_outcomes, player_game_features = (
    build_feature_asset(spec) for spec in FEATURE_ASSETS
)
