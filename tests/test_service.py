"""The embedding example (examples/service): Starlette's test client, raw ASGI calls, a real server.

What the service promises and each test holds it to: results identical to the library's; every
bad input a 4xx with JSON diagnostics naming the field path and the line in the body; the body
refused while it is read (chunked included); a bounded pool answering 503 with Retry-After
when full or past its deadline, with ``/health`` served all the while; ``SMARTPICK_RULES``
adding to the shipped rule sets and ``SMARTPICK_RULES_ONLY`` replacing them; a rule set that
does not load reported in one line at start, no traceback; and (server.py) slow clients
dropped before they use up the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import select
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the service example needs Starlette (pip install -e '.[service]')")
pytest.importorskip("uvicorn", reason="the service example needs uvicorn (pip install -e '.[service]')")
if importlib.util.find_spec("httpx2") is None and importlib.util.find_spec("httpx") is None:
    pytest.skip("Starlette's test client needs httpx2 (or httpx)", allow_module_level=True)

from starlette.testclient import TestClient

import smartpick_rules as sr
from test_cli_support import PROFILES, REPO, SMALL_CATALOG, shipped_rules_load, write_mini

SERVICE_DIR = REPO / "examples" / "service"


def _load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


app_module = _load_module("smartpick_service_example", SERVICE_DIR / "app.py")
Settings = app_module.Settings


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini(tmp_path_factory.mktemp("service"))


def _settings(rules_dir: Path, **kw: Any) -> Any:
    return Settings(rules_only=(str(rules_dir),), catalog=str(SMALL_CATALOG), as_of=2026, **kw)


@pytest.fixture(scope="module")
def client(rules_dir: Path) -> Iterator[Any]:
    app = app_module.create_app(_settings(rules_dir))
    with TestClient(app) as c:
        yield c


@contextlib.contextmanager
def _app(settings: Any, **kw: Any) -> Iterator[Any]:
    """An app whose worker processes are stopped afterwards, whether or not a client ran it."""
    app = app_module.create_app(settings, **kw)
    try:
        yield app
    finally:
        app.state.pool.shutdown()


# A stand-in worker speaking the service's frame protocol: it answers each job only once the
# file named by its first argument exists (so a test holds evaluations in flight), with a
# result of argv[2] bytes, or exits mid-job when argv[2] is "die".
FAKE_WORKER = r"""
import os, struct, sys, time
F = struct.Struct("!cQ")
inp, out = sys.stdin.buffer, sys.stdout.buffer
def read():
    head = inp.read(F.size)
    if len(head) < F.size:
        sys.exit(0)
    kind, n = F.unpack(head)
    return kind, inp.read(n)
def write(kind, payload):
    out.write(F.pack(kind, len(payload)))
    out.write(payload)
    out.flush()
read()
write(b"K", b"")
gate, size = sys.argv[1], sys.argv[2]
while True:
    read()
    with open(gate + ".started", "a") as f:
        f.write("x")
    if size == "die":
        os._exit(3)
    while not os.path.exists(gate):
        time.sleep(0.01)
    write(b"R", b'{"x": "' + b"a" * int(size) + b'"}')
"""


class _Gate:
    """A fake worker command and the file that lets its evaluations finish."""

    def __init__(self, tmp: Path, size: int | str = 0) -> None:
        script = tmp / "fake_worker.py"
        script.write_text(FAKE_WORKER, encoding="utf-8")
        self.path = tmp / "gate"
        self.command = [sys.executable, str(script), str(self.path), str(size)]

    def open(self) -> None:
        self.path.touch()

    def started(self) -> int:
        marker = self.path.with_name("gate.started")
        return len(marker.read_text()) if marker.exists() else 0


def _until(condition: Any, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.01)


def _profile(name: str) -> dict[str, Any]:
    return tomllib.loads((PROFILES / name).read_text(encoding="utf-8"))


def _expected(rules_dir: Path, profile: dict[str, Any]) -> dict[str, Any]:
    rec = sr.evaluate(profile, sr.load_catalog(SMALL_CATALOG), sr.load_rules(rules_dir), as_of=2026)
    return json.loads(rec.to_json())


def _error(r: Any, status: int) -> dict[str, Any]:
    """The JSON error body of a refusal, checked for the shape every refusal has."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert isinstance(body["error"], str) and body["error"]
    assert body["diagnostics"], body
    for d in body["diagnostics"]:
        assert d["code"] and d["message"] and d["severity"] == "error"
        if status < 500:
            assert d["file"] or d["field_path"], d  # every refusal of input says where
    return body


