"""Synthetic catalogs and rule sets for benchmarks (and tests) of any size, deterministic by seed.

``synthetic_catalog(n, seed)`` draws ``n`` programs with every field the models have, optional
policy fields often unset (so conditions meet unknowns), and catalog tags.
``synthetic_rules_toml(n_rules, seed)`` writes one TOML rule set of ``n_rules`` rules: a few
profile rules (tags, derived values, odds), mostly program rules, a few list rules. Program rules
form tag chains: rule k of a chain reads the tag rule k-1 sets, some read a tag negatively (so
the stage has several strata), and conditions use every kind of expression the language has:
comparisons with constants and with applicant fields, ``in`` / ``not in`` literal lists,
``in program.tags``, ``known()``, arithmetic, ``a if test else b``, ``count``/``any``/``all``/
``total``/``len``/``min``/``max``/``abs``/``exp``/``years_since``, ``and``/``or``/``not``, and an
``[[estimate]]`` read as ``estimate.screen``. Effects move odds (numbers and expressions), cap
chances and tiers, set priorities, exclude and advise; the list stage sets the breadth, bounds a
``[[group]]`` and reviews the chosen list.

Nothing here describes a real program. Used by ``benchmarks/engines.py`` and the engine tests::

    from synthetic import synthetic_catalog, synthetic_rules_toml
    catalog = synthetic_catalog(6000, seed=1)
    rules = load_rules_from_text([("synthetic.toml", synthetic_rules_toml(100, seed=1))])
"""

from __future__ import annotations

import random
from typing import Any

from smartpick_rules.domain.models import Catalog, Program, ProgramType, Region, Specialty

__all__ = ["PROGRAM_TAGS", "synthetic_catalog", "synthetic_profile", "synthetic_rules_toml"]

PROGRAM_TAGS = (
    "academic_flagship",
    "img_friendly",
    "spanish_speaking_population",
    "underserved_focus",
    "safety_net",
    "fqhc",
    "rural",
    "teaching_health_center",
)
_STATES = ("CA", "NY", "TX", "FL", "PA", "MI", "IL", "OH", "NJ", "WA")
_CA_REGIONS = tuple(r for r in Region if r not in (Region.out_of_state, Region.outside_us))


def synthetic_catalog(n: int, seed: int = 0) -> Catalog:
    """``n`` synthetic programs; the same ``(n, seed)`` always gives the same catalog."""
    rnd = random.Random(seed)
    specialties = list(Specialty)
    programs = []
    for i in range(n):
        in_ca = rnd.random() < 0.3
        state = "CA" if in_ca else rnd.choice(_STATES[1:])
        region = rnd.choice(_CA_REGIONS) if in_ca else Region.out_of_state
        programs.append(
            Program(
                id=f"syn-{i:05d}",
                name=f"Synthetic Program {i}",
                specialty=rnd.choice(specialties),
                state=state,
                region=region,
                program_type=rnd.choice(list(ProgramType)),
                city=f"City {rnd.randrange(200)}",
                positions=rnd.randrange(1, 40),
                min_step1=rnd.choice((None, None, None, 200, 210, 220, 230)),
                min_step2_ck=rnd.choice((None, None, 210, 215, 220, 225, 230, 235, 240, 250)),
                max_attempts=rnd.choice((None, None, 1, 1, 2, 3)),
                max_years_since_graduation=rnd.choice((None, None, 1, 3, 5, 7, 10)),
                sponsors_j1=rnd.random() < 0.6,
                sponsors_h1b=rnd.random() < 0.3,
                img_share=None if rnd.random() < 0.15 else round(rnd.random(), 2),
                usce_required=rnd.random() < 0.25,
                tags=tuple(sorted(t for t in PROGRAM_TAGS if rnd.random() < 0.2)),
            )
        )
    return Catalog.of(programs, source=f"synthetic({n}, seed={seed})")


