"""Run the example service under uvicorn with the limits a public server needs.

    python examples/service/server.py [--host 127.0.0.1] [--port 8000] [--no-access-log]

The application's settings come from the ``SMARTPICK_*`` environment variables (see
``app.py`` and README.md). This file adds what the server, not the application, must do:

* **A deadline for the request head.** uvicorn has a keep-alive timeout (idle time *between*
  requests, reset by every byte received) but no timeout for receiving a request's headers
  (encode/uvicorn#157), so a client that trickles one header byte every few seconds holds
  its connection, and its file descriptor, for ever. :class:`GuardedH11Protocol` closes a
  connection whose request line and headers have not all arrived within
  ``SMARTPICK_HEADER_TIMEOUT`` seconds (default 5) of the connection opening or of the
  previous response ending. The body has its own deadline in the app (408).
* **A cap on open connections below the file-descriptor limit.** Past
  ``SMARTPICK_MAX_CONNECTIONS`` (default: the descriptor limit less 128), each new
  connection closes the oldest one still waiting for its headers, so slow clients cannot
  use up the descriptors that everyone else needs; the soft descriptor limit is first raised
  to the hard one.
* uvicorn's own limits, set explicitly: ``timeout_keep_alive`` 5 s, h11's
  ``max_incomplete_event_size`` 16 KB (longer request heads get 400), ``backlog`` 2048.
  ``limit_concurrency`` is left off on purpose: it answers 503 to every request past the
  limit, ``/health`` included, while the app's pool sheds only evaluations.

A rule set, catalog or setting that does not load is reported as one line per problem on
stderr (``file:line:col: code: rule-id: message``) and the process exits with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent))

import app as service_app

#: descriptors kept free for everything that is not a client connection (files, logs, the listener)
FD_RESERVE = 128


def _float_env(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise service_app.ConfigError(
            service_app.sr.Diagnostic("input_error", f"expected a number of seconds, got `{text}`", service_app.sr.Location(name))
        ) from None
    if not value > 0:
        raise service_app.ConfigError(service_app.sr.Diagnostic("input_error", f"must be above 0, not {text}", service_app.sr.Location(name)))
    return value


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard limit; return the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 65536)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head and a connection cap.

    Class attributes hold the settings (one server per process); :func:`configure` sets them.
    """

    header_timeout: float = 5.0
    max_connections: int = 1024 - FD_RESERVE
    #: connections waiting for a request head, oldest first
    _waiting: OrderedDict[GuardedH11Protocol, float] = OrderedDict()
    timed_out = 0
    evicted = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    # the deadline runs while h11 waits for a request head (their_state IDLE)
    def _arm(self) -> None:
        self._disarm()
        if self.transport is None or self.transport.is_closing():
            return
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)
        GuardedH11Protocol._waiting[self] = time.monotonic()

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        GuardedH11Protocol._waiting.pop(self, None)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        GuardedH11Protocol._waiting.pop(self, None)
        if not self.transport.is_closing():
            GuardedH11Protocol.timed_out += 1
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._evict()
        self._arm()

    def _evict(self) -> None:
        # the oldest connection still without a request head is the likeliest slow client
        while GuardedH11Protocol._waiting:
            victim, _ = GuardedH11Protocol._waiting.popitem(last=False)
            victim._disarm()
            if not victim.transport.is_closing():
                GuardedH11Protocol.evicted += 1
                victim.transport.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()
        else:
            self._disarm()


def configure(fd_limit: int) -> None:
    GuardedH11Protocol.header_timeout = _float_env("SMARTPICK_HEADER_TIMEOUT", 5.0)
    default_cap = max(fd_limit - FD_RESERVE, 16)
    text = os.environ.get("SMARTPICK_MAX_CONNECTIONS", "").strip()
    cap = default_cap
    if text:
        if not text.isdigit() or int(text) < 1:
            raise service_app.ConfigError(
                service_app.sr.Diagnostic("input_error", f"expected a whole number of at least 1, got `{text}`", service_app.sr.Location("SMARTPICK_MAX_CONNECTIONS"))
            )
        cap = min(int(text), default_cap)
    GuardedH11Protocol.max_connections = cap


#: uvicorn settings the service runs with; documented in README.md
UVICORN_SETTINGS: dict[str, Any] = {
    "timeout_keep_alive": 5,
    "h11_max_incomplete_event_size": 16 * 1024,
    "backlog": 2048,
    "limit_concurrency": None,
    "timeout_graceful_shutdown": 10,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="server.py", description="Run the smartpick_rules example service.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true", help="do not log every request")
    args = parser.parse_args(argv)

    import uvicorn

    fd_limit = raise_fd_limit()
    try:
        configure(fd_limit)
        app = service_app.create_app(service_app.Settings.from_env())
    except service_app.sr.SmartpickError as exc:
        service_app.report_startup_error(exc)
        return 2
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        http=GuardedH11Protocol,
        log_level=args.log_level,
        access_log=not args.no_access_log,
        **UVICORN_SETTINGS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
