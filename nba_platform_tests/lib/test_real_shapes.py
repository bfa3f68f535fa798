"""Issue 16: real shapes that were lost or refused, through the lib pipeline (read -> normalise ->
rules -> dedup -> Elo), on shipped real rows (nba_platform_tests/hostile_files.py builds them)."""

from __future__ import annotations

import pytest

from nba_platform.lib.dedup import dedup_team_games
from nba_platform.lib.elo import EloParams, elo_win_probability, pregame_elo
from nba_platform.lib.landing import detect_shape, read_landed_bytes
from nba_platform.lib.normalise import normalise_team_games
from nba_platform.lib.quality import TEAM_GAME_RULES, apply_rules
from nba_platform.lib.schema import TEAM_GAME_SCHEMA
from nba_platform_tests import hostile_files


def validate(data: bytes, name: str):
    raw = read_landed_bytes(data, name)
    shape = detect_shape(raw.columns, name)
    return apply_rules(normalise_team_games(raw, shape.name), TEAM_GAME_RULES, "team_game", TEAM_GAME_SCHEMA)


@pytest.fixture(scope="module")
def neutral(tmp_path_factory):
    [path] = hostile_files.neutral_site_games(tmp_path_factory.mktemp("neutral"), "gamelog.csv")
    split = validate(path.read_bytes(), "gamelog.csv")
    return split, dedup_team_games(split.accepted)


def test_neutral_site_games_are_accepted_with_neutral_true(neutral):
    split, result = neutral
    assert (
        len(split.accepted) + len(split.quarantined) == hostile_files.GAMELOG_ROWS
    )  # rows in = accepted + quarantined
    assert split.quarantined.empty  # was: the 4 rows of the two games, rule game_pair
    table = result.table
    assert len(table) == hostile_files.GAMELOG_ROWS and result.quarantined.empty
    ids = {hostile_files.GAMELOG.get(n, "GAME_ID") for n in hostile_files.NEUTRAL_ROWS}
    assert set(table.loc[table["neutral"], "game_id"]) == ids
    assert table["neutral"].notna().all() and table["neutral"].sum() == 4
    first_rows = [min(n, hostile_files.GAMELOG.partner(n)) for n in hostile_files.NEUTRAL_ROWS]
    first = {hostile_files.GAMELOG.get(n, "GAME_ID"): int(hostile_files.GAMELOG.get(n, "TEAM_ID")) for n in first_rows}
    home_slot = table[table["neutral"] & table["is_home"]]
    assert dict(zip(home_slot["game_id"], home_slot["team_id"])) == first  # the first-listed team


def test_elo_applies_no_home_advantage_at_a_neutral_site(neutral):
    _, result = neutral
    params = EloParams()
    elo = pregame_elo(result.table, params).set_index("game_id")
    edge = elo["home_elo_pre"] - elo["away_elo_pre"]
    ids = [hostile_files.GAMELOG.get(n, "GAME_ID") for n in hostile_files.NEUTRAL_ROWS]
    neutral_games = elo.index.isin(ids)
    assert (elo.loc[neutral_games, "elo_p_home_win"] == elo_win_probability(edge[neutral_games])).all()
    others = elo.loc[~neutral_games]
    with_edge = elo_win_probability(edge[~neutral_games] + params.home_advantage)
    assert (others["elo_p_home_win"] == with_edge).all()


def test_a_neutral_game_changes_ratings_without_home_advantage(neutral):
    _, result = neutral
    params = EloParams()
    plain = validate(hostile_files.GAMELOG.text().encode(), "gamelog.csv")
    home_elo = pregame_elo(dedup_team_games(plain.accepted).table, params).set_index("game_id")
    neutral_elo = pregame_elo(result.table, params).set_index("game_id")
    # CLE @ HOU (0022200733), the earlier of the two: HOU's row comes first in the file, so HOU keeps the slot
    game = hostile_files.GAMELOG.get(1001, "GAME_ID")
    assert game < hostile_files.GAMELOG.get(1, "GAME_ID")
    before = home_elo.loc[game, ["home_team_id", "home_elo_pre", "away_elo_pre"]]
    assert (neutral_elo.loc[game, ["home_team_id", "home_elo_pre", "away_elo_pre"]] == before).all()
    edge = before["home_elo_pre"] - before["away_elo_pre"]
    assert neutral_elo.loc[game, "elo_p_home_win"] == pytest.approx(elo_win_probability(edge))
    assert home_elo.loc[game, "elo_p_home_win"] == pytest.approx(elo_win_probability(edge + params.home_advantage))
    # and the result moves the ratings by a different amount: later games see other ratings
    later = neutral_elo.index > game
    assert not (neutral_elo.loc[later, "home_elo_pre"] == home_elo.loc[later, "home_elo_pre"]).all()


