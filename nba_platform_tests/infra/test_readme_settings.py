"""Every environment variable settings.py reads is documented in the README."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_the_readme():
    settings = (REPO / "nba_platform" / "settings.py").read_text()
    readme = (REPO / "README.md").read_text()
    names = sorted(set(re.findall(r'environ\.get\("([A-Z0-9_]+)"', settings)))
    assert len(names) > 30, names

    # a table row may abbreviate a family: `NBA_X_FAILURES` / `_COOLDOWN_SECONDS`
    def documented(name: str) -> bool:
        return name in readme or any(
            f"`_{name.split('_', 3)[-1]}`" in readme or f"`_{suffix}`" in readme
            for suffix in [name.rsplit("_", 2)[-2] + "_" + name.rsplit("_", 2)[-1]]
        )

    missing = [n for n in names if not documented(n)]
    assert not missing, f"settings read by settings.py but not in README.md: {missing}"
