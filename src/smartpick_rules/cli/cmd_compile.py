"""``smartpick-rules compile``: what a rule set compiles to, for auditors.

For the native engine that is the ``Plan``: each stage's rules in
audit order, their strata (negation over tags is stratified), and each program-stage condition
split into the clauses decided once per evaluation (they read only the applicant) and those
run in bulk over the catalog. For the durable engine it is the generated durable_rules ruleset
JSON (``rulesets_json()`` of the compiled form).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

import attrs

from ..engines import compile_ruleset
from ..language.expr import to_source
from ..language.ir import RuleSet, format_value
from ..plan import CompiledRule, Plan, plan_ruleset

if TYPE_CHECKING:
    from .io import Io

__all__ = ["compile_command", "plan_to_dict", "render_plan"]


def _rule_dict(cr: CompiledRule) -> dict[str, Any]:
    r = cr.rule
    return {
        "id": r.id,
        "ruleset": f"{r.ruleset} {r.ruleset_version}",
        "salience": r.salience,
        "stratum": cr.stratum,
        "effect": r.then.describe(),
        "when": [to_source(c) for c in cr.clauses],
        "once_per_evaluation": [to_source(c) for c in cr.applicant_clauses],
        "per_program": [to_source(c) for c in cr.program_clauses],
        "reads": [p.dotted for p in cr.paths],
        "tags_read": sorted(cr.facts.tags_read | cr.facts.tags_read_negatively),
        "source_file": r.loc.file,
        "line": r.loc.line,
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    rs = plan.ruleset
    return {
        "engine": "native",
        "rulesets": [{"name": i.name, "version": i.version, "sha256": i.sha256, "path": i.path} for i in rs.rulesets],
        "chance": attrs.asdict(rs.chance),
        "estimates": {name: to_source(e) for name, e in plan.estimates.items()},
        "groups": {g.name: to_source(g.condition) for g in plan.groups},
        "stages": {
            st: {
                "strata": [list(s) for s in plan.stage(st).strata],
                "tags_set": sorted(plan.stage(st).tags),
                "rules": [_rule_dict(cr) for cr in plan.stage(st).rules],
            }
            for st in ("profile", "program", "list")
        },
        "list_reads_programs": plan.list_reads_programs,
    }


def render_plan(plan: Plan) -> str:
    rs = plan.ruleset
    s = rs.chance
    lines = ["Compiled for the native engine", ""]
    lines.append("Rule sets, in the order they apply:")
    for i in rs.rulesets:
        lines.append(f"  {i.name} {i.version}  sha256 {i.sha256[:16]}  {i.path}")
    lines.append(
        f"Chance of an interview: every program starts at {format_value(s.base)} (an applicant at its bar); "
        f"tier target from {format_value(s.target)}, likely from {format_value(s.likely)}, reach below; "
        f"kept within {format_value(s.floor)}..{format_value(s.ceiling)}"
    )
    for name, e in plan.estimates.items():
        lines.append(f"Estimate {name} = {to_source(e)}")
    for g in plan.groups:
        lines.append(f"Group {g.name}: {to_source(g.condition)}")
    for st in ("profile", "program", "list"):
        sp = plan.stage(st)
        lines.append("")
        runs = {"profile": "once per evaluation", "program": "over the whole catalog, vectorised", "list": "once, after ranking"}[st]
        n_rules = f"{len(sp.rules)} rule" + ("" if len(sp.rules) == 1 else "s")
        n_strata = f"{len(sp.strata)} stratum" if len(sp.strata) == 1 else f"{len(sp.strata)} strata"
        lines.append(f"{st} stage: {n_rules} in {n_strata}, run {runs}")
        if sp.tags:
            lines.append(f"  tags set: {', '.join(sorted(sp.tags))}")
        for k, stratum in enumerate(sp.strata):
            if len(sp.strata) > 1:
                lines.append(f"  stratum {k}:")
            for idx in stratum:
                cr = sp.rules[idx]
                r = cr.rule
                lines.append(f"    {r.id}  (salience {r.salience}; {r.ruleset} {r.ruleset_version}; {r.loc})")
                lines.append(f"      then: {r.then.describe()}")
                if st == "program":
                    for c in cr.applicant_clauses:
                        lines.append(f"      once per evaluation: {to_source(c)}")
                    for c in cr.program_clauses:
                        lines.append(f"      per program:         {to_source(c)}")
                else:
                    for c in cr.clauses:
                        lines.append(f"      when: {to_source(c)}")
    return "\n".join(lines) + "\n"


def compile_command(args: argparse.Namespace, io: Io) -> int:
    from .io import rules_from, write_output

    rs: RuleSet = rules_from(args.paths or [], args.with_shipped)
    compiled = compile_ruleset(rs, args.engine)
    if args.engine == "native" or isinstance(compiled, Plan):
        plan = plan_ruleset(rs)
        text = json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n" if args.format == "json" else render_plan(plan)
    else:
        produce = getattr(compiled, "rulesets_json", None)
        if callable(produce):
            data = produce()
            text = data if isinstance(data, str) else json.dumps(data, indent=2, ensure_ascii=False, default=str)
        else:
            text = repr(compiled)
        text = text.rstrip("\n") + "\n"
    write_output(io, text, args.output, f"the {args.engine} compilation", json_text=args.format == "json" or args.engine != "native")
    return 0
