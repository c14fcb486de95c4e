"""A small web service embedding smartpick_rules: load and compile once, evaluate per request.

    POST /evaluate   a profile as JSON in, the Recommendation's JSON out (docs/audit-trail.md)
    GET  /rulesets   the rule sets in force, the catalog, and the service's limits
    GET  /health     "ok"; answered on the event loop, never queued behind evaluations

Run it (with the ``service`` extra installed) with the server settings this file documents::

    python examples/service/server.py            # or, with uvicorn's defaults:
    uvicorn --factory app:create_app --app-dir examples/service

The server process loads and checks the rule sets and the catalog once, in
:func:`create_app`, and starts ``workers`` worker processes (``python app.py --worker``), each
of which loads, compiles and warms up its own copy. The event loop only reads requests, checks
them and sends answers; evaluations run in the workers, so the loop never waits behind one.

What keeps it standing under load and against hostile clients (figures in docs/security.md):

* The body is read as it arrives and refused with 413 the moment it passes
  ``max_body_bytes``, chunked bodies included; a body that has not arrived within
  ``body_timeout`` seconds is refused with 408.
* At most ``workers + queue`` requests are admitted at once (:class:`EvaluationPool`); one
  more is answered 503 at once, with ``Retry-After``. An admitted request not answered within
  ``deadline`` seconds is answered 503 too; a worker still busy with it after as long again
  is killed and replaced, so runaway work really stops. Results (tens of MB of JSON for the sample catalog) exist only for
  admitted requests, and are sent in pieces a slow reader must take within ``send_timeout``.
* Bad input of any kind is a 4xx with a JSON body of diagnostics naming the field path and,
  where there is one, the line and column in the body; the service answers 500 only for its
  own bugs.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import datetime as _dt
import difflib
import json
import logging
import math
import os
import re
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

import smartpick_rules as sr

log = logging.getLogger("smartpick.service")

#: the file name diagnostics about the request body carry
BODY = "<request body>"

# --- settings ---------------------------------------------------------------------------------

#: each setting and the environment variable that sets it
ENVIRONMENT = {
    "rules": "SMARTPICK_RULES",
    "rules_only": "SMARTPICK_RULES_ONLY",
    "catalog": "SMARTPICK_CATALOG",
    "engine": "SMARTPICK_ENGINE",
    "as_of": "SMARTPICK_AS_OF",
    "workers": "SMARTPICK_WORKERS",
    "queue": "SMARTPICK_QUEUE",
    "deadline": "SMARTPICK_DEADLINE",
    "max_body_bytes": "SMARTPICK_MAX_BODY_BYTES",
    "body_timeout": "SMARTPICK_BODY_TIMEOUT",
    "send_timeout": "SMARTPICK_SEND_TIMEOUT",
    "worker_nice": "SMARTPICK_WORKER_NICE",
}


class ConfigError(sr.SmartpickError):
    """A setting of the service is not usable (the location names the environment variable)."""


def _config_error(setting: str, message: str, help: str | None = None) -> ConfigError:
    return ConfigError(sr.Diagnostic("input_error", message, sr.Location(ENVIRONMENT.get(setting, setting)), help=help))


@attrs.frozen
class Settings:
    """How the service is configured; :meth:`from_env` reads the ``SMARTPICK_*`` variables."""

    #: rule-set files or folders loaded *in addition to* the shipped rule sets
    rules: tuple[str, ...] = ()
    #: rule-set files or folders loaded *instead of* the shipped rule sets
    rules_only: tuple[str, ...] | None = None
    #: the catalog file (default: the sample catalog shipped with the package)
    catalog: str | None = None
    engine: str = "native"
    #: the year ``years_since()`` counts from when a request does not say (default: this year)
    as_of: int | None = None
    #: evaluations running at once (threads)
    workers: int = 2
    #: requests admitted to wait for a worker; more than ``workers + queue`` are answered 503
    queue: int = 4
    #: seconds from admission to a finished evaluation; later, the request is answered 503
    deadline: float = 10.0
    #: bytes in one request body; more is answered 413 while reading, chunked bodies included
    max_body_bytes: int = 256 * 1024
    #: seconds for the whole request body to arrive; later, the request is answered 408
    body_timeout: float = 10.0
    #: seconds the client may take to read each 256 KB of a result before the connection is dropped
    send_timeout: float = 10.0
    #: how much lower than the server's the workers' scheduling priority is (``nice``): the
    #: server's own work is small and latency-bound, the workers' is large and batch
    worker_nice: int = 10

    def __attrs_post_init__(self) -> None:
        if self.rules and self.rules_only is not None:
            raise ConfigError(
                sr.Diagnostic(
                    "input_error",
                    "SMARTPICK_RULES adds rule sets to the shipped ones and SMARTPICK_RULES_ONLY replaces them; set one of them",
                    sr.Location("SMARTPICK_RULES_ONLY"),
                )
            )
        if self.rules_only is not None and not self.rules_only:
            raise _config_error("rules_only", "no rule sets given", help="name the rule-set files or folders, separated by `:`")
        for name in ("workers", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise _config_error(name, f"must be at least 1, not {getattr(self, name)}")
        if self.queue < 0:
            raise _config_error("queue", f"must be 0 or more, not {self.queue}")
        if not 0 <= self.worker_nice <= 19:
            raise _config_error("worker_nice", f"must be between 0 and 19, not {self.worker_nice}")
        for name in ("deadline", "body_timeout", "send_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise _config_error(name, f"must be a number of seconds above 0, not {value}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``SMARTPICK_*`` environment variables; a bad value raises :class:`ConfigError`."""
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(ENVIRONMENT[name], "").strip()
            return value or None

        def paths(name: str) -> tuple[str, ...] | None:
            value = text(name)
            return None if value is None else tuple(p for p in value.split(os.pathsep) if p)

        def number(name: str, kind: type[int] | type[float]) -> Any:
            value = text(name)
            if value is None:
                return attrs.fields_dict(cls)[name].default
            try:
                return kind(value)
            except ValueError:
                what = "a whole number" if kind is int else "a number of seconds"
                raise _config_error(name, f"expected {what}, got `{value}`") from None

        as_of = number("as_of", int)
        return cls(
            rules=paths("rules") or (),
            rules_only=paths("rules_only"),
            catalog=text("catalog"),
            engine=text("engine") or "native",
            as_of=as_of,
            workers=number("workers", int),
            queue=number("queue", int),
            deadline=number("deadline", float),
            max_body_bytes=number("max_body_bytes", int),
            body_timeout=number("body_timeout", float),
            send_timeout=number("send_timeout", float),
            worker_nice=number("worker_nice", int),
        )


