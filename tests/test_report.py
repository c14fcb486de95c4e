"""Reports: the terminal table, Markdown and the self-contained HTML file (rendered in Chromium)."""

from __future__ import annotations

import html as html_lib
import json
import os
import re
from pathlib import Path

import pytest

import browser
import smartpick_rules as sr
from browser import needs_chromium
from smartpick_rules.reports import common as _common
from smartpick_rules.reports import render as report
from smartpick_rules.results.recommendation import percent
from test_cli_support import DEFAULT_PROFILE, MINI_RULES, REPO, SMALL_CATALOG, run_main, write_mini

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
        # a newline must not forge a line or a table row; escapes must not reach a terminal;
        # a 300-character word must wrap on a phone
        '"p7","Evil\x1b]0;owned\x07 \x1b[31mRed\x1b[0m\n| INJECTED | row |\nINJECTED line\u202e",internal_medicine,CA,la_county,community,Reseda,true,,',
        f"p8,{'W' * 300} Hospital,internal_medicine,CA,la_county,community,{'Z' * 120},true,,",
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


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120])
def test_table_fits_the_width(rec: sr.Recommendation, width: int) -> None:
    text = report.render_table(rec, top=40, width=width)
    assert max(report.display_width(line) for line in text.splitlines()) <= width


def test_table_lists_the_chosen_programs_in_order(rec: sr.Recommendation) -> None:
    text = report.render_table(rec, top=10)
    chosen = list(rec.breadth.chosen[:10])
    found = sorted(chosen, key=text.index)
    assert found == chosen
    assert re.search(r"^\s*1\s+(?:likely|target|reach)\s", text, flags=re.M)


def test_table_speaks_plain_language(rec: sr.Recommendation) -> None:
    text = report.render_table(rec, top=5, profile_arg="me.toml")
    flat = " ".join(text.split())
    assert "These are the" in flat and "programs the rules suggest you apply to, in the order to apply" in flat
    assert "They are not the chance of matching" in flat
    for t in ("likely", "target", "reach"):
        assert f"{t} " + _common.TIER_MEANINGS[t].split(":")[0] in flat
    assert "smartpick-rules explain me.toml PROGRAM_ID" in flat
    first = rec.chosen()[0]
    explanation = next(a.explanation for a in first.top_movers(2, include_profile=False) if a.explanation)
    assert " ".join(explanation.split()[:5]) in flat  # the rules' own words, not only their ids


def test_table_in_colour_only_when_asked(rec: sr.Recommendation) -> None:
    plain = report.render_table(rec, top=3)
    assert "\x1b[" not in plain
    coloured = report.render_table(rec, top=3, color=True)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured).split() == plain.split()


def test_movers_are_the_biggest_program_effects(rec: sr.Recommendation) -> None:
    r = rec.chosen()[0]
    ms = report.movers(r)
    weights = [m.weight for m in ms]
    assert weights == sorted(weights, reverse=True)
    assert all(a.stage == "program" for a in r.audit if a.rule_id in {m.rule_id for m in ms})
    excluded = rec.excluded()[0]
    assert report.movers(excluded)[0].how == "excluded"


def test_a_program_s_reasons_ask_each_question_of_the_applicant_once() -> None:
    # unmatched_reapplicant's Step 2 CK 219 is far under the bar of the university programs: one
    # rule caps the chance (where the cap holds: the chance is at it), another lowers the odds,
    # both weighing the same score against the same bar. The reasons shown say it once and give
    # the next reason its place.
    catalog = sr.load_catalog(sr.sample_catalog_path())
    rec = sr.evaluate(sr.load_profile(REPO / "examples" / "profiles" / "unmatched_reapplicant.toml"), catalog, sr.load_rules(), as_of=2026)
    checked = 0
    for r in rec.chosen():
        top = [a.rule_id for a in r.top_movers(3, include_profile=False)]
        if top[:2] != ["standing.far_below_bar", "standing.step2_vs_bar"]:
            continue
        shown = [a.rule_id for a in _common.distinct_movers(r, 3)]
        assert shown[0] == "standing.far_below_bar"
        assert "standing.step2_vs_bar" not in shown
        assert len(shown) == min(3, len(r.top_movers(len(r.audit), include_profile=False)) - 1)
        assert [m.rule_id for m in report.movers(r)] == shown
        checked += 1
    assert checked >= 2
    # entries that read no applicant fact are two reasons even when they read the same program
    # value (Southern California ties, Southern California USCE: both read program.region)
    # the same score and bar pulling opposite ways is two reasons: above the bar (odds up) but
    # not by the margin "likely" asks (tier capped)
    default = sr.evaluate(sr.load_profile(DEFAULT_PROFILE), catalog, sr.load_rules(), as_of=2026)
    pair = {"standing.likely_needs_margin", "standing.step2_vs_bar"}
    assert any(pair <= {a.rule_id for a in _common.distinct_movers(r, 5)} for r in default.chosen())
    spanish = sr.evaluate(sr.load_profile(REPO / "examples" / "profiles" / "spanish_speaker_la_usce.toml"), catalog, sr.load_rules(), as_of=2026)
    both = {"la_ties.socal_program", "strengths.socal_usce_program"}
    assert any(both <= {a.rule_id for a in _common.distinct_movers(r, 3)} for r in spanish.chosen())


