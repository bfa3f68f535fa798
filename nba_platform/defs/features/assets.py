"""Point-in-time features: every value of a game uses only games before its date.

Unpartitioned on purpose: rolling windows and Elo run across season boundaries, so a season's
features need every earlier season; recomputing the whole history takes about a second.
"""

import dagster as dg

from nba_platform.lib import features as F
from nba_platform.lib.elo import pregame_elo
from nba_platform.lib.metadata import markdown_table
from nba_platform.lib.seasons import complete_seasons
from nba_platform.lib.team_ratings import pregame_margin_ratings
from nba_platform.resources.frames import DataFrame
from nba_platform.resources.lake import concat_partitions

OWNERS = ["team:ml"]
# Refresh when the deduplicated tables change (e.g. a landed game day), under the daemon.
EAGER = dg.AutomationCondition.eager()


@dg.asset(
    key=["features", "elo_ratings"],
    ins={"team_games": dg.AssetIn(key=["tables", "team_games"])},
    group_name="features",
    kinds={"parquet", "pandas"},
    owners=OWNERS,
    automation_condition=EAGER,
    description="538-style pre-game Elo for every regular, play-in and playoff game (K=20, home advantage 100, "
    "margin-of-victory multiplier, 25% regression to 1505 between seasons).",
)
def elo_ratings(team_games: dict) -> dg.Output:
    elo = pregame_elo(concat_partitions(team_games))
    last = elo.sort_values("game_date").tail(1)
    return dg.Output(
        elo,
        metadata={
            "games": len(elo),
            "seasons": int(elo["season"].nunique()),
            "latest_game_date": str(last["game_date"].iloc[0].date()) if len(last) else "none",
            "preview": dg.MetadataValue.md(markdown_table(elo.tail(8))),
        },
    )


@dg.asset(
    key=["features", "margin_ratings"],
    ins={"team_games": dg.AssetIn(key=["tables", "team_games"])},
    group_name="features",
    kinds={"parquet", "pandas"},
    owners=OWNERS,
    automation_condition=EAGER,
    description="Pre-game opponent-adjusted margin ratings (points vs an average team; fast and slow exponential "
    "recency weighting, regressed 40% between seasons), the league's home edge over the last 1,000 games and the "
    "expected home margin, for every regular, play-in and playoff game.",
)
def margin_ratings(team_games: dict) -> dg.Output:
    ratings = pregame_margin_ratings(concat_partitions(team_games))
    return dg.Output(
        ratings,
        metadata={
            "games": len(ratings),
            "latest_league_home_margin": float(ratings["league_home_margin"].iloc[-1]) if len(ratings) else 0.0,
            "preview": dg.MetadataValue.md(markdown_table(ratings.tail(8))),
        },
    )


@dg.asset(
    key=["features", "team_game_features"],
    ins={
        "team_games": dg.AssetIn(key=["tables", "team_games"]),
        "elo": dg.AssetIn(key=["features", "elo_ratings"]),
        "ratings": dg.AssetIn(key=["features", "margin_ratings"]),
    },
    group_name="features",
    kinds={"parquet", "pandas"},
    owners=OWNERS,
    automation_condition=EAGER,
    description="Per team-game, from earlier games only: rolling 5/10/20-game margin, points, win rate, "
    "offensive/defensive rating and eFG%, season-to-date record, rest days, back-to-backs, games in the last 7 days, "
    "pre-game Elo and margin ratings; travel distance, time-zone shift and road-trip length from the schedule.",
)
def team_game_features(team_games: dict, elo: DataFrame, ratings: DataFrame) -> dg.Output:
    feats = F.team_game_features(concat_partitions(team_games), elo=elo, ratings=ratings)
    return dg.Output(
        feats,
        metadata={
            "rows": len(feats),
            "columns": len(feats.columns),
            "preview": dg.MetadataValue.md(markdown_table(feats.tail(5))),
        },
    )


@dg.asset(
    key=["features", "game_features"],
    ins={
        "team_features": dg.AssetIn(key=["features", "team_game_features"]),
        "elo": dg.AssetIn(key=["features", "elo_ratings"]),
        "ratings": dg.AssetIn(key=["features", "margin_ratings"]),
    },
    group_name="features",
    kinds={"parquet", "pandas"},
    owners=OWNERS,
    automation_condition=EAGER,
    description="One row per game from the home side: home_*, away_* and diff_* features plus the Elo win probability, "
    "the ratings' expected home margin, the league home edge and a playoffs flag. "
    "Labels are kept apart in features/game_outcomes.",
)
def game_features(team_features: DataFrame, elo: DataFrame, ratings: DataFrame) -> dg.Output:
    games = F.game_features(team_features, elo, ratings)
    return dg.Output(
        games,
        metadata={
            "games": len(games),
            "feature_columns": len(F.FEATURE_COLUMNS),
            "preview": dg.MetadataValue.md(markdown_table(games.tail(5))),
        },
    )


@dg.asset(
    key=["features", "game_outcomes"],
    ins={"team_games": dg.AssetIn(key=["tables", "team_games"])},
    group_name="features",
    kinds={"parquet", "pandas"},
    owners=OWNERS,
    automation_condition=EAGER,
    description="Labels: home_win and home_margin per game (NA for unplayed games), separate from the features.",
)
def game_outcomes(team_games: dict) -> dg.Output:
    all_games = concat_partitions(team_games)
    outcomes = F.game_outcomes(all_games)
    played = outcomes["home_win"].notna()
    return dg.Output(
        outcomes,
        metadata={
            "games": len(outcomes),
            "played": int(played.sum()),
            "home_win_rate": float(outcomes.loc[played, "home_win"].astype(float).mean()),
            # the retraining sensor retrains when a new season completes
            "complete_seasons": dg.MetadataValue.json(complete_seasons(all_games)),
        },
    )


@dg.asset(
    key=["features", "player_game_features"],
    ins={"player_games": dg.AssetIn(key=["tables", "player_games"])},
    group_name="features",
    kinds={"parquet", "pandas"},
    owners=OWNERS,
    automation_condition=EAGER,
    description="Per player-game, from the player's earlier games only: rolling points, minutes, usage proxy, rebounds, "
    "assists, season averages, rest days, previous game started.",
)
def player_game_features(player_games: dict) -> dg.Output:
    import pandas as pd

    pg = concat_partitions(player_games)
    feats = F.player_game_features(pg) if len(pg) else pd.DataFrame()
    return dg.Output(
        feats,
        metadata={
            "rows": len(feats),
            "players": int(feats["player_id"].nunique()) if len(feats) else 0,
            "preview": dg.MetadataValue.md(markdown_table(feats.tail(5))),
        },
    )
