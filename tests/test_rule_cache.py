"""The cache of parsed rule-set files (ruleset.cache): the same rule set, whatever the cache
holds, and never a failed command because of it."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

import smartpick_rules as sr
from smartpick_rules.ruleset import cache as cache_mod
from smartpick_rules.ruleset import load as load_mod
from smartpick_rules.ruleset.cache import RuleCache, default_cache_dir
from test_cli_support import DEFAULT_PROFILE, MINI_RULES, run_main

OTHER_RULES = """\
[ruleset]
name = "other"
version = "1.0.0"

[[rule]]
id = "other.community"
stage = "program"
when = "program.program_type == 'community'"
then = { odds = 1.1 }
source = "Guide"
"""


def write_mini(path: Path, text: str = MINI_RULES) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files parsed from their text (not read back from a cache), by name."""
    seen: list[str] = []
    real = load_mod._parse_file

    def counting(text: str, file: str, *args: object, **kwargs: object) -> object:
        seen.append(Path(file).name)
        return real(text, file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(load_mod, "_parse_file", counting)
    return seen


def _entries(folder: Path) -> list[Path]:
    return sorted((folder / f"rules-{cache_mod.CACHE_FORMAT}").glob("*.pickle"))


def test_a_second_load_reads_every_file_back_and_gives_the_same_rules(
    tmp_path: Path, parses: list[str], sample_catalog: sr.Catalog, default_profile: sr.Profile
) -> None:
    cache = RuleCache(tmp_path)
    first = sr.load_rules(cache=cache)
    shipped = len(first.rulesets)
    assert len(parses) == shipped and len(_entries(tmp_path)) == shipped
    parses.clear()
    second = sr.load_rules(cache=cache)
    assert parses == []
    assert second == first
    assert second.describe() == first.describe()
    # what an auditor reads is the same, to the byte (locations, sources, rule-set hashes)
    a = sr.evaluate(default_profile, sample_catalog, first, as_of=2026)
    b = sr.evaluate(default_profile, sample_catalog, second, as_of=2026)
    assert a.to_json() == b.to_json()
    # without a cache nothing is read back and nothing is written
    parses.clear()
    assert sr.load_rules() == first and len(parses) == shipped


def test_an_edited_file_is_parsed_again_and_the_others_are_not(tmp_path: Path, parses: list[str]) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    write_mini(rules / "mini.toml")
    write_mini(rules / "other.toml", OTHER_RULES)
    cache = RuleCache(tmp_path / "cache")
    before = sr.load_rules(rules, cache=cache)
    assert sorted(parses) == ["mini.toml", "other.toml"]
    parses.clear()
    edited = (rules / "mini.toml").read_text().replace('version = "1.2.0"', 'version = "1.2.1"')
    assert edited != (rules / "mini.toml").read_text()
    (rules / "mini.toml").write_text(edited)
    after = sr.load_rules(rules, cache=cache)
    assert parses == ["mini.toml"]
    assert {r.name: r.version for r in after.rulesets}["mini"] == "1.2.1"
    assert {r.name: r.version for r in before.rulesets}["mini"] == "1.2.0"


def test_errors_are_never_cached_and_read_the_same_every_time(tmp_path: Path, parses: list[str]) -> None:
    cache = RuleCache(tmp_path / "cache")
    # a file that does not parse (a rule without its stage): parsed, and refused, every time
    bad = write_mini(tmp_path / "bad.toml", MINI_RULES.replace('stage = "program"\nsalience = 100\n', "salience = 100\n", 1))
    # a file that parses but asks for a field that does not exist: the checker refuses it every time
    typo = write_mini(tmp_path / "typo.toml", MINI_RULES.replace("applicant.step2_ck.score <", "applicant.step2_ck.scor <", 1))
    for path, says in ((bad, "stage"), (typo, "scor")):
        messages = []
        for _ in range(2):
            with pytest.raises(sr.RulesetError) as exc:
                sr.load_rules(path, cache=cache)
            messages.append(str(exc.value))
        assert messages[0] == messages[1] and says in messages[0] and path.name in messages[0]
    assert parses == ["bad.toml", "bad.toml", "typo.toml"]
    assert len(_entries(tmp_path / "cache")) == 1


def test_the_limits_are_part_of_the_key(tmp_path: Path, parses: list[str]) -> None:
    # a file accepted under generous limits is still refused under tighter ones
    cache = RuleCache(tmp_path)
    mini = tmp_path / "mini.toml"
    write_mini(mini)
    sr.load_rules(mini, cache=cache)
    with pytest.raises(sr.RulesetError, match="limit"):
        sr.load_rules(mini, cache=cache, limits=sr.Limits(max_expression_length=10))
    assert parses == ["mini.toml", "mini.toml"]


def test_a_damaged_or_foreign_entry_is_parsed_again_and_replaced(tmp_path: Path, parses: list[str]) -> None:
    cache = RuleCache(tmp_path)
    mini = tmp_path / "mini.toml"
    write_mini(mini)
    good = sr.load_rules(mini, cache=cache)
    (entry,) = _entries(tmp_path)
    for damage in (entry.read_bytes()[:100], b"not a pickle", pickle.dumps({"something": "else"})):
        entry.write_bytes(damage)
        parses.clear()
        assert sr.load_rules(mini, cache=cache) == good
        assert parses == ["mini.toml"]
        (entry,) = _entries(tmp_path)
        parses.clear()
        assert sr.load_rules(mini, cache=cache) == good and parses == []


def test_a_folder_it_cannot_write_only_means_parsing(tmp_path: Path, parses: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    cache = RuleCache(blocker / "below")  # a folder cannot be made under a file
    mini = tmp_path / "mini.toml"
    write_mini(mini)
    assert sr.load_rules(mini, cache=cache) == sr.load_rules(mini)
    assert parses == ["mini.toml", "mini.toml"]


def test_the_oldest_entries_go_beyond_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "MAX_ENTRIES", 3)
    cache = RuleCache(tmp_path)
    for k in range(5):
        cache.put(f"k{k}", k)
        path = tmp_path / f"rules-{cache_mod.CACHE_FORMAT}" / f"k{k}.pickle"
        os.utime(path, (1_000_000 + k, 1_000_000 + k))
    assert [p.stem for p in _entries(tmp_path)] == ["k2", "k3", "k4"]
    assert cache.get("k0") is None and cache.get("k4") == 4


def test_the_command_line_keeps_its_cache_where_the_environment_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMARTPICK_RULES_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "smartpick-rules"
    first = run_main("evaluate", DEFAULT_PROFILE, "--as-of", "2026", "--top", "5")
    assert first.code == 0, first.err
    assert len(_entries(tmp_path / "xdg" / "smartpick-rules")) == len(sr.load_rules().rulesets)
    again = run_main("evaluate", DEFAULT_PROFILE, "--as-of", "2026", "--top", "5")
    assert again.out == first.out
    monkeypatch.setenv("SMARTPICK_RULES_CACHE_DIR", str(tmp_path / "named"))
    assert default_cache_dir() == tmp_path / "named"
    # turned off: nothing written, the same output
    monkeypatch.setenv("SMARTPICK_RULES_NO_CACHE", "1")
    assert default_cache_dir() is None
    off = run_main("evaluate", DEFAULT_PROFILE, "--as-of", "2026", "--top", "5")
    assert off.out == first.out and not (tmp_path / "named").exists()


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="changing a file's owner needs root")
def test_an_entry_another_user_wrote_is_never_read(tmp_path: Path, parses: list[str]) -> None:
    # reading a pickle runs code: an entry planted by someone else is ignored, not unpickled
    cache = RuleCache(tmp_path)
    mini = write_mini(tmp_path / "mini.toml")
    good = sr.load_rules(mini, cache=cache)
    (entry,) = _entries(tmp_path)
    marker = tmp_path / "ran"

    class Planted:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.mkdir, (str(marker),))  # what unpickling it would do

    entry.write_bytes(pickle.dumps(Planted()))
    os.chown(entry, 12345, 12345)
    parses.clear()
    assert sr.load_rules(mini, cache=cache) == good
    assert parses == ["mini.toml"]
    assert not marker.exists()


def test_the_rule_test_command_reads_the_cache_too(tmp_path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import test_cli_support

    monkeypatch.setenv("SMARTPICK_RULES_CACHE_DIR", str(tmp_path / "cache"))
    folder = test_cli_support.write_mini(tmp_path)
    first = run_main("test", folder)
    assert first.code == 0, first.err + first.out
    assert parses == ["mini.toml"]
    again = run_main("test", folder)
    assert again.code == 0 and again.out == first.out
    assert parses == ["mini.toml"]