# --- answers ----------------------------------------------------------------------------------


def test_health(client: Any) -> None:
    r = client.get("/health")
    assert r.status_code == 200 and r.text == "ok"


def test_rulesets(client: Any, rules_dir: Path) -> None:
    r = client.get("/rulesets")
    assert r.status_code == 200
    data = r.json()
    rs = sr.load_rules(rules_dir)
    assert data["rulesets"] == [{"name": "mini", "version": "1.2.0", "sha256": rs.rulesets[0].sha256}]
    assert data["rules"] == len(rs) and data["engine"] == "native"
    assert data["catalog"] == {"programs": len(sr.load_catalog(SMALL_CATALOG)), "source": SMALL_CATALOG.name}
    assert data["limits"]["workers"] == 2 and data["limits"]["max_body_bytes"] == 256 * 1024


def test_evaluate_returns_the_recommendation_json(client: Any, rules_dir: Path) -> None:
    profile = _profile("default.toml")
    r = client.post("/evaluate", json=profile)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.json() == _expected(rules_dir, profile)
    back = sr.Recommendation.from_json(r.text)
    assert back.provenance.rulesets[0].name == "mini"


def test_a_result_larger_than_one_piece_arrives_whole(rules_dir: Path, tmp_path: Path) -> None:
    # results are sent in SEND_CHUNK pieces; a 3.5-piece result must arrive byte for byte
    size = int(app_module.SEND_CHUNK * 3.5)
    gate = _Gate(tmp_path, size)
    gate.open()
    with _app(_settings(rules_dir, workers=1), worker_command=gate.command) as app, TestClient(app) as c:
        r = c.post("/evaluate", json={"graduation_year": 2020})
    assert r.status_code == 200 and r.content == b'{"x": "' + b"a" * size + b'"}'


def test_as_of_query_parameter(client: Any) -> None:
    r = client.post("/evaluate?as_of=2030", json={"graduation_year": 2020})
    assert r.status_code == 200 and r.json()["provenance"]["as_of_year"] == 2030
    for bad in ("soon", "0", "20300", "1200"):
        body = _error(client.post(f"/evaluate?as_of={bad}", json={"graduation_year": 2020}), 422)
        assert body["diagnostics"][0]["file"] == "?as_of"
    _error(client.post("/evaluate?as_of=2030&as_of=2031", json={"graduation_year": 2020}), 422)


def test_detail_query_parameter(client: Any) -> None:
    # ?detail=chosen: the recommended list alone, as Recommendation.to_json(detail="chosen")
    full = client.post("/evaluate", json={"graduation_year": 2020, "step2_ck": {"score": 236}})
    chosen = client.post("/evaluate?detail=chosen", json={"graduation_year": 2020, "step2_ck": {"score": 236}})
    assert full.status_code == 200 and chosen.status_code == 200
    want = [p["program"]["id"] for p in full.json()["programs"] if p["chosen"]]
    assert chosen.json()["detail"] == "chosen" and [p["program"]["id"] for p in chosen.json()["programs"]] == want
    assert len(chosen.content) < len(full.content)
    assert client.post("/evaluate?detail=full", json={"graduation_year": 2020, "step2_ck": {"score": 236}}).content == full.content
    body = _error(client.post("/evaluate?detail=chosn", json={"graduation_year": 2020}), 422)
    assert body["diagnostics"][0]["file"] == "?detail" and body["diagnostics"][0]["suggestion"] == "chosen"
    _error(client.post("/evaluate?detail=full&detail=chosen", json={"graduation_year": 2020}), 422)
    spec = client.get("/openapi.json").json()
    assert [p["name"] for p in spec["paths"]["/evaluate"]["post"]["parameters"]] == ["as_of", "detail"]