def _shipped_rules() -> Path:
    from smartpick_rules.ruleset.load import shipped_rulesets_path

    return shipped_rulesets_path()


# --- request bodies: strict JSON, every problem located ------------------------------------------

#: a profile is a few levels deep; deeper documents are refused before the library sees them
MAX_DEPTH = 32
#: digits in one JSON number (Python refuses more than 4,300 with a ValueError of its own)
MAX_DIGITS = 40
#: diagnostics listed in one response
MAX_DIAGNOSTICS = 50


class Problem(Exception):
    """An HTTP error answer: status, a title, diagnostics, extra headers."""

    def __init__(
        self,
        status: int,
        title: str,
        diagnostics: Sequence[sr.Diagnostic | dict[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        #: as plain dicts (``Diagnostic.to_dict()``), the form they cross a pipe and go out in
        self.diagnostics = [d if isinstance(d, dict) else d.to_dict() for d in diagnostics[:MAX_DIAGNOSTICS]]
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body = {"error": self.title, "diagnostics": self.diagnostics}
        # ASCII escapes keep the answer valid UTF-8 whatever the request echoed back
        text = json.dumps(body, ensure_ascii=True, allow_nan=False)
        return Response(text, status_code=self.status, media_type="application/json", headers=self.headers)


class _Object(dict[str, Any]):
    """A JSON object that named a key more than once (``json`` would silently keep the last)."""

    duplicates: list[str]


class _BadNumber:
    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    dup = _Object(obj)
    dup.duplicates = []
    for key, _ in pairs:
        if key in seen and key not in dup.duplicates:
            dup.duplicates.append(key)
        seen.add(key)
    return dup


def _parse_int(text: str) -> int | _BadNumber:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        return _BadNumber(text, f"a number of {digits} digits; at most {MAX_DIGITS} are accepted")
    return int(text)


def _parse_float(text: str) -> float | _BadNumber:
    value = float(text)
    if not math.isfinite(value):
        return _BadNumber(text, f"`{text[:20]}` is too large to be a number")
    return value


def _parse_constant(text: str) -> _BadNumber:
    return _BadNumber(text, f"`{text}` is not a number JSON allows")


def field_path(path: Sequence[str | int]) -> str:
    """``("usce", 0, "kind")`` -> ``$.usce[0].kind``, the library's notation."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", part):
            out += f".{part}"
        else:
            out += "[" + json.dumps(part, ensure_ascii=True) + "]"
    return out


def _valid_text(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _inspect(data: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """What strict JSON refuses and ``json`` lets through, as ``(path, message)`` pairs."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack and len(found) < MAX_DIAGNOSTICS:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            found.append((path, f"nested more than {MAX_DEPTH} levels deep; a profile is a few levels deep"))
            continue
        if isinstance(value, dict):
            if isinstance(value, _Object):
                found.extend(((*path, k), f"`{k}` appears more than once in this object; keep one") for k in value.duplicates)
            for k, v in reversed(value.items()):
                if not _valid_text(k):
                    found.append(((*path, k), "the key is not valid Unicode text (a lone surrogate escape)"))
                    continue
                stack.append((v, (*path, k)))
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, str) and not _valid_text(value):
            found.append((path, "the string is not valid Unicode text (a lone surrogate escape)"))
        elif isinstance(value, _BadNumber):
            found.append((path, value.reason))
    return found


def parse_body(body: bytes) -> tuple[dict[str, Any], str]:
    """The body as a JSON object and as text, or :class:`Problem` (400 not JSON, 422 no profile)."""
    if not body.strip():
        raise Problem(400, "the request body is empty", [sr.Diagnostic("parse_error", "expected a JSON object (a profile)", sr.Location(BODY))])
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        column = exc.start - (body.rfind(b"\n", 0, exc.start) + 1) + 1
        raise Problem(
            400,
            "the request body is not JSON",
            [sr.Diagnostic("parse_error", f"not UTF-8 text (byte {exc.start})", sr.Location(BODY, line, column))],
        ) from None
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        where = sr.Location(BODY, exc.lineno, exc.colno)
        raise Problem(400, "the request body is not JSON", [sr.Diagnostic("parse_error", f"invalid JSON: {exc.msg}", where)]) from None
    except RecursionError:
        raise Problem(400, "the request body is not JSON", [sr.Diagnostic("parse_error", "invalid JSON: nested too deeply", sr.Location(BODY))]) from None
    found = _inspect(data)
    if found:
        positions = JsonPositions(text)
        raise Problem(
            422,
            "invalid profile",
            [
                sr.Diagnostic("input_error", message, positions.location(path, duplicate="appears more than once" in message), field_path=field_path(path))
                for path, message in found
            ],
        )
    if not isinstance(data, dict):
        raise Problem(422, "invalid profile", [sr.Diagnostic("input_error", "expected a JSON object (a profile)", sr.Location(BODY, 1, 1), field_path="$")])
    return data, text


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')
_PATH_PART = re.compile(r'\.([^.\[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


class JsonPositions:
    """Line and column of every key path in a JSON text (one scan, on demand).

    An object member is placed at its key, an array item at its value; a repeated key is
    placed at its second occurrence when asked for the duplicate.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._newlines = [m.start() for m in re.finditer("\n", text)]
        self._first: dict[tuple[str | int, ...], int] = {}
        self._again: dict[tuple[str | int, ...], int] = {}
        self._scan()

    def _scan(self) -> None:
        # frames: [path, is_object, current key or index, expecting a key, keys seen]
        stack: list[list[Any]] = []
        for m in _TOKEN.finditer(self._text):
            tok, pos = m.group(), m.start()
            top = stack[-1] if stack else None
            if tok in ("}", "]"):
                if stack:
                    stack.pop()
                continue
            if tok == ":":
                if top is not None:
                    top[3] = False
                continue
            if tok == ",":
                if top is not None:
                    if top[1]:
                        top[3] = True
                    else:
                        top[2] += 1
                continue
            if top is not None and top[1] and top[3] and tok.startswith('"'):
                try:
                    key = json.loads(tok)
                except ValueError:
                    key = tok[1:-1]
                top[2] = key
                path = (*top[0], key)
                if key in top[4]:
                    self._again.setdefault(path, pos)
                else:
                    top[4].add(key)
                    self._first.setdefault(path, pos)
                continue
            # a value starts here
            if top is None:
                path = ()
            elif top[1]:
                path = (*top[0], top[2])
            else:
                path = (*top[0], top[2])
                self._first.setdefault(path, pos)
            if tok in ("{", "["):
                stack.append([path, tok == "{", None if tok == "{" else 0, True, set()])

    def _line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_left(self._newlines, offset)
        start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, offset - start + 1

    def location(self, path: Sequence[str | int], *, duplicate: bool = False) -> sr.Location:
        key = tuple(path)
        if duplicate and key in self._again:
            return sr.Location(BODY, *self._line_col(self._again[key]))
        while key:
            if key in self._first:
                return sr.Location(BODY, *self._line_col(self._first[key]))
            key = key[:-1]
        return sr.Location(BODY, 1, 1)

    def locate(self, diagnostics: Sequence[sr.Diagnostic]) -> list[sr.Diagnostic]:
        """The library's diagnostics (which carry a field path) placed in the body."""
        out = []
        for d in diagnostics:
            path: list[str | int] = []
            for m in _PATH_PART.finditer(d.field_path or ""):
                if m.group(1) is not None:
                    path.append(m.group(1))
                elif m.group(2) is not None:
                    path.append(int(m.group(2)))
                else:
                    path.append(json.loads(m.group(3)))
            out.append(attrs.evolve(d, location=self.location(path)) if d.field_path else attrs.evolve(d, location=sr.Location(BODY)))
        return out


# --- the service: what one process loads -------------------------------------------------------


class Service:
    """The compiled rule sets and the catalog.

    The server process builds one to check the configuration at start and to answer
    ``/rulesets``; each worker process builds its own (``warm=True``) to evaluate.
    """

    def __init__(self, settings: Settings, *, warm: bool = False) -> None:
        self.settings = settings
        if settings.rules_only is not None:
            paths: tuple[str | Path, ...] = settings.rules_only
        elif settings.rules:
            paths = (_shipped_rules(), *settings.rules)
        else:
            paths = ()  # load_rules() with no path loads the shipped rule sets
        self.rules = sr.load_rules(*paths)
        self.engine = settings.engine
        sr.compile_ruleset(self.rules, self.engine)  # cached on the immutable RuleSet
        self.catalog = sr.load_catalog(settings.catalog or sr.sample_catalog_path())
        self.as_of = settings.as_of
        self.started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        if warm:
            # one evaluation fills the catalog's column cache before the first request
            sr.evaluate({"graduation_year": 2020}, self.catalog, self.rules, engine=self.engine, as_of=self.as_of or 2026)

    def evaluate(self, text: str, as_of: int | None, detail: str = "full") -> bytes:
        """The result's JSON as UTF-8 bytes for the profile in ``text`` (already checked JSON);
        ``detail`` as for ``Recommendation.to_json`` ("chosen": the recommended list alone).

        Raises :class:`Problem` (422) for a profile the library refuses, its diagnostics
        placed at their line and column in ``text``.
        """
        profile = json.loads(text)
        try:
            rec = sr.evaluate(profile, self.catalog, self.rules, engine=self.engine, as_of=as_of or self.as_of)
        except sr.InputError as exc:
            raise Problem(422, "invalid profile", JsonPositions(text).locate(exc.diagnostics)) from None
        except sr.EvaluationError as exc:
            # a firing or work budget refused this applicant's evaluation: their input, not our fault
            raise Problem(422, "the evaluation was refused", exc.diagnostics) from None
        data = rec.to_json(detail="chosen" if detail == "chosen" else "full")
        del rec
        return data.encode("utf-8")

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "library_version": sr.__version__,
            "engine": self.engine,
            "rules": len(self.rules),
            "rulesets": [{"name": r.name, "version": r.version, "sha256": r.sha256} for r in self.rules.rulesets],
            "catalog": {"programs": len(self.catalog), "source": Path(self.catalog.source).name},
            "limits": {
                "workers": s.workers,
                "queue": s.queue,
                "deadline_seconds": s.deadline,
                "max_body_bytes": s.max_body_bytes,
                "body_timeout_seconds": s.body_timeout,
            },
            "started": self.started,
        }


# --- worker processes ---------------------------------------------------------------------------
#
# Evaluation is CPU-bound Python. In threads of the server process it holds the GIL that the
# event loop needs for every socket call, so under load the loop (and /health with it) waits
# behind the evaluations; measured, /health p99 was 1.7 s with two worker threads and 20
# clients. In worker processes the loop never waits for them, two workers use two cores, and
# an evaluation past its deadline is stopped for real: its process is killed and replaced.
#
# The server talks to a worker over its stdin and stdout in frames: one kind byte, an 8-byte
# length, the payload. A worker is ``python app.py --worker``, so it needs nothing from the
# parent but the settings it is sent.

_FRAME = struct.Struct("!cQ")
#: parent -> worker: the settings (JSON); a job (JSON: text, as_of)
SETTINGS, JOB = b"S", b"J"
#: worker -> parent: ready; failed to start (JSON diagnostics); a result; a refusal; a bug
READY, FAILED, RESULT, REFUSED, BUG = b"K", b"F", b"R", b"P", b"E"


def _write_frame(stream: BinaryIO, kind: bytes, payload: bytes) -> None:
    stream.write(_FRAME.pack(kind, len(payload)))
    stream.write(payload)
    stream.flush()


def _read_frame(stream: BinaryIO) -> tuple[bytes, bytes]:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError("the worker closed its pipe")
    kind, size = _FRAME.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the worker closed its pipe mid-frame")
    return kind, payload


def _diagnostics_json(diagnostics: Sequence[sr.Diagnostic | dict[str, Any]]) -> bytes:
    return json.dumps([d if isinstance(d, dict) else d.to_dict() for d in diagnostics], ensure_ascii=True).encode()


def _diagnostic_from(d: Mapping[str, Any]) -> sr.Diagnostic:
    return sr.Diagnostic(
        d["code"],
        d["message"],
        sr.Location(d.get("file") or "", d.get("line") or 0, d.get("column") or 0),
        rule_id=d.get("rule_id"),
        help=d.get("help"),
        suggestion=d.get("suggestion"),
        severity=d.get("severity") or "error",
        field_path=d.get("field_path"),
    )


def worker_main() -> int:
    """``python app.py --worker``: evaluate jobs from stdin until it closes."""
    # frames go to the real stdout; anything else printed goes to stderr, not into a frame
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    try:
        _kind, payload = _read_frame(inp)
        settings = Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(payload).items()})
        if settings.worker_nice:
            os.nice(settings.worker_nice)
        service = Service(settings, warm=True)
    except sr.SmartpickError as exc:
        _write_frame(out, FAILED, _diagnostics_json(exc.diagnostics))
        return 2
    except EOFError:
        return 0
    _write_frame(out, READY, b"")
    while True:
        try:
            _kind, payload = _read_frame(inp)
        except EOFError:
            return 0
        job = json.loads(payload)
        try:
            result = service.evaluate(job["text"], job["as_of"], job.get("detail", "full"))
        except Problem as problem:
            refusal = {"status": problem.status, "title": problem.title, "diagnostics": problem.diagnostics}
            _write_frame(out, REFUSED, json.dumps(refusal, ensure_ascii=True).encode())
            continue
        except Exception:
            _write_frame(out, BUG, traceback.format_exc().encode("utf-8", "backslashreplace"))
            continue
        _write_frame(out, RESULT, result)
        del result


