"""Atheris harness: the TOML rule loader, and evaluation of whatever it accepts.

The first byte picks a mode:

* even: the rest is a whole rule file (UTF-8, invalid bytes replaced) for
  ``load_rules_from_text``;
* odd: the rest is one ``when`` condition, placed in a valid program-stage rule (plus a
  profile-stage rule reading it too), so the fuzzer reaches the type checker, the planner and
  the vectorised evaluator with conditions that the checker accepted.

A rule set that loads is evaluated against a small fixed profile and catalog and serialised
(``to_json``). Refusals (``SmartpickError``) are fine; any other exception is a crash.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["smartpick_rules", "tomllib"]):
    import smartpick_rules as sr
    from smartpick_rules.loader import load_rules_from_text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fuzz._common import guard

PROFILE = sr.profile_from_data(
    {
        "graduation_year": 2019,
        "step1": {"score": 210, "attempts": 2, "passed": True},
        "step2_ck": {"score": 224},
        "visa": "j1",
        "languages": ["English", "Spanish"],
        "usce": [{"kind": "hands_on", "months": 3, "region": "la_county", "letter": True}],
        "ties": [{"kind": "lived", "region": "la_county", "years": 2}],
        "preferences": {"specialties": ["internal_medicine"], "application_budget": 80},
    }
)
_BASE = {"name": "P", "specialty": "internal_medicine", "state": "CA", "program_type": "community"}
CATALOG = sr.catalog_from_data(
    [
        {**_BASE, "id": "a", "region": "la_county", "min_step2_ck": 230, "img_share": 0.3, "tags": ["x"]},
        {**_BASE, "id": "b", "region": "kern", "positions": 0, "sponsors_j1": True},
        {**_BASE, "id": "c", "region": "out_of_state", "program_type": "university", "max_attempts": 1},
        {**_BASE, "id": "d", "region": "orange_county", "min_step1": 300, "max_years_since_graduation": 0},
    ]
)

TEMPLATE = """[ruleset]
name = "fuzz"
[[rule]]
id = "fuzz.p"
stage = "program"
when = {when}
then = {{ tag = "hit", score = 1, priority = 2 }}
explain = "fired"
[[rule]]
id = "fuzz.q"
stage = "program"
when = "has('hit')"
then = {{ score = -1 }}
"""


def one(data: bytes) -> None:
    if not data:
        return
    mode, body = data[0], data[1:].decode("utf-8", errors="replace")
    if mode % 2 == 0:
        text = body
    else:
        text = TEMPLATE.format(when=json.dumps(body))
    rules = load_rules_from_text([("fuzz.toml", text)])
    rec = sr.evaluate(PROFILE, CATALOG, rules, as_of=2026)
    rec.to_json()


def test_one_input(data: bytes) -> None:
    guard("rules", data, lambda: one(data))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