def test_an_unknown_query_parameter_is_named_with_a_suggestion(client: Any) -> None:
    body = _error(client.post("/evaluate?asof=2030", json={"graduation_year": 2020}), 422)
    assert body["diagnostics"][0]["suggestion"] == "as_of"


# --- bad profiles -------------------------------------------------------------------------------


def test_a_bad_profile_is_422_with_field_paths_lines_and_suggestions(client: Any) -> None:
    text = '{\n  "graduation_year": 2020,\n  "step2_ck": {"score": "high"},\n  "visa": "j3"\n}'
    body = _error(client.post("/evaluate", content=text, headers={"content-type": "application/json"}), 422)
    assert body["error"] == "invalid profile"
    by_path = {d["field_path"]: d for d in body["diagnostics"]}
    assert set(by_path) == {"$.step2_ck.score", "$.visa"}
    assert (by_path["$.step2_ck.score"]["file"], by_path["$.step2_ck.score"]["line"]) == ("<request body>", 3)
    assert (by_path["$.visa"]["line"], by_path["$.visa"]["column"]) == (4, 3)
    # issue 13: the suggestion was empty for a bad enum value
    assert by_path["$.visa"]["suggestion"] == "j1"


@pytest.mark.parametrize(("value", "suggestion"), [("j3", "j1"), ("h2b", "h1b"), ("jl", "j1"), ("hands-on", None)])
def test_every_bad_enum_value_gets_the_closest_allowed_value(client: Any, value: str, suggestion: str | None) -> None:
    body = _error(client.post("/evaluate", json={"graduation_year": 2020, "visa": value}), 422)
    assert body["diagnostics"][0]["suggestion"] == suggestion


def test_an_enum_inside_a_list_is_located_and_suggested(client: Any) -> None:
    profile = {"graduation_year": 2020, "usce": [{"kind": "hands_on", "months": 2}, {"kind": "hands-om", "months": 1}]}
    body = _error(client.post("/evaluate", json=profile), 422)
    d = body["diagnostics"][0]
    assert d["field_path"] == "$.usce[1].kind" and d["suggestion"] == "hands_on"


def test_an_unknown_field_gets_did_you_mean(client: Any) -> None:
    body = _error(client.post("/evaluate", json={"graduation_year": 2020, "vias": "j1"}), 422)
    assert body["diagnostics"][0]["field_path"] == "$.vias" and body["diagnostics"][0]["suggestion"] == "visa"


def test_a_missing_required_field_is_422(client: Any) -> None:
    body = _error(client.post("/evaluate", json={"languages": ["Spanish"]}), 422)
    assert any("graduation_year" in (d["field_path"] or "") + d["message"] for d in body["diagnostics"])


@pytest.mark.parametrize(
    ("body", "status", "line"),
    [
        (b"{not json", 400, 1),
        (b'{\n  "graduation_year": 2020,\n  "visa": "j1",\n}', 400, 4),
        (b"", 400, 0),
        (b"   \n", 400, 0),
        (b"[1, 2]", 422, 1),
        (b'"text"', 422, 1),
        (b"null", 422, 1),
        (b"\xff\xfe{}", 400, 1),
        (b'{"graduation_year": 2020, "name": "caf\xc3"}', 400, 1),
        (b"[" * 100_000, 400, 0),
    ],
)
def test_malformed_bodies(client: Any, body: bytes, status: int, line: int) -> None:
    r = client.post("/evaluate", content=body, headers={"content-type": "application/json"})
    data = _error(r, status)
    assert data["diagnostics"][0]["line"] == line


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        ('{"graduation_year": 2020, "visa": "j1", "visa": "none"}', "$.visa", "more than once"),
        ('{"graduation_year": 2020, "step2_ck": {"score": NaN}}', "$.step2_ck.score", "NaN"),
        ('{"graduation_year": 2020, "step2_ck": {"score": -Infinity}}', "$.step2_ck.score", "Infinity"),
        ('{"graduation_year": 2020, "step2_ck": {"score": 1e999}}', "$.step2_ck.score", "too large"),
        ('{"graduation_year": 2020, "step2_ck": {"score": ' + "9" * 5000 + "}}", "$.step2_ck.score", "5000 digits"),
        ('{"graduation_year": 2020, "name": "\\ud800"}', "$.name", "surrogate"),
        ('{"graduation_year": 2020, "\\udfff": 1}', '$["\\udfff"]', "surrogate"),
        ('{"graduation_year": 2020, "x": ' + "[" * 40 + "]" * 40 + "}", "$.x" + "[0]" * 32, "nested more than"),
    ],
)
def test_json_that_no_profile_can_be_is_422_at_its_line(client: Any, text: str, path: str, fragment: str) -> None:
    body = _error(client.post("/evaluate", content=text.encode(), headers={"content-type": "application/json"}), 422)
    d = body["diagnostics"][0]
    assert d["field_path"] == path and fragment in d["message"]
    assert d["line"] == 1 and d["column"] > 1


