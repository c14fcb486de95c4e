"""The evaluating process's side of the durable engine: a warm pool of worker processes per
compiled rule set, a deadline on every call, a restart when a worker dies.

durable_rules' C core holds the GIL while it works, loops forever on some patterns and crashes
on others (``lowering.py`` lists what is known and avoided). It therefore runs only in worker
processes (``worker.py``); this module turns every way a worker can fail into a typed error:

* a reply that does not come within ``Limits.max_engine_seconds`` (a hang in the C core): the
  worker is killed, the call is an ``EvaluationError`` (``budget_exceeded``) naming the field,
  and the next call starts a fresh worker; compiling that does not finish in time is a
  ``RulesetError`` (``unsupported``);
* a worker that dies (a segmentation fault, the memory cap): an ``EvaluationError``
  (``evaluation_error``) saying how it died; the next call starts a fresh worker;
* an error durable_rules reports: an ``EvaluationError`` with its message.

Threads: a pool lends each stage run one worker, so evaluations on one compiled rule set run
in parallel up to the pool's size and queue beyond it. Every stage run uses its own state id
and deletes its states when it ends. Workers stop when the compiled rule set is garbage
collected, and at interpreter exit.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...domain.models import Catalog
from ...errors import Diagnostic, EngineUnavailable, EvaluationError, Location, RulesetError
from ...language.interp import spend_work
from ...limits import DEFAULT_LIMITS, Limits, limit_help
from ...plan import Plan, StagePlan
from .. import Budget
from .lowering import BATCH, SENTINEL, Encoder, Rows, StageCode, base_fragments
from .worker import read_message, write_message

__all__ = ["DurableCompiled", "WorkerPool", "run_stage"]

_WORKER_SCRIPT = Path(__file__).with_name("worker.py")
_SIDS = itertools.count(1)
#: address space of one worker, MiB: a runaway C core fails an allocation there, not here
WORKER_MEMORY_MIB = 2048


class WorkerFailed(Exception):
    """A worker did not answer: it died, or missed its deadline (and was killed)."""

    def __init__(self, message: str, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class _Worker:
    """One worker process and its pipes; every call waits at most ``deadline`` seconds."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        env = dict(os.environ)
        env.pop("PYTHONSTARTUP", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(_WORKER_SCRIPT), str(WORKER_MEMORY_MIB)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
            # not in the host's process group: a Ctrl-C reaches the host, which then stops it
            start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin = self.proc.stdin
        self.stdout = self.proc.stdout
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.stdout, selectors.EVENT_READ)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def call(self, header: dict[str, Any], blobs: Sequence[bytes] = (), deadline: float | None = None) -> dict[str, Any]:
        limit = self.deadline if deadline is None else deadline
        try:
            write_message(self.stdin, header, blobs)
        except (BrokenPipeError, OSError):
            raise WorkerFailed(self._death(), timed_out=False) from None
        # wait for the reply's first bytes with a deadline; the rest follows at pipe speed
        if not self._selector.select(timeout=limit):
            self.stop()
            raise WorkerFailed(f"no answer within {limit:g} s", timed_out=True)
        try:
            message = read_message(self.stdout)
        except (OSError, ValueError):
            message = None
        if message is None:
            raise WorkerFailed(self._death(), timed_out=False)
        reply, _blobs = message
        return reply

    def _death(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2)
        code = self.proc.poll()
        if code is None:
            self.stop()
            return "the worker stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the worker died ({name})"
        return f"the worker exited with status {code}"

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        with contextlib.suppress(OSError, ValueError, KeyError):
            self._selector.close()


