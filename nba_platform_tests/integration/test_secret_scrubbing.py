"""Secret values never reach run logs (JSON lines and console), the event log (materialization
metadata, step failure errors), captured step output, or the instance's files, also when a step
fails with an error whose raw text carries the password.

Real services: the serving database is a throwaway PostgreSQL server with password auth (so the
secret really is the password); MLflow is given a `postgres://` store URI, a common
misconfiguration for which MLflow's own error quotes the whole URI, password included. The
secrets resource reads the values from the environment, as in the embedded default.
"""

import uuid
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from nba_platform.lib.storage import Store
from nba_platform.observability.run_logs import PYTHON_LOGS_CONFIG
from nba_platform.resources.mlflow import MlflowTracking
from nba_platform.resources.secrets import Secrets
from nba_platform.resources.serving_db import ServingDatabase
from nba_platform_tests.conftest import SAMPLE, embedded_resources
from nba_platform_tests.defs.helpers import materialize_seasons
from nba_platform_tests.defs.test_json_logs import json_lines
from nba_platform_tests.integration.conftest import free_port
from nba_platform_tests.integration.pg_server import ThrowawayPostgres
from nba_platform_tests.lake_files import read_lake, write_lake

pytestmark = pytest.mark.integration

SEASON = "2022-23"
GAMELOG = SAMPLE / "nba_api_league_gamelog_2021_2024" / "nba-gamelog-2022-23.csv.gz"
PUBLISHED = dg.AssetKey(["serving", "published_predictions"])
SHADOW = dg.AssetKey(["serving", "shadow_predictions"])


def files_text(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file())


def failure_errors(result) -> dict[str, str]:
    return {
        e.step_key: e.step_failure_data.error.to_string()
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    }


def test_secrets_never_reach_logs_metadata_or_errors(tmp_path, monkeypatch, capfd):
    rds_password, mlflow_password, wrong_password = (f"{k}-{uuid.uuid4().hex}" for k in ("rds", "mlflow", "wrong"))
    pg = ThrowawayPostgres(password=rds_password)
    pg.start()
    try:
        monkeypatch.setenv("NBA_LOG_FORMAT", "json")
        monkeypatch.setenv("RDS_PASSWORD", rds_password)
        monkeypatch.setenv("MLFLOW_DB_PASSWORD", mlflow_password)
        monkeypatch.setenv("WRONG_RDS_PASSWORD", wrong_password)
        resources = embedded_resources(tmp_path / "home", include_sample=False)
        (tmp_path / "home" / "landing" / GAMELOG.name).write_bytes(GAMELOG.read_bytes())
        secrets = Secrets(source="env")
        with dg.instance_for_test(overrides={"python_logs": PYTHON_LOGS_CONFIG}) as instance:
            spine = materialize_seasons([SEASON], resources, instance)
            assert spine.success
            # Predictions seeded in the lake (training is not the point here), as in test_prod_mode.
            lake = Store(resources["io_manager"].root)
            games = read_lake(lake, "tables/team_games", SEASON)
            home = games[games["is_home"] == True].head(30)  # noqa: E712
            write_lake(
                lake,
                "serving/game_predictions",
                pd.DataFrame(
                    {
                        "game_id": home["game_id"],
                        "game_date": home["game_date"],
                        "season": home["season"],
                        "home_team_id": home["team_id"],
                        "away_team_id": home["opponent_id"],
                        "p_home_win": 0.6,
                        "elo_p_home_win": 0.55,
                        "model_name": "nba_game_outcome",
                        "model_version": 0,
                        "top_factors": "[]",
                    }
                ),
                season=SEASON,
            )
            write_lake(lake, "features/game_features", pd.DataFrame({"season": [SEASON]}))

            def run(serving_db, mlflow, *keys):
                return materialize_seasons(
                    [SEASON],
                    {**resources, "serving_db": serving_db, "mlflow": mlflow},
                    instance,
                    selection=dg.AssetSelection.assets(*keys),
                    raise_on_error=False,
                )

            good_db = ServingDatabase(url=pg.url, secrets=secrets, password_key="rds_password")
            closed_port_db = ServingDatabase(
                url=f"postgresql://postgres@127.0.0.1:{free_port()}/serving",
                secrets=secrets,
                password_key="rds_password",
            )
            wrong_password_db = ServingDatabase(url=pg.url, secrets=secrets, password_key="wrong_rds_password")
            misconfigured_mlflow = MlflowTracking(
                tracking_uri=f"postgres://postgres@127.0.0.1:{pg.port}/mlflow",
                secrets=secrets,
                password_key="mlflow_db_password",
            )

            published = run(good_db, resources["mlflow"], PUBLISHED)
            unreachable = run(closed_port_db, misconfigured_mlflow, PUBLISHED, SHADOW)
            refused = run(wrong_password_db, resources["mlflow"], PUBLISHED)

            # -- what happened is still told, only the values are gone --------------------------
            assert published.success
            [event] = published.get_asset_materialization_events()
            metadata = event.materialization.metadata
            assert (
                metadata["database"].value == f"postgresql://127.0.0.1:{pg.port}/postgres"
                and metadata["games_upserted"].value > 1000
            )
            assert not unreachable.success and not refused.success
            errors = {
                **{f"unreachable:{k}": v for k, v in failure_errors(unreachable).items()},
                **{f"refused:{k}": v for k, v in failure_errors(refused).items()},
            }
            assert "Connection refused" in errors["unreachable:serving__published_predictions"]
            assert "password authentication failed" in errors["refused:serving__published_predictions"]
            # MLflow's raw error quoted the URI with the password: it arrives scrubbed
            shadow_error = errors["unreachable:serving__shadow_predictions"]
            assert "SecretScrubbedError: UnsupportedModelRegistryStoreURIException" in shadow_error, shadow_error
            assert f"postgres://***:***@127.0.0.1:{pg.port}/mlflow" in shadow_error, shadow_error

            # -- and nowhere does a value appear ----------------------------------------------
            runs = [spine, published, unreachable, refused]
            event_log = "\n".join(dg.serialize_value(r) for res in runs for r in instance.all_logs(res.run_id))
            instance_files = files_text(Path(instance.root_directory))
        captured = capfd.readouterr()
        lines = json_lines(captured.out)
        failure_lines = [e for e in lines if e.get("event_type") == "STEP_FAILURE"]
        assert {e["asset_key"] if "asset_key" in e else e["step"] for e in failure_lines} >= {
            "serving/shadow_predictions",
            "serving/published_predictions",
        }
        assert any("SecretScrubbedError" in e.get("error", "") for e in failure_lines)
        everything = {
            "JSON run logs (stdout)": captured.out,
            "console (stderr)": captured.err,
            "event log": event_log,
            "step errors": "\n".join(errors.values()),
            "instance files (compute logs, storage)": instance_files,
            "lake and home": files_text(tmp_path / "home"),
        }
        for secret in (rds_password, mlflow_password, wrong_password):
            for where, text in everything.items():
                assert secret not in text, f"a secret value reached the {where}"
    finally:
        pg.destroy()