def test_a_duplicate_key_is_placed_at_its_second_occurrence(client: Any) -> None:
    text = '{\n "graduation_year": 2020,\n "visa": "j1",\n "visa": "none"\n}'
    body = _error(client.post("/evaluate", content=text, headers={"content-type": "application/json"}), 422)
    assert (body["diagnostics"][0]["line"], body["diagnostics"][0]["column"]) == (4, 2)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_json_by_its_type_is_415(client: Any, content_type: str) -> None:
    r = client.post("/evaluate", content=b'{"graduation_year": 2020}', headers={"content-type": content_type})
    body = _error(r, 415)
    assert body["diagnostics"][0]["field_path"] == "content-type"


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=UTF-8", "application/vnd.smartpick+json", None])
def test_json_content_types_are_accepted(client: Any, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/evaluate", content=b'{"graduation_year": 2020}', headers=headers)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/", 404), ("GET", "/evaluate", 405), ("POST", "/health", 405), ("DELETE", "/rulesets", 405)])
def test_unknown_routes_and_methods_answer_json(client: Any, method: str, path: str, status: int) -> None:
    _error(client.request(method, path), status)


# --- the body is refused while it is read --------------------------------------------------------


def test_a_huge_body_is_refused_by_its_length(client: Any) -> None:
    r = client.post("/evaluate", content=b" " * (256 * 1024 + 1), headers={"content-type": "application/json"})
    body = _error(r, 413)
    assert body["diagnostics"][0]["code"] == "limit_exceeded"