def synthetic_profile(seed: int = 0) -> dict[str, Any]:
    """A plain-data applicant (as from JSON); some seeds leave Step 1 pass/fail or Step 2 CK unset."""
    rnd = random.Random(seed)
    regions = [r.value for r in _CA_REGIONS]
    profile: dict[str, Any] = {
        "id": f"synthetic-{seed}",
        "graduation_year": rnd.randrange(2005, 2026),
        "applicant_type": rnd.choice(("non_us_img", "us_img", "us_md", "us_do")),
        "visa": rnd.choice(("none", "j1", "h1b")),
        "step1": {"score": rnd.choice((None, 205, 215, 225, 240)), "passed": rnd.random() < 0.9, "attempts": rnd.choice((1, 1, 2))},
        "usce": [
            {
                "kind": rnd.choice(("hands_on", "externship", "observership", "sub_internship")),
                "months": rnd.choice((1, 2, 3, 6)),
                "region": rnd.choice(regions),
                "letter": rnd.random() < 0.5,
            }
            for _ in range(rnd.randrange(0, 4))
        ],
        "letters": [{"us": rnd.random() < 0.7, "residency_faculty": rnd.random() < 0.4} for _ in range(rnd.randrange(0, 4))],
        "ties": [{"kind": "lived", "region": rnd.choice(regions), "years": rnd.choice((0, 1, 3, 10))} for _ in range(rnd.randrange(0, 3))],
        "languages": rnd.sample(["English", "Spanish", "Tagalog", "Hindi", "Korean"], rnd.randrange(1, 3)),
        "research": {"publications": rnd.randrange(0, 5), "abstracts": rnd.randrange(0, 3), "posters": rnd.randrange(0, 3)},
        "leadership_roles": rnd.randrange(0, 3),
        "preferences": {
            "specialties": [rnd.choice(("internal_medicine", "family_medicine", "pediatrics", "psychiatry"))],
            "regions": rnd.sample(regions, 2),
            "application_budget": rnd.choice((None, 60, 100, 150)),
        },
        "history": {"applied_before": rnd.random() < 0.3, "unmatched_before": rnd.random() < 0.2},
    }
    if rnd.random() < 0.85:
        profile["step2_ck"] = {"score": rnd.randrange(200, 265), "passed": True, "attempts": rnd.choice((1, 1, 2))}
    return profile


def _q(s: str) -> str:
    return '"' + s + '"'


