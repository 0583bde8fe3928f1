"""``python -m server.cli``: the ``loopcore`` command without its console script."""

import sys

from server.cli import main

sys.exit(main())
