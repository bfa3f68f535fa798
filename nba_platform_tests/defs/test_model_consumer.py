"""Registered models as a consumer meets them, after a real build (2018-19..2023-24):

- loaded with `mlflow.pyfunc.load_model("models:/nba_game_outcome@champion")` in a subprocess
  whose path holds no project code, scoring rows of features/game_features read from the lake
  parquet as they are (8 int64 columns among them) and returning `p_home_win`;
- the registry holds only served or challenging versions of nba_game_outcome; walk-forward
  refits are versions of nba_game_outcome_backfill, each an MLflow run with its season's metrics;
- an identical rebuild retrains and registers nothing and stacks no prediction;
- a tampered artifact (a pickle that would write a marker file) is refused before it is opened,
  with a clear error and an alert, by the resource and by the asset that serves the season.
"""

import json
import os
import pickle
import site
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from nba_platform.definitions import defs
from nba_platform.defs.pipelines.jobs import BUILD_ALL_SELECTION
from nba_platform.defs.serving.assets import predict_home_win
from nba_platform.lib.model_artifacts import DIGEST_TAG, ModelIntegrityError
from nba_platform.resources.landing import sample_root
from nba_platform.resources.mlflow import BACKFILL_MODEL_NAME, GAME_MODEL_NAME
from nba_platform.resources.model_registry import CHAMPION
from nba_platform_tests.conftest import embedded_resources
from nba_platform_tests.defs.helpers import season_run_tags
from nba_platform_tests.lake_files import read_lake

SEASONS = ["2018-19", "2019-20", "2020-21", "2021-22", "2022-23", "2023-24"]
SOURCES = [
    "nba_api_teamgamelog_2018_2023/team_game_logs.csv.gz",
    "nba_api_league_gamelog_2021_2024/nba-gamelog-2021-22.csv.gz",
    "nba_api_league_gamelog_2021_2024/nba-gamelog-2022-23.csv.gz",
    "nba_api_league_gamelog_2021_2024/nba-gamelog-2023-24.csv.gz",
]
INT_FEATURES = [
    f"{side}_{name}"
    for side in ("home", "away")
    for name in ("season_games_played", "season_wins", "back_to_back", "games_last_7_days")
]


def registry(resources) -> dict[str, list[tuple[int, dict]]]:
    mlflow = resources["mlflow"]
    return {
        name: sorted((int(v.version), dict(v.tags)) for v in mlflow.model_versions(name))
        for name in (GAME_MODEL_NAME, BACKFILL_MODEL_NAME)
    }


def serving_rows(root: Path) -> pd.DataFrame:
    with sqlite3.connect(root / "serving" / "serving.db") as con:
        return pd.read_sql_query("SELECT game_id, season, model_name, model_version FROM game_predictions", con)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("consumer")
    resources = embedded_resources(root, include_sample=False)
    for rel in SOURCES:
        path = Path(sample_root()) / rel
        resources["landing"].accept(path.name, path.read_bytes())
    d = defs()
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster"))) as instance:
        instance.add_dynamic_partitions("season", SEASONS)

        def build():
            result = dg.materialize(
                [*d.assets, *d.asset_checks],
                resources=resources,
                instance=instance,
                tags=season_run_tags(SEASONS),
                selection=BUILD_ALL_SELECTION,
                raise_on_error=False,
            )
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            return result

        first = build()
        state = {"registry": registry(resources), "serving": serving_rows(root)}
        second = build()
        yield {
            "root": root,
            "resources": resources,
            "instance": instance,
            "first": first,
            "second": second,
            "after_first": state,
            "after_second": {"registry": registry(resources), "serving": serving_rows(root)},
            "assets": [*d.assets, *d.asset_checks],
        }


def test_registry_holds_served_versions_and_backfill_refits_apart(built):
    after = built["after_first"]["registry"]
    assert [v for v, _ in after[GAME_MODEL_NAME]] == [1]  # the champion, nothing else
    backfill = {tags["predicts_season"]: (v, tags) for v, tags in after[BACKFILL_MODEL_NAME]}
    # 2023-24 (complete) too: the evaluation model, the walk-forward model of the season the champion
    # was then refit on
    assert sorted(backfill) == ["2020-21", "2021-22", "2022-23", "2023-24"]
    for season, (_, tags) in backfill.items():
        assert tags["purpose"] == "walk_forward" and tags["train_last_season"] < season
        assert tags[DIGEST_TAG] and tags["input_fingerprint"]
    mlflow = built["resources"]["mlflow"]
    runs = {str(v.version): v.run_id for v in mlflow.model_versions(BACKFILL_MODEL_NAME)}
    for version, _ in backfill.values():
        metrics = mlflow.run_metrics(runs[str(version)])
        assert 0.15 < metrics["eval_model_brier"] < 0.26 and metrics["n_eval_games"] > 1000