def test_the_profile_section_says_each_fact_about_the_applicant_once() -> None:
    # failed_low_step2: one failed Step 1 sitting caps every tier (red_flags.failed_attempt, which
    # reads every exam's sittings) and lowers the odds (red_flags.failed_step1); graduating in 2020
    # caps the tier (old_graduate) and lowers the odds by the years since. Two facts, two lines;
    # each line the rule reading the fewest facts. Facts read by one rule only all stay.
    catalog = sr.load_catalog(sr.sample_catalog_path())
    rules = sr.load_rules()
    rec = sr.evaluate(sr.load_profile(REPO / "examples" / "profiles" / "failed_low_step2.toml"), catalog, rules, as_of=2026)
    listed = [rid for d, _w, rid in report.build_report(rec).profile_reasons if d]
    assert listed == [
        "red_flags.failed_step1",
        "red_flags.old_graduate",
        "strengths.observership_usce",
        "strengths.recent_usce",
    ]
    # the audit trail keeps both of each pair
    fired = {a.rule_id for a in rec.profile_audit}
    assert {"red_flags.failed_attempt", "red_flags.years_since_graduation"} <= fired
    # two rules on the same count of US letters (2 or more, 3 or more) are one reason; letters
    # counted by another question (core specialties, writers who know the applicant) are not
    reapplicant = sr.evaluate(sr.load_profile(REPO / "examples" / "profiles" / "unmatched_reapplicant.toml"), catalog, rules, as_of=2026)
    listed = [rid for d, _w, rid in report.build_report(reapplicant).profile_reasons if d]
    assert "strengths.us_letters" in listed and "strengths.three_us_letters" not in listed
    assert {"strengths.core_specialty_letters", "strengths.letters_know_well"} <= set(listed)
    assert len(listed) == len(set(listed))
    # what is kept is what moves (direction 0 is never listed) and at the place of its first
    text = report.render_table(rec)
    assert text.index("1 failed Step 1 sitting(s)") < text.index("graduated in 2020, more than 5 years ago")
    assert "failed sittings: Step 1" not in text


def test_expected_interviews_under_a_twentieth_are_not_written_as_zero() -> None:
    # derm_low_scores: eight dermatology reaches at about 0.1% each; one decimal wrote "about 0.0"
    catalog = sr.load_catalog(sr.sample_catalog_path())
    rec = sr.evaluate(sr.load_profile(REPO / "examples" / "profiles" / "derm_low_scores.toml"), catalog, sr.load_rules(), as_of=2026)
    assert 0 < rec.expected_interviews < 0.05 and rec.breadth.eligible_expected_interviews < 0.05
    words = report.build_report(rec).interviews or ""
    assert "expect fewer than 0.1 interview invitations" in words
    assert "Even every eligible program together would give fewer than 0.1." in words
    assert "0.0" not in words
    assert _common.interviews_count(0.05) == "about 0.1" and _common.interviews_count(0.0) == "about 0.0"


@pytest.mark.parametrize("fmt", ["table", "markdown", "html"])
def test_every_format_shows_chances_as_estimates_and_the_expected_interviews(rec: sr.Recommendation, fmt: str) -> None:
    render = {"table": report.render_table, "markdown": report.render_markdown, "html": report.render_html}[fmt]
    flat = " ".join(html_lib.unescape(render(rec)).split())
    assert "They are not the chance of matching, and no program is certain" in flat
    assert f"expect about {rec.expected_interviews:.1f} interview invitations (the sum of the chances)" in flat
    # the one profile rule moves every program: said once, in its own words
    assert "Step 2 CK 224 is below 225" in flat
    first = rec.chosen()[0]
    assert first.chance is not None and percent(first.chance) in flat


