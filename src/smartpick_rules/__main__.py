"""``python -m smartpick_rules``: the ``smartpick-rules`` command."""

from __future__ import annotations

import sys

from .console import run

if __name__ == "__main__":
    sys.exit(run())
