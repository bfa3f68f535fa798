"""Typed shapes of what the API and the MCP tools return (OpenAPI and MCP output schemas)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Factor(BaseModel):
    feature: str
    value: float | None = None
    shap: float | None = Field(None, description="contribution to the home-win log-odds")


class GameResult(BaseModel):
    home_pts: int
    away_pts: int
    home_win: bool


class Forecast(BaseModel):
    game_id: str
    game_date: str
    as_of: str = Field(description="when the forecast was made (UTC)")
    home_team_id: int
    away_team_id: int
    neutral: bool
    p_home_win: float = Field(ge=0, le=1)
    model_name: str
    model_version: int
    top_factors: list[Factor]
    result: GameResult | None = Field(None, description="the final score once the game is played")


class ForecastHistoryEntry(BaseModel):
    game_id: str
    game_date: str
    as_of: str
    home_team_id: int
    away_team_id: int
    neutral: bool
    p_home_win: float
    model_name: str
    model_version: int
    top_factors: list[Factor]


class Forecasts(BaseModel):
    date: str
    count: int
    limit: int
    offset: int
    forecasts: list[Forecast]


class TeamGame(BaseModel):
    game_id: str
    game_date: str
    opponent_id: int
    home: bool
    points_for: int
    points_against: int
    won: bool


class TeamResults(BaseModel):
    team_id: int
    wins: int
    losses: int
    games: list[TeamGame]


class TeamForm(BaseModel):
    team_id: int
    limit: int
    offset: int
    forecasts: list[Forecast]
    recent_results: TeamResults


class Prediction(BaseModel):
    model_name: str
    model_version: int
    p_home_win: float | None
    elo_p_home_win: float | None
    published_at: str | None


class Game(BaseModel):
    game_id: str
    season: str | None
    season_type: str | None
    game_date: str
    home_team_id: int
    away_team_id: int
    result: GameResult | None
    forecasts: list[ForecastHistoryEntry] = Field(description="every forecast made of the game, oldest first")
    predictions: list[Prediction] = Field(description="published (backtest or live) predictions per model version")


class Skill(BaseModel):
    games: int
    brier: float | None
    log_loss: float | None
    accuracy: float | None


class LiveSkill(BaseModel):
    predictions: Skill = Field(description="on played games its published predictions cover (unseen in training)")
    forecasts: Skill = Field(description="on played games of its last pre-game forecasts")


class ChampionModel(BaseModel):
    model: str
    model_name: str
    model_version: int
    promoted_at: str
    trained_seasons: list[str | None] = Field(description="[first, last] training season")
    validation_brier: float | None
    reason: str | None
    live_skill: LiveSkill
