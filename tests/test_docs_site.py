"""The documentation site (mkdocs.yml) cannot silently drift from docs/ and the public API.

CI runs the full ``mkdocs build --strict`` (broken links, anchors and API references); these
checks are the fast part of it, with no MkDocs installed: every page in the navigation exists,
every page in docs/ is in the navigation, and the API reference documents exactly the façade,
``smartpick_rules.__all__``, by its public names (so moving a module inside the package does
not break the page).
"""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

import pytest

import smartpick_rules as sr
from test_cli_support import REPO

DOCS = REPO / "docs"
MKDOCS_YML = REPO / "mkdocs.yml"

# A nav entry is "- page.md" or "- Title: page.md"; sections ("- Title:" with children) name none.
# a title may be quoted to hold a colon: - "Validity: the model": validity.md
_NAV_PAGE = re.compile(r"""^\s*-\s+(?:(?:"[^"\n]*"|'[^'\n]*'|[^:\n"']+):\s+)?(?P<page>\S+\.md)\s*$""")
_API_ENTRY = re.compile(r"^:::\s+(?P<ident>\S+)\s*$", re.MULTILINE)


def _config() -> str:
    return MKDOCS_YML.read_text(encoding="utf-8")


def nav_pages(config: str) -> list[str]:
    """The pages listed under ``nav:``, in order (the block ends at the next top-level key)."""
    lines = config.splitlines()
    start = lines.index("nav:")
    pages = []
    for line in lines[start + 1 :]:
        if line and not line[0].isspace() and not line.startswith("#"):
            break
        m = _NAV_PAGE.match(line)
        if m:
            pages.append(m.group("page"))
    return pages


def test_nav_parser_reads_titled_untitled_and_nested_entries() -> None:
    config = (
        "site_name: x\nnav:\n  - index.md\n  - Guide:\n      - The CLI: cli.md\n"
        '      - "Validity: the model": validity.md\n  # a note\n  - API: api.md\nplugins:\n  - search\n'
    )
    assert nav_pages(config) == ["index.md", "cli.md", "validity.md", "api.md"]


def test_every_nav_page_exists_and_is_listed_once() -> None:
    pages = nav_pages(_config())
    assert pages, "mkdocs.yml has no nav pages"
    missing = [p for p in pages if not (DOCS / p).is_file()]
    assert not missing, f"mkdocs.yml lists pages that are not in docs/: {missing}"
    twice = sorted({p for p in pages if pages.count(p) > 1})
    assert not twice, f"pages listed more than once in mkdocs.yml: {twice}"


def test_every_docs_page_is_in_the_nav() -> None:
    pages = set(nav_pages(_config()))
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    orphans = sorted(on_disk - pages)
    assert not orphans, f"docs pages missing from mkdocs.yml's nav (add them, or delete the file): {orphans}"


def test_api_reference_documents_exactly_the_facade() -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    idents = _API_ENTRY.findall(text)
    outside = [i for i in idents if not i.startswith("smartpick_rules.") or i.count(".") != 1]
    assert not outside, (
        f"docs/api.md names {outside}: reference the façade (`::: smartpick_rules.NAME`), "
        "not the module a name is defined in, so the page survives moves inside the package"
    )
    documented = [i.split(".", 1)[1] for i in idents]
    public = set(sr.__all__)
    assert not (set(documented) - public), f"docs/api.md documents names not in __all__: {set(documented) - public}"
    assert not (public - set(documented)), f"__all__ names missing from docs/api.md: {sorted(public - set(documented))}"
    assert len(documented) == len(set(documented)), "a name is documented twice in docs/api.md"


def test_included_files_exist() -> None:
    # changelog.md shows the repository's CHANGELOG.md through pymdownx.snippets ("--8<--").
    for page in DOCS.rglob("*.md"):
        for included in re.findall(r'^--8<--\s+"([^"]+)"', page.read_text(encoding="utf-8"), re.MULTILINE):
            assert (REPO / included).is_file(), f"{page.name} includes {included}, which does not exist"
    for hook in re.findall(r"^hooks:\n((?:\s+-\s+\S+\n)+)", _config(), re.MULTILINE):
        for path in re.findall(r"-\s+(\S+)", hook):
            assert (REPO / path).is_file(), f"mkdocs.yml names hook {path}, which does not exist"


def test_docs_cite_nothing_outside_the_repository() -> None:
    # CI has the project's research notes beside the checkout, readers of the site do not:
    # cite a source by name and address (docs/sources.md), never by a path outside the repository.
    offenders = []
    for page in sorted(DOCS.rglob("*.md")):
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\.\./shared/|\]\(\.\./", line):
                offenders.append(f"{page.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_docstrings_use_markdown_cross_references_not_sphinx_roles() -> None:
    # mkdocstrings prints ":class:`X`" verbatim; write [`X`][smartpick_rules.X] for a public name
    # (resolved against the API page) or a plain code span for anything else.
    role = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj|ref|const):`")
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "src").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if role.search(line)
    ]
    assert not found, f"Sphinx roles in docstrings: {found}"


def test_tables_start_after_a_blank_line() -> None:
    # Python-Markdown renders a table glued to the line above it as one paragraph of pipes.
    glued = []
    for page in sorted(DOCS.rglob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        in_fence = False
        for i, line in enumerate(lines):
            if re.match(r"^\s*(```|~~~)", line):
                in_fence = not in_fence
            if in_fence or i == 0 or i + 1 >= len(lines):
                continue
            header = line.startswith("|") and re.match(r"^\|\s*:?-{3,}", lines[i + 1])
            if header and lines[i - 1].strip() and not lines[i - 1].startswith("|"):
                glued.append(f"{page.relative_to(REPO)}:{i + 1}")
    assert not glued, f"tables with no blank line before them: {glued}"


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", REPO / "scripts" / "mkdocs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_file_blocks_render_with_their_file_name_as_title(hooks: ModuleType) -> None:
    # tests/test_docs_examples.py reads `file=PATH`; the site shows PATH as the block's title.
    page = "Save this:\n\n```toml file=my_rules/office.toml\n[ruleset]\n```\n\n```console\n$ ls\n```\n"
    out = hooks.on_page_markdown(page)
    assert '```toml title="my_rules/office.toml"\n[ruleset]\n```' in out
    assert "```console\n$ ls\n```" in out
    assert hooks.on_page_markdown("no fences, file=x.toml in prose\n") == "no fences, file=x.toml in prose\n"