async def _asgi(app: Any, headers: list[tuple[bytes, bytes]], chunks: Any, *, path: str = "/evaluate") -> tuple[int, dict[str, str], bytes]:
    """One request straight through the ASGI interface; ``chunks`` an async iterator of body pieces."""
    sent: list[dict[str, Any]] = []
    iterator = chunks.__aiter__()

    async def receive() -> dict[str, Any]:
        try:
            piece = await iterator.__anext__()
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(rules_dir: Path) -> None:
    # issue 11: a chunked body (no content-length) was read whole before the size check
    pulled = 0

    async def endless() -> Any:
        nonlocal pulled
        while True:
            pulled += 1
            yield b" " * 16 * 1024

    with _app(_settings(rules_dir, max_body_bytes=64 * 1024, workers=1)) as app:
        status, headers, body = asyncio.run(_asgi(app, [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")], endless()))
    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body)["diagnostics"][0]["code"] == "limit_exceeded"
    assert pulled == 5  # 4 pieces fit in 64 KB; the fifth passed the limit and nothing more was read


def test_a_body_that_does_not_arrive_in_time_is_408(rules_dir: Path) -> None:
    async def trickle() -> Any:
        yield b'{"graduation_year": '
        await asyncio.sleep(30)
        yield b"2020}"

    with _app(_settings(rules_dir, body_timeout=0.3, workers=1)) as app:
        status, headers, body = asyncio.run(_asgi(app, [(b"content-type", b"application/json")], trickle()))
    assert status == 408 and headers["connection"] == "close"
    assert json.loads(body)["diagnostics"][0]["message"].startswith("20 bytes arrived")


# --- the pool -----------------------------------------------------------------------------------


def test_a_full_pool_answers_503_with_retry_after_and_health_still_answers(rules_dir: Path, tmp_path: Path) -> None:
    gate = _Gate(tmp_path)
    with _app(_settings(rules_dir, workers=1, queue=1), worker_command=gate.command) as app, TestClient(app) as c, ThreadPoolExecutor(2) as ex:
        pool = app.state.pool
        running = ex.submit(c.post, "/evaluate", json={"graduation_year": 2020})
        _until(lambda: gate.started() == 1)  # one evaluating
        queued = ex.submit(c.post, "/evaluate", json={"graduation_year": 2020})
        _until(lambda: pool.admitted == 2)  # one waiting for the worker
        r = c.post("/evaluate", json={"graduation_year": 2020})
        body = _error(r, 503)
        assert body["diagnostics"][0]["code"] == "overloaded"
        assert int(r.headers["retry-after"]) >= 1
        assert c.get("/health").text == "ok"  # served outside the pool
        gate.open()
        assert running.result().status_code == 200 and queued.result().status_code == 200
        assert pool.admitted == 0


def test_past_its_deadline_a_request_is_503_and_a_runaway_worker_is_replaced(rules_dir: Path, tmp_path: Path) -> None:
    gate = _Gate(tmp_path)
    with _app(_settings(rules_dir, workers=1, queue=0, deadline=0.5), worker_command=gate.command) as app, TestClient(app) as c:
        pool = app.state.pool
        [first] = pool._all
        body = _error(c.post("/evaluate", json={"graduation_year": 2020}), 503)
        assert body["diagnostics"][0]["code"] == "deadline_exceeded"
        assert pool.admitted == 0  # the answer gave the place back
        # still busy after as long again: the work is stopped, the worker replaced
        _until(lambda: pool.restarts == 1 and len(pool._idle) == 1)
        assert first.proc.poll() is not None and pool._idle[0] is not first
        gate.open()
        r = c.post("/evaluate", json={"graduation_year": 2020})
        assert r.status_code == 200 and r.json() == {"x": ""}


def test_a_worker_that_finishes_soon_after_the_deadline_is_kept(rules_dir: Path, tmp_path: Path) -> None:
    gate = _Gate(tmp_path)
    with _app(_settings(rules_dir, workers=1, queue=0, deadline=2), worker_command=gate.command) as app, TestClient(app) as c:
        pool = app.state.pool
        [first] = pool._all
        with ThreadPoolExecutor(1) as ex:
            late = ex.submit(c.post, "/evaluate", json={"graduation_year": 2020})
            _until(lambda: gate.started() == 1)
            assert late.result().status_code == 503
        gate.open()  # within the grace period
        _until(lambda: len(pool._idle) == 1)
        assert pool._idle[0] is first and first.proc.poll() is None and pool.restarts == 0
        assert c.post("/evaluate", json={"graduation_year": 2020}).status_code == 200


def test_a_request_that_waits_past_its_deadline_is_503_and_never_runs(rules_dir: Path, tmp_path: Path) -> None:
    gate = _Gate(tmp_path)
    with _app(_settings(rules_dir, workers=1, queue=1, deadline=3), worker_command=gate.command) as app, TestClient(app) as c, ThreadPoolExecutor(1) as ex:
        running = ex.submit(c.post, "/evaluate", json={"graduation_year": 2020})
        _until(lambda: gate.started() == 1)
        body = _error(c.post("/evaluate", json={"graduation_year": 2020}), 503)
        assert body["diagnostics"][0]["code"] == "deadline_exceeded"
        assert running.result().status_code == 503
        assert gate.started() == 1  # the waiting request never reached a worker


def test_a_request_that_could_only_time_out_is_refused_at_once(rules_dir: Path, tmp_path: Path) -> None:
    gate = _Gate(tmp_path)
    with _app(_settings(rules_dir, workers=1, queue=4, deadline=1.5), worker_command=gate.command) as app, TestClient(app) as c, ThreadPoolExecutor(1) as ex:
        pool = app.state.pool
        pool._seconds = 1.0  # the measured pace: one evaluation a second
        running = ex.submit(c.post, "/evaluate", json={"graduation_year": 2020})
        _until(lambda: gate.started() == 1)
        # a waiting place is free, but behind one evaluation of 1 s this one would end at 2 s
        body = _error(c.post("/evaluate", json={"graduation_year": 2020}), 503)
        assert body["diagnostics"][0]["code"] == "overloaded" and pool.admitted == 1
        gate.open()
        assert running.result().status_code == 200


@pytest.mark.slow  # 20 s: two start-ups and shutdowns of the pool
def test_an_app_run_twice_starts_its_workers_again(rules_dir: Path) -> None:
    with _app(_settings(rules_dir, workers=1)) as app:
        for _ in range(2):  # each `with` runs the lifespan: start-up, then shutdown
            with TestClient(app) as c:
                assert c.post("/evaluate", json={"graduation_year": 2020}).status_code == 200


def test_a_worker_that_dies_is_replaced_and_the_request_gets_json(rules_dir: Path, tmp_path: Path) -> None:
    gate = _Gate(tmp_path, "die")
    with _app(_settings(rules_dir, workers=1), worker_command=gate.command) as app, TestClient(app) as c:
        body = _error(c.post("/evaluate", json={"graduation_year": 2020}), 500)
        assert body["diagnostics"][0]["code"] == "internal_error"
        _until(lambda: len(app.state.pool._idle) == 1)
        assert app.state.pool.restarts == 1 and c.get("/health").text == "ok"


def test_concurrent_requests_give_the_serial_results(client: Any, rules_dir: Path) -> None:
    profiles = [_profile(p.name) for p in sorted(PROFILES.glob("*.toml"))]
    expected = [_expected(rules_dir, p) for p in profiles]
    jobs = [(k % len(profiles)) for k in range(48)]

    def call(k: int) -> tuple[int, Any]:
        while True:  # a 503 is the pool's back-pressure: retry as a client would
            r = client.post("/evaluate", json=profiles[k])
            if r.status_code != 503:
                assert r.status_code == 200, r.text
                return k, r.json()
            time.sleep(0.01)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, jobs))
    for k, data in results:
        assert data == expected[k]


