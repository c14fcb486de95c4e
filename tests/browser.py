"""Headless Chromium for the report tests, driven over the DevTools protocol on a pipe.

``--remote-debugging-pipe`` makes Chromium read protocol commands from file descriptor 3 and
write replies and events to descriptor 4, each message a JSON object ended by a NUL byte: no
websocket client or browser-automation package is needed, only the Debian ``chromium``
package. Over it we emulate a device (a 390 px phone with its meta viewport honoured, or a
1,400 px desktop), load a page, collect every console message and uncaught exception, run
JavaScript *outside* the page's Content-Security-Policy (to open every ``<details>`` and
measure the layout), and take screenshots.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]

#: opens every <details> and measures: the document's width against the viewport's, and what sticks out
MEASURE_JS = """
(() => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  const de = document.documentElement;
  // the layout viewport: on a phone, window.innerWidth grows when the page is zoomed out to fit
  // content that overflows, so it would hide the very overflow we look for
  const vw = de.clientWidth;
  const over = [];
  document.querySelectorAll("body *").forEach((e) => {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 0.5) {
      over.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + " right=" + Math.round(r.right));
    }
  });
  return {viewport: vw, innerWidth: window.innerWidth, scrollWidth: de.scrollWidth, bodyScrollWidth: document.body.scrollWidth,
          height: de.scrollHeight, details: document.querySelectorAll("details").length,
          open: document.querySelectorAll("details[open]").length, overflowing: over.slice(0, 20),
          js: de.classList.contains("js")};
})()
"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)"
)


class Browser:
    """One Chromium process and one page in it, spoken to over the DevTools pipe."""

    def __init__(self, proc: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.proc = proc
        self._out = to_browser
        self._in = from_browser
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    # -- the protocol ---------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _w, _x = select.select([self._in], [], [], left)
            if ready:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True, timeout: float = 60) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode("utf-8") + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict[str, Any]:
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            e = self._read_message(deadline)
            if e.get("method") == method:
                return e
            self.events.append(e)

    # -- what the tests use -----------------------------------------------------------------------
    def open_page(self, width: int, height: int, *, mobile: bool) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1, "mobile": mobile},
        )

    def load(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise RuntimeError(f"script failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def console(self) -> list[str]:
        """Every console message, log entry and uncaught exception the page produced so far."""
        self.evaluate("0")  # let pending events arrive
        out = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled":
                out.append(f"console.{p.get('type')}: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(f"exception: {d.get('text')} {d.get('exception', {}).get('description', '')}")
            elif method == "Log.entryAdded":
                entry = p.get("entry", {})
                out.append(f"log.{entry.get('level')}: {entry.get('text')}")
        return out

    def screenshot(self, path: Path, *, full_height: int | None = None) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_height is not None:
            width = self.evaluate("window.innerWidth")
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": full_height, "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))


@contextmanager
def browser(width: int = 1400, height: int = 1000, *, mobile: bool = False) -> Iterator[Browser]:
    """A headless Chromium with one page emulating a ``width`` x ``height`` viewport."""
    exe = chromium()
    assert exe is not None
    with tempfile.TemporaryDirectory(prefix="smartpick-chrome-") as profile:
        # fd 3: commands to Chromium; fd 4: its replies and events
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def child_fds() -> None:
            # in the child, between fork and exec: the pipe ends become fds 3 and 4 (dup2 makes
            # them inheritable; the non-inheritable originals close at exec)
            # (copied away first: dup2 onto the same number would keep its close-on-exec flag)
            r, w = os.dup(to_r), os.dup(from_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=child_fds,
            env={**os.environ, "HOME": profile},
        )
        os.close(to_r)
        os.close(from_w)
        b = Browser(proc, to_w, from_r)
        try:
            b.open_page(width, height, mobile=mobile)
            yield b
        finally:
            with suppress(RuntimeError, TimeoutError, OSError):
                b.send("Browser.close", session=False, timeout=10)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            os.close(to_w)
            os.close(from_r)


def measure(page: Path, width: int, *, mobile: bool | None = None) -> tuple[dict[str, Any], list[str], str]:
    """Load ``page`` at ``width`` px; (layout with every <details> open, console messages, the DOM)."""
    with browser(width, 900, mobile=width < 700 if mobile is None else mobile) as b:
        b.load(page.as_uri())
        dom = b.evaluate("document.documentElement.outerHTML")
        console = b.console()
        figures = b.evaluate(MEASURE_JS)
        return figures, console, dom
