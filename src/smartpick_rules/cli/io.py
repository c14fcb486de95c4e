"""What every command shares: the streams it writes to, a progress spinner, exit codes, and
loading the profile, rule sets and catalog the way every command does."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from ..reports.text import clean, clean_lines, json_for_terminal
from ..ruleset.cache import RuleCache, default_cache_dir
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
    """The streams a command writes to (injectable for tests and embedding).

    Text goes out with control characters removed (catalogs and rule files are untrusted, and
    a terminal acts on ESC and OSC sequences); JSON goes out with them escaped.
    """

    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.out = out
        self.err = err

    def print(self, text: str = "", end: str = "\n", *, raw: bool = False) -> None:
        """Write a line of text to stdout; ``raw`` for JSON (escaped for terminals instead of stripped)."""
        self.out.write((json_for_terminal(text) if raw else clean_lines(text)) + end)

    def eprint(self, text: str) -> None:
        self.err.write(clean_lines(text) + "\n")

    def out_wants_color(self) -> bool:
        """Colour on stdout: only a terminal, and never under ``NO_COLOR`` (https://no-color.org)."""
        if os.environ.get("NO_COLOR"):
            return False
        try:
            return bool(self.out.isatty())
        except (AttributeError, ValueError):
            return False

    def err_is_tty(self) -> bool:
        try:
            return bool(self.err.isatty())
        except (AttributeError, ValueError):
            return False

    def err_console(self) -> Any:
        """A rich console on stderr: colour and animation only on a terminal, none under NO_COLOR."""
        from rich.console import Console

        return Console(file=self.err, stderr=True, highlight=False, soft_wrap=False)


class Progress:
    """A transient spinner with the current step on stderr, only when stderr is a terminal.

    rich draws it (and erases it at the end); nothing is ever written into a pipe or a file.
    """

    def __init__(self, io: Io, message: str) -> None:
        self.io = io
        self.message = message
        self._status: Any = None

    def update(self, message: str) -> None:
        self.message = message
        if self._status is not None:
            self._status.update(clean(message))

    def __enter__(self) -> Progress:
        if self.io.err_is_tty():
            console = self.io.err_console()
            if console.is_terminal:
                self._status = console.status(clean(self.message), spinner="line")
                self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            with suppress(OSError, ValueError):
                self._status.stop()
            self._status = None


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


def rule_cache() -> RuleCache | None:
    """The commands' cache of parsed rule files (``ruleset.cache.RuleCache``) in the user's cache
    folder, or None where there is none (``SMARTPICK_RULES_NO_CACHE=1``, no home folder)."""
    folder = default_cache_dir()
    return RuleCache(folder) if folder is not None else None


def rules_from(paths: Sequence[str], with_shipped: bool) -> Any:
    """The rule sets a command runs, each file's parsed form kept in the ``rule_cache``."""
    from ..ruleset.load import load_rules

    cache = rule_cache()
    if not paths:
        return load_rules(shipped_path(), cache=cache)
    if with_shipped:
        return load_rules(shipped_path(), *paths, cache=cache)
    return load_rules(*paths, cache=cache)


def catalog_from(path: str | None, column_map: str | None = None) -> Any:
    from ..domain.inputs import load_catalog, sample_catalog_path

    if path and (column_map or Path(path).suffix.lower() in (".xlsx", ".xlsm")):
        from ..domain.importers import import_catalog

        return import_catalog(path, column_map)
    if column_map:
        raise UsageError("smartpick-rules: --catalog-map needs --catalog (the spreadsheet it maps)")
    return load_catalog(path or sample_catalog_path())


def write_output(io: Io, text: str, output: str | None, what: str, *, json_text: bool = False, sanitized: bool = False) -> None:
    """Write a report to ``output``, or to stdout made safe for a terminal (JSON escaped, text stripped).

    ``sanitized`` text (a coloured table whose untrusted parts were cleaned before styling) is
    written as it is, so its colour codes survive.
    """
    if output:
        Path(output).write_text(text, encoding="utf-8")
        io.print(f"Wrote {what} to {output}")
    elif sanitized:
        io.out.write(text)
    else:
        io.out.write(json_for_terminal(text) if json_text else clean_lines(text))


def profile_arg(args: argparse.Namespace) -> str:
    """How a suggested command names this profile: its path, or ``--example NAME``."""
    import shlex

    if getattr(args, "example", None):
        return f"--example {shlex.quote(args.example)}"
    return shlex.quote(args.profile) if getattr(args, "profile", None) else "PROFILE"


def catalog_is_synthetic(catalog: Any) -> bool:
    """The catalog says it is synthetic (``Catalog.synthetic``), or it is the shipped sample."""
    flag = getattr(catalog, "synthetic", None)
    if isinstance(flag, bool) and flag:
        return True
    from ..domain.inputs import sample_catalog_path

    try:
        return bool(catalog.source) and Path(catalog.source).resolve() == sample_catalog_path().resolve()
    except OSError:
        return False


def title(profile: Any) -> str:
    return f"Recommended programs for {profile.name or profile.id}"


@contextmanager
def loading(io: Io, args: argparse.Namespace, message: str) -> Iterator[Progress]:
    with Progress(io, message) as progress:
        yield progress


def profile_path(args: argparse.Namespace) -> Path:
    """PROFILE, or the shipped example that ``--example NAME`` names (exactly one of the two)."""
    example = getattr(args, "example", None)
    if example and args.profile:
        raise UsageError(f"smartpick-rules {args.command}: give PROFILE or --example NAME, not both")
    if example:
        from ..domain.examples import example_profile_path

        return example_profile_path(example)
    if not args.profile:
        raise UsageError(
            f"smartpick-rules {args.command}: a PROFILE is required (or --example NAME for a shipped example; "
            "`smartpick-rules init` writes one to edit)"
        )
    return Path(args.profile)


def evaluation_inputs(args: argparse.Namespace, progress: Progress) -> tuple[Any, Any, Any]:
    from ..domain.inputs import load_profile

    progress.update("loading the profile")
    profile = load_profile(profile_path(args))
    progress.update("loading rule sets")
    rules = rules_from(args.rules or [], args.with_shipped)
    progress.update("loading the catalog")
    catalog = catalog_from(args.catalog, getattr(args, "catalog_map", None))
    return profile, catalog, rules


# --- argument types shared by the commands ------------------------------------------------------


def year_argument(text: str) -> int:
    """An evaluation year given on the command line (``--as-of``)."""
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a year like 2026, got {text!r}") from None
    if not 1940 <= year <= 2100:
        raise argparse.ArgumentTypeError(f"expected a year between 1940 and 2100, got {year}")
    return year


def whole_number_argument(text: str, minimum: int) -> int:
    """A whole number of at least ``minimum`` given on the command line."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < minimum:
        raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {n}")
    return n