def synthetic_rules_toml(n_rules: int, seed: int = 0, *, peers: bool = False) -> str:
    """One rule set of ``n_rules`` rules (at least 12) with tag chains across strata.

    ``peers=True`` writes the workload other rule engines can run too (``benchmarks/peers.py``):
    the same kinds of conditions without ``a if test else b``, ``exp()`` and estimates, and
    program-stage odds that are powers of two, so that the sum of their log2 (what the peers
    compare) is exact in any order.
    """
    if n_rules < 12:
        raise ValueError("synthetic_rules_toml needs at least 12 rules")
    rnd = random.Random(seed)
    out = [
        "# Synthetic rule set (benchmarks/synthetic.py): generated, not advice.",
        "[ruleset]",
        f'name = "synthetic_{n_rules}_{seed}"',
        'version = "1"',
        "",
        "[chance]",
        "base = 0.05",
        "target = 0.07",
        "likely = 0.2",
        "",
        "[[estimate]]",
        'name = "screen"',
        "start = 225",
        "",
        "[[group]]",
        'name = "academic"',
        "programs = \"program.program_type == 'university' or 'academic_flagship' in program.tags\"",
    ]

    def rule(rid: str, stage: str, when: list[str], then: str, salience: int = 0) -> None:
        out.append("")
        out.append("[[rule]]")
        out.append(f'id = "{rid}"')
        out.append(f'stage = "{stage}"')
        if salience:
            out.append(f"salience = {salience}")
        out.append("when = [" + ", ".join("'" + w + "'" for w in when) + "]")
        out.append(f"then = {{ {then} }}")

    # -- profile stage: a few tags and derived values the other stages read --------------------
    profile_rules = [
        (["known(applicant.step2_ck.score)", "applicant.step2_ck.score < 225"], 'tag = "low_ck", odds = 0.6'),
        (["not known(applicant.step1.score)"], 'tag = "step1_pf"'),
        (["count(applicant.usce, item.kind == \"hands_on\" or item.kind == \"sub_internship\") >= 1"], 'tag = "usce", odds = 1.5'),
        (["years_since(applicant.graduation_year) > 5"], 'tag = "old_grad", set = { grad_band = "old" }'),
        (['has("low_ck") and not has("usce")'], 'tag = "weak", odds = 0.8, tier_at_most = "target"'),
        (['"Spanish" in applicant.languages'], 'tag = "spanish"'),
    ]
    for k, (when, then) in enumerate(profile_rules):
        rule(f"syn.profile.p{k}", "profile", when, then)
    n_list = 3
    n_program = max(n_rules - len(profile_rules) - n_list, 1)

    # -- program stage: the estimate's rules (they do nothing else) ---------------------------
    if not peers:
        rule("syn.program.screen_university", "program", ["program.program_type == \"university\""], "estimate = { screen = 6 }")
        rule("syn.program.screen_share", "program", ["known(program.img_share)"], 'estimate = { screen = "-5 if program.img_share >= 0.3 else 2" }')
        n_program -= 2

    # -- program stage: independent rules plus chains a -> b -> c over program-stage tags -------
    regions = [r.value for r in _CA_REGIONS]
    simple = [
        lambda: f"program.min_step2_ck > {rnd.choice((215, 220, 225, 230, 240))}",
        lambda: "known(program.min_step2_ck) and applicant.step2_ck.score < program.min_step2_ck",
        lambda: f"program.region in [{', '.join(_q(r) for r in rnd.sample(regions, 3))}]",
        lambda: f"program.region not in [{_q(rnd.choice(regions))}, \"out_of_state\"]",
        lambda: f'program.program_type == {_q(rnd.choice([t.value for t in ProgramType]))}',
        lambda: f"program.img_share * 100 >= {rnd.choice((20, 30, 40, 50))}",
        lambda: f"program.img_share >= {rnd.choice((0.2, 0.3, 0.5))} or program.positions > {rnd.randrange(5, 30)}",
        lambda: f"{_q(rnd.choice(PROGRAM_TAGS))} in program.tags",
        lambda: "applicant.visa == \"j1\" and not program.sponsors_j1",
        lambda: f"program.positions >= {rnd.randrange(2, 30)} and program.specialty == {_q(rnd.choice(['internal_medicine', 'family_medicine', 'pediatrics']))}",
        lambda: "known(program.max_years_since_graduation) and years_since(applicant.graduation_year) > program.max_years_since_graduation",
        lambda: f"max(program.positions, {rnd.randrange(1, 10)}) - min(program.positions, 5) > {rnd.randrange(0, 20)}",
        lambda: f"abs(program.positions - {rnd.randrange(5, 25)}) < {rnd.randrange(2, 10)}",
        lambda: "program.usce_required and not has(\"usce\")",
        lambda: f"has(\"low_ck\") and program.state == {_q(rnd.choice(_STATES))}",
        lambda: "any(applicant.ties, item.region == program.region)",
        lambda: f"len(program.tags) >= {rnd.randrange(1, 3)}",
        lambda: "program.max_attempts < applicant.step1.attempts",
        lambda: f"not (program.sponsors_h1b or program.img_share > {rnd.choice((0.3, 0.6))})",
    ]
    if not peers:
        simple += [
            lambda: f"(5 if program.usce_required else 0) + program.positions > {rnd.randrange(5, 30)}",
            lambda: f"exp(program.positions / 10) > {rnd.choice((1.5, 2, 3))}",
            lambda: f"applicant.step2_ck.score < estimate.screen + {rnd.choice((-5, 0, 5))}",
        ]
    effects = [
        lambda k: f'odds = {rnd.choice((0.5, 0.7, 0.8, 1.1, 1.25, 1.5, 2))}',
        lambda k: f'odds = {rnd.choice((1.5, 2.25, 0.6))}, priority = {rnd.choice((5, 10, 20))}',
        lambda k: f'exclude = "synthetic filter {k}: {{program.id}}"',
        lambda k: f'advice = "synthetic advice {k} for {{program.name}}", odds = 1.1',
        lambda k: 'tier_at_most = "reach"',
        lambda k: f'chance_cap = {rnd.choice((0.05, 0.1, 0.3))}',
        lambda k: 'odds = "exp((program.positions - 20) / 20) if program.positions > 10 else 0.9"',
    ]
    if peers:
        effects = [
            lambda k: f"odds = {rnd.choice((0.25, 0.5, 2, 4))}",
            lambda k: f"odds = {rnd.choice((0.5, 2))}, priority = {rnd.choice((5, 10, 20))}",
            lambda k: f'exclude = "synthetic filter {k}: {{program.id}}"',
            lambda k: f'advice = "synthetic advice {k} for {{program.name}}", odds = 2',
            lambda k: 'tier_at_most = "reach"',
            lambda k: f"chance_cap = {rnd.choice((0.05, 0.1, 0.3))}",
        ]
    chain_tags: list[str] = []
    k = 0
    chain = 0
    while k < n_program:
        length = min(rnd.randrange(2, 6), n_program - k)
        prev: str | None = None
        for step in range(length):
            tag = f"c{chain}_{step}"
            when = [simple[rnd.randrange(len(simple))]()]
            if prev is not None:
                when.insert(0, f'has("{prev}")')
            if step == length - 1 and chain_tags and rnd.random() < 0.5:
                when.append(f'not has("{rnd.choice(chain_tags)}")')  # read an earlier chain negatively
            then = effects[rnd.randrange(len(effects))](k) + f', tag = "{tag}"'
            rule(f"syn.program.r{k:03d}", "program", when, then, salience=rnd.choice((0, 0, 10, 50)))
            prev = tag
            k += 1
        chain_tags.append(prev or "")
        chain += 1

    # -- list stage --------------------------------------------------------------------------
    rule("syn.list.small", "list", ["list.size < 80", "count(list.programs, item.tier == \"likely\") < 10"], "breadth = { min = 80, max = 120 }", 10)
    rule("syn.list.reach", "list", ["list.reach_count > 20 or has(\"weak\")"], "at_most = { academic = 10 }, set = { interview_target = 8 }")
    rule(
        "syn.list.ca",
        "list",
        ["list.expected_interviews < 8", "total(list.programs, item.positions, item.region == \"la_county\") > 100"],
        'advice = "many LA positions; {list.chosen_count} programs make {list.expected_interviews} expected interviews"',
    )
    return "\n".join(out) + "\n"
