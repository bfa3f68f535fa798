"""The whole graph, models included, in production mode against real services.

Lake and landing zone on S3 (moto_server over HTTP), Dagster storage on PostgreSQL
(dagster-postgres), MLflow tracking + registry on PostgreSQL with artifacts on S3, serving tables
on PostgreSQL, every password from Secrets Manager. Three seasons of real league game logs are
landed on S3; one run materializes every asset (raw -> tables -> features -> model ->
predictions -> published) with every blocking check.
"""

import json
import uuid
from pathlib import Path

import boto3
import dagster as dg
import psycopg
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.pipelines.jobs import BUILD_ALL_SELECTION
from nba_platform.resources.environment import build_resources
from nba_platform.resources.landing import sample_root
from nba_platform.settings import load_settings
from nba_platform_tests.defs.helpers import check_results, season_run_tags
from nba_platform_tests.integration.conftest import prod_env_vars
from nba_platform_tests.integration.test_prod_mode import REGION, aws_client, object_keys, prod_instance, set_prod_env

pytestmark = pytest.mark.integration

SEASONS = ["2021-22", "2022-23", "2023-24"]
GAMELOGS = [Path(sample_root()) / "nba_api_league_gamelog_2021_2024" / f"nba-gamelog-{s}.csv.gz" for s in SEASONS]


