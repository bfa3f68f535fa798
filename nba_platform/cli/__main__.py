"""`python -m nba_platform.cli`: the same entry point as the `nba-platform` script."""

import sys

from nba_platform.cli.app import main

sys.exit(main())