class Worker:
    """One worker process and its pipes; every method blocks (call them from a thread)."""

    def __init__(self, settings: Settings, command: Sequence[str] | None = None) -> None:
        self.proc = subprocess.Popen(
            list(command or [sys.executable, str(Path(__file__).resolve()), "--worker"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in: BinaryIO = self.proc.stdin
        self._out: BinaryIO = self.proc.stdout
        _write_frame(self._in, SETTINGS, json.dumps(attrs.asdict(settings)).encode())

    def wait_ready(self) -> None:
        """Block until the worker has loaded everything; its start-up error is raised as it was."""
        try:
            kind, payload = _read_frame(self._out)
        except EOFError:
            self.kill()
            raise RuntimeError(f"the worker process exited while starting (status {self.proc.poll()})") from None
        if kind == FAILED:
            self.kill()
            raise sr.RulesetError([_diagnostic_from(d) for d in json.loads(payload)])
        if kind != READY:
            self.kill()
            raise RuntimeError(f"the worker process sent {kind!r} while starting")

    def call(self, as_of: int | None, text: str, detail: str = "full") -> tuple[bytes, bytes]:
        _write_frame(self._in, JOB, json.dumps({"as_of": as_of, "text": text, "detail": detail}).encode())
        return _read_frame(self._out)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        for stream in (self._in, self._out):
            with contextlib.suppress(OSError):
                stream.close()
        self.proc.wait()


# --- the pool -----------------------------------------------------------------------------------


class Overloaded(Exception):
    """The pool is full, or the request's deadline passed before its evaluation finished."""

    def __init__(self, code: str, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


class Ticket:
    """One admitted request; its place is given back once, when the request is answered."""

    def __init__(self, pool: EvaluationPool) -> None:
        self._pool = pool
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._pool._admitted -= 1


class EvaluationPool:
    """``workers`` worker processes; at most ``workers + queue`` requests admitted at once.

    Admission is decided before any work is done, so a full pool costs a caller one immediate
    503 and no memory. An admitted request waits for an idle worker, then for its answer; past
    its deadline the wait ends with 503; a worker still on that job after as long again is
    killed (the work stops) and a new one started. Everything but the blocking pipe calls runs on
    the event loop, so the counters need no lock.
    """

    def __init__(self, settings: Settings, *, command: Sequence[str] | None = None) -> None:
        self.settings = settings
        self.workers = settings.workers
        self.capacity = settings.workers + settings.queue
        self._command = command
        # one thread per busy worker waits on its pipe; two more start replacements
        self._threads = ThreadPoolExecutor(max_workers=self.workers + 2, thread_name_prefix="smartpick-pipe")
        self._admitted = 0
        #: jobs still running whose callers were answered 503 at the deadline
        self._abandoned = 0
        self._idle: list[Worker] = []
        self._waiting: collections.deque[asyncio.Future[Worker]] = collections.deque()
        self._seconds = 1.0  # running mean of one evaluation, for Retry-After
        self._closed = False
        self._all: set[Worker] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        #: workers killed (past a deadline) or lost, and replaced
        self.restarts = 0

    def start(self) -> None:
        """Start the workers and wait until each has loaded (blocking; call before serving)."""
        started = [Worker(self.settings, self._command) for _ in range(self.workers)]
        self._all.update(started)
        try:
            for w in started:
                w.wait_ready()
        except BaseException:
            for w in started:
                w.kill()
            raise
        self._idle.extend(started)

    @property
    def admitted(self) -> int:
        return self._admitted

    def retry_after(self) -> int:
        """Seconds until a place is likely free: the requests ahead, at the measured pace."""
        rounds = max(self._admitted + self._abandoned, 1) / self.workers
        return max(1, min(60, math.ceil(self._seconds * rounds)))

    def admit(self) -> Ticket:
        """A place for one request, or :class:`Overloaded`.

        Past ``workers + queue`` requests, or when the requests ahead (and abandoned jobs still
        running) would keep this one from finishing within the deadline at the measured pace
        of an evaluation, the answer is an immediate 503: admitting work that can only time
        out would spend the workers on answers nobody gets (measured with clients retrying at
        once on a busy machine: not one 200 in 60 s).
        """
        ahead = self._admitted + self._abandoned
        rounds = ahead // self.workers + 1
        late = ahead >= self.workers and rounds * self._seconds > self.settings.deadline
        if self._admitted >= self.capacity or late:
            raise Overloaded(
                "overloaded",
                f"every worker is busy and the requests waiting would take them past the deadline "
                f"({self.workers} workers, {ahead} requests ahead, about {self._seconds:.1f} s each); try again later",
                self.retry_after(),
            )
        self._admitted += 1
        return Ticket(self)

    def _deadline_exceeded(self) -> Overloaded:
        return Overloaded(
            "deadline_exceeded",
            f"the evaluation did not finish within the service's deadline of {self.settings.deadline:g} s; try again later",
            self.retry_after(),
        )

    async def _acquire(self, deadline_at: float) -> Worker:
        if self._idle:
            return self._idle.pop()
        waiter: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), max(0.0, deadline_at - time.monotonic()))
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                self._give_back(waiter.result())  # handed over just as the wait ended
            else:
                waiter.cancel()
            raise self._deadline_exceeded() from None

    def _give_back(self, worker: Worker) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    async def run(self, as_of: int | None, text: str, deadline_at: float, detail: str = "full") -> bytes:
        """The result's bytes; :class:`Problem` for a refusal; :class:`Overloaded` past the deadline."""
        worker = await self._acquire(deadline_at)
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        call = loop.run_in_executor(self._threads, worker.call, as_of, text, detail)
        try:
            kind, payload = await asyncio.wait_for(asyncio.shield(call), max(0.0, deadline_at - time.monotonic()))
        except TimeoutError:
            self._background(self._abandon(worker, call, start))
            raise self._deadline_exceeded() from None
        except (EOFError, OSError):
            status = worker.proc.poll()
            await self._replace(worker, call)
            log.error("an evaluation worker stopped (exit status %s)", status)
            raise Problem(500, "internal error", [sr.Diagnostic("internal_error", "the evaluation worker stopped; this is a bug", sr.Location())]) from None
        self._observe(time.monotonic() - start)
        self._give_back(worker)
        if kind == RESULT:
            return payload
        if kind == REFUSED:
            refusal = json.loads(payload)
            raise Problem(refusal["status"], refusal["title"], refusal["diagnostics"])
        log.error("an evaluation failed:\n%s", payload.decode("utf-8", "replace"))
        raise Problem(500, "internal error", [sr.Diagnostic("internal_error", "the evaluation failed; this is a bug", sr.Location())])

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _observe(self, seconds: float) -> None:
        self._seconds = 0.8 * self._seconds + 0.2 * seconds

    async def _abandon(self, worker: Worker, call: asyncio.Future[Any], start: float) -> None:
        """A job past its deadline: its caller has had a 503. A worker slowed down by a busy
        machine is usually nearly done, and killing it would cost a new worker's start-up
        (seconds of CPU), so it gets as long again to finish; one still busy after that (a
        runaway evaluation) is killed and replaced."""
        self._abandoned += 1
        try:
            await asyncio.wait_for(asyncio.shield(call), self.settings.deadline)
        except TimeoutError:
            self._observe(time.monotonic() - start)  # at least this long: admission must know
            await self._replace(worker, call)
            return
        except (EOFError, OSError):
            await self._replace(worker, call)
            return
        finally:
            self._abandoned -= 1
        self._observe(time.monotonic() - start)
        self._give_back(worker)  # its result is dropped

    async def _replace(self, worker: Worker, call: asyncio.Future[Any]) -> None:
        """Kill ``worker`` (stopping its work) and start another in the background."""
        loop = asyncio.get_running_loop()
        self._all.discard(worker)
        await loop.run_in_executor(self._threads, worker.kill)
        with contextlib.suppress(BaseException):
            await call  # the pipe read ends with EOF once the process is gone
        self.restarts += 1
        if not self._closed:
            self._background(self._spawn())

    async def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.5
        while not self._closed:
            try:
                worker = await loop.run_in_executor(self._threads, self._new_worker)
            except Exception as exc:  # a worker that cannot start now may start later
                log.error("could not start an evaluation worker (%s); trying again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if self._closed:
                await loop.run_in_executor(self._threads, worker.kill)
            else:
                self._all.add(worker)
                self._give_back(worker)
            return

    def _new_worker(self) -> Worker:
        worker = Worker(self.settings, self._command)
        worker.wait_ready()
        return worker

    def reopen(self) -> None:
        """Start again after :meth:`shutdown` (an app whose lifespan runs more than once)."""
        if self._closed:
            self._closed = False
            self._threads = ThreadPoolExecutor(max_workers=self.workers + 2, thread_name_prefix="smartpick-pipe")
            self.start()

    def shutdown(self) -> None:
        self._closed = True
        for waiter in self._waiting:
            waiter.cancel()
        for worker in list(self._all):
            worker.kill()
        self._all.clear()
        self._idle.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)


# --- HTTP ---------------------------------------------------------------------------------------

#: seconds before a 503 for a full pool is sent
REFUSAL_PAUSE = 1.0
#: bytes of a result sent at a time; each waits for the client to take the previous one
SEND_CHUNK = 256 * 1024
_QUERY = ("as_of", "detail")
#: ``?detail=``: every program with its audit (the default), or the recommended list alone
DETAILS = ("full", "chosen")


class ResultResponse(Response):
    """A large JSON result sent in pieces, each within ``send_timeout`` seconds.

    ``send`` returns at once while the transport's buffer is below its high-water mark and
    waits for the client to drain it otherwise, so sending in pieces makes a slow reader wait
    here, holding its place in the pool, instead of parking the whole result in the
    transport's buffer where no limit sees it.
    """

    def __init__(self, body: bytes, send_timeout: float, on_done: Callable[[], None]) -> None:
        super().__init__(body, media_type="application/json")
        self._send_timeout = send_timeout
        self._on_done = on_done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            view = memoryview(self.body)
            for start in range(0, len(view), SEND_CHUNK) or [0]:
                end = start + SEND_CHUNK
                async with asyncio.timeout(self._send_timeout):
                    await send({"type": "http.response.body", "body": bytes(view[start:end]), "more_body": end < len(view)})
        except TimeoutError:
            # the server closes a connection whose response was left unfinished
            log.warning("dropped a client that did not read its result within %ss", self._send_timeout)
        finally:
            self._on_done()


def _check_content_type(request: Request) -> None:
    value = request.headers.get("content-type")
    if value is None:
        return
    media, _, params = value.partition(";")
    media = media.strip().lower()
    charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.IGNORECASE)
    json_media = media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
    if json_media and (charset is None or charset.group(1).lower() in ("utf-8", "utf8")):
        return
    raise Problem(
        415,
        "the request body must be JSON",
        [
            sr.Diagnostic(
                "input_error",
                f"content-type `{value[:80]}` is not JSON in UTF-8",
                sr.Location("<request headers>"),
                field_path="content-type",
                help="send `content-type: application/json` (curl: --json, or -H 'content-type: application/json')",
            )
        ],
        headers={"connection": "close"},
    )


def _query(request: Request) -> tuple[int | None, str]:
    """``?as_of=`` (a year, or None) and ``?detail=`` ("full" unless given); every problem with
    the query at once."""
    items = request.query_params.multi_items()
    diags = []
    for name, _ in items:
        if name not in _QUERY:
            hint = difflib.get_close_matches(name, _QUERY, n=1)
            diags.append(
                sr.Diagnostic(
                    "input_error",
                    f"unknown query parameter `{name[:40]}`",
                    sr.Location(f"?{name[:40]}"),
                    suggestion=hint[0] if hint else None,
                    help=None if hint else f"known: {', '.join(_QUERY)}",
                )
            )
    values = [v for name, v in items if name == "as_of"]
    if len(values) > 1:
        diags.append(sr.Diagnostic("input_error", "as_of is given more than once", sr.Location("?as_of")))
    year = None
    if values:
        text = values[0]
        if re.fullmatch(r"[0-9]{4}", text) and 1900 <= int(text) <= 2200:
            year = int(text)
        else:
            diags.append(
                sr.Diagnostic("input_error", f"as_of must be a year between 1900 and 2200, not `{text[:20]}`", sr.Location("?as_of"))
            )
    details = [v for name, v in items if name == "detail"]
    detail = "full"
    if len(details) > 1:
        diags.append(sr.Diagnostic("input_error", "detail is given more than once", sr.Location("?detail")))
    elif details:
        if details[0] in DETAILS:
            detail = details[0]
        else:
            hint = difflib.get_close_matches(details[0], DETAILS, n=1)
            diags.append(
                sr.Diagnostic(
                    "input_error",
                    f"detail must be `full` or `chosen`, not `{details[0][:20]}`",
                    sr.Location("?detail"),
                    suggestion=hint[0] if hint else None,
                )
            )
    if diags:
        raise Problem(422, "invalid query", diags)
    return year, detail


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    too_large = Problem(
        413,
        f"the request body is larger than {limit} bytes",
        [
            sr.Diagnostic(
                "limit_exceeded",
                f"more than {limit} bytes; a profile is a few KB",
                sr.Location(BODY),
                help="the service's SMARTPICK_MAX_BODY_BYTES",
            )
        ],
        headers={"connection": "close"},
    )
    size = request.headers.get("content-length")
    if size is not None:
        if not size.strip().isdigit():
            raise Problem(400, "invalid content-length", [sr.Diagnostic("input_error", f"content-length `{size[:40]}` is not a number", sr.Location("<request headers>"), field_path="content-length")], headers={"connection": "close"})
        if int(size) > limit:
            raise too_large  # refused before a byte of the body is read
    chunks: list[bytes] = []
    received = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise too_large  # refused while reading: chunked bodies have no length to check first
                chunks.append(chunk)
    except TimeoutError:
        raise Problem(
            408,
            "the request body did not arrive in time",
            [
                sr.Diagnostic(
                    "input_error",
                    f"{received} bytes arrived in {timeout:g} seconds",
                    sr.Location(BODY),
                    help="the service's SMARTPICK_BODY_TIMEOUT",
                )
            ],
            headers={"connection": "close"},
        ) from None
    return b"".join(chunks)


def create_app(settings: Settings | None = None, *, worker_command: Sequence[str] | None = None) -> Starlette:
    """Build the app: load, check and compile the rule sets, read the catalog, start the workers.

    With ``settings`` (programmatic use), a rule set, catalog or setting that does not load
    raises its :class:`smartpick_rules.SmartpickError`. Without (``uvicorn --factory
    app:create_app``), the settings come from the environment and such an error is reported as
    one line per problem on stderr, ``file:line:col: code: rule-id: message``, and the process
    exits with status 2 — no traceback. ``worker_command`` starts a worker process (default:
    this interpreter running ``app.py --worker``; prefix it with ``nice`` or ``taskset`` to
    place the workers).
    """
    if settings is None:
        try:
            return create_app(Settings.from_env(), worker_command=worker_command)
        except sr.SmartpickError as exc:
            report_startup_error(exc)
            raise SystemExit(2) from None
    service = Service(settings)
    pool = EvaluationPool(settings, command=worker_command)
    pool.start()

    async def evaluate(request: Request) -> Response:
        try:
            _check_content_type(request)
            body = await _read_body(request, settings.max_body_bytes, settings.body_timeout)
            as_of, detail = _query(request)
            _data, text = parse_body(body)
            ticket = pool.admit()
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening; the server sends nothing
        except Problem as problem:
            return problem.response()
        except Overloaded as exc:
            # a client that retries at once is held to about one refusal a second, so that
            # refusals cannot become a flood of their own; one that waits as Retry-After says
            # (at least a second) loses nothing
            await asyncio.sleep(REFUSAL_PAUSE)
            return _overloaded(exc)
        sent = False
        try:
            result = await pool.run(as_of, text, time.monotonic() + settings.deadline, detail)
            sent = True
            return ResultResponse(result, settings.send_timeout, ticket.release)
        except Problem as problem:
            return problem.response()
        except Overloaded as exc:
            return _overloaded(exc)
        finally:
            if not sent:
                ticket.release()

    async def rulesets(_request: Request) -> Response:
        return Response(json.dumps(service.describe()), media_type="application/json")


    async def health(_request: Request) -> Response:
        return PlainTextResponse("ok")

    openapi_text = json.dumps(openapi_document(settings))

    async def openapi(_request: Request) -> Response:
        return Response(openapi_text, media_type="application/json")

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        what = {404: "no such resource", 405: "method not allowed"}.get(exc.status_code, exc.detail)
        diag = sr.Diagnostic(
            "input_error",
            f"{what}; the service answers POST /evaluate, GET /rulesets, GET /health and GET /openapi.json",
            sr.Location("<request line>"),
        )
        return Problem(exc.status_code, what, [diag], headers=dict(exc.headers or {})).response()

    async def server_error(_request: Request, exc: Exception) -> Response:
        # a bug in the service or the library, not the client's input: say so, keep it JSON
        log.error("internal error", exc_info=exc)
        diag = sr.Diagnostic("internal_error", f"the service failed ({type(exc).__name__}); this is a bug", sr.Location())
        return Problem(500, "internal error", [diag]).response()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        pool.reopen()  # started by create_app, so a rule set that fails is reported there
        yield
        pool.shutdown()

    app = Starlette(
        routes=[
            Route("/evaluate", evaluate, methods=["POST"]),
            Route("/rulesets", rulesets, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.pool = pool
    return app


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The service described in OpenAPI 3.1, the request body by the library's profile schema."""
    from smartpick_rules.domain.schema import profile_file_schema

    profile = profile_file_schema()
    defs = profile.pop("$defs", {})
    for key in ("$schema", "$id"):
        profile.pop(key, None)
    # the profile schema's own references point into its $defs; here they live in components
    schemas: dict[str, Any] = json.loads(json.dumps({"Profile": profile, **defs}).replace('"#/$defs/', '"#/components/schemas/'))
    schemas["Diagnostic"] = {
        "type": "object",
        "required": ["code", "severity", "message", "file", "line", "column"],
        "properties": {
            "code": {"type": "string", "description": "stable: match this, not the message"},
            "severity": {"enum": ["error", "warning"]},
            "message": {"type": "string"},
            "file": {"type": "string", "description": "`<request body>`, `<request headers>`, `?as_of`, ..."},
            "line": {"type": "integer", "minimum": 0, "description": "in the body; 0 when not known"},
            "column": {"type": "integer", "minimum": 0},
            "rule_id": {"type": ["string", "null"]},
            "field_path": {"type": ["string", "null"], "description": "`$.step2_ck.score` notation"},
            "help": {"type": ["string", "null"]},
            "suggestion": {"type": ["string", "null"], "description": "the value most likely meant"},
        },
    }
    schemas["Problem"] = {
        "type": "object",
        "required": ["error", "diagnostics"],
        "properties": {"error": {"type": "string"}, "diagnostics": {"type": "array", "items": {"$ref": "#/components/schemas/Diagnostic"}, "minItems": 1}},
    }

    def problem(text: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        if headers:
            out["headers"] = headers
        return out

    retry_after = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer", "minimum": 1}}}
    json_object = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "smartpick_rules example service",
            "version": sr.__version__,
            "description": "Evaluates an applicant profile against the catalog with the rule sets in force (examples/service/README.md).",
        },
        "paths": {
            "/evaluate": {
                "post": {
                    "summary": "The recommendation for one applicant",
                    "parameters": [
                        {
                            "name": "as_of",
                            "in": "query",
                            "required": False,
                            "description": "the year years_since() counts from",
                            "schema": {"type": "integer", "minimum": 1900, "maximum": 2200},
                        },
                        {
                            "name": "detail",
                            "in": "query",
                            "required": False,
                            "description": "`full`: every program with its audit trail; `chosen`: the recommended list alone (about a third of the bytes on the sample catalog)",
                            "schema": {"type": "string", "enum": list(DETAILS), "default": "full"},
                        },
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Profile"}}}},
                    "responses": {
                        "200": {
                            "description": "the Recommendation's JSON (docs/audit-trail.md)",
                            "content": {"application/json": {"schema": {"type": "object", "required": ["schema_version", "programs", "provenance"]}}},
                        },
                        "400": problem("the body is empty, not UTF-8 or not JSON"),
                        "408": problem("the body did not arrive in time"),
                        "413": problem(f"the body is over {settings.max_body_bytes} bytes"),
                        "415": problem("the content-type is not JSON in UTF-8"),
                        "422": problem("not a valid profile, or a bad query parameter"),
                        "503": problem("every worker is busy, or the deadline passed", retry_after),
                    },
                }
            },
            "/rulesets": {"get": {"summary": "The rule sets in force, the catalog, the limits", "responses": {"200": {"description": "", "content": {"application/json": {"schema": json_object}}}}}},
            "/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"const": "ok"}}}}}}},
            "/openapi.json": {"get": {"summary": "This description", "responses": {"200": {"description": "", "content": {"application/json": {"schema": json_object}}}}}},
        },
        "components": {"schemas": schemas},
    }


def _overloaded(exc: Overloaded) -> Response:
    diag = sr.Diagnostic(exc.code, exc.message, sr.Location(), help=f"retry after {exc.retry_after} s")
    return Problem(503, "the service is busy", [diag], headers={"retry-after": str(exc.retry_after)}).response()


def report_startup_error(exc: sr.SmartpickError) -> None:
    """Each error as one line on stderr: ``smartpick-service: file:line:col: code: rule-id: message``."""
    errors = [d for d in exc.diagnostics if d.severity == "error"] or list(exc.diagnostics)
    for d in errors:
        line = f"{d.location}: {d.code}: " + (f"{d.rule_id}: " if d.rule_id else "") + d.message
        if d.suggestion:
            line += f" (did you mean `{d.suggestion}`?)"
        print("smartpick-service: " + line.replace("\n", " "), file=sys.stderr)


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    sys.exit(worker_main())
