"""``python -m brainfit.cli``."""

import sys

from brainfit.cli import main

sys.exit(main())
