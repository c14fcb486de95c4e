"""The library's version: the one place it is written (pyproject.toml reads it from here).

A literal rather than ``importlib.metadata.version(...)``: reading the installed metadata costs
more than the rest of a cold ``import``, and every evaluation stamps its provenance with it.
``tests/test_performance_api.py`` checks it equals the installed distribution's.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
