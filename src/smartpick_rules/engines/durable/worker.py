"""The durable_rules worker: a separate process that owns the C core, so it cannot take the host down.

durable_rules 2.0.28 holds the GIL inside its C core; a pattern it cannot handle loops there
forever (every thread of the process stops) and a few others crash it. So the evaluating
process never loads it: ``host.py`` starts this file as a script (``python worker.py``, no
``smartpick_rules`` import, a second or so of start-up saved) and talks to it over its standard
input and output. Whatever the C core does, the host sees a reply, an error, a dead process or
a missed deadline, and stays up.

Messages, both ways: a 4-byte big-endian length, a JSON header, then the header's ``blobs``
raw byte strings, each with its own 4-byte length. Requests:

``{"op": "load", "rulesets": {NAME: DEFINITION}, "sentinel": RULE}``
    compile the durable_rules rule sets (the step that can hang on a pattern too wide);
``{"op": "run", "sid": SID, "chunks": [[NAME, BATCHES], ...]}`` + 2 x BATCHES blobs per chunk
    for each batch, assert the facts (a JSON array, the first blob of a pair), run every
    pending action, retract them (the second blob); reply the candidates each rule fired on;
``{"op": "delete", "sid": SID, "rulesets": [NAME, ...]}``
    delete the state ``SID`` of each rule set (frees its memory);
``{"op": "ping"}``.

Replies are ``{"ok": true, ...}`` or ``{"error": MESSAGE}``. The worker keeps no state between
evaluations but the compiled rule sets and the states the host has not deleted yet.
"""

from __future__ import annotations

import json
import os
import re
import struct
import sys
from collections.abc import Sequence
from typing import IO, Any

#: a matched candidate in an action's frames: the host writes its facts exactly so
_FRAME_ID = re.compile(r'\{"m":\{"sid":"[^"]*","id":(\d+),"candidate":true')
_LENGTH = struct.Struct(">I")


def read_message(stream: IO[bytes]) -> tuple[dict[str, Any], list[bytes]] | None:
    """One message: its header and blobs; None at the end of the stream."""
    head = _read_exactly(stream, _LENGTH.size)
    if head is None:
        return None
    body = _read_exactly(stream, _LENGTH.unpack(head)[0])
    if body is None:
        return None
    header: dict[str, Any] = json.loads(body)
    blobs: list[bytes] = []
    for _ in range(int(header.get("blobs", 0))):
        size = _read_exactly(stream, _LENGTH.size)
        blob = _read_exactly(stream, _LENGTH.unpack(size)[0]) if size is not None else None
        if blob is None:
            return None
        blobs.append(blob)
    return header, blobs


def _read_exactly(stream: IO[bytes], n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def write_message(stream: IO[bytes], header: dict[str, Any], blobs: Sequence[bytes] = ()) -> None:
    body = json.dumps({**header, "blobs": len(blobs)}, ensure_ascii=False).encode("utf-8")
    parts = [_LENGTH.pack(len(body)), body]
    for blob in blobs:
        parts.append(_LENGTH.pack(len(blob)))
        parts.append(blob)
    stream.write(b"".join(parts))
    stream.flush()


class _Engine:
    """The compiled rule sets of one smartpick rule set, on a private durable_rules host."""

    def __init__(self) -> None:
        from durable import engine as durable_engine

        class Host(durable_engine.Host):  # type: ignore[misc]
            def _run(self) -> None:
                # the stock Host starts two timer threads that dispatch any pending action of any
                # state every 0.2 s; here the request that asserted the facts runs their actions
                return None

            def get_action(self, action_name: str) -> Any:
                # actions are drained at the C level (see _drain); durable's Python closures are never called
                return _ignore

        self.c_api = durable_engine.durable_rules_engine
        self.host = Host()
        self.rulesets: dict[str, Any] = {}
        self.sentinel = ""

    def load(self, definitions: dict[str, Any], sentinel: str) -> None:
        self.sentinel = sentinel
        if definitions:
            self.host.set_rulesets(definitions)
        self.rulesets = {name: self.host.get_ruleset(name) for name in definitions}

    def run(self, sid: str, chunks: list[list[Any]], blobs: list[bytes]) -> dict[str, list[int]]:
        collect: dict[str, set[int]] = {}
        k = 0
        for name, batches in chunks:
            handle = self.rulesets[name]._handle
            for _ in range(int(batches)):
                facts, retract = blobs[k].decode("utf-8"), blobs[k + 1].decode("utf-8")
                k += 2
                result, state = self._call(self.c_api.assert_facts, handle, facts)
                # 1: some candidate matched no rule (durable's Python API raises
                # MessageNotHandledException for it): not an error
                if result == 2:
                    raise RuntimeError("durable_rules saw a candidate twice")
                self._drain(handle, state, collect)
                # the batch's actions have run: retract it (a single-fact pattern never needs a
                # fact again, and each stored fact holds ~7 KB until its state is deleted)
                self._call(self.c_api.retract_facts, handle, retract)
        return {rule: sorted(ids) for rule, ids in collect.items()}

    def delete(self, sid: str, names: list[str]) -> None:
        for name in names:
            self.rulesets[name].delete_state(sid)

    @staticmethod
    def _call(fn: Any, handle: int, payload: str) -> tuple[int, int]:
        result = fn(handle, payload)
        return int(result[0]), int(result[1])

    def _drain(self, handle: int, state: int, collect: dict[str, set[int]]) -> None:
        """Run every action the last assertion made pending, now.

        An action is ``{"RULE": [{"m": FACT}, ...]}``. durable's Python layer would ``json.loads``
        every frame and call the action; only the candidates' ids are needed, and the frames are
        the host's own JSON text, so they are read with one regular expression, checked against
        the frame count.
        """
        started = self.c_api.start_action_for_state(handle, state)
        messages = started[1] if started else None
        while messages:
            rule = messages[2 : messages.index('"', 2)]
            if rule != self.sentinel:
                ids = _FRAME_ID.findall(messages)
                if len(ids) != messages.count('{"m":'):  # a fact the host did not write
                    frames = json.loads(messages)[rule]
                    ids = [f["m"]["id"] for f in (frames if isinstance(frames, list) else [frames])]
                collect.setdefault(rule, set()).update(int(x) for x in ids)
            messages = self.c_api.complete_and_start_action(handle, state)


def _ignore(c: Any) -> None:
    return None


def _limit_memory(mib: int) -> None:
    # a runaway C core then fails an allocation here, in this process, instead of taking the
    # machine's memory from the host
    try:
        import resource

        limit = mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    engine: _Engine | None = None
    while True:
        message = read_message(stdin)
        if message is None:
            return
        header, blobs = message
        op = header.get("op")
        try:
            if op == "ping":
                reply: dict[str, Any] = {"ok": True, "pid": os.getpid()}
            elif op == "load":
                engine = _Engine()
                engine.load(header["rulesets"], header["sentinel"])
                reply = {"ok": True}
            elif op == "run" and engine is not None:
                reply = {"ok": True, "fired": engine.run(header["sid"], header["chunks"], blobs)}
            elif op == "delete" and engine is not None:
                engine.delete(header["sid"], header["rulesets"])
                reply = {"ok": True}
            else:
                reply = {"error": f"unknown request {op!r}"}
        except Exception as exc:  # reported to the host, which raises a typed error
            reply = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        write_message(stdout, reply)


def main() -> None:
    if len(sys.argv) > 1:
        _limit_memory(int(sys.argv[1]))
    # the protocol owns the standard streams: nothing else may write to them
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    serve(stdin, stdout)


if __name__ == "__main__":
    main()
