"""A cache on disk of parsed rule-set files, so a command does not parse the same TOML twice.

Parsing, validating and type-checking one rule-set file into the IR is most of what a cold
``smartpick-rules evaluate`` spends before it evaluates anything: the 31 shipped files take
longer to parse than the evaluation of the sample catalog takes to run. A file whose text has
not changed parses to the same IR, so the command line keeps each file's IR in a user cache
folder (``RuleCache``) and reads it back with pickle on the next run. The library itself never
writes to disk unless asked (``load_rules(cache=...)``).

What a cached entry is keyed by: the file's text (its SHA-256), the name it is reported
under, the limits it was checked against, the format of this module, the Python version and
a stamp of the package's own source files (their sizes and modification times), so an edit
to the parser in a checkout is never answered from a cache written by the old one. Only
files that parsed without a diagnostic are kept: an error is found again, and reported in the
same words, on every run.

The folder is the user's own (created ``0o700``; an entry owned by another user is never
read) and holds what this module wrote: reading a pickle runs code, so it must not be shared
between users, as ``__pycache__`` folders must not. Everything that can go wrong with it - no
home folder, a read-only or full disk, an entry cut short or written by another version - only
means the file is parsed again: the cache never changes a result and never fails a command.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..version import __version__

__all__ = ["RuleCache", "default_cache_dir"]

#: bumped when what is pickled changes shape in a way the source stamp would not catch
CACHE_FORMAT = 1
#: entries kept in one folder; the oldest (by last use) go first beyond this
MAX_ENTRIES = 512

_PACKAGE = Path(__file__).resolve().parent.parent
_source_stamp: str | None = None


def _stamp() -> str:
    """The package's source files' names, sizes and modification times, hashed (once a process)."""
    global _source_stamp
    if _source_stamp is None:
        h = hashlib.sha256(f"{__version__}\0{sys.version_info[:2]}\0{CACHE_FORMAT}".encode())
        for root, dirs, files in os.walk(_PACKAGE):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(root, name))
                    h.update(f"\0{os.path.relpath(os.path.join(root, name), _PACKAGE)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        _source_stamp = h.hexdigest()
    return _source_stamp


def default_cache_dir() -> Path | None:
    """Where the command line keeps its cache, or None when it should keep none.

    ``SMARTPICK_RULES_NO_CACHE`` (any non-empty value) turns it off; ``SMARTPICK_RULES_CACHE_DIR``
    names the folder; otherwise ``$XDG_CACHE_HOME/smartpick-rules`` or ``~/.cache/smartpick-rules``
    (``%LOCALAPPDATA%`` on Windows). None too when there is no home folder to put it in.
    """
    if os.environ.get("SMARTPICK_RULES_NO_CACHE"):
        return None
    named = os.environ.get("SMARTPICK_RULES_CACHE_DIR")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CACHE_HOME") or (os.environ.get("LOCALAPPDATA") if os.name == "nt" else None)
    if base:
        return Path(base) / "smartpick-rules"
    try:
        return Path.home() / ".cache" / "smartpick-rules"
    except (RuntimeError, KeyError):  # no home folder (a service account, a bare container)
        return None


class RuleCache:
    """Parsed rule-set files kept in ``directory`` (created on first write).

    ``get`` and ``put`` take a key naming what was parsed (see ``key``); neither raises for
    anything the disk does.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory) / f"rules-{CACHE_FORMAT}"

    def __repr__(self) -> str:
        return f"RuleCache({str(self.directory.parent)!r})"

    @staticmethod
    def key(*parts: str) -> str:
        """A file name for what ``parts`` describe, under this version of the package."""
        h = hashlib.sha256(_stamp().encode())
        for p in parts:
            h.update(b"\0" + p.encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.pickle"

    def get(self, key: str) -> Any:
        """What was put under ``key``, or None (never written, unreadable, not ours)."""
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                if hasattr(os, "getuid") and st.st_uid != os.getuid():
                    return None
                data = f.read()
        except OSError:
            return None
        try:
            # safe: a file this module wrote from the library's own objects, in a 0o700 folder,
            # owned by this user (checked above); a rule file's text never reaches here
            value = pickle.loads(data)  # safe: see above
        except Exception:
            self._discard(path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # last use, for pruning
        return value

    def put(self, key: str, value: Any) -> None:
        """Keep ``value`` under ``key``; written whole or not at all."""
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".pickle")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, self._path(key))
            except BaseException:
                self._discard(Path(tmp))
                raise
            self._prune()
        except OSError:
            return

    def _prune(self) -> None:
        entries = list(self.directory.glob("*.pickle"))
        if len(entries) <= MAX_ENTRIES:
            return

        def last_use(p: Path) -> float:
            try:
                return p.stat().st_mtime
            except OSError:
                return 0.0

        entries.sort(key=last_use)
        for p in entries[: len(entries) - MAX_ENTRIES]:
            self._discard(p)

    @staticmethod
    def _discard(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()
