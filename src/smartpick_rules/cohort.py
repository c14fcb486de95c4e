"""Evaluating a cohort: many profiles against one catalog and rule set, serially or on any executor.

    >>> results = evaluate_many(profiles, catalog, rules, executor=ProcessPoolExecutor(2))
    >>> for profile, r in zip(profiles, results):
    ...     print(r.code if isinstance(r, SmartpickError) else len(r.chosen()))

One result per profile, in input order: a [`Recommendation`][smartpick_rules.Recommendation], or the
[`SmartpickError`][smartpick_rules.SmartpickError] that profile raised. One profile failing never
loses the others; an exception that is not a ``SmartpickError`` (a bug, a worker that died) is
wrapped as an [`EvaluationError`][smartpick_rules.EvaluationError] with code ``evaluation_error``
naming the profile's index (``field_path`` ``$[i]``). Problems with the shared inputs (a
catalog or rule set that does not load) are raised at once, since every profile would fail.

Where the work runs:

* ``executor=None``: serially, in this process. Results are live recommendations.
* a ``concurrent.futures.ThreadPoolExecutor``: chunks run on its threads, sharing the one
  compiled rule set and catalog (both immutable). Results are live recommendations.
* any other ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor``, dask.distributed's
  ``Client.get_executor()``, ...): profiles go out in chunks. The rule set travels as its
  sources (the text of each rule-set file, checked against the hash it was loaded with) or, for
  a rule set built from text, as the rule set itself without its compiled cache; the catalog as
  its programs. Both go out as bytes keyed by their SHA-256: a chunk first carries only the keys,
  and a worker process that has not seen them yet answers "send the data", so each worker
  loads, checks and compiles the rule set once and keeps it in a small module-level cache
  (executors have no common initializer hook). Each recommendation comes back as its columns:
  the recommendation without its programs, and the evaluation's arrays (which rules fired for
  which program, chances, the list, every value an audit entry reads), pickled as arrays in the
  worker. The caller keeps those as bytes until a result is first read, then unpickles them and
  builds each program's result from them on first access, with the same code an
  in-process evaluation uses, so the results are identical; no worker builds or serialises
  thousands of audit entries nobody may read. ``firings()`` works on these results.
  **``why_not()`` needs the live evaluation, so it is not available on these results**;
  ``explain()`` still shows what fired. Re-run [`evaluate`][smartpick_rules.evaluate] in-process for
  one profile to ask why a rule did not fire.

What comes back is about 0.6 MB a profile on the 5,301-program sample catalog (arrays as long as
the catalog, the bit matrix of firings, the values entries read). The workers' evaluations are
most of a cohort's CPU; receiving the results is most of the caller's (about 1.5 ms a profile),
which on a machine with as many cores as workers is what keeps two workers below twice one;
docs/performance.md has the figures.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import pickle
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeAlias

import attrs

from .domain.inputs import profile_from_data
from .domain.models import Catalog, Profile, Program
from .errors import (
    Diagnostic,
    EngineUnavailable,
    EvaluationError,
    InputError,
    Location,
    RulesetError,
    SmartpickError,
)
from .language.ir import RuleSet
from .limits import DEFAULT_LIMITS, Limits
from .results.recommendation import DETAILS, Detail, LazyResults, Recommendation
from .runtime.session import Session, default_rules
from .runtime.stages import as_of_year, coerce_catalog

__all__ = ["CohortResult", "evaluate_many"]

CohortResult: TypeAlias = Recommendation | SmartpickError
"""One profile's outcome: its recommendation, or the error it raised."""

ProfileInput: TypeAlias = Profile | Mapping[str, Any]
CatalogInput: TypeAlias = Catalog | Sequence[Program] | Sequence[Mapping[str, Any]] | Mapping[str, Any]

_ERROR_CLASSES: dict[str, type[SmartpickError]] = {
    c.__name__: c for c in (SmartpickError, RulesetError, InputError, EvaluationError, EngineUnavailable)
}


