"""Loading the definitions (webserver, daemon, code server, every run worker) imports no data or
ML library: pandas and the rest are imported where a run needs them."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd

from nba_platform.resources.frames import DataFrame

ROOT = Path(__file__).resolve().parents[2]
NOT_AT_LOAD = ("pandas", "numpy", "pyarrow", "great_expectations", "evidently", "mlflow", "shap", "sklearn")


def test_loading_definitions_imports_no_data_or_ml_library():
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


def test_data_frame_annotation_type_checks_values_as_pandas_frames():
    # what Dagster inferred from a `pd.DataFrame` annotation: an isinstance check on each value
    assert dg.check_dagster_type(DataFrame, pd.DataFrame({"a": [1]})).success
    for value in ({"2023-24": pd.DataFrame()}, None, [1, 2]):
        result = dg.check_dagster_type(DataFrame, value)
        assert not result.success
        assert "pandas.core.frame.DataFrame" in result.description
