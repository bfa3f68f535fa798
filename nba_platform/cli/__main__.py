"""`python -m nba_platform.cli ...`, the same as the `nba-platform` console script."""

import sys

from nba_platform.cli.app import main

sys.exit(main())
