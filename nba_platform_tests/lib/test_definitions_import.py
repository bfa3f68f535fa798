"""Loading the definitions (webserver, daemon, code server, every run worker) may import pandas,
numpy and pyarrow like any data project, but none of the heavy, rarely needed libraries: those are
imported inside the functions that use them. psycopg too: only a Postgres target needs the driver
(the embedded default never does), and it cost ~0.1 s of every load.
(definitions.py builds the defs folder's component tree only, not the catalogue of every installed dg
plugin, which would import dagster_aws and boto3)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_AT_LOAD = (
    "great_expectations",
    "evidently",
    "mlflow",
    "shap",
    "sklearn",
    "matplotlib",
    "boto3",
    "dagster_aws",
    "psycopg",
)


def test_loading_definitions_imports_no_heavy_ml_library():
    code = (
        "import sys\n"
        "from nba_platform.definitions import defs\n"
        "d = defs()\n"
        "assert len(list(d.resolve_asset_graph().get_all_asset_keys())) > 20\n"
        f"print(','.join(m for m in {NOT_AT_LOAD!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "", f"imported while loading the definitions: {out.stdout.strip()}"