def test_markdown_escapes_untrusted_text(evil: tuple[Path, Path]) -> None:
    rules, catalog = evil
    run = run_main("evaluate", DEFAULT_PROFILE, "--rules", rules, "--catalog", catalog, "--as-of", "2026", "--format", "markdown")
    assert run.code == 0, run.err
    assert re.search(r"(?<!\\)<(?:script|img|/script)", run.out) is None
    assert r"\<script\>" in run.out and r"\<img src=x" in run.out
    rows = [line for line in run.out.splitlines() if re.match(r"\| \d+ \| (?:likely|target|reach) \|", line)]
    assert rows
    assert all(len(re.split(r"(?<!\\)\|", row)) == 8 for row in rows)  # 6 cells, no cell broken by a `|`
    assert "INJECTED" not in "".join(line for line in run.out.splitlines() if line.startswith("| INJECTED"))
    assert not any(line.startswith("| INJECTED") for line in run.out.splitlines())  # a newline forges no row


def test_terminal_output_strips_control_characters() -> None:
    assert report.clean("a\x1b[31mred\x1b[0m\u202eb") == "a[31mred[0mb"
    assert report.clean("one\ntwo\r\nthree") == "one two  three"


def test_every_command_strips_control_characters_from_catalog_text(evil: tuple[Path, Path]) -> None:
    rules, catalog = evil
    base = [DEFAULT_PROFILE, "--rules", rules, "--catalog", catalog, "--as-of", "2026"]
    runs = [
        run_main("evaluate", *base),
        run_main("evaluate", *base, "--format", "markdown"),
        run_main("explain", *base, "p7"),
        run_main("whatif", *base, "--set", "step2_ck.score=240"),
        run_main("explain", *base, "p7\x1b]0;x\x07"),  # an error message quoting the input
    ]
    for run in runs:
        for stream in (run.out, run.err):
            assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream, stream[:500]
    for run in runs[:4]:
        # the catalog's newlines became spaces: no line of output starts with the injected text
        assert not [line for line in run.out.splitlines() if line.lstrip().startswith(("| INJECTED", "INJECTED"))]
    as_json = run_main("evaluate", *base, "--format", "json")
    assert "\x1b" not in as_json.out and "\\u001b" in as_json.out  # JSON keeps the data, escaped
    assert json.loads(as_json.out)  # and is still valid JSON


# --- HTML --------------------------------------------------------------------------------------


def test_html_escapes_every_untrusted_text(evil: tuple[Path, Path], tmp_path: Path) -> None:
    rules, catalog = evil
    out = tmp_path / "r.html"
    run = run_main("evaluate", DEFAULT_PROFILE, "--rules", rules, "--catalog", catalog, "--as-of", "2026", "--format", "html", "-o", out)
    assert run.code == 0, run.err
    text = out.read_text(encoding="utf-8")
    # exactly one script element (ours) and no element from the data
    assert text.count("<script") == 1
    assert "<img" not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    assert "Apply broadly &lt;script&gt;alert(&#39;advice&#39;)&lt;/script&gt; &amp; more" in text
    assert "&lt;img src=x onerror=alert(2)&gt; no J-1" in text
    assert 'id="p-p-&lt;b&gt;1"' in text


def test_html_is_self_contained(rec: sr.Recommendation) -> None:
    text = report.render_html(rec, title="T")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
    assert "<link" not in text
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert csp and "default-src &#39;none&#39;" in csp.group(1)
    assert "@media print" in text  # advisers print lists


def test_html_lists_the_chosen_programs_in_order_with_reasons(rec: sr.Recommendation) -> None:
    text = report.render_html(rec, title="T")
    chosen = rec.chosen()
    ids = re.findall(r'<li class="program" id="p-([^"]+)"', text)
    assert ids == [html_lib.escape(r.program.id) for r in chosen]
    ranks = [int(n) for n in re.findall(r'<span class="rank">(\d+)\.</span>', text)]
    assert ranks == list(range(1, len(chosen) + 1))  # no jumps: one list, in the order to apply
    first = chosen[0]
    for a in first.audit:
        assert html_lib.escape(a.rule_id) in text
    for t in ("likely", "target", "reach"):
        n = sum(1 for r in chosen if r.tier == t)
        assert f'<span class="tier tier-{t}">{t}</span> <span class="meta">{n} on this list</span>' in text