class WorkerPool:
    """Up to ``size`` workers, each with the compiled rule sets loaded; started on demand."""

    def __init__(self, definitions: dict[str, Any], size: int, deadline: float) -> None:
        self.definitions = definitions
        self.size = max(1, size)
        self.deadline = deadline
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        #: workers being started (counted against ``size`` before they exist)
        self._starting = 0
        self._cond = threading.Condition()
        # stops every worker when the pool is collected, or at interpreter exit
        self._finalizer = weakref.finalize(self, _stop_all, self._all)

    def start_one(self) -> None:
        """Start a worker and compile the rule sets in it now (compiling is what can hang)."""
        with self._cond:
            self._starting += 1
        worker = self._start()
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    def _start(self) -> _Worker:
        """Start a worker for a slot already reserved in ``_starting``."""
        try:
            try:
                worker = _Worker(self.deadline)
            except OSError as exc:
                raise EngineUnavailable(
                    Diagnostic("engine_unavailable", f"cannot start the durable_rules worker: {exc}", Location())
                ) from None
            with self._cond:
                self._all.append(worker)
        finally:
            with self._cond:
                self._starting -= 1
                self._cond.notify()
        try:
            reply = worker.call({"op": "load", "rulesets": self.definitions, "sentinel": SENTINEL})
        except WorkerFailed as exc:
            self._forget(worker)
            if exc.timed_out:
                raise RulesetError(
                    Diagnostic(
                        "unsupported",
                        f"durable_rules did not finish compiling the rule sets within {self.deadline:g} s",
                        Location(),
                        help=f'use engine="native"; {limit_help("max_engine_seconds")}',
                    )
                ) from None
            raise _unavailable(f"durable_rules could not compile the rule sets: {exc}") from None
        if "error" in reply:
            self._forget(worker)
            error = str(reply["error"])
            if "ModuleNotFoundError" in error or "ImportError" in error:
                raise _unavailable(f"durable_rules does not import in the worker: {error}")
            raise RulesetError(
                Diagnostic("unsupported", f"durable_rules refused the generated rule sets: {error}", Location(), help='use engine="native"')
            )
        return worker

    def acquire(self) -> _Worker:
        with self._cond:
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker
                    self._forget_locked(worker)
                if len(self._all) + self._starting < self.size:
                    self._starting += 1
                    break
                self._cond.wait()
        return self._start()

    def release(self, worker: _Worker) -> None:
        with self._cond:
            if worker.alive:
                self._idle.append(worker)
            else:
                self._forget_locked(worker)
            self._cond.notify()

    def discard(self, worker: _Worker) -> None:
        worker.stop()
        with self._cond:
            self._forget_locked(worker)
            self._cond.notify()

    def _forget(self, worker: _Worker) -> None:
        worker.stop()
        with self._cond:
            self._forget_locked(worker)
            self._cond.notify()

    def _forget_locked(self, worker: _Worker) -> None:
        with contextlib.suppress(ValueError):
            self._all.remove(worker)
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)

    def pids(self) -> list[int]:
        """The process ids of the running workers (for tests and monitoring)."""
        with self._cond:
            return [w.proc.pid for w in self._all if w.alive]

    def close(self) -> None:
        self._finalizer()


def _stop_all(workers: list[_Worker]) -> None:
    for w in list(workers):
        w.stop()
    workers.clear()


def _unavailable(message: str) -> EngineUnavailable:
    return EngineUnavailable(Diagnostic("engine_unavailable", message, Location(), help='use engine="native"'))


