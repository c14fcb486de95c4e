"""Load test of the example service (examples/service): the figures docs/security.md records.

    .venv/bin/python benchmarks/service_load.py                 # 200 clients + slow clients, 60 s
    .venv/bin/python benchmarks/service_load.py --quick         # 20 clients, 10 s: does it work
    .venv/bin/python benchmarks/service_load.py --json out.json
    .venv/bin/python benchmarks/service_load.py --ignore-retry-after     # clients that flood
    .venv/bin/python benchmarks/service_load.py --slow-headers 1200      # more than the fd limit
    .venv/bin/python benchmarks/service_load.py --uvicorn-app-dir DIR    # another app.py, same load

Run it without ``nice``: it lowers its own load generator's priority (``--nice``, 10) after
starting the server, whose workers run lower still by default (SMARTPICK_WORKER_NICE), while
the server process and the ``/health`` prober keep the caller's priority.

It starts ``examples/service/server.py`` in a child process (the shipped rule sets and the
1,769-program sample catalog unless ``--rules-only``/``--catalog`` say otherwise), limited to
``--fd-limit`` open files (default 1,024, where the slow clients of issue 11 locked everyone
out), and runs at once, for ``--seconds``:

* ``--clients`` closed-loop clients (default 200), each sending ``POST /evaluate`` as soon as
  its previous answer has arrived, over keep-alive connections; the profiles rotate through
  examples/profiles, and every 10th request is a bad profile (a 422 is the right answer, or a
  503 when no worker is free to check it); after a 503 a client waits as ``Retry-After``
  says, or retries at once with ``--ignore-retry-after``;
* in a second process, slow clients, each reconnecting as soon as the server drops it:
  ``--slow-headers`` (default 300) trickle a request head one byte a second;
  ``--slow-bodies`` (default 50) send a head and trickle the body; ``--slow-readers`` (default
  4) send a valid request and read the answer at 16 KB/s;
* a ``/health`` prober in its own process, one new connection every 100 ms, as a load
  balancer probes;
* a sampler of the server's resident memory (every 50 ms, and the kernel's high-water mark).

It prints p50/p99 latency of the answers, counts by class (200, 4xx, 503 overloaded, 503 past
the deadline, other 5xx, connection errors), the ``/health`` latency, what became of the slow
clients, and the peak RSS of the server and of its workers, against the targets of issue 11:
no answer outside 2xx, 4xx and 503; ``/health`` p99 <= 100 ms; peak RSS <= 512 MiB (the server
and its workers together). The exit status is 0 when all three are met. The figures of
2026-11-30 are in docs/security.md ("The example service under load").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import platform
import re
import resource
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SERVER = REPO / "examples" / "service" / "server.py"
PROFILES = sorted((REPO / "examples" / "profiles").glob("*.toml"))
BAD_PROFILE = {"graduation_year": 2020, "visa": "j3"}


# --- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(args: argparse.Namespace, port: int, log: Any) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPICK_")}
    if args.rules_only:
        env["SMARTPICK_RULES_ONLY"] = args.rules_only
    if args.catalog:
        env["SMARTPICK_CATALOG"] = args.catalog
    env["SMARTPICK_AS_OF"] = "2026"
    if args.worker_nice is not None:
        env["SMARTPICK_WORKER_NICE"] = str(args.worker_nice)
    limit = args.fd_limit

    def limit_files() -> None:
        if limit:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    cmd = [sys.executable, str(SERVER), "--port", str(port)]
    if args.uvicorn_app_dir:
        # another version of the app (an older checkout's), under the plain uvicorn command
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "app:create_app", "--app-dir", args.uvicorn_app_dir, "--port", str(port)]
    if not args.access_log:
        cmd.append("--no-access-log")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=limit_files)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode}; its log: {log.name}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start within 180 s")


def rss_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) in KiB, from /proc."""
    cur = hwm = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return cur, hwm


def children(pid: int) -> list[int]:
    """The server's worker processes."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def tree_rss_kib(pid: int) -> tuple[int, dict[int, int]]:
    """(RSS of the server, {worker pid: its RSS}) in KiB; workers that just ended are skipped."""
    own, _ = rss_kib(pid)
    kids = {}
    for c in children(pid):
        with contextlib.suppress(OSError):
            kids[c] = rss_kib(c)[0]
    return own, kids


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


# --- a minimal HTTP/1.1 client (asyncio streams; the answers are discarded as they arrive) -------


class Answer:
    __slots__ = ("body", "close", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes, close: bool) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.close = close


async def read_answer(reader: asyncio.StreamReader, keep: int = 4096) -> Answer:
    """Read one answer; keep the first ``keep`` bytes of its body, drop the rest as it comes."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    kept = bytearray()
    if "content-length" in headers:
        remaining = int(headers["content-length"])
        while remaining:
            chunk = await reader.read(min(remaining, 1 << 20))
            if not chunk:
                raise ConnectionResetError("closed mid-body")
            remaining -= len(chunk)
            if len(kept) < keep:
                kept += chunk[: keep - len(kept)]
    else:  # uvicorn's own 400 has no length: the body runs to the close
        while chunk := await reader.read(1 << 16):
            if len(kept) < keep:
                kept += chunk[: keep - len(kept)]
    return Answer(status, headers, bytes(kept), headers.get("connection", "").lower() == "close")


