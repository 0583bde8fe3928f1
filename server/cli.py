"""The ``loopcore`` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``loopcore`` console script."""
    args = sys.argv[1:] if argv is None else argv
    sys.stderr.write(f"loopcore: the server is not built yet ({' '.join(args)})\n")
    return 2
