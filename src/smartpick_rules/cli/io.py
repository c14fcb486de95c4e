"""What every command shares: the streams it writes to, a progress spinner, exit codes, and
loading the profile, rule sets and catalog the way every command does."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from ..ruleset.load import SHIPPED_PREFIX

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAIL",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "SHIPPED_PREFIX",
    "Io",
    "Progress",
    "UsageError",
    "catalog_from",
    "evaluation_inputs",
    "loading",
    "rules_from",
    "shipped_path",
    "title",
    "write_output",
]

EXIT_OK = 0
EXIT_FAIL = 1  # tests failed, coverage too low, warnings under --strict
EXIT_ERROR = 2  # bad input: a path, a profile, a rule file, a usage error
EXIT_INTERNAL = 70


class UsageError(Exception):
    """A command-line mistake argparse reports; one line, exit status 2."""


class Io:
    """The streams a command writes to (injectable for tests and embedding)."""

    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.out = out
        self.err = err

    def print(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)

    def eprint(self, text: str) -> None:
        self.err.write(text + "\n")

    def err_is_tty(self) -> bool:
        try:
            return bool(self.err.isatty())
        except (AttributeError, ValueError):
            return False


class Progress:
    """A spinner on stderr, shown only when stderr is a terminal and the work takes over ``delay`` seconds."""

    FRAMES = "|/-\\"

    def __init__(self, io: Io, message: str, delay: float = 0.5) -> None:
        self.io = io
        self.message = message
        self.delay = delay
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = 0
        self._lock = threading.Lock()

    def update(self, message: str) -> None:
        with self._lock:
            self.message = message

    def _run(self) -> None:
        start = time.monotonic()
        if self._done.wait(self.delay):
            return
        k = 0
        while not self._done.is_set():
            with self._lock:
                text = f"\r{self.FRAMES[k % len(self.FRAMES)]} {self.message} ({time.monotonic() - start:.1f}s)"
            pad = max(self._shown - len(text), 0)
            try:
                self.io.err.write(text + " " * pad)
                self.io.err.flush()
            except (OSError, ValueError):
                return
            self._shown = len(text)
            k += 1
            self._done.wait(0.1)

    def __enter__(self) -> Progress:
        if self.io.err_is_tty():
            self._thread = threading.Thread(target=self._run, name="smartpick-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            if self._shown:
                with suppress(OSError, ValueError):
                    self.io.err.write("\r" + " " * self._shown + "\r")
                    self.io.err.flush()


# --- shared loading --------------------------------------------------------------------------




def shipped_path() -> Path:
    """The shipped rule sets' folder, relative to the working directory when it is inside it.

    Locations in messages and audit trails then read ``src/smartpick_rules/rulesets/base.toml:12``
    in a checkout, not a long absolute path.
    """
    from ..ruleset.load import shipped_rulesets_path

    path = shipped_rulesets_path()
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return path
    return rel if str(rel) != "." else path


def rules_from(paths: Sequence[str], with_shipped: bool) -> Any:
    from ..ruleset.load import load_rules

    if not paths:
        return load_rules(shipped_path())
    if with_shipped:
        return load_rules(shipped_path(), *paths)
    return load_rules(*paths)


def catalog_from(path: str | None) -> Any:
    from ..domain.inputs import load_catalog, sample_catalog_path

    return load_catalog(path or sample_catalog_path())


def write_output(io: Io, text: str, output: str | None, what: str) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
        io.print(f"Wrote {what} to {output}")
    else:
        io.out.write(text)


def title(profile: Any) -> str:
    return f"Recommended programs for {profile.name or profile.id}"


@contextmanager
def loading(io: Io, args: argparse.Namespace, message: str) -> Iterator[Progress]:
    with Progress(io, message) as progress:
        yield progress


def evaluation_inputs(args: argparse.Namespace, progress: Progress) -> tuple[Any, Any, Any]:
    from ..domain.inputs import load_profile

    progress.update("loading the profile")
    profile = load_profile(args.profile)
    progress.update("loading rule sets")
    rules = rules_from(args.rules or [], args.with_shipped)
    progress.update("loading the catalog")
    catalog = catalog_from(args.catalog)
    return profile, catalog, rules


