import sys

from nba_platform.cli.app import main

sys.exit(main())