@pytest.fixture(scope="module")
def full(moto_endpoint, make_postgres_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("prod_full")
    bucket = f"nba-full-{uuid.uuid4().hex[:8]}"
    secret_id = f"nba-platform/full-{uuid.uuid4().hex[:6]}"
    secrets = {k: f"{k}-{uuid.uuid4().hex}" for k in ("rds_password", "dagster_pg_password", "mlflow_db_password")}
    dagster_db, serving_db, mlflow_db = make_postgres_db(), make_postgres_db(), make_postgres_db()
    glue_db = f"nba_full_{uuid.uuid4().hex[:6]}"
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    mp = pytest.MonkeyPatch()
    previous_session = boto3.DEFAULT_SESSION
    instance = None
    try:
        env = prod_env_vars(
            moto_endpoint=moto_endpoint,
            root=root,
            dagster_home=dagster_home,
            bucket=bucket,
            secret_id=secret_id,
            dagster_db=dagster_db,
            serving_db_url=serving_db["url"],
            dagster_pg_password=secrets["dagster_pg_password"],
            mlflow_db=mlflow_db,
            region=REGION,
        )
        env["NBA_GLUE_DATABASE"] = glue_db
        set_prod_env(mp, root, env)
        s3 = aws_client("s3", moto_endpoint)
        s3.create_bucket(Bucket=bucket)
        aws_client("glue", moto_endpoint).create_database(DatabaseInput={"Name": glue_db})  # as Terraform does
        aws_client("secretsmanager", moto_endpoint).create_secret(Name=secret_id, SecretString=json.dumps(secrets))

        settings = load_settings()
        resources = build_resources(settings)
        instance = prod_instance(dagster_home)

        for path in GAMELOGS:
            resources["landing"].accept(path.name, path.read_bytes())
        instance.add_dynamic_partitions("season", SEASONS)
        d = defs()
        result = dg.materialize(
            [*d.assets, *(d.asset_checks or [])],
            resources=resources,
            instance=instance,
            selection=BUILD_ALL_SELECTION,  # the build_all job: every asset but ops and new-partition drift
            tags=season_run_tags(SEASONS),
            raise_on_error=False,
        )
        yield {
            "settings": settings,
            "resources": resources,
            "instance": instance,
            "s3": s3,
            "bucket": bucket,
            "result": result,
            "serving_db": serving_db,
            "mlflow_db": mlflow_db,
            "dagster_db": dagster_db,
            "secrets": list(secrets.values()),
            "root": root,
            "glue_db": glue_db,
            "glue": aws_client("glue", moto_endpoint),
        }
    finally:
        if instance is not None:
            instance.dispose()
        boto3.DEFAULT_SESSION = previous_session
        mp.undo()


def materialized(result) -> dict:
    return {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}


def test_every_asset_materializes_in_prod_mode_with_checks_passing(full):
    result = full["result"]
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    done = materialized(result)
    for key in [
        "tables/team_games",
        "features/game_features",
        "models/game_outcome_model",
        "models/game_model_evaluation",
        "serving/game_predictions",
        "serving/published_predictions",
        "serving/shadow_predictions",
    ]:
        assert key in done, sorted(done)
    checks = check_results(result)
    assert checks and all(checks.values()), checks
    assert done["models/game_model_evaluation"]["eval_season"].value == "2023-24"
    assert done["models/game_model_evaluation"]["model_brier"].value < 0.24


def test_mlflow_tracking_and_registry_live_in_postgres(full):
    with psycopg.connect(full["mlflow_db"]["dsn"]) as con:
        versions = con.execute("SELECT name, version, source FROM model_versions ORDER BY version::int").fetchall()
        aliases = dict(con.execute("SELECT alias, version FROM registered_model_aliases").fetchall())
        runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        metrics = {r[0] for r in con.execute("SELECT DISTINCT key FROM metrics").fetchall()}
    # The evaluation model (trained 2021-22..2022-23, 2023-24 held out) is 2023-24's walk-forward
    # refit (nba_game_outcome_backfill v1); the deployed model is the same kind refit on every
    # completed season, 2023-24 included (lib/champion.py): nba_game_outcome v1, the champion.
    # 2021-22 and 2022-23 have < 2 earlier seasons: no other walk-forward refit.
    assert sorted((name, int(version)) for name, version, _ in versions) == [
        ("nba_game_outcome", 1),
        ("nba_game_outcome_backfill", 1),
    ]
    assert all(source.startswith(("models:/", "s3://")) for _, _, source in versions)
    assert aliases == {"champion": 1}
    assert runs >= 1 and {"validation_brier", "eval_model_brier"} <= metrics


def test_mlflow_artifacts_are_on_s3(full):
    keys = object_keys(full["s3"], full["bucket"], "mlflow/")
    assert any(k.endswith("/MLmodel") for k in keys), keys[:20]
    assert any(k.endswith("/artifacts/estimator.pkl") for k in keys), keys[:20]
    assert not (full["settings"].home / "mlflow").exists()  # nothing on local disk
    # the registered champion loads back through the registry (Postgres) and artifacts (S3)
    champion = full["resources"]["mlflow"].version_by_alias("champion")
    model = full["resources"]["mlflow"].load_sklearn_model(champion.model_uri)
    assert hasattr(model, "predict_proba")


def test_predictions_published_to_postgres_carry_the_champion_version(full):
    with psycopg.connect(full["serving_db"]["dsn"]) as con:
        by_version = {
            (name, version): n
            for name, version, n in con.execute(
                "SELECT model_name, model_version, count(*) FROM game_predictions GROUP BY 1, 2"
            ).fetchall()
        }
        games = con.execute("SELECT count(*) FROM games").fetchone()[0]
    assert games == 3 * 1230  # the shipped league game logs are regular seasons
    # the champion saw 2023-24, so the season is served by its walk-forward refit (trained to 2022-23)
    assert by_version == {("nba_game_outcome_backfill", 1): 1230}


def test_no_secret_in_dagster_storage_or_mlflow_store(full):
    from nba_platform_tests.integration.test_prod_mode import all_rows_as_text

    texts = [all_rows_as_text(full["dagster_db"]["dsn"]), all_rows_as_text(full["mlflow_db"]["dsn"])]
    assert full["result"].run_id in texts[0]
    for secret in full["secrets"]:
        assert not any(secret in t for t in texts)


def test_lake_tables_are_registered_in_glue_for_athena(full):
    glue, db, bucket = full["glue"], full["glue_db"], full["bucket"]
    tables = {
        t["Name"]: t for page in glue.get_paginator("get_tables").paginate(DatabaseName=db) for t in page["TableList"]
    }
    assert {"tables__team_games", "features__game_features", "serving__game_predictions"} <= set(tables), sorted(tables)
    team_games = tables["tables__team_games"]
    assert team_games["StorageDescriptor"]["Location"] == f"s3://{bucket}/lake/tables/team_games/"
    columns = {c["Name"]: c["Type"] for c in team_games["StorageDescriptor"]["Columns"]}
    assert columns["team_id"] == "bigint" and columns["pts"] in ("bigint", "double")
    # Hive layout (season=<s>/data.parquet): the season is the partition key, not a file column
    assert "season" not in columns
    assert [(k["Name"], k["Type"]) for k in team_games["PartitionKeys"]] == [("season", "string")]
    assert "parquet" in team_games["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].lower()