def evaluate_many(
    profiles: Iterable[ProfileInput],
    catalog: CatalogInput,
    rules: RuleSet | None = None,
    *,
    executor: Executor | None = None,
    engine: str = "native",
    as_of: int | _dt.date | None = None,
    limits: Limits = DEFAULT_LIMITS,
    chunk_size: int | None = None,
    detail: Detail = "full",
) -> list[CohortResult]:
    """Evaluate every profile against ``catalog`` with ``rules``; one result per profile, in order.

    ``profiles`` may be [`Profile`][smartpick_rules.Profile] values or plain data (a profile that
    does not structure is that profile's [`InputError`][smartpick_rules.InputError]). ``catalog``
    and ``rules`` are as for [`evaluate`][smartpick_rules.evaluate]; ``rules=None`` means the
    shipped rule sets. ``as_of`` defaults to this year, fixed once for the whole cohort.
    ``chunk_size`` is how many profiles one task carries (default: tasks that shrink towards the
    end of the cohort, from at most 32 profiles down to one, so that no worker waits long for
    the last).

    ``detail`` matters only for executors in other processes, where every per-program result
    is built and serialised in the worker: ``"full"`` (the default) sends every program;
    ``"chosen"`` sends only the programs of the recommended list (``breadth.chosen``), in the
    same order, which on a large catalog is many times faster (docs/performance.md).
    ``programs``, ``included()`` and ``excluded()`` of such a result then see only those, and its
    ``detail`` is ``"chosen"`` (its ``to_json()`` writes the list alone, as
    ``Recommendation.to_json(detail="chosen")`` does).
    """
    if detail not in DETAILS:
        raise ValueError(f"detail must be 'full' or 'chosen', got {detail!r}")
    cat = _catalog(catalog, limits)
    ruleset = rules if rules is not None else _shipped_rules(limits)
    year = as_of_year(as_of)
    results: list[CohortResult | None] = []
    pending: list[tuple[int, Profile]] = []
    for i, p in enumerate(profiles):
        try:
            prof = p if isinstance(p, Profile) else profile_from_data(p, source=f"<profile #{i}>", limits=limits)
        except SmartpickError as exc:
            results.append(exc)
            continue
        except Exception as exc:
            results.append(_wrap(i, exc))
            continue
        results.append(None)
        pending.append((i, prof))
    if not pending:
        return [r for r in results if r is not None]

    if executor is None or isinstance(executor, ThreadPoolExecutor):
        # one session for the cohort: its threads share the compiled rule set and the catalog
        session = _session(ruleset, cat, engine, year, limits)
        if not isinstance(session, Session):
            for i, _p in pending:
                results[i] = session if isinstance(session, SmartpickError) else _wrap(i, session)
        elif executor is None:
            for i, prof in pending:
                results[i] = _evaluate_one(i, prof, session)
        else:
            _run_threads(executor, _chunks(pending, chunk_size, executor), session, results)
    else:
        _run_remote(executor, _chunks(pending, chunk_size, executor), cat, ruleset, engine, year, limits, results, detail)
    out: list[CohortResult] = []
    for i, r in enumerate(results):
        out.append(r if r is not None else _wrap(i, RuntimeError("no result came back for this profile")))
    return out


# --- in process -------------------------------------------------------------------------------


def _catalog(catalog: CatalogInput, limits: Limits) -> Catalog:
    return coerce_catalog(catalog, limits)


def _shipped_rules(limits: Limits) -> RuleSet:
    # loaded once per process, as evaluate() and Session do: a cohort job calling
    # evaluate_many in a loop does not parse the 31 files each time
    return default_rules(limits)


def _wrap(index: int, exc: BaseException) -> EvaluationError:
    text = str(exc).splitlines()[0] if str(exc) else ""
    message = f"profile #{index}: unexpected {type(exc).__name__}" + (f": {text}" if text else "")
    return EvaluationError(
        Diagnostic(
            "evaluation_error",
            message[:2000],
            Location(f"<profile #{index}>"),
            field_path=f"$[{index}]",
            help="this is a bug in smartpick_rules or the executor, not in the profile; please report it",
        )
    )


def _session(ruleset: RuleSet, cat: Catalog, engine: str, year: int | _dt.date, limits: Limits) -> Session | Exception:
    """The cohort's session, or what stopped it (an engine that cannot run, a rule set it cannot
    compile): then that is every profile's result, as it would be evaluating them one by one."""
    try:
        return Session(ruleset, cat, engine=engine, limits=limits, as_of=year)
    except Exception as exc:
        return exc


def _evaluate_one(index: int, prof: Profile, session: Session) -> CohortResult:
    try:
        return session.evaluate(prof)
    except SmartpickError as exc:
        return exc
    except Exception as exc:
        return _wrap(index, exc)


def _workers(executor: Executor) -> int:
    """How many tasks the executor runs at once, as far as it says (stdlib pools, dask), else 2."""
    workers = getattr(executor, "_max_workers", None)
    if isinstance(workers, int) and workers >= 1:
        return workers
    client = getattr(executor, "_client", None)  # dask.distributed's ClientExecutor
    try:
        threads = client.nthreads() if client is not None else None
        if isinstance(threads, dict) and threads:
            return max(1, sum(int(v) for v in threads.values()))
    except Exception:
        pass
    return 2


