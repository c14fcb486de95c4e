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
  ``SMARTPICK_MAX_CONNECTIONS`` (default: the descriptor limit less 160), a new connection
  closes the connections waiting longest for a request head (a batch of 64, or down to half
  the cap; those that never sent one before idle keep-alive ones; none that has waited less
  than a second; if none can go and the cap is passed by ``backlog``, the new connection is
  closed instead), so slow clients cannot use up the descriptors that everyone else needs; the
  soft descriptor limit is first raised to the hard one. The 160 kept free cover the
  accepts asyncio makes before any reaches the protocol (up to ``backlog`` at a time) and
  the workers' pipes: at the limit itself, asyncio stops accepting for a second and logs a
  traceback per refused accept.
* uvicorn's own limits, set explicitly: ``timeout_keep_alive`` 5 s, h11's
  ``max_incomplete_event_size`` 16 KB (longer request heads get 400), ``backlog`` 32.
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

#: connections the kernel holds for us to accept; asyncio accepts up to this many in one go
#: before any of them reaches the protocol, so they need descriptors beyond the cap
BACKLOG = 32
#: seconds a connection must have waited for its request head before it may be evicted
EVICT_AFTER = 1.0


#: descriptors kept for what is not a connection: the workers' pipes, log files, the listener
FD_OTHER = 64


def default_max_connections(fd_limit: int) -> int:
    """The descriptor limit less what the server needs besides its connections, less room for
    the accepts asyncio makes before any reaches the protocol (up to ``BACKLOG`` each time the
    listener is readable; they reach it a loop iteration later, so two bursts), less the
    ``BACKLOG`` by which connections may pass the cap before new ones are refused."""
    return max(fd_limit - FD_OTHER - 3 * BACKLOG, 16)


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
    max_connections: int = 512
    #: connections waiting for the first request head, and idle ones waiting for the next,
    #: each oldest first; a client that has never finished a request head is evicted first
    _fresh: OrderedDict[GuardedH11Protocol, float] = OrderedDict()
    _idle: OrderedDict[GuardedH11Protocol, float] = OrderedDict()
    #: connections closed by the guard whose descriptors asyncio has not released yet
    _closing: set[GuardedH11Protocol] = set()
    timed_out = 0
    evicted = 0
    refused = 0
    configured = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not GuardedH11Protocol.configured:
            # run by the uvicorn command (--http server:GuardedH11Protocol), not by main()
            try:
                configure(raise_fd_limit())
            except service_app.sr.SmartpickError as exc:
                service_app.report_startup_error(exc)
                GuardedH11Protocol.configured = True  # keep the defaults; say so once
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._served = False
        # made as soon as a connection is accepted, a loop iteration before connection_made:
        # make room now, so the next burst of accepts finds descriptors free
        open_now = len(self.connections) - len(GuardedH11Protocol._closing) + 1
        if open_now > self.max_connections:
            self._evict(open_now - max(self.max_connections - BACKLOG, self.max_connections // 2))

    # the deadline runs while h11 waits for a request head (their_state IDLE)
    def _arm(self) -> None:
        self._disarm()
        if self.transport is None or self.transport.is_closing():
            return
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)
        (GuardedH11Protocol._idle if self._served else GuardedH11Protocol._fresh)[self] = time.monotonic()

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        GuardedH11Protocol._fresh.pop(self, None)
        GuardedH11Protocol._idle.pop(self, None)

    def _close(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            GuardedH11Protocol._closing.add(self)
            self.transport.close()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        GuardedH11Protocol.timed_out += 1
        self._close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        open_now = len(self.connections) - len(GuardedH11Protocol._closing)
        if open_now > self.max_connections:
            open_now -= self._evict(open_now - max(self.max_connections - BACKLOG, self.max_connections // 2))
            if open_now > self.max_connections + BACKLOG:
                # every connection is busy or has only just arrived: refuse this one rather
                # than let the accepts run into the descriptor limit, which stops them all
                GuardedH11Protocol.refused += 1
                self._close()
                return
        self._arm()

    @staticmethod
    def _evict(count: int) -> int:
        """Close up to ``count`` connections waiting for a request head, longest waiting
        first, never one that has waited less than EVICT_AFTER seconds: a client sends its
        head at once, a slow client is one that has not."""
        now = time.monotonic()
        closed = 0
        for queue in (GuardedH11Protocol._fresh, GuardedH11Protocol._idle):
            while closed < count and queue:
                victim, since = next(iter(queue.items()))
                if now - since < EVICT_AFTER:
                    break
                GuardedH11Protocol.evicted += 1
                victim._close()
                closed += 1
        return closed

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        GuardedH11Protocol._closing.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._served = True
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()
        else:
            self._disarm()


def configure(fd_limit: int) -> None:
    GuardedH11Protocol.header_timeout = _float_env("SMARTPICK_HEADER_TIMEOUT", 5.0)
    default_cap = default_max_connections(fd_limit)
    text = os.environ.get("SMARTPICK_MAX_CONNECTIONS", "").strip()
    cap = default_cap
    if text:
        if not text.isdigit() or int(text) < 1:
            raise service_app.ConfigError(
                service_app.sr.Diagnostic("input_error", f"expected a whole number of at least 1, got `{text}`", service_app.sr.Location("SMARTPICK_MAX_CONNECTIONS"))
            )
        cap = min(int(text), default_cap)
    GuardedH11Protocol.max_connections = cap
    GuardedH11Protocol.configured = True


#: uvicorn settings the service runs with; documented in README.md
UVICORN_SETTINGS: dict[str, Any] = {
    "timeout_keep_alive": 5,
    "h11_max_incomplete_event_size": 16 * 1024,
    "backlog": BACKLOG,
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
