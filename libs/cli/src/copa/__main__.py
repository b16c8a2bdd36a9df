"""``python -m copa``: the same as the ``copa`` console script (used where no script is on PATH)."""

import sys

from copa.cli import main

sys.exit(main())
