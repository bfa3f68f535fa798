"""The whole graph, in process, on every shipped file: the issue's 'done' figures."""

import json

import dagster as dg
import pandas as pd
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.pipelines.jobs import BUILD_ALL_SELECTION
from nba_platform.lib.landing import SHAPES
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import check_results, materialize_seasons, season_run_tags
from nba_platform_tests.lake_files import read_lake

ALL_SEASONS = [f"{y}-{(y + 1) % 100:02d}" for y in range(2003, 2024)]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("spine")
    resources = embedded_resources(root, include_sample=True)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("season", ALL_SEASONS)
        d = defs()
        result = dg.materialize(
            [*d.assets, *d.asset_checks],
            resources=resources,
            instance=instance,
            tags=season_run_tags(ALL_SEASONS),
            selection=BUILD_ALL_SELECTION,
        )
        yield {"root": root, "result": result, "instance": instance, "resources": resources}


def read(root, *key, season=None) -> pd.DataFrame:
    path = root / "lake" / "/".join(key)
    if season is None and path.is_dir():
        seasons = sorted(p.name.removeprefix("season=") for p in path.glob("season=*"))
        return pd.concat([read_lake(root / "lake", list(key), s) for s in seasons], ignore_index=True)
    return read_lake(root / "lake", list(key), season)


def test_every_asset_materializes_and_every_check_passes(built):
    result = built["result"]
    assert result.success
    checks = check_results(result)
    assert len(checks) == 12 and all(checks.values()), checks
    keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {f"raw/{s.name}" for s in SHAPES} <= keys
    assert {"tables/team_games", "tables/player_games", "tables/players", "quarantine/team_games"} <= keys


@pytest.mark.parametrize("season", ["2021-22", "2022-23", "2023-24"])
def test_full_regular_seasons_have_2460_team_rows_and_unique_keys(built, season):
    table = read(built["root"], "tables", "team_games", season=season)
    regular = table[table["season_type"] == "regular"]
    assert len(regular) == 2460
    assert not table.duplicated(["game_id", "team_id"]).any()
    per_game = table.groupby("game_id").agg(rows=("team_id", "size"), homes=("is_home", "sum"))
    assert (per_game["rows"] == 2).all() and (per_game["homes"] == 1).all()
    # margins come from both teams' points, never a source's float PLUS_MINUS
    assert (table["plus_minus"] == table["pts"] - table["opp_pts"]).all()


def test_known_defects_repaired_or_quarantined(built):
    root = built["root"]
    quarantine = read(root, "quarantine", "team_games")
    kaggle_nulls = quarantine[(quarantine["source"] == "kaggle_games") & (quarantine["rule"] == "pts_present")]
    assert len(kaggle_nulls) == 198  # 99 games with null box stats, two team rows each
    assert set(kaggle_nulls["source_row"]).__len__() == 99
    record = json.loads(kaggle_nulls["record"].iloc[0])
    assert record["season"] == "2003-04" and record["pts"] is None

    meta = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in built["result"].get_asset_materialization_events()
        if e.materialization.partition == "2023-24"
    }
    tg = meta["tables/team_games"]
    assert tg["duplicates_removed"].value > 0
    # The 2023-24 playoff rows appended twice (different ranks) collapse as exact duplicates.
    assert tg["exact_duplicates_collapsed"].value >= 22
    # The slim log's float/wrong PLUS_MINUS values are recomputed from points.
    repairs = {
        k: v
        for e in built["result"].get_asset_materialization_events()
        if e.asset_key.to_user_string() == "tables/team_games"
        for k, v in e.materialization.metadata["repairs"].value.items()
    }
    assert repairs["plus_minus_recomputed"] > 0

    # Kaggle 2020-21 games duplicated with *different* stats: set aside at dedup, the game survives from other sources.
    conflicts = read(root, "quarantine", "team_games_dedup", season="2020-21")
    assert set(conflicts["rule"]) == {"source_internal_conflict"}
    games = read(root, "tables", "team_games", season="2020-21")
    assert {json.loads(r)["game_id"] for r in conflicts["record"]} <= set(games["game_id"])
    assert len(games[games["season_type"] == "regular"]) == 2160  # the 72-game season, complete


def test_player_tables(built):
    root = built["root"]
    pg = read(root, "tables", "player_games", season="2020-21")
    assert not pg.duplicated(["game_id", "player_id"]).any()
    assert pg["game_date"].notna().all()
    dnp = pg[~pg["did_play"]]
    assert len(dnp) > 1000 and dnp["pts"].isna().all() and dnp["comment"].notna().all()
    players = read(root, "tables", "players")
    assert players["player_id"].is_unique and len(players) > 1000
    q = read(root, "quarantine", "player_games")
    # preseason games against non-NBA clubs carry club ids outside the franchise range
    assert set(q["rule"]) == {"team_id_valid"}


