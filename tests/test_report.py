"""Reports: the terminal table, Markdown and the self-contained HTML file (rendered in Chromium)."""

from __future__ import annotations

import html as html_lib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import smartpick_rules as sr
from smartpick_rules.reports import render as report
from test_cli_support import DEFAULT_PROFILE, MINI_RULES, run_cli, write_mini

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'

# A rule set and catalog whose every text is hostile: rule files and catalogs are untrusted.
EVIL_RULES = (
    MINI_RULES.replace("Apply broadly: {list.size} programs are open to you", "Apply broadly <script>alert('advice')</script> & more")
    .replace('"needs a J-1 visa; the program does not sponsor it"', '"<img src=x onerror=alert(2)> no J-1"')
    .replace(
        'source = "Guide, Step Scores in Context"',
        'source = "</td></tr></table><script>alert(3)</script>"',
    )
)


def _evil_catalog(tmp: Path) -> Path:
    rows = [
        "id,name,specialty,state,region,program_type,city,sponsors_j1,min_step2_ck,tags",
        f'"p-<b>1","{EVIL.replace(chr(34), chr(34) * 2)} Internal Medicine",internal_medicine,CA,la_county,community,"Los <i>Angeles",true,,',
        'p2,"Plain ""Quoted"" & Co",internal_medicine,CA,orange_county,community,Irvine,true,,',
        "p3,Safe Program,internal_medicine,CA,kern,community,Bakersfield,true,230,",
        "p4,Flagship,internal_medicine,CA,la_county,university,LA,true,,academic_flagship",
        "p5,Out There,internal_medicine,NY,out_of_state,community,Albany,true,,",
        "p6,No Visa,internal_medicine,CA,la_county,community,Downey,false,,",
    ]
    path = tmp / "evil.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def evil(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mini.toml").write_text(EVIL_RULES, encoding="utf-8")
    return rules, _evil_catalog(tmp_path)


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> sr.Recommendation:
    rules = sr.load_rules(write_mini(tmp_path_factory.mktemp("mini")))
    return sr.evaluate(sr.load_profile(DEFAULT_PROFILE), sr.load_catalog(sr.sample_catalog_path()), rules, as_of=2026)


# --- table and markdown ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", [60, 80, 100, 120])
def test_table_fits_the_width(rec: sr.Recommendation, width: int) -> None:
    text = report.render_table(rec, top=40, width=width)
    assert max(report.display_width(line) for line in text.splitlines()) <= width


def test_table_lists_the_chosen_programs_in_order(rec: sr.Recommendation) -> None:
    text = report.render_table(rec, top=10)
    ids = re.findall(r"^\s*\d+\s+(?:likely|target|reach)\s+\S+\s+(\S+)", text, flags=re.M)
    assert ids == list(rec.breadth.chosen[:10])


def test_movers_are_the_biggest_program_effects(rec: sr.Recommendation) -> None:
    r = rec.chosen()[0]
    ms = report.movers(r)
    weights = [m.weight for m in ms]
    assert weights == sorted(weights, reverse=True)
    assert all(a.stage == "program" for a in r.audit if a.rule_id in {m.rule_id for m in ms})
    excluded = rec.excluded()[0]
    assert report.movers(excluded)[0].how == "excluded"


@pytest.mark.parametrize("fmt", ["table", "markdown", "html"])
def test_every_format_shows_chances_as_estimates_and_the_profile_odds(rec: sr.Recommendation, fmt: str) -> None:
    render = {"table": report.render_table, "markdown": report.render_markdown, "html": report.render_html}[fmt]
    flat = " ".join(render(rec).split())
    assert "estimate interview chances from published figures; they are not match odds" in flat
    # the one profile rule halves every program's odds: said once, above the list
    assert "odds of an interview by 0.5 in all:" in flat and "mini.low_step2" in flat and "odds x0.5" in flat
    first = rec.chosen()[0]
    assert first.chance is not None and report.percent(first.chance) in flat


def test_markdown_escapes_untrusted_text(evil: tuple[Path, Path]) -> None:
    rules, catalog = evil
    run = run_cli("evaluate", DEFAULT_PROFILE, "--rules", rules, "--catalog", catalog, "--as-of", "2026", "--format", "markdown")
    assert run.code == 0, run.err
    assert re.search(r"(?<!\\)<(?:script|img|/script)", run.out) is None
    assert r"\<script\>" in run.out and r"\<img src=x" in run.out
    rows = [line for line in run.out.splitlines() if re.match(r"\| \d+ \|", line)]
    assert rows
    assert all(len(re.split(r"(?<!\\)\|", row)) == 9 for row in rows)  # 7 cells, no cell broken by a `|`