def _outside_details(text: str) -> str:
    depth, out, pos = 0, [], 0
    for m in re.finditer(r"<(/?)details\b[^>]*>", text):
        if depth == 0:
            out.append(text[pos : m.start()])
        depth += -1 if m.group(1) else 1
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def test_html_plain_language_first_rule_ids_one_click_away(rec: sr.Recommendation) -> None:
    text = report.render_html(rec, title="T", synthetic=True)
    visible = _outside_details(text)
    flat = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", visible)).split())
    assert "What this list is" in flat and "What the tiers mean" in flat
    assert "Estimates, not match odds." in flat and "They are not the chance of matching" in flat
    assert "Synthetic data." in flat
    rule_ids = {a.rule_id for r in rec.chosen() for a in r.audit} | {a.rule_id for a in rec.advice}
    shown = sorted(rid for rid in rule_ids if rid in visible)
    assert shown == [], f"rule ids outside <details>: {shown}"
    assert all(html_lib.escape(a.message) in visible for a in rec.advice)


def test_synthetic_banner_follows_the_catalog(rec: sr.Recommendation, tmp_path: Path) -> None:
    assert 'id="synthetic"' in report.render_html(rec)  # the shipped sample catalog, by its hash
    assert 'id="synthetic"' not in report.render_html(rec, synthetic=False)
    own = tmp_path / "own.csv"
    own.write_text(SMALL_CATALOG.read_text(encoding="utf-8"), encoding="utf-8")
    run = run_main("evaluate", DEFAULT_PROFILE, "--catalog", own, "--as-of", "2026", "--format", "html", "-o", tmp_path / "o.html")
    assert run.code == 0, run.err
    assert 'id="synthetic"' not in (tmp_path / "o.html").read_text(encoding="utf-8")
    run = run_main("evaluate", DEFAULT_PROFILE, "--as-of", "2026", "--top", "1")
    assert "SYNTHETIC DATA" in run.out


def test_reports_show_each_programs_interview_chance(rec: sr.Recommendation) -> None:
    page = report.render_html(rec)
    for r in rec.chosen():
        assert r.chance is not None and r.tier is not None
        shown = f'<span class="tier tier-{r.tier}">{r.tier}</span> <span class="standing">interview chance {percent(r.chance)}</span>'
        assert shown in page, r.program.id
    table = report.render_table(rec, top=5)
    assert re.search(r"^\s*#\s+tier\s+chance\s", table, flags=re.M)
    first = rec.chosen()[0]
    assert first.chance is not None
    assert re.search(rf"^\s*1\s+{first.tier}\s+{re.escape(percent(first.chance))}\s", table, flags=re.M)
    md_text = report.render_markdown(rec, top=5)
    assert "| # | tier | interview chance |" in md_text
    assert f"| 1 | {first.tier} | {percent(first.chance)} |" in md_text


def test_region_chart_counts(rec: sr.Recommendation) -> None:
    text = report.render_html(rec)
    titles = re.findall(r"<title>([^<:]+): (\d+) likely, (\d+) target, (\d+) reach</title>", text)
    assert titles
    assert sum(int(a) + int(b) + int(c) for _region, a, b, c in titles) == len(rec.chosen())


# --- in a real browser -----------------------------------------------------------------------------