def test_rematerializing_a_partition_is_idempotent(built):
    root = built["root"]
    before = read(root, "tables", "team_games", season="2022-23")
    result = materialize_seasons(["2022-23"], built["resources"], built["instance"])
    assert result.success
    after = read(root, "tables", "team_games", season="2022-23")
    pd.testing.assert_frame_equal(before, after)


def test_model_beats_elo_on_the_last_season_and_is_registered(built):
    meta = next(
        e.materialization.metadata
        for e in built["result"].get_asset_materialization_events()
        if e.asset_key.to_user_string() == "models/game_model_evaluation"
    )
    assert meta["eval_season"].value == "2023-24"
    assert meta["model_brier"].value < meta["elo_brier"].value < 0.25
    assert meta["calibration_plot"].value.startswith("![calibration](data:image/png;base64,")
    assert meta["shap_summary_plot"].value.startswith("![SHAP summary](data:image/png;base64,")
    assert "mean_abs_shap" in meta["shap_top_features"].value
    evaluation = read(built["root"], "models", "game_model_evaluation")
    assert set(evaluation["method"]) == {"model", "elo", "home_base_rate", "coin_flip"}
    assert evaluation["n"].nunique() == 1  # every method scored on the same games
    card = read(built["root"], "models", "game_outcome_model").iloc[0]
    versions = built["resources"]["mlflow"].model_versions()
    assert card["model_version"] in {str(v.version) for v in versions}
    registered = next(v for v in versions if str(v.version) == card["model_version"])
    # evaluated with 2023-24 held out, then refit on it (complete): the deployed model
    assert registered.tags["purpose"] == "deployed" and registered.tags["eval_season"] == "2023-24"
    assert registered.tags["train_last_season"] == "2023-24"


def test_predictions_are_published_with_their_model_version_and_top_factors(built):
    import json

    mlflow = built["resources"]["mlflow"]
    tags = {str(v.version): v.tags for v in mlflow.model_versions("nba_game_outcome_backfill")}
    # 2023-24: the champion was refit on it, so it is served by the evaluation model (trained to
    # 2022-23, never saw it), registered as the season's walk-forward model
    preds = read(built["root"], "serving", "game_predictions", season="2023-24")
    assert len(preds) == 1312 and preds["p_home_win"].between(0, 1).all()
    champion = mlflow.version_by_alias("champion")
    assert champion.tags["purpose"] == "deployed" and champion.tags["train_last_season"] == "2023-24"
    [(name, number)] = set(zip(preds["model_name"], preds["model_version"]))
    assert name == "nba_game_outcome_backfill" and tags[str(number)]["predicts_season"] == "2023-24"
    assert tags[str(number)]["train_last_season"] == "2022-23"
    assert champion.tags["eval_model_uri"] == f"models:/nba_game_outcome_backfill/{number}"
    # 2022-23: backfilled walk-forward by a model refit on every earlier season
    earlier = read(built["root"], "serving", "game_predictions", season="2022-23")
    assert set(earlier["model_name"]) == {"nba_game_outcome_backfill"} and earlier["model_version"].nunique() == 1
    version = str(earlier["model_version"].iloc[0])
    assert tags[version]["predicts_season"] == "2022-23" and tags[version]["purpose"] == "walk_forward"
    # every prediction carries its top 3 SHAP factors
    for frame in (preds, earlier):
        factors = frame["top_factors"].map(json.loads)
        assert factors.map(len).eq(3).all()
        assert all({"feature", "value", "shap"} <= set(f) for f in factors.iloc[0])
    # the top factor of some game is team strength: Elo or the margin ratings' expected margin
    assert any("elo" in f[0]["feature"] or f[0]["feature"].endswith("expected_margin") for f in factors)
    # too little history before 2004-05: an empty partition, not a guess
    assert len(read(built["root"], "serving", "game_predictions", season="2003-04")) == 0
    db = built["resources"]["serving_db"]
    published = db.query(
        "SELECT count(*) AS n, count(DISTINCT model_version) AS v, count(top_factors) AS f "
        "FROM game_predictions WHERE season = '2023-24'"
    )
    assert published["n"].item() == 1312 and published["v"].item() == 1 and published["f"].item() == 1312
    games = db.query("SELECT count(*) AS n FROM games WHERE season = '2023-24'")
    assert games["n"].item() == 1312
