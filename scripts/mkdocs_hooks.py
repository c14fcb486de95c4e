"""MkDocs hooks for the documentation site (mkdocs.yml `hooks:`).

The docs mark an example file with ```` ```toml file=rules/kern.toml ````: tests/test_docs_examples.py
writes such blocks to disk and runs the commands after them. Python-Markdown's fences do not
know ``file=`` (the block would render as plain text), so the site shows it as the block's
title, which is what a reader needs: the name to save the file under.
"""

from __future__ import annotations

import re
from typing import Any

_FILE_FENCE = re.compile(r"^(?P<open> {0,3}(?:`{3,}|~{3,})[\w+-]*)(?P<rest>[^\n`]*)$", re.MULTILINE)
_FILE_ATTR = re.compile(r"\bfile=(\S+)")


def _retitle(match: re.Match[str]) -> str:
    rest = match.group("rest")
    if "file=" not in rest:
        return match.group(0)
    return match.group("open") + _FILE_ATTR.sub(lambda m: f'title="{m.group(1)}"', rest)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return _FILE_FENCE.sub(_retitle, markdown)
