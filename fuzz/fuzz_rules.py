"""Atheris harness: the TOML rule loader, and evaluation of whatever it accepts.

The first byte picks a mode:

* even: the rest is a whole rule file (UTF-8, invalid bytes replaced) for
  ``load_rules_from_text``;
* odd: the rest is one expression placed in a valid rule file: a program-stage condition
  (1, with a rule chaining on its tag), a profile-stage condition setting a derived value
  (3), or a list-stage condition that is also a breadth bound (5), so the fuzzer reaches the
  type checker, the planner, the vectorised evaluator and the list stage with expressions the
  checker accepted.

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
    from smartpick_rules.ruleset.load import load_rules_from_text

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

TEMPLATES = {
    # a program-stage condition, with a second rule chaining on its tag
    1: """[ruleset]
name = "fuzz"
[[rule]]
id = "fuzz.p"
stage = "program"
when = {body}
then = {{ tag = "hit", odds = 1.1, priority = 2 }}
explain = "fired"
[[rule]]
id = "fuzz.q"
stage = "program"
when = "has('hit')"
then = {{ odds = 0.9 }}
""",
    # a profile-stage condition that sets a derived value program rules read
    3: """[ruleset]
name = "fuzz"
[[rule]]
id = "fuzz.p"
stage = "profile"
when = {body}
then = {{ tag = "hit", odds = 1.1, set = {{ band = 2 }} }}
[[rule]]
id = "fuzz.q"
stage = "program"
when = "derived.band > 1 and has('hit')"
then = {{ odds = 0.9 }}
""",
    # a list-stage condition, and the same text as a breadth bound
    5: """[ruleset]
name = "fuzz"
[[rule]]
id = "fuzz.l"
stage = "list"
when = {body}
then = {{ advice = "list" }}
[[rule]]
id = "fuzz.b"
stage = "list"
when = "true"
then = {{ breadth = {{ min = 1, max = {body} }} }}
""",
}


def one(data: bytes) -> None:
    if not data:
        return
    mode, body = data[0] % 6, data[1:].decode("utf-8", errors="replace")
    text = body if mode % 2 == 0 else TEMPLATES[mode].format(body=json.dumps(body))
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