def test_terminal_output_strips_control_characters() -> None:
    assert report.clean("a\x1b[31mred\x1b[0m\u202eb") == "a[31mred[0mb"


# --- HTML --------------------------------------------------------------------------------------


def test_html_escapes_every_untrusted_text(evil: tuple[Path, Path], tmp_path: Path) -> None:
    rules, catalog = evil
    out = tmp_path / "r.html"
    run = run_cli("evaluate", DEFAULT_PROFILE, "--rules", rules, "--catalog", catalog, "--as-of", "2026", "--format", "html", "-o", out)
    assert run.code == 0, run.err
    text = out.read_text(encoding="utf-8")
    # exactly one script element (ours) and no element from the data
    assert text.count("<script") == 1
    assert "<img" not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "Apply broadly &lt;script&gt;alert(&#x27;advice&#x27;)&lt;/script&gt; &amp; more" in text
    assert "&lt;img src=x onerror=alert(2)&gt; no J-1" in text
    assert 'id="p-p-&lt;b&gt;1"' in text


def test_html_is_self_contained(rec: sr.Recommendation) -> None:
    text = report.render_html(rec, title="T")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
    assert "<link" not in text
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert csp and "default-src &#x27;none&#x27;" in csp.group(1)


def test_html_groups_by_tier_and_region(rec: sr.Recommendation) -> None:
    text = report.render_html(rec, title="T")
    chosen = rec.chosen()
    for t in ("likely", "target", "reach"):
        n = sum(1 for r in chosen if r.tier == t)
        if n:
            assert f'id="tier-{t}"' in text and f"{n} programs</h3>" in text
    assert text.count('<li data-search="') == len(chosen)
    assert "<svg" in text and "Chosen programs by region and tier" in text
    first = chosen[0]
    assert f'id="p-{html_lib.escape(first.program.id)}"' in text
    for a in first.audit:
        assert html_lib.escape(a.rule_id) in text


def test_svg_chart_counts(rec: sr.Recommendation) -> None:
    svg = report.composition_svg(rec.chosen())
    titles = re.findall(r"<title>([^<]+): (\d+) (likely|target|reach)</title>", svg)
    assert sum(int(n) for _region, n, _tier in titles) == len(rec.chosen())


# --- in a real browser -----------------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _render(page: Path, profile_dir: Path) -> tuple[str, list[str]]:
    """Load ``page`` in headless Chromium: the DOM after scripts ran, and the console messages."""
    exe = _chromium()
    assert exe is not None
    proc = subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile_dir}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(profile_dir)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line or "Refused to" in line]
    return proc.stdout, console


needs_chromium = pytest.mark.skipif(
    _chromium() is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)"
)


@needs_chromium
def test_the_console_check_catches_errors(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><p>x</p><script>console.error("boom"); nope();</script></body></html>', encoding="utf-8")
    _dom, console = _render(page, tmp_path / "chrome")
    assert any("boom" in line for line in console)
    assert any("nope is not defined" in line for line in console)


@needs_chromium
def test_html_report_renders_in_chromium_with_no_console_errors(tmp_path: Path) -> None:
    rules = write_mini(tmp_path)
    page = tmp_path / "report.html"
    run = run_cli("evaluate", DEFAULT_PROFILE, "--rules", rules, "--as-of", "2026", "--format", "html", "--output", page)
    assert run.code == 0, run.err
    dom, console = _render(page, tmp_path / "chrome")
    assert console == [], console
    assert '<html lang="en" class="js">' in dom  # the inline script ran under the page's CSP
    rec = sr.evaluate(sr.load_profile(DEFAULT_PROFILE), sr.load_catalog(sr.sample_catalog_path()), sr.load_rules(rules), as_of=2026)
    for r in rec.chosen():
        assert html_lib.escape(r.program.name) in dom
    assert f'<span id="shown">{len(rec.chosen())}</span>' in dom
    assert "<svg" in dom


@needs_chromium
def test_hostile_report_runs_no_injected_script(evil: tuple[Path, Path], tmp_path: Path) -> None:
    rules, catalog = evil
    page = tmp_path / "evil.html"
    run = run_cli("evaluate", DEFAULT_PROFILE, "--rules", rules, "--catalog", catalog, "--as-of", "2026", "--format", "html", "-o", page)
    assert run.code == 0, run.err
    dom, console = _render(page, tmp_path / "chrome")
    assert console == [], console
    assert "&lt;script&gt;alert(\"x\")&lt;/script&gt;" in dom
    assert "<img" not in dom