def post(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


# --- the clients ----------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.latency: list[float] = []  # seconds, every answered request
        self.latency_200: list[float] = []
        self.classes: Counter[str] = Counter()
        self.slow: Counter[str] = Counter()
        self.slow_held: list[float] = []  # how long the server let a slow client hold its connection
        self.retry_after: Counter[str] = Counter()


def classify(answer: Answer) -> str:
    if answer.status == 200:
        return "200"
    if answer.status == 503:
        try:
            code = json.loads(answer.body)["diagnostics"][0]["code"]
        except (ValueError, KeyError, IndexError):
            code = "unknown"
        return f"503 {code}"
    if 400 <= answer.status < 500:
        return f"{answer.status}"
    return f"{answer.status} (server error)"


def dropped(writer: asyncio.StreamWriter) -> bool:
    """Whether the server has closed an idle keep-alive connection (urllib3's check: an idle
    connection that is readable has been closed, or is out of step)."""
    sock = writer.get_extra_info("socket")
    return sock is None or bool(select.select([sock], [], [], 0)[0])


async def client(port: int, until: float, bodies: list[bytes], k: int, stats: Stats, honour_retry_after: bool) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    n = k
    while time.monotonic() < until:
        n += 1
        bad = n % 10 == 0
        body = json.dumps(BAD_PROFILE).encode() if bad else bodies[n % len(bodies)]
        try:
            if writer is not None and (reader is None or reader.at_eof() or dropped(writer)):
                # the server closed the idle connection (keep-alive timeout, or the connection
                # cap): as HTTP client libraries do, open a new one rather than send on it
                writer.close()
                reader = writer = None
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 16)
            assert reader is not None
            start = time.monotonic()
            writer.write(post("/evaluate", body))
            await writer.drain()
            answer = await asyncio.wait_for(read_answer(reader), 120)
            took = time.monotonic() - start
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            stats.classes[f"connection error ({type(exc).__name__})"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)
            continue
        cls = classify(answer)
        if bad:
            cls += " (bad profile)"
        stats.classes[cls] += 1
        stats.latency.append(took)
        if answer.status == 200:
            stats.latency_200.append(took)
        if answer.status == 503:
            stats.retry_after[answer.headers.get("retry-after", "none")] += 1
        if answer.close:
            assert writer is not None
            writer.close()
            reader = writer = None
        if answer.status == 503 and honour_retry_after:
            with contextlib.suppress(ValueError):
                await asyncio.sleep(min(float(answer.headers.get("retry-after", "1")), until - time.monotonic()))
    if writer is not None:
        writer.close()


async def slow_header_client(port: int, until: float, stats: Stats) -> None:
    head = b"POST /evaluate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nx-slow: " + b"a" * 4000
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats.slow["slow head: connect failed"] += 1
            await asyncio.sleep(1)
            continue
        opened = time.monotonic()
        dropped = False
        try:
            for byte in head:
                writer.write(bytes([byte]))
                await writer.drain()
                try:  # a byte a second; the server ending the connection shows as EOF (or an answer)
                    await asyncio.wait_for(reader.read(1), 1.0)
                except TimeoutError:
                    if time.monotonic() >= until:
                        break
                    continue
                dropped = True
                break
        except OSError:
            dropped = True
        finally:
            writer.close()
        if dropped:
            stats.slow["slow head: dropped by the server"] += 1
            stats.slow_held.append(time.monotonic() - opened)
        elif time.monotonic() < until:
            stats.slow["slow head: whole head sent, never dropped"] += 1


async def slow_body_client(port: int, until: float, stats: Stats) -> None:
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats.slow["slow body: connect failed"] += 1
            await asyncio.sleep(1)
            continue
        opened = time.monotonic()
        try:
            writer.write(b"POST /evaluate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n{")
            await writer.drain()
            while time.monotonic() < until:
                try:
                    answer = await asyncio.wait_for(read_answer(reader), 1.0)
                except TimeoutError:
                    writer.write(b" ")
                    await writer.drain()
                    continue
                stats.slow[f"slow body: answered {answer.status}"] += 1
                stats.slow_held.append(time.monotonic() - opened)
                break
        except (OSError, asyncio.IncompleteReadError):
            stats.slow["slow body: dropped by the server"] += 1
        finally:
            writer.close()


