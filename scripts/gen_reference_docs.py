"""Generate the reference pages from the models: docs/profile.md, docs/catalog.md, docs/fields.md,
and the function table of docs/rule-language.md.

    python scripts/gen_reference_docs.py           # rewrite the pages
    python scripts/gen_reference_docs.py --check   # exit 1 if a page is not current

Types, defaults, ranges and allowed values come from the attrs models, the meanings from
src/smartpick_rules/domain/fielddocs.py, the readable paths from the type checker's fact schema,
the functions from src/smartpick_rules/language/functions.py. Edit those, not the pages. A page
written by hand keeps generated parts between ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->``; only those are rewritten.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from smartpick_rules.reports.reference import catalog_page, fields_page, functions_table, profile_page

ROOT = Path(__file__).resolve().parent.parent
PAGES: dict[str, Callable[[], str]] = {
    "docs/profile.md": profile_page,
    "docs/catalog.md": catalog_page,
    "docs/fields.md": fields_page,
}
#: page -> generated part's name -> its text
PARTS: dict[str, dict[str, Callable[[], str]]] = {
    "docs/rule-language.md": {"functions": functions_table},
}


def fill(text: str, name: str, body: str) -> str:
    """``text`` with the part between the markers named ``name`` replaced by ``body``."""
    begin, end = f"<!-- generated:{name} -->\n", f"<!-- /generated:{name} -->"
    head, found, rest = text.partition(begin)
    if not found or end not in rest:
        raise ValueError(f"no `{begin.strip()}` ... `{end}` markers")
    # blank lines around the body: Markdown reads an HTML comment glued to a table as one HTML block
    return head + begin + "\n" + body + "\n" + end + rest.split(end, 1)[1]


def expected(name: str) -> str:
    if name in PAGES:
        return PAGES[name]()
    text = (ROOT / name).read_text(encoding="utf-8")
    for part, body in PARTS[name].items():
        text = fill(text, part, body())
    return text


def stale() -> list[str]:
    return [name for name in (*PAGES, *PARTS) if not (ROOT / name).is_file() or (ROOT / name).read_text(encoding="utf-8") != expected(name)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is not current")
    args = parser.parse_args()
    if args.check:
        out = stale()
        for name in out:
            print(f"{name} is out of date: run python scripts/gen_reference_docs.py")
        return 1 if out else 0
    for name in (*PAGES, *PARTS):
        (ROOT / name).write_text(expected(name), encoding="utf-8")
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
