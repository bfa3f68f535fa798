"""`nba-platform --help` lists every command with a one-line help, as installed (console script)."""

import os
import re
import subprocess
import sys
from pathlib import Path

EXPECTED = {
    "build": "materialize every asset",
    "ingest": "land file(s)",
    "predict-season": "walk-forward predictions",
    "correct": "record a correction",
    "seasons": "season partitions",
    "backup": "verified backup",
    "restore": "restore a dated backup",
    "doctor": "check the databases",
    "migrate-lake": "season=<season>/ folders",
    "replay": "replay a completed season",
}


def run_help(*args: str) -> str:
    script = Path(sys.executable).parent / "nba-platform"
    assert script.is_file(), f"console script not installed: {script} (pip install -e .)"
    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run([str(script), *args, "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def command_lines(help_text: str) -> dict[str, str]:
    """name -> help from the `commands:` section; a help wrapped onto a second line fails."""
    section = help_text.split("\ncommands:\n", 1)[1].split("\n\n", 1)[0]
    commands = {}
    for line in section.splitlines()[1:]:  # first line is the COMMAND metavar
        match = re.fullmatch(r" {4}(\S+) {2,}(\S.*)", line)
        assert match, f"not a one-line 'command  help' entry: {line!r}\n{help_text}"
        commands[match.group(1)] = match.group(2)
    return commands


def test_help_lists_every_command_with_a_one_line_help():
    text = run_help()
    assert text.startswith("usage: nba-platform")
    commands = command_lines(text)
    assert set(EXPECTED) <= set(commands), sorted(set(EXPECTED) - set(commands))
    for name, phrase in EXPECTED.items():
        assert phrase in commands[name], (name, commands[name])
    for name, help_line in commands.items():
        assert 20 <= len(help_line) <= 60, (name, help_line)
    assert "examples:" in text and "nba-platform COMMAND --help" in text


def test_each_command_has_its_own_help():
    for name in EXPECTED:
        text = run_help(name)
        assert text.startswith(f"usage: nba-platform {name}"), text