class DurableCompiled:
    """A rule set compiled for durable_rules: the generated rule sets and the workers running them.

    ``rulesets_json()`` is what ``smartpick-rules compile --engine durable`` prints.
    """

    #: workers kept per compiled rule set: evaluations on it run in parallel up to this many
    pool_size = 2

    def __init__(self, plan: Plan, stages: dict[str, StageCode], limits: Limits = DEFAULT_LIMITS) -> None:
        self.plan = plan
        self.stages = stages
        self.deadline = float(limits.max_engine_seconds)
        definitions = {
            chunk.name: chunk.definition for code in stages.values() for stratum in code.strata for chunk in stratum
        }
        # through JSON once: what the worker receives, and a copy durable_rules may not mutate
        self.pool = WorkerPool(json.loads(json.dumps(definitions)), self.pool_size, self.deadline)
        self.pool.start_one()

    def definitions(self) -> dict[str, Any]:
        """Per stage: the durable_rules rule sets (by name, strata in order) and the calc fields."""
        out: dict[str, Any] = {}
        for name, code in self.stages.items():
            out[name] = {
                "strata": [[chunk.name for chunk in stratum] for stratum in code.strata],
                "rulesets": {chunk.name: chunk.definition for stratum in code.strata for chunk in stratum},
                "calc": {c.name: c.source for c in code.calcs},
                "never_fire": list(code.never),
            }
        return out

    def rulesets_json(self, indent: int | None = 2) -> str:
        """The generated durable_rules rule sets, as ``smartpick-rules compile --engine durable`` shows them."""
        return json.dumps(
            {"engine": "durable_rules 2.0.28", "stages": self.definitions()},
            indent=indent,
            ensure_ascii=False,
        )

    def worker_pids(self) -> list[int]:
        return self.pool.pids()

    def close(self) -> None:
        """Stop the workers now (they also stop when this object is collected)."""
        self.pool.close()


def run_stage(
    compiled: DurableCompiled,
    code: StageCode,
    stage: StagePlan,
    rows: Rows,
    catalog: Catalog | None,
    budget: Budget,
) -> dict[int, set[int]]:
    """Run one stage to its fixpoint in a worker; return, per rule index, the candidates it fired on."""
    fired: dict[int, set[int]] = {i: set() for i in range(len(stage.rules))}
    if not any(code.strata):
        return fired
    worker = compiled.pool.acquire()
    failed = False
    try:
        return _run(worker, compiled.deadline, code, stage, rows, catalog, budget, fired)
    except WorkerFailed as exc:
        failed = True
        if exc.timed_out:
            raise EvaluationError(
                Diagnostic(
                    "budget_exceeded",
                    f"durable_rules did not finish the {stage.stage} stage: {exc}; the worker was stopped",
                    Location(),
                    help=f'{limit_help("max_engine_seconds")}; or use engine="native"',
                )
            ) from None
        raise EvaluationError(
            Diagnostic("evaluation_error", f"durable engine, {stage.stage} stage: {exc}", Location(), help='use engine="native"')
        ) from None
    finally:
        if failed:
            compiled.pool.discard(worker)
        else:
            compiled.pool.release(worker)