# --- settings and start-up ----------------------------------------------------------------------


def _authoring_guide_rules(folder: Path) -> Path:
    """The rule set docs/authoring.md builds (the last version of each file it writes)."""
    from test_docs_examples import FileBlock, parse

    for step in parse((REPO / "docs" / "authoring.md").read_text(encoding="utf-8")):
        if isinstance(step, FileBlock):
            target = folder / step.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.content, encoding="utf-8")
    return folder / "my_rules"


def test_settings_from_the_environment() -> None:
    env = {"SMARTPICK_RULES": f"a{os.pathsep}b", "SMARTPICK_WORKERS": "3", "SMARTPICK_DEADLINE": "2.5", "SMARTPICK_AS_OF": "2027"}
    s = Settings.from_env(env)
    assert (s.rules, s.rules_only, s.workers, s.deadline, s.as_of, s.queue) == (("a", "b"), None, 3, 2.5, 2027, 4)
    assert Settings.from_env({"SMARTPICK_RULES_ONLY": "x"}).rules_only == ("x",)


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({"SMARTPICK_RULES": "a", "SMARTPICK_RULES_ONLY": "b"}, "SMARTPICK_RULES_ONLY"),
        ({"SMARTPICK_WORKERS": "two"}, "SMARTPICK_WORKERS"),
        ({"SMARTPICK_WORKERS": "0"}, "SMARTPICK_WORKERS"),
        ({"SMARTPICK_QUEUE": "-1"}, "SMARTPICK_QUEUE"),
        ({"SMARTPICK_DEADLINE": "nan"}, "SMARTPICK_DEADLINE"),
        ({"SMARTPICK_BODY_TIMEOUT": "0"}, "SMARTPICK_BODY_TIMEOUT"),
        ({"SMARTPICK_MAX_BODY_BYTES": "1e6"}, "SMARTPICK_MAX_BODY_BYTES"),
        ({"SMARTPICK_RULES_ONLY": os.pathsep}, "SMARTPICK_RULES_ONLY"),
    ],
)
def test_a_bad_setting_names_its_variable(env: dict[str, str], where: str) -> None:
    with pytest.raises(app_module.ConfigError) as info:
        Settings.from_env(env)
    assert info.value.location.file == where


