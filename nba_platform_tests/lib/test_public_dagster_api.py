"""Public Dagster APIs only: no module under nba_platform/ imports (or names, e.g. in a dagster.yaml
it writes or an importlib call) anything from `dagster._...`, so a Dagster 1.x upgrade is a pin change."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "nba_platform"
PRIVATE = re.compile(r"\bdagster[a-z_]*\._")  # dagster._core, dagster_aws._..., not dagster_aws.s3


def private_references(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if PRIVATE.match(alias.name + ".")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if PRIVATE.match(node.module + "."):
                found.append(node.module)
            elif node.module.split(".")[0].startswith("dagster"):
                found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and PRIVATE.search(node.value):
            found.append(node.value)
    return found


def test_the_scan_sees_every_form_of_private_import():
    source = (
        "import dagster._check as check\n"
        "from dagster._core.storage import x\n"
        "from dagster import _utils\n"
        "from dagster_aws._private import y\n"
        "module = 'dagster._core.storage.event_log'\n"
        "import dagster as dg\nfrom dagster_aws.s3 import S3Resource\n"
    )
    assert private_references(source) == [
        "dagster._check",
        "dagster._core.storage",
        "dagster._utils",
        "dagster_aws._private",
        "dagster._core.storage.event_log",
    ]


def test_no_private_dagster_reference_under_nba_platform():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50
    offenders = {
        str(path.relative_to(PACKAGE.parent)): refs
        for path in files
        if (refs := private_references(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
