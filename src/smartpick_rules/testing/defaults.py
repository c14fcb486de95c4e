"""The property search's default budget, in a module of its own so that the command line can
show the defaults in ``--help`` without importing the search (and the runtime) behind it."""

from __future__ import annotations

__all__ = ["DEFAULT_EXAMPLES", "DEFAULT_MAX_SECONDS", "DEFAULT_SEED"]

#: what ``smartpick-rules check --properties`` uses unless told otherwise
DEFAULT_EXAMPLES = 50
DEFAULT_SEED = 0
DEFAULT_MAX_SECONDS = 30.0