@pytest.mark.slow  # 24 s: a worker loading every shipped rule set
def test_smartpick_rules_adds_to_the_shipped_rule_sets(tmp_path: Path) -> None:
    # issue 13: the README called them extra rules, but they replaced the shipped ones; the
    # authoring guide's rule set requires the shipped `la_ties` and overrides a shipped rule
    reason = shipped_rules_load()
    if reason:
        pytest.skip(reason)
    mine = _authoring_guide_rules(tmp_path)
    settings = Settings.from_env({"SMARTPICK_RULES": str(mine), "SMARTPICK_CATALOG": str(SMALL_CATALOG), "SMARTPICK_AS_OF": "2026", "SMARTPICK_WORKERS": "1"})
    with _app(settings) as app, TestClient(app) as c:
        names = [r["name"] for r in c.get("/rulesets").json()["rulesets"]]
        assert names[0] == "base" and "la_ties" in names and names[-1] == "office"
        profile = tomllib.loads((tmp_path / "kern_applicant.toml").read_text(encoding="utf-8"))
        r = c.post("/evaluate", json=profile)
        assert r.status_code == 200, r.text
        # the Kern program office.kern_program fires for is excluded for this applicant, and
        # schema 4 writes an excluded program as its exclusions: the provenance names the rule set
        data = r.json()
        assert "office" in [s["name"] for s in data["provenance"]["rulesets"]]
        assert "im-kern-002" in [row[0] for row in data["excluded_programs"]["programs"]]


def test_smartpick_rules_only_replaces_them(rules_dir: Path) -> None:
    settings = Settings.from_env({"SMARTPICK_RULES_ONLY": str(rules_dir), "SMARTPICK_CATALOG": str(SMALL_CATALOG), "SMARTPICK_WORKERS": "1"})
    with _app(settings) as app, TestClient(app) as c:
        assert [r["name"] for r in c.get("/rulesets").json()["rulesets"]] == ["mini"]