def test_forecasts_say_whose_probability_a_neutral_game_gives(neutral):
    from nba_platform.lib.venue import FIRST_LISTED, HOME, with_venue

    _, result = neutral
    elo = pregame_elo(result.table, EloParams())
    preds = with_venue(elo[["game_id", "home_team_id", "away_team_id", "elo_p_home_win"]], result.table)
    ids = {hostile_files.GAMELOG.get(n, "GAME_ID") for n in hostile_files.NEUTRAL_ROWS}
    assert set(preds.loc[preds["neutral"], "game_id"]) == ids
    assert (preds.loc[preds["neutral"], "p_home_win_is"] == FIRST_LISTED).all()
    assert (preds.loc[~preds["neutral"], "p_home_win_is"] == HOME).all()


def test_game_features_carry_the_neutral_flag_the_walk_forward_predictions_use(neutral):
    """The walk-forward predictions (serving/game_predictions, predict-season) read `neutral` from
    the game features: at a neutral site the first-listed team's chance without home advantage."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from nba_platform.defs.serving.assets import neutral_sites, predict_home_win
    from nba_platform.lib.features import FEATURE_COLUMNS, game_features, swap_sides, team_game_features

    _, result = neutral
    elo = pregame_elo(result.table, EloParams())
    games = game_features(team_game_features(result.table, elo=elo), elo)
    ids = {hostile_files.GAMELOG.get(n, "GAME_ID") for n in hostile_files.NEUTRAL_ROWS}
    assert set(games.loc[games["neutral"], "game_id"]) == ids and "neutral" not in FEATURE_COLUMNS
    inputs = games[["diff_elo_pre", "elo_p_home_win"]].fillna(0.0)
    model = LogisticRegression().fit(inputs, np.arange(len(inputs)) % 3 > 0)  # learns a home edge
    p = predict_home_win(model, games, neutral_sites(games))  # takes the columns the model was fitted on
    at = games["neutral"].to_numpy()
    as_home = model.predict_proba(inputs[at])[:, 1]
    as_away = model.predict_proba(swap_sides(inputs[at]))[:, 1]
    assert p[at] == pytest.approx((as_home + 1 - as_away) / 2)
    assert p[~at] == pytest.approx(model.predict_proba(inputs[~at])[:, 1])


def test_nba_api_normalized_dict_output_is_accepted(tmp_path):
    """nba_api's get_normalized_dict() of a LeagueGameLog response ({"LeagueGameLog": [records]}),
    made as nba_api makes it (dict(zip(headers, row)) per row) from the real 2022-23 export."""
    import json

    headers = [h.upper() for h in hostile_files.GAMELOG.header]
    response = {"resultSets": [{"name": "LeagueGameLog", "headers": headers, "rowSet": hostile_files.GAMELOG.rows}]}
    normalized = {s["name"]: [dict(zip(s["headers"], row)) for row in s["rowSet"]] for s in response["resultSets"]}
    from_dict = read_landed_bytes(json.dumps(normalized).encode(), "normalized.json")
    from_response = read_landed_bytes(json.dumps(response).encode(), "response.json")
    assert detect_shape(from_dict.columns, "normalized.json").name == "league_game_log"
    assert len(from_dict) == hostile_files.GAMELOG_ROWS
    data_columns = [c for c in from_dict.columns if not c.startswith("_")]
    assert from_dict[data_columns].equals(from_response[data_columns])
    split = validate(json.dumps(normalized).encode(), "normalized.json")
    assert len(split.accepted) + len(split.quarantined) == hostile_files.GAMELOG_ROWS and split.quarantined.empty
    with pytest.raises(Exception, match="holds no rows"):
        read_landed_bytes(b'{"LeagueGameLog": []}', "empty.json")