async def slow_reader_client(port: int, until: float, body: bytes, stats: Stats) -> None:
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 16)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        except OSError:
            stats.slow["slow reader: connect failed"] += 1
            await asyncio.sleep(1)
            continue
        opened = time.monotonic()
        try:
            writer.write(post("/evaluate", body))
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), max(0.1, until - time.monotonic()))
            if not head.startswith(b"HTTP/1.1 200"):
                stats.slow[f"slow reader: answered {head[9:12].decode()}"] += 1
                await asyncio.sleep(1)
                continue
            size = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
            got = 0
            while time.monotonic() < until and got < size:
                chunk = await reader.read(16 * 1024)
                if not chunk:
                    break
                got += len(chunk)
                await asyncio.sleep(1.0)
            if got >= size:
                stats.slow["slow reader: read it all"] += 1
            elif time.monotonic() < until:
                stats.slow["slow reader: dropped by the server"] += 1
                stats.slow_held.append(time.monotonic() - opened)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            if time.monotonic() < until:
                stats.slow["slow reader: dropped by the server"] += 1
        finally:
            writer.close()


def profile_bodies() -> list[bytes]:
    return [json.dumps(tomllib.loads(p.read_text(encoding="utf-8"))).encode() for p in PROFILES]


async def drive(args: argparse.Namespace, port: int, stats: Stats) -> None:
    bodies = profile_bodies()
    until = time.monotonic() + args.seconds
    tasks = [asyncio.create_task(client(port, until, bodies, k, stats, not args.ignore_retry_after)) for k in range(args.clients)]
    await asyncio.gather(*tasks)