def test_identical_rebuild_registers_nothing_and_stacks_no_prediction(built):
    assert built["after_second"]["registry"] == built["after_first"]["registry"]
    first, second = built["after_first"]["serving"], built["after_second"]["serving"]
    assert len(second) == len(first) and not second.duplicated(["game_id", "model_name"]).any()
    assert second["model_version"].dtype.kind == "i"
    # the champion was refit through 2023-24 (complete): every built season is served walk-forward
    assert (second["model_name"] == BACKFILL_MODEL_NAME).all()
    assert set(second["season"]) == {"2020-21", "2021-22", "2022-23", "2023-24"}
    [event] = [
        e
        for e in built["second"].get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["models", "game_outcome_model"])
    ]
    assert event.materialization.metadata["reused"].value is True


CONSUMER = r"""
import glob, importlib.util, json, os, sys
import mlflow.pyfunc
import pandas as pd

assert importlib.util.find_spec("nba_platform") is None, "project code is importable"
model = mlflow.pyfunc.load_model("models:/nba_game_outcome@champion")
table = os.path.join(sys.argv[1], "features", "game_features")
files = [table + ".parquet"] if os.path.isfile(table + ".parquet") else sorted(
    glob.glob(os.path.join(table, "**", "*.parquet"), recursive=True)
)
features = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
rows = features[features["season"] == "2023-24"].reset_index(drop=True)
out = model.predict(rows)
inputs = {s.name: s.type.name for s in model.metadata.get_input_schema().inputs}
print(json.dumps({
    "columns": list(out.columns),
    "dtype": str(out.iloc[:, 0].dtype),
    "game_ids": rows["game_id"].tolist(),
    "p": out.iloc[:, 0].tolist(),
    "input_types": inputs,
    "table_dtypes": {c: str(t) for c, t in rows.dtypes.items()},
    "project_modules": sorted(m for m in sys.modules if m.split(".")[0] == "nba_platform"),
}))
"""


def test_champion_loads_and_predicts_p_home_win_without_project_code(built):
    root = built["root"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBA_", "MLFLOW_", "PYTHON"))}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    # -S: no site processing, so the editable install's path hook is not loaded; the venv's
    # site-packages alone is put on the path.
    bootstrap = (
        f"import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p] + {site.getsitepackages()!r}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", bootstrap + CONSUMER, str(root / "lake")],
        env=env,
        cwd=str(root),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["project_modules"] == []
    assert result["columns"] == ["p_home_win"] and result["dtype"] == "float64"
    assert all(0.0 < p < 1.0 for p in result["p"]) and len(result["p"]) >= 1230
    # the signature is the table's: its 8 integer columns are int64 in both
    assert {c: result["table_dtypes"][c] for c in INT_FEATURES} == dict.fromkeys(INT_FEATURES, "int64")
    assert {c: result["input_types"][c] for c in INT_FEATURES} == dict.fromkeys(INT_FEATURES, "long")
    # the same probabilities the platform computes with the champion for the season
    mlflow = built["resources"]["mlflow"]
    features = read_lake(root / "lake", "features/game_features")
    rows = features[features["season"] == "2023-24"].reset_index(drop=True)
    platform = pd.Series(
        predict_home_win(mlflow.load_sklearn_model(mlflow.version_by_alias(CHAMPION).model_uri), rows),
        index=rows["game_id"],
    )
    consumer = pd.Series(result["p"], index=result["game_ids"])
    assert (consumer - platform.reindex(consumer.index)).abs().max() < 1e-12


class _Hook(BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self):
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class _Payload:
    """Unpickling this runs os.system: what an attacker would put in place of the model."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_tampered_artifact_is_refused_before_it_is_opened_and_alerted(built, tmp_path, monkeypatch):
    resources = built["resources"]
    mlflow = resources["mlflow"]
    # the version that serves 2023-24 (walk-forward: the champion was refit through it)
    served = pq.read_table(
        next((built["root"] / "lake" / "serving" / "game_predictions" / "season=2023-24").rglob("*.parquet"))
    ).to_pandas()
    [(name, number)] = set(zip(served["model_name"], served["model_version"]))
    champion = mlflow.version(str(number), name)
    location = mlflow.artifact_uri(champion.version, name)
    estimator = Path(location.removeprefix("file://")) / "artifacts" / "estimator.pkl"
    original = estimator.read_bytes()
    marker = tmp_path / "marker"
    crafted = pickle.dumps(_Payload(marker))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NBA_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hook")
    _Hook.bodies.clear()
    try:
        estimator.write_bytes(crafted)
        with pytest.raises(ModelIntegrityError, match=rf"{name}/v{number}: artifacts do not match .*estimator\.pkl"):
            mlflow.load_sklearn_model(champion.model_uri)
        # the serving asset refuses the season too: its run fails, nothing is served from it
        result = dg.materialize(
            built["assets"],
            resources=resources,
            instance=built["instance"],
            selection=dg.AssetSelection.assets(dg.AssetKey(["serving", "game_predictions"])),
            partition_key="2023-24",
            raise_on_error=False,
        )
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "do not match the SHA-256 digests recorded at registration" in str(failure.step_failure_data.error)
    finally:
        estimator.write_bytes(original)
        server.shutdown()
    assert not marker.exists()  # the crafted pickle was never unpickled
    assert len(_Hook.bodies) == 2 and "refused" in json.dumps(_Hook.bodies[0])
    assert mlflow.load_sklearn_model(champion.model_uri) is not None  # the restored artifact verifies again
