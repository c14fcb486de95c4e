"""Shared by the atheris harnesses: what counts as a crash, and how one is recorded.

A harness calls :func:`guard` around one input. A :class:`SmartpickError` (or, for the bare
expression parser, its :class:`ExpressionError`) is the library refusing the input on purpose:
fine. Anything else is a crash. By default a crash is recorded under
``fuzz/.work/<target>/crashes/`` (one file per distinct exception type and raising line, with
the first input that triggered it and its traceback) and the run goes on, so one known bug does
not hide the next; ``FUZZ_RAISE=1`` re-raises instead (libFuzzer then stops and writes its own
``crash-*`` artifact). Hangs and memory blow-ups are caught by libFuzzer itself
(``-timeout``, ``-rss_limit_mb``), which fuzz/run.py sets.
"""

from __future__ import annotations

import hashlib
import os
import traceback
from collections.abc import Callable
from pathlib import Path

from smartpick_rules.errors import SmartpickError
from smartpick_rules.language.expr import ExpressionError

WORK = Path(os.environ.get("FUZZ_WORK", Path(__file__).parent / ".work"))
EXPECTED: tuple[type[BaseException], ...] = (SmartpickError, ExpressionError)
_seen: set[str] = set()


def signature(exc: BaseException) -> str:
    """Exception type plus the innermost frame inside this project (or the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "smartpick_rules" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__}@{where}"


def guard(target: str, data: bytes, run: Callable[[], object]) -> None:
    try:
        run()
    except EXPECTED:
        return
    except RecursionError as exc:
        _record(target, data, exc)
    except Exception as exc:
        _record(target, data, exc)


def _record(target: str, data: bytes, exc: BaseException) -> None:
    if os.environ.get("FUZZ_RAISE") == "1":
        raise exc
    sig = signature(exc)
    if sig in _seen:
        return
    _seen.add(sig)
    folder = WORK / target / "crashes"
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(sig.encode()).hexdigest()[:12]
    text = "".join(traceback.format_exception(exc))
    (folder / f"{name}.input").write_bytes(data)
    (folder / f"{name}.txt").write_text(f"{sig}\n\n{text}\ninput: {data!r}\n", encoding="utf-8")
    print(f"\n=== NEW CRASH {sig} -> {folder / name}.input", flush=True)
