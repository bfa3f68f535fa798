"""Loading the definitions (webserver, daemon, code server, every run worker) may import pandas,
numpy and pyarrow like any data project, but none of the heavy, rarely needed libraries: those are
imported inside the functions that use them.

boto3 is the exception Dagster makes for us: its public `load_from_defs_folder` loads every installed
component plugin (dagster-aws's entry point imports boto3), so the second test checks that the import
comes from there, not from a module of ours."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_AT_LOAD = ("great_expectations", "evidently", "mlflow", "shap", "sklearn", "matplotlib")


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


def test_boto3_comes_with_dagsters_plugin_discovery_not_with_our_modules():
    code = (
        "import sys, traceback\n"
        "importers = []\n"
        "class Watch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('boto3', 'botocore') and name not in sys.modules:\n"
        "            frames = [f.filename for f in traceback.extract_stack()[:-1]\n"
        "                      if not f.filename.startswith('<') and '/importlib/' not in f.filename]\n"
        "            importers.append(frames[-1])\n"
        "        return None\n"
        "sys.meta_path.insert(0, Watch())\n"
        "from nba_platform.definitions import defs\n"
        "defs().resolve_asset_graph()\n"
        "print('\\n'.join(importers))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    importers = out.stdout.split()
    assert importers, "boto3 is no longer imported at load: add it back to NOT_AT_LOAD"
    assert not [f for f in importers if "/nba_platform/" in f], importers
