"""Untrusted text made safe for where it goes: a terminal, a Markdown table cell, JSON on a terminal.

Catalog names, rule explanations and even error messages quote text from files someone else
wrote. Written raw to a terminal, an ESC or OSC sequence can recolour the screen, retitle the
window or hide what follows, and a bidirectional override can make text read backwards; a
newline inside a value can forge a line of a table. Every command writes through these.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean", "clean_lines", "display_width", "json_for_terminal", "md"]

# C0 controls but newline, DEL, C1 controls, zero-width and bidirectional formatting characters
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u2028\u2029]")
# what json.dumps(ensure_ascii=False) leaves raw inside strings but a terminal would act on
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u2028\u2029]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&!#~])")


def clean(text: object) -> str:
    """One line of text safe for a terminal: no control, zero-width or bidi characters.

    Tabs and newlines become spaces, so a value can never start a new line of output.
    """
    return _CONTROL_OR_NEWLINE.sub(lambda m: " " if m.group(0) in "\t\n\r\u2028\u2029" else "", str(text))


def clean_lines(text: str) -> str:
    """Multi-line text (a whole report) safe for a terminal: control characters dropped, newlines kept."""
    return _CONTROL.sub(lambda m: " " if m.group(0) == "\t" else "", text.replace("\r\n", "\n"))


def json_for_terminal(text: str) -> str:
    """JSON text with the characters a terminal would act on escaped as ``\\u`` and four hex digits (same data).

    ``json.dumps`` escapes C0 controls itself; C1 controls, bidi and line separators it leaves raw.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def md(text: object) -> str:
    """Untrusted text for Markdown, a table cell included: specials escaped, one line."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text))


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (wide East Asian characters take two)."""
    return sum(
        2 if unicodedata.east_asian_width(c) in ("W", "F") else 0 if unicodedata.combining(c) else 1 for c in text
    )
