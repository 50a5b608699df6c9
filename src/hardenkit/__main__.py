"""``python -m hardenkit``: the same as the ``hardenkit`` console script."""

from __future__ import annotations

import sys

from hardenkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
