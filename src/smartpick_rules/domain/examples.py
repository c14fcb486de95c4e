"""The example applicant profiles shipped with the package, reachable by name.

They live in ``examples/profiles/`` at the repository's root (where the tests and docs use
them) and are installed in the wheel as ``smartpick_rules/examples/``, so that
``smartpick-rules evaluate --example im_la_low_scores`` works right after ``pip install``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import Diagnostic, InputError, Location, did_you_mean

__all__ = ["example_names", "example_profile_path", "example_profiles_path"]


def example_profiles_path() -> Path:
    """The folder of the shipped example profiles (installed, or ``examples/profiles`` in a checkout)."""
    installed = Path(str(resources.files("smartpick_rules") / "examples"))
    if installed.is_dir() and any(installed.glob("*.toml")):
        return installed
    checkout = Path(__file__).resolve().parents[3] / "examples" / "profiles"
    if checkout.is_dir():
        return checkout
    return installed


def example_names() -> list[str]:
    """The names ``--example`` accepts: the example files' names without ``.toml``."""
    return sorted(p.stem for p in example_profiles_path().glob("*.toml"))


def example_profile_path(name: str) -> Path:
    """The file of the example profile ``name`` (``"im_la_low_scores"``); an ``InputError`` if there is none."""
    names = example_names()
    key = name.removesuffix(".toml")
    if key not in names:
        raise InputError(
            Diagnostic(
                "input_error",
                f"no example profile `{name}`",
                Location("<examples>"),
                suggestion=did_you_mean(key, names),
                help="the examples: " + ", ".join(names),
            )
        )
    return example_profiles_path() / f"{key}.toml"
