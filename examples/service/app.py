"""A small web service embedding smartpick_rules: load and compile once, evaluate per request.

    POST /evaluate   a profile as JSON in, the Recommendation's JSON out (docs/audit-trail.md);
                     422 with the diagnostics when the profile does not fit the model
    GET  /rulesets   the rule sets in force: names, versions and content hashes
    GET  /health     "ok" once the rule sets are compiled and the catalog is loaded

Run it (with the ``service`` extra installed)::

    uvicorn --factory app:create_app --app-dir examples/service

Everything that is expensive happens once, in :func:`create_app`: loading and type-checking the
rule sets, compiling them for the engine, reading the catalog, and one warm-up evaluation that
fills the per-catalog column cache. The loaded ``RuleSet`` and ``Catalog`` are immutable, so the
request handlers share them across threads with no lock; each request's evaluation runs in
Starlette's thread pool so the event loop never blocks on it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

import smartpick_rules as sr
from smartpick_rules.engines import compile_ruleset

#: requests larger than this are refused before they are parsed (profiles are small)
MAX_BODY_BYTES = 256 * 1024


class Service:
    """What every request shares: the compiled rule sets, the catalog, the engine."""

    def __init__(
        self,
        rules: Sequence[str | Path] = (),
        catalog: str | Path | None = None,
        *,
        engine: str = "native",
        as_of: int | None = None,
    ) -> None:
        self.rules = sr.load_rules(*rules)
        self.engine = engine
        compile_ruleset(self.rules, engine)  # cached on the immutable RuleSet
        self.catalog = sr.load_catalog(catalog or sr.sample_catalog_path())
        self.as_of = as_of
        self.started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        # one warm-up evaluation fills the catalog's column cache before requests share it
        sr.evaluate({"graduation_year": 2020}, self.catalog, self.rules, engine=engine, as_of=as_of or 2026)

    def evaluate(self, profile: dict[str, Any], as_of: int | None) -> str:
        rec = sr.evaluate(profile, self.catalog, self.rules, engine=self.engine, as_of=as_of or self.as_of)
        return rec.to_json()

    def rulesets(self) -> dict[str, Any]:
        return {
            "library_version": sr.__version__,
            "engine": self.engine,
            "rules": len(self.rules),
            "rulesets": [{"name": r.name, "version": r.version, "sha256": r.sha256} for r in self.rules.rulesets],
            "catalog": {"programs": len(self.catalog), "source": Path(self.catalog.source).name},
            "started": self.started,
        }


def _problem(status: int, title: str, diagnostics: Sequence[sr.Diagnostic] = ()) -> JSONResponse:
    return JSONResponse({"error": title, "diagnostics": [d.to_dict() for d in diagnostics]}, status_code=status)


def create_app(
    rules: Sequence[str | Path] | None = None,
    catalog: str | Path | None = None,
    *,
    engine: str | None = None,
    as_of: int | None = None,
) -> Starlette:
    """Build the app. Arguments default to SMARTPICK_RULES (os.pathsep-separated), SMARTPICK_CATALOG, SMARTPICK_ENGINE."""
    if rules is None:
        env = os.environ.get("SMARTPICK_RULES", "")
        rules = [p for p in env.split(os.pathsep) if p]
    catalog = catalog or os.environ.get("SMARTPICK_CATALOG") or None
    service = Service(rules, catalog, engine=engine or os.environ.get("SMARTPICK_ENGINE", "native"), as_of=as_of)

    async def evaluate(request: Request) -> Response:
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY_BYTES):
            return _problem(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _problem(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = sr.Location("<request body>", getattr(exc, "lineno", 0), getattr(exc, "colno", 0))
            return _problem(400, "the request body is not JSON", [sr.Diagnostic("parse_error", str(exc), where)])
        except RecursionError:
            return _problem(400, "the request body is nested too deeply")
        if not isinstance(data, dict):
            return _problem(
                422,
                "invalid profile",
                [sr.Diagnostic("input_error", "expected a JSON object (a profile)", sr.Location("<request body>"))],
            )
        as_of_text = request.query_params.get("as_of")
        as_of_year: int | None = None
        if as_of_text is not None:
            if not as_of_text.isdigit():
                return _problem(422, "invalid as_of", [sr.Diagnostic("input_error", "as_of must be a year", sr.Location("?as_of"))])
            as_of_year = int(as_of_text)
        try:
            text = await run_in_threadpool(service.evaluate, data, as_of_year)
        except sr.InputError as exc:
            return _problem(422, "invalid profile", exc.diagnostics)
        except sr.SmartpickError as exc:
            return _problem(500, "the evaluation failed", exc.diagnostics)
        return Response(text, media_type="application/json")

    async def rulesets(_request: Request) -> Response:
        return JSONResponse(service.rulesets())

    async def health(_request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/evaluate", evaluate, methods=["POST"]),
            Route("/rulesets", rulesets, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    app.state.service = service
    return app