@needs_chromium
def test_the_console_check_catches_errors(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><p>x</p><script>console.error("boom"); nope();</script></body></html>', encoding="utf-8")
    _m, console, _dom = browser.measure(page, 1400)
    assert any("boom" in line for line in console)
    assert any("nope is not defined" in line for line in console)


@needs_chromium
def test_the_overflow_check_catches_a_wide_page(tmp_path: Path) -> None:
    page = tmp_path / "wide.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body><details><summary>x</summary><div style="min-width:900px">wide</div></details></body></html>',
        encoding="utf-8",
    )
    m, _console, _dom = browser.measure(page, 390)
    assert m["viewport"] == 390 and m["scrollWidth"] > 390 and m["overflowing"]


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize("width", [390, 1400])
def test_html_report_fits_the_screen_with_every_audit_open(tmp_path: Path, width: int) -> None:
    page = tmp_path / "report.html"
    run = run_main("evaluate", DEFAULT_PROFILE, "--as-of", "2026", "--format", "html", "--output", page)
    assert run.code == 0, run.err
    m, console, dom = browser.measure(page, width)
    assert console == [], console
    assert m["js"], "the page's own script did not run under its CSP"
    rec = sr.evaluate(sr.load_profile(DEFAULT_PROFILE), sr.load_catalog(sr.sample_catalog_path()), sr.load_rules(), as_of=2026)
    # every audit open: one per chosen program at least (and the excluded groups')
    assert m["open"] == m["details"] >= len(rec.chosen()) > 50
    assert m["viewport"] == width
    assert m["scrollWidth"] <= width, (m["scrollWidth"], m["overflowing"])
    assert f'<span id="shown">{len(rec.chosen())}</span>' in dom
    for r in rec.chosen()[:20]:
        assert html_lib.escape(r.program.name) in dom


@needs_chromium
@pytest.mark.parametrize("width", [390, 1400])
def test_hostile_report_runs_no_injected_script_and_fits(evil: tuple[Path, Path], tmp_path: Path, width: int) -> None:
    rules, catalog = evil
    page = tmp_path / "evil.html"
    run = run_main("evaluate", DEFAULT_PROFILE, "--rules", rules, "--catalog", catalog, "--as-of", "2026", "--format", "html", "-o", page)
    assert run.code == 0, run.err
    m, console, dom = browser.measure(page, width)
    assert console == [], console
    assert '&lt;script&gt;alert("x")&lt;/script&gt;' in dom
    assert "<img" not in dom
    assert m["scrollWidth"] <= width, (m["scrollWidth"], m["overflowing"])  # a 300-character word wraps


@pytest.mark.slow
@needs_chromium
def test_print_stylesheet_keeps_the_list_and_drops_the_controls(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    assert run_main("evaluate", DEFAULT_PROFILE, "--as-of", "2026", "--format", "html", "--output", page).code == 0
    shown = "(s) => getComputedStyle(document.querySelector(s)).display"
    with browser.browser(1400, 900) as b:
        b.load(page.as_uri())
        on_screen = [b.evaluate(f"({shown})({sel!r})") for sel in (".controls", "details.audit", "li.program", "#synthetic")]
        b.send("Emulation.setEmulatedMedia", {"media": "print"})
        printed = [b.evaluate(f"({shown})({sel!r})") for sel in (".controls", "details.audit", "li.program", "#synthetic")]
        assert b.console() == []
    assert on_screen[0] != "none" and on_screen[1] != "none"
    assert printed[:2] == ["none", "none"]  # no buttons or audits on paper
    assert printed[2] != "none" and printed[3] != "none"  # the list and the synthetic-data banner stay


@needs_chromium
def test_screenshots_in_the_docs(tmp_path: Path) -> None:
    """docs/img/ holds screenshots of the report at 390 and 1,400 px; SMARTPICK_UPDATE_DOCS=1 retakes them."""
    shots = {name: REPO / "docs" / "img" / name for name in SCREENSHOTS}
    assert all(f"img/{name}" in (REPO / "docs" / "cli.md").read_text(encoding="utf-8") for name in shots)
    if os.environ.get("SMARTPICK_UPDATE_DOCS") != "1":
        for path in shots.values():
            assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        return
    page = tmp_path / "report.html"
    assert run_main("evaluate", DEFAULT_PROFILE, "--as-of", "2026", "--format", "html", "--output", page).code == 0
    for name, (width, height, script) in SCREENSHOTS.items():
        with browser.browser(width, height, mobile=width < 700) as b:
            b.load(page.as_uri())
            b.evaluate(script)
            b.screenshot(shots[name])
    pytest.skip("retook the screenshots in docs/img; review them")


SCREENSHOTS = {
    "report-phone-top.png": (390, 844, "window.scrollTo(0, 0)"),
    "report-phone-list.png": (
        390,
        844,
        "document.querySelector('#list details.audit').open = true; document.getElementById('list').scrollIntoView()",
    ),
    "report-desktop-list.png": (
        1400,
        900,
        "document.querySelector('#list details.audit').open = true; document.getElementById('list').scrollIntoView()",
    ),
}