@pytest.mark.slow
def test_the_shipped_defaults_start(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = shipped_rules_load()
    if reason:
        pytest.skip(reason)
    for name in ("SMARTPICK_RULES", "SMARTPICK_RULES_ONLY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMARTPICK_CATALOG", str(SMALL_CATALOG))
    monkeypatch.setenv("SMARTPICK_AS_OF", "2026")
    monkeypatch.setenv("SMARTPICK_WORKERS", "1")
    app = app_module.create_app()
    with TestClient(app) as c:
        data = c.get("/rulesets").json()
        assert [r["name"] for r in data["rulesets"]][:1] == ["base"]
        r = c.post("/evaluate", json=_profile("default.toml"))
        assert r.status_code == 200 and r.json()["breadth"]["chosen"]


def _service_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTPICK_", "UVICORN_"))}
    env.update(extra)
    return env


@pytest.mark.parametrize("how", ["uvicorn", "server.py"])
def test_a_rule_set_that_does_not_load_is_one_line_at_start(tmp_path: Path, how: str) -> None:
    # issue 13: the authoring guide's rule set, alone, crashed the service with a traceback
    mine = _authoring_guide_rules(tmp_path)
    if how == "uvicorn":
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "app:create_app", "--app-dir", str(SERVICE_DIR), "--port", "0"]
    else:
        cmd = [sys.executable, str(SERVICE_DIR / "server.py"), "--port", "0"]
    proc = subprocess.run(cmd, env=_service_env(SMARTPICK_RULES_ONLY=str(mine)), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"smartpick-service: {mine}/office.toml:1:1: unknown_ruleset: requires rule set `la_ties`, which is not loaded"
    ], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_bad_setting_is_one_line_at_start(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "app:create_app", "--app-dir", str(SERVICE_DIR), "--port", "0"]
    proc = subprocess.run(cmd, env=_service_env(SMARTPICK_WORKERS="lots"), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "smartpick-service: SMARTPICK_WORKERS: input_error: expected a whole number, got `lots`"


# --- the server: slow clients -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server(rules_dir: Path, *, uvicorn_command: bool = False, **env: str) -> Iterator[int]:
    """server.py (or the uvicorn command with its protocol class) on a free port, with ``env``
    added; yields the port."""
    port = _free_port()
    environ = _service_env(SMARTPICK_RULES_ONLY=str(rules_dir), SMARTPICK_CATALOG=str(SMALL_CATALOG), SMARTPICK_WORKERS="1", **env)
    if uvicorn_command:
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "app:create_app", "--app-dir", str(SERVICE_DIR), "--http", "server:GuardedH11Protocol", "--port", str(port), "--no-access-log"]
    else:
        cmd = [sys.executable, str(SERVICE_DIR / "server.py"), "--port", str(port), "--no-access-log"]
    proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                    if s.recv(100).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "server.py exited")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def server(rules_dir: Path) -> Iterator[int]:
    """A server with a 1 s deadline for request heads."""
    with _server(rules_dir, SMARTPICK_HEADER_TIMEOUT="1") as port:
        yield port


def _closed_within(s: socket.socket, seconds: float) -> bool:
    s.settimeout(seconds)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_client_trickling_its_headers_is_dropped(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as s:
        s.sendall(b"POST /evaluate HTTP/1.1\r\n")
        for _ in range(3):  # each byte would reset a keep-alive timer; the head deadline holds
            time.sleep(0.4)
            s.sendall(b"x")
        assert _closed_within(s, 20)


@pytest.mark.slow
def test_the_uvicorn_command_can_use_the_guarded_protocol(rules_dir: Path) -> None:
    with _server(rules_dir, uvicorn_command=True, SMARTPICK_HEADER_TIMEOUT="1") as port, socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /hea")
        assert _closed_within(s, 20)


def test_a_finished_request_rearms_the_head_deadline(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        s.settimeout(20)
        answer = b""
        while not answer.endswith(b"\r\n\r\nok"):
            answer += s.recv(200)
        assert answer.startswith(b"HTTP/1.1 200")
        s.sendall(b"GET /hea")  # the next request's head never completes
        assert _closed_within(s, 20)


@pytest.mark.slow
def test_past_the_connection_cap_the_clients_waiting_longest_give_way(rules_dir: Path) -> None:
    # a long head deadline, so only the cap can close them
    with _server(rules_dir, SMARTPICK_HEADER_TIMEOUT="60", SMARTPICK_MAX_CONNECTIONS="6") as port:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(6)]
        try:
            time.sleep(1.5)  # no connection is evicted before it has waited a second
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                s.settimeout(20)
                assert s.recv(200).startswith(b"HTTP/1.1 200")
                # 7 open, evicted down to half the cap: the four that waited longest
                assert [_closed_within(c, 0.5 if k >= 4 else 20) for k, c in enumerate(idle)] == [True] * 4 + [False] * 2
        finally:
            for c in idle:
                c.close()


def test_a_real_server_refuses_a_chunked_body_mid_stream(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as s:
        s.sendall(b"POST /evaluate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        s.settimeout(20)
        piece = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
        answer = b""
        try:
            for _ in range(64):  # 4 MB offered; the answer comes after 256 KB
                s.sendall(piece)
                if select.select([s], [], [], 0)[0]:
                    answer += s.recv(4096)
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.settimeout(20)
        while b"\r\n\r\n" not in answer:
            more = s.recv(4096)
            if not more:
                break
            answer += more
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