def run_slow_clients(port: int, seconds: float, counts: tuple[int, int, int], out: Any) -> None:
    """The slow clients, in their own process so their churn does not slow the others' loop."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    stats = Stats()
    heads, bodies_, readers = counts
    body = profile_bodies()[0]

    async def go() -> None:
        until = time.monotonic() + seconds
        tasks = [asyncio.create_task(slow_header_client(port, until, stats)) for _ in range(heads)]
        tasks += [asyncio.create_task(slow_body_client(port, until, stats)) for _ in range(bodies_)]
        tasks += [asyncio.create_task(slow_reader_client(port, until, body, stats)) for _ in range(readers)]
        await asyncio.gather(*tasks)

    asyncio.run(go())
    out.send((dict(stats.slow), stats.slow_held))


def time_one_evaluation(port: int) -> float:
    """Seconds for one evaluation of the first example profile on the idle server (median of 3)."""

    async def once() -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.monotonic()
        writer.write(post("/evaluate", profile_bodies()[0]))
        await writer.drain()
        answer = await read_answer(reader)
        writer.close()
        assert answer.status == 200, answer.status
        return time.monotonic() - start

    return statistics.median(asyncio.run(once()) for _ in range(3))


# --- the /health prober (its own process, so the load generator's loop does not colour it) ------


def probe_health(port: int, seconds: float, out: Any) -> None:
    samples: list[float] = []
    failures: Counter[str] = Counter()
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        start = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.settimeout(30)
                s.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
            if data.startswith(b"HTTP/1.1 200") and data.endswith(b"ok"):
                samples.append(time.monotonic() - start)
            else:
                failures[data.split(b"\r\n", 1)[0].decode("latin-1") or "empty answer"] += 1
        except OSError as exc:
            failures[type(exc).__name__] += 1
        time.sleep(max(0.0, 0.1 - (time.monotonic() - start)))
    out.send((samples, dict(failures)))


# --- the report -----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--slow-headers", type=int, default=300)
    parser.add_argument("--slow-bodies", type=int, default=50)
    parser.add_argument("--slow-readers", type=int, default=4)
    parser.add_argument("--fd-limit", type=int, default=1024, help="the server's open-file limit (0: leave it)")
    parser.add_argument("--rules-only", help="SMARTPICK_RULES_ONLY for the server (default: the shipped rule sets)")
    parser.add_argument("--catalog", help="SMARTPICK_CATALOG for the server (default: the sample catalog)")
    parser.add_argument("--access-log", action="store_true", help="let the server log every request")
    parser.add_argument("--ignore-retry-after", action="store_true", help="clients retry at once after a 503 (default: they wait as its Retry-After says)")
    parser.add_argument("--quick", action="store_true", help="20 clients, 100 slow heads, 10 s")
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument("--worker-nice", type=int, help="SMARTPICK_WORKER_NICE for the server (default: the service's, 10)")
    parser.add_argument("--uvicorn-app-dir", help="run `uvicorn --factory app:create_app --app-dir DIR` instead of server.py (to compare another version)")
    parser.add_argument("--nice", type=int, default=10, help="niceness of the load generator (the server and the prober keep the caller's)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.clients, args.slow_headers, args.slow_bodies, args.slow_readers = 10, 20, 100, 5, 1

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.clients + args.slow_headers + args.slow_bodies + args.slow_readers + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))

    port = free_port()
    log = tempfile.NamedTemporaryFile("w+b", prefix="service-load-", suffix=".log", delete=False)  # noqa: SIM115
    proc = start_server(args, port, log)
    rss_start, _ = rss_kib(proc.pid)
    alone = time_one_evaluation(port)
    load_start = os.getloadavg()
    spawn = mp.get_context("spawn")
    parent, child = spawn.Pipe(duplex=False)
    prober = spawn.Process(target=probe_health, args=(port, args.seconds, child))
    prober.start()
    # the clients are batch work on a shared machine: below the server (whose workers are
    # below it too, SMARTPICK_WORKER_NICE), so they do not take its CPU; the prober is not
    os.nice(args.nice)
    slow_parent, slow_child = spawn.Pipe(duplex=False)
    slow = spawn.Process(target=run_slow_clients, args=(port, args.seconds, (args.slow_headers, args.slow_bodies, args.slow_readers), slow_child))
    slow.start()

    stats = Stats()
    own_start, kids_start = tree_rss_kib(proc.pid)
    peak = {"server": own_start, "workers": sum(kids_start.values()), "total": own_start + sum(kids_start.values()), "worker": max(kids_start.values(), default=0)}
    fds = [0]

    async def sample() -> None:
        until = time.monotonic() + args.seconds
        while time.monotonic() < until:
            own, kids = tree_rss_kib(proc.pid)
            peak["server"] = max(peak["server"], own)
            peak["workers"] = max(peak["workers"], sum(kids.values()))
            peak["total"] = max(peak["total"], own + sum(kids.values()))
            peak["worker"] = max(peak["worker"], max(kids.values(), default=0))
            fds[0] = max(fds[0], open_fds(proc.pid))
            await asyncio.sleep(0.05)

    async def run() -> None:
        await asyncio.gather(drive(args, port, stats), sample())

    began = time.monotonic()
    asyncio.run(run())
    elapsed = time.monotonic() - began
    health, health_failures = parent.recv()
    prober.join()
    slow_counts, slow_held = slow_parent.recv()
    slow.join()
    stats.slow.update(slow_counts)
    stats.slow_held += slow_held
    _, hwm = rss_kib(proc.pid)
    worker_hwm = {}
    for c in children(proc.pid):
        with contextlib.suppress(OSError):
            worker_hwm[c] = rss_kib(c)[1]
    # the server is still itself afterwards
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.settimeout(60)
        s.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        alive = s.recv(64).startswith(b"HTTP/1.1 200")
    proc.terminate()
    proc.wait(60)
    log.seek(0)
    server_log = log.read().decode("utf-8", "replace")
    tracebacks = server_log.count("Traceback")

    non_4xx = {k: v for k, v in stats.classes.items() if not (k.startswith(("200", "4", "503")))}
    figures: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average_before": [round(x, 2) for x in load_start],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(elapsed, 1),
        "alone_ms": round(alone * 1000, 1),
        "clients": args.clients,
        "worker_nice": args.worker_nice,
        "honour_retry_after": not args.ignore_retry_after,
        "slow_headers": args.slow_headers,
        "slow_bodies": args.slow_bodies,
        "slow_readers": args.slow_readers,
        "server_fd_limit": args.fd_limit,
        "requests": sum(stats.classes.values()),
        "by_class": dict(sorted(stats.classes.items())),
        "non_4xx_errors": sum(non_4xx.values()),
        "retry_after": dict(stats.retry_after),
        "latency_all_ms": {"p50": round(pct(stats.latency, 50) * 1000, 1), "p99": round(pct(stats.latency, 99) * 1000, 1)},
        "latency_200_ms": {"p50": round(pct(stats.latency_200, 50) * 1000, 1), "p99": round(pct(stats.latency_200, 99) * 1000, 1), "max": round(max(stats.latency_200, default=0) * 1000, 1)},
        "throughput_200_per_s": round(len(stats.latency_200) / elapsed, 2),
        "health": {
            "probes": len(health) + sum(health_failures.values()),
            "failures": health_failures,
            "p50_ms": round(pct(health, 50) * 1000, 1),
            "p99_ms": round(pct(health, 99) * 1000, 1),
            "max_ms": round(max(health, default=0) * 1000, 1),
            "over_100_ms": sum(h > 0.1 for h in health),
            "over_900_ms": sum(h > 0.9 for h in health),
        },
        "slow_clients": dict(sorted(stats.slow.items())),
        "slow_held_s": {"median": round(statistics.median(stats.slow_held), 1) if stats.slow_held else None, "max": round(max(stats.slow_held, default=0), 1)},
        "server": {
            "rss_start_mib": round(rss_start / 1024, 1),
            "rss_start_with_workers_mib": round((own_start + sum(kids_start.values())) / 1024, 1),
            "rss_peak_sampled_mib": round(peak["server"] / 1024, 1),
            "rss_peak_hwm_mib": round(hwm / 1024, 1),
            "workers_rss_peak_sampled_mib": round(peak["workers"] / 1024, 1),
            "one_worker_rss_peak_sampled_mib": round(peak["worker"] / 1024, 1),
            "workers_rss_hwm_mib": [round(v / 1024, 1) for v in worker_hwm.values()],
            "total_rss_peak_sampled_mib": round(peak["total"] / 1024, 1),
            "open_fds_peak": fds[0],
            "tracebacks_in_log": tracebacks,
            "dropped_slow_readers_logged": len(re.findall(r"did not read its result", server_log)),
            "alive_after": alive,
            "log": log.name,
        },
    }
    figures["targets"] = {
        "no answer outside 2xx/4xx/503": figures["non_4xx_errors"] == 0 and tracebacks == 0,
        "/health p99 <= 100 ms": figures["health"]["p99_ms"] <= 100 and not health_failures,
        # the server and its workers together, sampled every 50 ms (their peaks need not coincide)
        "peak RSS <= 512 MiB": figures["server"]["total_rss_peak_sampled_mib"] <= 512,
    }

    print(f"service load test: {figures['seconds']} s, {args.clients} clients ({'ignoring' if args.ignore_retry_after else 'honouring'} Retry-After), {args.slow_headers} slow heads, "
          f"{args.slow_bodies} slow bodies, {args.slow_readers} slow readers; server fd limit {args.fd_limit}")
    print(f"machine: {figures['machine']}; load average before {figures['load_average_before']}, after {figures['load_average_after']}")
    print(f"requests answered: {figures['requests']}")
    for k, v in figures["by_class"].items():
        print(f"  {k:<40} {v:>8}")
    print(f"Retry-After values on 503: {figures['retry_after']}")
    print(f"latency, all answers: p50 {figures['latency_all_ms']['p50']} ms, p99 {figures['latency_all_ms']['p99']} ms")
    l2 = figures["latency_200_ms"]
    print(f"latency, 200 answers: p50 {l2['p50']} ms, p99 {l2['p99']} ms, max {l2['max']} ms; {figures['throughput_200_per_s']} results/s")
    h = figures["health"]
    print(f"/health: {h['probes']} probes, p50 {h['p50_ms']} ms, p99 {h['p99_ms']} ms, max {h['max_ms']} ms "
          f"({h['over_100_ms']} over 100 ms, {h['over_900_ms']} over 900 ms), failures {h['failures']}")
    print(f"one evaluation alone before the load (the machine's pace): {figures['alone_ms']} ms")
    print(f"slow clients: {figures['slow_clients']}; connection held median {figures['slow_held_s']['median']} s, max {figures['slow_held_s']['max']} s")
    sv = figures["server"]
    print(f"RSS, server process: start {sv['rss_start_mib']} MiB, peak {sv['rss_peak_hwm_mib']} MiB (kernel high-water mark; sampled {sv['rss_peak_sampled_mib']})")
    print(f"RSS, workers: peak of their sum {sv['workers_rss_peak_sampled_mib']} MiB, of one {sv['one_worker_rss_peak_sampled_mib']} MiB; "
          f"high-water marks of those alive at the end {sv['workers_rss_hwm_mib']} MiB")
    print(f"RSS, server and workers together: start {sv['rss_start_with_workers_mib']} MiB, peak {sv['total_rss_peak_sampled_mib']} MiB (sampled)")
    print(f"server: open files peak {sv['open_fds_peak']}; tracebacks in its log {sv['tracebacks_in_log']}; answering after the run: {sv['alive_after']}")
    for name, ok in figures["targets"].items():
        print(f"target {name}: {'met' if ok else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if all(figures["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
