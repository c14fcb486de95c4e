"""The ``smartpick-rules`` executable (and ``python -m smartpick_rules``): set up the process,
then run `smartpick_rules.cli.main`.

Only the process that runs the command is set up here; an application that imports the library
or calls ``cli.main`` keeps its own settings.
"""

from __future__ import annotations

import gc
import os

__all__ = ["run"]

#: net new container objects between two collections of the youngest generation (Python's
#: default is 700)
GC_THRESHOLD = 100_000


def run() -> int:
    """Run the command line in this process; return its exit status."""
    # numpy's OpenBLAS starts a thread per core when it is imported, which costs a cold command
    # tens of milliseconds on a busy machine; nothing here calls BLAS (the rules are elementwise
    # array work), so one thread does the same work. A value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # A command builds tens of thousands of objects (a catalog's programs, the rules' trees) that
    # live until it exits. With the default threshold the cycle collector walks them again and
    # again while they are built, and a full collection walks every imported module too: 40-55 ms
    # of a cold `evaluate`. The count is of objects added and not yet freed, so collections still
    # run (the heap grows by 100,000 objects between two); what is imported is frozen, kept out of
    # collections, as it lives as long as the process anyway.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    from .cli import main

    gc.freeze()
    try:
        return main()
    finally:
        # Python's shutdown runs full collections, which walk every object the command built
        # (the catalog's programs, the rules' trees, the results): about 20 ms of a cold
        # `evaluate`, to find garbage that exiting frees anyway. Frozen objects are left out of
        # collections; they are still freed, and their finalizers run, as at any exit.
        gc.freeze()
