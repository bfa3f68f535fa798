"""The `nba-platform` command line: `app` parses and dispatches, `runs` launches the platform's jobs."""

from nba_platform.cli.app import main

__all__ = ["main"]