def _chunks(pending: list[tuple[int, Profile]], chunk_size: int | None, executor: Executor) -> list[list[tuple[int, Profile]]]:
    """The tasks: ``chunk_size`` profiles each, or by default a quarter of a worker's share of
    what is left (at most 32, at least one). Tasks shrink towards the end, so a cohort ends with
    single profiles and a worker that finishes first waits at most about one profile for the
    others; equal tasks of several profiles left one worker idle for half a task at the end of
    each cohort, which on a short cohort is a good part of its time. Larger tasks at the start
    keep the per-task cost down on a long one."""
    n = len(pending)
    if chunk_size:
        return [pending[k : k + chunk_size] for k in range(0, n, chunk_size)]
    parts = 4 * _workers(executor)
    chunks = []
    k = 0
    while k < n:
        size = max(1, min(32, (n - k) // parts))
        chunks.append(pending[k : k + size])
        k += size
    return chunks


def _run_threads(
    executor: Executor,
    chunks: list[list[tuple[int, Profile]]],
    session: Session,
    results: list[CohortResult | None],
) -> None:
    def run(chunk: list[tuple[int, Profile]]) -> list[CohortResult]:
        return [_evaluate_one(i, p, session) for i, p in chunk]

    futures = [(chunk, executor.submit(run, chunk)) for chunk in chunks]
    for chunk, fut in futures:
        try:
            outcomes = fut.result()
        except Exception as exc:
            outcomes = [_wrap(i, exc) for i, _p in chunk]
        for (i, _p), r in zip(chunk, outcomes, strict=True):
            results[i] = r


# --- other processes and machines -------------------------------------------------------------


def _rules_payload(ruleset: RuleSet, limits: Limits) -> bytes:
    """The rule set as its sources if they re-load into the same rule set, else the rule set itself."""
    from .ruleset.load import shipped_file

    sources: list[tuple[str, str]] = []
    for info in ruleset.rulesets:
        # shipped rule sets are named relative to the folder holding the package
        shipped = shipped_file(info.path) if info.path else None
        candidates = [Path(info.path)] + ([shipped] if shipped is not None else []) if info.path else []
        text = None
        for candidate in candidates:
            try:
                found = candidate.read_bytes().decode("utf-8-sig")
            except (OSError, UnicodeDecodeError):
                continue
            if hashlib.sha256(found.encode("utf-8")).hexdigest() == info.sha256:
                text = found
                break
        if text is None:
            sources = []
            break
        sources.append((info.path, text))
    if sources and ruleset.rulesets:
        from .ruleset.load import load_rules_from_text

        # the files may have been loaded with other limits, or the rule set changed by hand
        try:
            same = load_rules_from_text(sources, limits=limits) == ruleset
        except SmartpickError:
            same = False
        if same:
            return pickle.dumps(("sources", tuple(sources), limits), protocol=pickle.HIGHEST_PROTOCOL)
    # A fresh RuleSet without the compiled cache: the cache is tied to these very objects.
    bare = RuleSet(
        ruleset.rules,
        ruleset.rulesets,
        ruleset.chance,
        ruleset.estimates,
        ruleset.groups,
        ruleset.levers,
        ruleset.disabled,
        ruleset.overridden,
    )
    return pickle.dumps(("ruleset", bare, limits), protocol=pickle.HIGHEST_PROTOCOL)


def _catalog_payload(cat: Catalog) -> bytes:
    return pickle.dumps((cat.programs, cat.source, cat.synthetic), protocol=pickle.HIGHEST_PROTOCOL)


def _key(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _payload(cache: dict[str, Any], name: str, make: Any) -> tuple[bytes, str]:
    """A payload and its key, made once per rule set (or catalog) object: both are immutable,
    and checking that a rule set's sources re-load into it costs a whole load."""
    hit = cache.get(name)
    if hit is None:
        payload = make()
        hit = cache[name] = (payload, _key(payload))
    return hit


_MISS = "miss"
_CACHE_SIZE = 4
_cache_lock = threading.Lock()
_rules_cache: OrderedDict[str, RuleSet] = OrderedDict()
_catalog_cache: OrderedDict[str, Catalog] = OrderedDict()


def _cached(cache: OrderedDict[str, Any], key: str) -> Any:
    with _cache_lock:
        value = cache.get(key)
        if value is not None:
            cache.move_to_end(key)
        return value


def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> None:
    with _cache_lock:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)


def _load_rules_payload(payload: bytes) -> RuleSet:
    # the payload is made by evaluate_many in the calling process and travels through the
    # caller's own executor (which pickles everything it carries anyway); rule text is never unpickled
    kind, body, limits = pickle.loads(payload)  # safe: our own payload, see above
    if kind == "sources":
        from .ruleset.load import load_rules_from_text

        return load_rules_from_text(body, limits=limits)
    assert isinstance(body, RuleSet)
    return body


def _load_catalog_payload(payload: bytes) -> Catalog:
    programs, source, synthetic = pickle.loads(payload)  # safe: our own payload, made by evaluate_many
    return Catalog(tuple(programs), source, synthetic)


#: one outcome sent back: (index, "ok", (header, columns, program indices)) or (index, "error", (class, diagnostics))
_Outcome = tuple[int, str, Any]


def _run_chunk(
    rules_key: str,
    rules_payload: bytes | None,
    catalog_key: str,
    catalog_payload: bytes | None,
    chunk: list[tuple[int, Profile]],
    engine: str,
    year: int | _dt.date,
    limits: Limits,
    detail: str = "full",
) -> tuple[str, list[_Outcome]]:
    """The task a worker runs: evaluate a chunk with the cached rule set and catalog.

    Returns ``("miss", [])`` when the worker has not got the rule set or catalog yet and its
    payload was not sent; the caller sends the chunk again with the payloads.
    """
    ruleset = _cached(_rules_cache, rules_key)
    cat = _cached(_catalog_cache, catalog_key)
    if (ruleset is None and rules_payload is None) or (cat is None and catalog_payload is None):
        return _MISS, []
    out: list[_Outcome] = []
    try:
        if ruleset is None:
            assert rules_payload is not None
            ruleset = _load_rules_payload(rules_payload)
            _remember(_rules_cache, rules_key, ruleset)
        if cat is None:
            assert catalog_payload is not None
            cat = _load_catalog_payload(catalog_payload)
            _remember(_catalog_cache, catalog_key, cat)
    except SmartpickError as exc:
        return "ok", [(i, "error", (type(exc).__name__, exc.diagnostics)) for i, _p in chunk]
    session = _session(ruleset, cat, engine, year, limits)
    for i, prof in chunk:
        r = _evaluate_one(i, prof, session) if isinstance(session, Session) else session
        if not isinstance(r, Recommendation | SmartpickError):
            r = _wrap(i, r)
        if isinstance(r, SmartpickError):
            out.append((i, "error", (type(r).__name__, r.diagnostics)))
            continue
        try:
            out.append((i, "ok", _encode(r, detail, cat)))
        except Exception as exc:
            err = _wrap(i, exc)
            out.append((i, "error", (type(err).__name__, err.diagnostics)))
    return "ok", out


def _encode(rec: Recommendation, detail: str, cat: Catalog) -> tuple[Recommendation, bytes, list[int]]:
    """What travels back for one profile: the recommendation without its programs, the
    evaluation's columns (``Outcome``: it pickles as arrays, with every value the audit reads
    computed in the worker) pickled here, and which programs the result lists (their catalog
    indices).

    No per-program result is built here: the caller builds each one from the columns when it is
    read, exactly as an in-process evaluation does, so the results are the same. The columns
    travel as bytes the caller unpickles only when a result needs them (``_Received``): the
    caller's share of a cohort is then receiving, and it shares the machine with the workers.
    """
    outcome = rec._outcome
    head = attrs.evolve(rec, programs=(), detail=detail, _outcome=None)
    order = outcome.order.tolist()
    if detail == "chosen":
        order = [i for i in order if outcome.choice.chosen_mask[i]]
    return head, pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL), order


_load_lock = threading.Lock()


class _Received:
    """An evaluation's columns as a worker sent them, unpickled and attached to this process's
    rule set and catalog on first use (reading a program's result, ``firings()``, ...), then
    standing in for that ``Outcome``. Unpickling them (about 1 ms a profile on the sample
    catalog, most of it the values audit entries read) would otherwise be the caller's main
    cost per profile, paid whether or not anything is read, while the workers wait for CPU.
    """

    __slots__ = ("_blob", "_catalog", "_limits", "_outcome", "_ruleset")

    def __init__(self, blob: bytes, ruleset: RuleSet, limits: Limits, cat: Catalog) -> None:
        self._blob: bytes | None = blob
        self._ruleset = ruleset
        self._limits = limits
        self._catalog = cat
        self._outcome: Any = None

    def _load(self) -> Any:
        outcome = self._outcome
        if outcome is None:
            from .plan import plan_ruleset

            with _load_lock:  # results may be read from several threads: one outcome, loaded once
                outcome = self._outcome
                if outcome is None:
                    assert self._blob is not None
                    outcome = pickle.loads(self._blob)  # safe: made by _encode in a worker of this cohort
                    outcome.attach(plan_ruleset(self._ruleset, self._limits), self._catalog)
                    self._outcome, self._blob = outcome, None
        return outcome

    def result(self, i: int) -> Any:
        return self._load().result(i)

    def results(self, indices: Sequence[int]) -> Any:
        return self._load().results(indices)

    def __getattr__(self, name: str) -> Any:
        # everything else a Recommendation asks its outcome for (firings(), excluded, ...)
        return getattr(self._load(), name)


def _decode(payload: tuple[Recommendation, bytes, list[int]], cat: Catalog, ruleset: RuleSet, limits: Limits) -> Recommendation:
    from .runtime.outcome import catalog_ids

    head, blob, order = payload
    outcome = _Received(blob, ruleset, limits, cat)
    programs = LazyResults(order, outcome.result, outcome.results, catalog_ids(cat), max_entries=limits.max_audit_entries)
    return attrs.evolve(head, programs=programs, _outcome=outcome)


def _error(kind: str, diagnostics: Sequence[Diagnostic]) -> SmartpickError:
    return _ERROR_CLASSES.get(kind, EvaluationError)(list(diagnostics))


#: the (rule set, catalog) keys sent to each executor's workers, while the executor lives
_sent: weakref.WeakKeyDictionary[Executor, set[tuple[str, str]]] = weakref.WeakKeyDictionary()


def _was_sent(executor: Executor, rkey: str, ckey: str) -> bool:
    """Whether an earlier cohort sent this data to this executor's workers (and says so now for
    the next: the caller sends it with this cohort's first chunks)."""
    with _cache_lock:
        try:
            sent = _sent.setdefault(executor, set())
        except TypeError:  # an executor that takes no weak reference: send the data every time
            return False
        if (rkey, ckey) in sent:
            return True
        if len(sent) >= _CACHE_SIZE:  # the workers keep only this many; older ones may be gone
            sent.clear()
        sent.add((rkey, ckey))
        return False


def _run_remote(
    executor: Executor,
    chunks: list[list[tuple[int, Profile]]],
    cat: Catalog,
    ruleset: RuleSet,
    engine: str,
    year: int | _dt.date,
    limits: Limits,
    results: list[CohortResult | None],
    detail: str,
) -> None:
    rules_payload, rkey = _payload(ruleset.compiled_cache(), f"cohort:rules:{limits!r}", lambda: _rules_payload(ruleset, limits))
    catalog_payload, ckey = _payload(cat.column_cache(), "cohort:catalog", lambda: _catalog_payload(cat))

    def submit(chunk: list[tuple[int, Profile]], with_data: bool) -> Future[tuple[str, list[_Outcome]]]:
        return executor.submit(
            _run_chunk,
            rkey,
            rules_payload if with_data else None,
            ckey,
            catalog_payload if with_data else None,
            chunk,
            engine,
            year,
            limits,
            detail,
        )

    # The first chunk per worker carries the data; the rest try the worker's cache first, and a
    # worker that has not seen the data yet answers "miss" and gets the chunk again with it. A
    # later cohort on the same executor sends no data up front: its workers have it (about 1 MB
    # for the sample catalog and shipped rules, pickled and read once per worker and cohort),
    # and one that does not (a worker replaced since) asks for it.
    workers = 0 if _was_sent(executor, rkey, ckey) else _workers(executor)
    queue: deque[tuple[list[tuple[int, Profile]], Future[tuple[str, list[_Outcome]]], bool]] = deque()
    for n, chunk in enumerate(chunks):
        first = n < workers
        try:
            queue.append((chunk, submit(chunk, first), first))
        except Exception as exc:
            for i, _p in chunk:
                results[i] = _wrap(i, exc)
    while queue:
        chunk, fut, sent_data = queue.popleft()
        try:
            status, outcomes = fut.result()
        except Exception as exc:
            for i, _p in chunk:
                results[i] = _wrap(i, exc)
            continue
        if status == _MISS:
            if sent_data:  # cannot happen: a chunk with its data never misses
                for i, _p in chunk:
                    results[i] = _wrap(i, RuntimeError("worker refused a chunk that carried its data"))
                continue
            try:
                queue.append((chunk, submit(chunk, True), True))
            except Exception as exc:
                for i, _p in chunk:
                    results[i] = _wrap(i, exc)
            continue
        for i, kind, payload in outcomes:
            if kind == "ok":
                try:
                    results[i] = _decode(payload, cat, ruleset, limits)
                except Exception as exc:
                    results[i] = _wrap(i, exc)
            else:
                results[i] = _error(*payload)
