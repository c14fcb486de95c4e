"""Generate the reference pages from the models: docs/profile.md, docs/catalog.md, docs/fields.md.

    python scripts/gen_reference_docs.py           # rewrite the pages
    python scripts/gen_reference_docs.py --check   # exit 1 if a page is not current

Types, defaults, ranges and allowed values come from the attrs models, the meanings from
src/smartpick_rules/domain/fielddocs.py, the readable paths from the type checker's fact schema.
Edit those, not the pages.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from smartpick_rules.reports.reference import catalog_page, fields_page, profile_page

ROOT = Path(__file__).resolve().parent.parent
PAGES: dict[str, Callable[[], str]] = {
    "docs/profile.md": profile_page,
    "docs/catalog.md": catalog_page,
    "docs/fields.md": fields_page,
}


def stale() -> list[str]:
    return [name for name, page in PAGES.items() if not (ROOT / name).is_file() or (ROOT / name).read_text(encoding="utf-8") != page()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is not current")
    args = parser.parse_args()
    if args.check:
        out = stale()
        for name in out:
            print(f"{name} is out of date: run python scripts/gen_reference_docs.py")
        return 1 if out else 0
    for name, page in PAGES.items():
        (ROOT / name).write_text(page(), encoding="utf-8")
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
