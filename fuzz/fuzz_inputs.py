"""Atheris harness: the catalog and profile loaders (CSV, JSON, TOML), then one evaluation.

The first byte picks what the rest (raw bytes, BOMs and invalid UTF-8 included) is written as:
0 a catalog ``.csv``, 1 a catalog ``.json``, 2 a catalog ``.toml``, 3 a profile ``.json``, 4 a
profile ``.toml``. The file goes through the public loader (``load_catalog`` /
``load_profile``); what loads is evaluated with a small fixed rule set that reads every program
field, and serialised. Refusals (``SmartpickError``) are fine; anything else is a crash.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["smartpick_rules", "tomllib", "json", "csv"]):
    import smartpick_rules as sr
    from smartpick_rules.ruleset.load import load_rules_from_text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fuzz._common import guard

RULES = load_rules_from_text(
    [
        (
            "fuzz_inputs.toml",
            """[ruleset]
name = "fi"
[[rule]]
id = "fi.low"
stage = "profile"
when = "known(applicant.step2_ck.score) and applicant.step2_ck.score < 230"
then = { tag = "low", odds = 0.75 }
explain = "CK {applicant.step2_ck.score}"
[[rule]]
id = "fi.min"
stage = "program"
when = ["known(program.min_step2_ck)", "applicant.step2_ck.score < program.min_step2_ck"]
then = { exclude = "below {program.min_step2_ck}" }
[[rule]]
id = "fi.share"
stage = "program"
when = "program.img_share * 100 + program.positions / 2 > years_since(applicant.graduation_year)"
then = { odds = 1.65, tag = "img_friendly" }
explain = "share {program.img_share} positions {program.positions} in {program.city}"
[[rule]]
id = "fi.visa"
stage = "program"
when = "applicant.visa == 'j1' and not program.sponsors_j1 and not program.sponsors_h1b"
then = { exclude = "no visa" }
[[rule]]
id = "fi.tags"
stage = "program"
when = "count(program.tags) > 0 and 'x' in program.tags and program.region == 'la_county'"
then = { priority = 10 }
[[rule]]
id = "fi.att"
stage = "program"
when = "known(program.max_attempts) and applicant.step1.attempts > program.max_attempts"
then = { odds = 0.15 }
[[rule]]
id = "fi.ties"
stage = "profile"
when = "total(applicant.ties, item.years, item.region == 'la_county') >= 1"
then = { odds = 1.2 }
[[rule]]
id = "fi.breadth"
stage = "list"
when = "list.size > 0"
then = { breadth = { min = "min(list.size, 10)", max = "max(list.likely_count, list.size)" } }
""",
        )
    ]
)
DEFAULT_PROFILE = sr.profile_from_data({"graduation_year": 2018, "step2_ck": {"score": 221}, "visa": "j1"})
_BASE = {"name": "P", "specialty": "internal_medicine", "state": "CA", "program_type": "community"}
DEFAULT_CATALOG = sr.catalog_from_data(
    [{**_BASE, "id": "a", "region": "la_county", "min_step2_ck": 230}, {**_BASE, "id": "b", "region": "kern"}]
)
SUFFIX = [".csv", ".json", ".toml", ".json", ".toml"]
FOLDER = Path(tempfile.mkdtemp(prefix="smartpick-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))


def one(data: bytes) -> None:
    if not data:
        return
    mode = data[0] % len(SUFFIX)
    path = FOLDER / f"input{SUFFIX[mode]}"
    path.write_bytes(data[1:])
    if mode <= 2:
        catalog = sr.load_catalog(path)
        if len(catalog) <= 200:
            sr.evaluate(DEFAULT_PROFILE, catalog, RULES, as_of=2026).to_json()
    else:
        profile = sr.load_profile(path)
        sr.evaluate(profile, DEFAULT_CATALOG, RULES, as_of=2026).to_json()


def test_one_input(data: bytes) -> None:
    guard("inputs", data, lambda: one(data))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