def _run(
    worker: _Worker,
    deadline: float,
    code: StageCode,
    stage: StagePlan,
    rows: Rows,
    catalog: Catalog | None,
    budget: Budget,
    fired: dict[int, set[int]],
) -> dict[int, set[int]]:
    sid = f"e{next(_SIDS)}"
    head = [f'{{"sid":"{sid}","id":{i},"candidate":true' for i in range(rows.n)]
    #: per candidate, the "fired.RULE":1 properties of the rules that fired on it
    fired_props: list[list[str]] = [[] for _ in range(rows.n)]
    enc = Encoder()
    base_tags = rows.base.tags
    touched: set[str] = set()
    try:
        for stratum in code.strata:
            if not stratum:
                continue
            # the work budget (Limits.max_work): a candidate asserted into a rule set costs one
            # unit per rule in it, as the interpreter testing those rules on it would; counted
            # before any fact is written, so a huge catalog x rule set is refused at once
            for chunk in stratum:
                spend_work(rows.n * len(chunk.rules))
            base = {chunk.name: base_fragments(chunk, rows, catalog, enc) for chunk in stratum}
            todo = {chunk.name: list(range(rows.n)) for chunk in stratum}
            #: tags each candidate gained in this stratum (those from before are in ``base``)
            gained: dict[int, list[str]] = {}
            first = True
            while True:
                requests: list[list[Any]] = []
                blobs: list[bytes] = []
                for chunk in stratum:
                    chunk_base = base[chunk.name]
                    stage_tags = chunk.stage_tags
                    keys = chunk.fired_props
                    facts: list[tuple[int, str]] = []
                    for i in todo[chunk.name]:
                        text = chunk_base[i]
                        for t in gained.get(i, ()):
                            if t in stage_tags:
                                text += stage_tags[t]
                        if not first and fired_props[i]:
                            for f in fired_props[i]:
                                if f in keys:
                                    text += "," + f
                        facts.append((i, head[i] + text + "}"))
                    if not facts:
                        continue
                    sentinel = chunk.name not in touched
                    touched.add(chunk.name)
                    batches = 0
                    for at in range(0, len(facts), BATCH):
                        batch = facts[at : at + BATCH]
                        texts = [text for _i, text in batch]
                        if sentinel and at == 0:
                            # durable_rules 2.0.28 segfaults deleting a state in which nothing matched
                            texts.insert(0, f'{{"sid":"{sid}","id":"sentinel","sentinel":true}}')
                        try:
                            blobs.append(("[" + ",".join(texts) + "]").encode("utf-8"))
                        except UnicodeEncodeError as exc:
                            raise _engine_error(f"a value cannot be encoded as UTF-8 for durable_rules ({exc.reason})") from None
                        blobs.append(("[" + ",".join(f'{{"sid":"{sid}","id":{i}}}' for i, _t in batch) + "]").encode("utf-8"))
                        batches += 1
                    requests.append([chunk.name, batches])
                collect: dict[str, set[int]] = {}
                if requests:
                    reply = worker.call({"op": "run", "sid": sid, "chunks": requests}, blobs, deadline)
                    if "error" in reply:
                        raise _engine_error(f"durable_rules failed: {reply['error']}")
                    collect = {rule: set(ids) for rule, ids in reply["fired"].items()}
                # new firings, counted against the budget in audit order as native counts them
                changed: dict[int, set[str]] = {}
                for chunk in stratum:
                    for i, key, prop in zip(chunk.rules, chunk.keys, chunk.fired_order, strict=True):
                        new = collect.get(key, set()) - fired[i]
                        if not new:
                            continue
                        budget.spend(len(new), stage.stage, key)
                        fired[i] |= new
                        for r in new:
                            fired_props[r].append(prop)
                        for t in stage.rules[i].rule.then.tags:
                            for r in new:
                                if t not in rows.tags[r]:
                                    rows.gained(r, t)
                                    if t not in base_tags:  # else has(t) was true all along
                                        gained.setdefault(r, []).append(t)
                                        changed.setdefault(r, set()).add(t)
                # forward chaining: re-assert the candidates that gained a tag a rule reads
                first = False
                for chunk in stratum:
                    todo[chunk.name] = sorted(r for r, ts in changed.items() if not ts.isdisjoint(chunk.stage_tags))
                    spend_work(len(todo[chunk.name]) * len(chunk.rules))
                if not any(todo.values()):
                    break
            # the stratum is done: free its states now rather than at the end of the stage
            done = [chunk.name for chunk in stratum if chunk.name in touched]
            if done:
                touched.difference_update(done)
                _delete(worker, sid, done, deadline)
    finally:
        if touched and worker.alive:
            with contextlib.suppress(WorkerFailed, EvaluationError):  # never hide the error that stopped the run
                _delete(worker, sid, sorted(touched), deadline)
    return fired


def _delete(worker: _Worker, sid: str, names: list[str], deadline: float) -> None:
    reply = worker.call({"op": "delete", "sid": sid, "rulesets": names}, (), deadline)
    if "error" in reply:
        raise _engine_error(f"durable_rules failed deleting a state: {reply['error']}")


def _engine_error(message: str) -> EvaluationError:
    return EvaluationError(Diagnostic("evaluation_error", message, Location(), help='use engine="native"'))


def wait_for_exit(pids: Sequence[int], timeout: float = 5.0) -> bool:
    """True once none of ``pids`` is running (for tests of the pool's clean-up)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except OSError:
                pass
        if not alive:
            return True
        time.sleep(0.05)
    return False
