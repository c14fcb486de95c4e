"""Loading rule-set files: TOML text -> raw tables (cattrs) -> IR -> checked, composed RuleSet.

A rule file is untrusted input. It is size-limited before it is read, parsed with ``tomllib``,
structured strictly (unknown keys are errors with "did you mean"), and every condition goes
through ``smartpick_rules.language.expr.parse_expression``. All diagnostics of all files are
collected and raised together as one [`RulesetError`][smartpick_rules.RulesetError].
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path as FsPath
from typing import Any

import attrs

from ..analysis.check import analyse_rules, check_expression
from ..domain.changes import check_change, expand_change, parse_change, type_hints
from ..domain.converter import _StructureFailure, converter, structure_mapping
from ..errors import Diagnostic, InputError, Location, RulesetError, did_you_mean
from ..language.expr import (
    Call,
    Expr,
    ExpressionError,
    Literal,
    Path,
    iter_nodes,
    parse_expression,
    to_source,
)
from ..language.facts import FactType, record_fields
from ..language.functions import ANY_ITEM, reads_tags
from ..language.ir import (
    CHANGE_KINDS,
    DIRECTIONS,
    LEVER_KINDS,
    STAGES,
    TIERS,
    Breadth,
    ChanceModel,
    Change,
    Effect,
    Estimate,
    Group,
    Lever,
    Property,
    Rule,
    RuleSet,
    RuleSetInfo,
    Template,
)
from ..language.result_facts import OBSERVABLES, result_root
from ..limits import DEFAULT_LIMITS, Limits, limit_help
from ..records import frozen
from ..sourcemap import DocumentError, SourceMap, parse_toml, path_from_field_path, toml_source_map
from .cache import RuleCache

__all__ = ["SHIPPED_PREFIX", "load_rules", "load_rules_from_text", "shipped_file", "shipped_rulesets_path"]

# used with fullmatch: `$` alone also matches before a trailing newline, so "a\n" passed
_RULE_ID = re.compile(r"[a-z0-9_]+(\.[a-z0-9_-]+)*")
_TAG = re.compile(r"[a-z][a-z0-9_]*")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
#: salience orders rules; a bound keeps it a small, meaningful number (like score and priority)
MAX_SALIENCE = 1_000_000

SetValue = int | float | str | bool
Bound = int | str
#: a number, or an expression (a string) computing one
NumberOrExpr = int | float | str


# --- the raw shape of a rule file, structured by cattrs ------------------------------------


@frozen
class RawBreadth:
    min: Bound
    max: Bound


@frozen
class RawEffect:
    tag: str | list[str] | None = None
    priority: float | None = None
    odds: NumberOrExpr | None = None
    chance_cap: NumberOrExpr | None = None
    tier_at_most: str | None = None
    exclude: str | None = None
    advice: str | None = None
    set: dict[str, SetValue] | None = None
    breadth: RawBreadth | None = None
    estimate: dict[str, NumberOrExpr] | None = None
    at_most: dict[str, NumberOrExpr] | None = None
    at_least: dict[str, NumberOrExpr] | None = None


@frozen
class RawRule:
    id: str
    stage: str
    when: str | list[str]
    then: RawEffect
    salience: int = 0
    explain: str | None = None
    source: str | None = None
    description: str = ""
    enabled: bool = True
    override: bool = False


@frozen
class RawHeader:
    name: str
    version: str = "0"
    description: str = ""
    requires: list[str] = attrs.field(factory=list)
    disable: list[str] = attrs.field(factory=list)


@frozen
class RawChance:
    base: float | None = None
    target: float | None = None
    likely: float | None = None
    floor: float | None = None
    ceiling: float | None = None


@frozen
class RawEstimate:
    name: str
    start: float
    description: str = ""
    source: str = ""
    unit: str = ""


@frozen
class RawGroup:
    name: str
    programs: str
    description: str = ""
    source: str = ""


@frozen
class RawLever:
    id: str
    title: str
    set: list[str]
    kind: str = "strengthen"
    when: str | list[str] | None = None
    source: str = ""
    description: str = ""


@frozen
class RawProperty:
    id: str
    description: str = ""
    source: str | None = None
    given: str | list[str] | None = None
    #: checked by hand (its keys depend on the verb): raise/lower/add/remove/set, by, with, to, where
    change: dict[str, Any] | None = None
    observe: str | list[str] | None = None
    never: str | None = None
    where: str | None = None
    holds: str | list[str] | None = None
    enabled: bool = True


@frozen
class RawRuleFile:
    ruleset: RawHeader
    rule: list[RawRule] = attrs.field(factory=list)
    chance: RawChance | None = None
    estimate: list[RawEstimate] = attrs.field(factory=list)
    group: list[RawGroup] = attrs.field(factory=list)
    lever: list[RawLever] = attrs.field(factory=list)
    property: list[RawProperty] = attrs.field(factory=list)


def _union_hook(options: tuple[type, ...]) -> Any:
    names = " or ".join({str: "a string", list: "a list of strings", int: "an integer", float: "a number", bool: "a boolean"}[o] for o in options)

    def hook(value: Any, _t: Any) -> Any:
        for o in options:
            if o is list:
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    return [converter.structure(v, str) for v in value]
            elif o is bool:
                if isinstance(value, bool):
                    return value
            elif o is int:
                if isinstance(value, int) and not isinstance(value, bool):
                    return converter.structure(value, o)
            elif o is float:
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return converter.structure(value, o)
            elif isinstance(value, o):
                return converter.structure(value, o)
        raise ValueError(f"expected {names}")

    return hook


converter.register_structure_hook(str | list[str], _union_hook((str, list)))
converter.register_structure_hook(str | list[str] | None, _union_hook((str, list)))
converter.register_structure_hook(Bound, _union_hook((int, str)))
converter.register_structure_hook(SetValue, _union_hook((bool, int, float, str)))
converter.register_structure_hook(NumberOrExpr, _union_hook((float, str)))
converter.register_structure_hook(NumberOrExpr | None, _union_hook((float, str)))


@frozen
class _LoadedFile:
    info: RuleSetInfo
    #: each rule with its ``override`` flag
    rules: tuple[tuple[Rule, bool], ...]
    chance: RawChance | None
    estimates: tuple[Estimate, ...]
    groups: tuple[Group, ...]
    levers: tuple[Lever, ...]
    loc: Location
    properties: tuple[Property, ...] = ()


# --- one file ------------------------------------------------------------------------------


def _parse_file(text: str, file: str, limits: Limits, sha: str) -> tuple[_LoadedFile | None, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    try:
        data = parse_toml(text, file)
    except DocumentError as exc:
        return None, [exc.diagnostic]
    smap = toml_source_map(text, file)
    data.pop("$schema", None)
    if "ruleset" not in data:
        return None, [
            Diagnostic(
                "schema_error",
                "missing [ruleset] header",
                Location(file, 1, 1),
                help='start the file with [ruleset] and name = "..."',
            )
        ]
    rules_data = data.get("rule")
    if isinstance(rules_data, list) and len(rules_data) > limits.max_rules:
        return None, [
            Diagnostic(
                "limit_exceeded",
                f"{len(rules_data)} rules, more than the limit of {limits.max_rules}",
                Location(file, 1),
                help=limit_help("max_rules"),
            )
        ]
    def structured(value: Any, cls: type[Any], path: list[str | int]) -> Any:
        try:
            return structure_mapping(value, cls, "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path))
        except _StructureFailure as fail:
            for d in fail.diagnostics:
                fpath = path_from_field_path(d.field_path or "")
                line, col = smap.position(fpath)
                message = d.message
                if len(fpath) > 1:
                    message = f"`{_pretty_path(fpath)}`: {message}"
                diags.append(
                    attrs.evolve(
                        d, code="schema_error", message=message, location=Location(file, line, col), rule_id=_rule_id_at(data, fpath)
                    )
                )
            return None

    known_top = [a.name for a in attrs.fields(RawRuleFile)]
    if "scoring" in data:
        line, col = smap.position(["scoring"])
        diags.append(
            Diagnostic(
                "schema_error",
                "[scoring] is gone: programs no longer carry a score",
                Location(file, line, col),
                help="chances of an interview have a [chance] table (base, target, likely); see docs/rule-language.md",
            )
        )
        data = {k: v for k, v in data.items() if k != "scoring"}
    #: rules whose only effect was `score`: the error above says so; "`then` has no effect" would
    #: say it again, less helpfully
    score_only: set[int] = set()
    for index, item in enumerate(rules_data if isinstance(rules_data, list) else []):
        then = item.get("then") if isinstance(item, dict) else None
        if isinstance(then, dict) and "score" in then:
            line, col = smap.position(["rule", index, "then", "score"])
            rid = item.get("id")
            diags.append(
                Diagnostic(
                    "schema_error",
                    "`score` is gone: a rule moves a program's chance of an interview or its place in the list",
                    Location(file, line, col),
                    rid if isinstance(rid, str) else None,
                    help="use `odds = 0.5` (halves the odds of an interview), `chance_cap = 0.05`, or "
                    "`priority = 10` (earlier in the list); see docs/rule-language.md",
                )
            )
            then.pop("score")
            if not then:
                then["tag"] = []
                score_only.add(index)
    for key in data:
        if key not in known_top:
            line, col = smap.position([key])
            diags.append(
                Diagnostic(
                    "schema_error",
                    f"unknown table `{key}`",
                    Location(file, line, col),
                    suggestion=did_you_mean(key, known_top),
                    help="a rule file has [ruleset], optional [chance], [[estimate]], [[group]], [[lever]], [[rule]] and [[property]] tables",
                )
            )
    header = structured(data["ruleset"], RawHeader, ["ruleset"])
    chance = structured(data["chance"], RawChance, ["chance"]) if "chance" in data else None
    estimates: list[Estimate] = []
    for index, item in enumerate(data.get("estimate") or [] if isinstance(data.get("estimate"), list) else []):
        re_ = structured(item, RawEstimate, ["estimate", index])
        if re_ is None:
            continue
        eline, ecol = smap.position(["estimate", index])
        eloc = Location(file, eline, ecol)
        if not _TAG.match(re_.name):
            diags.append(Diagnostic("schema_error", f"estimate name `{re_.name}` must be a lower-case identifier", eloc))
        if not abs(re_.start) <= 1e6:
            diags.append(Diagnostic("limit_exceeded", f"estimate start {re_.start} is out of range", eloc))
        estimates.append(Estimate(re_.name, float(re_.start), re_.description, re_.source, re_.unit, "", eloc))
    if "estimate" in data and not isinstance(data["estimate"], list):
        diags.append(Diagnostic("schema_error", "`estimate` must be [[estimate]] tables", Location(file, *smap.position(["estimate"]))))
    groups: list[Group] = []
    for index, item in enumerate(data.get("group") or [] if isinstance(data.get("group"), list) else []):
        rg = structured(item, RawGroup, ["group", index])
        if rg is None:
            continue
        gline, gcol = smap.position(["group", index])
        gloc = Location(file, gline, gcol)
        if not _TAG.match(rg.name):
            diags.append(Diagnostic("schema_error", f"group name `{rg.name}` must be a lower-case identifier", gloc))
        try:
            expr = parse_expression(rg.programs, limits, _expr_origin(smap, ["group", index, "programs"], rg.programs, file))
        except ExpressionError as exc:
            diags.append(exc.diagnostic)
            continue
        groups.append(Group(rg.name, expr, rg.description, rg.source, "", rg.programs, gloc))
    levers: list[Lever] = []
    for index, item in enumerate(data.get("lever") or [] if isinstance(data.get("lever"), list) else []):
        rl = structured(item, RawLever, ["lever", index])
        if rl is not None:
            lever = _build_lever(rl, index, smap, file, limits, diags)
            if lever is not None:
                levers.append(lever)
    if "lever" in data and not isinstance(data["lever"], list):
        diags.append(Diagnostic("schema_error", "`lever` must be [[lever]] tables", Location(file, *smap.position(["lever"]))))
    if "group" in data and not isinstance(data["group"], list):
        diags.append(Diagnostic("schema_error", "`group` must be [[group]] tables", Location(file, *smap.position(["group"]))))
    raw_rules: list[tuple[int, RawRule]] = []
    if rules_data is not None and not isinstance(rules_data, list):
        diags.append(Diagnostic("schema_error", "`rule` must be [[rule]] tables", Location(file, *smap.position(["rule"]))))
    for index, item in enumerate(rules_data or []):
        rr = structured(item, RawRule, ["rule", index])
        if rr is not None:
            raw_rules.append((index, rr))
    props_data = data.get("property")
    raw_props: list[tuple[int, RawProperty]] = []
    if props_data is not None and not isinstance(props_data, list):
        diags.append(Diagnostic("schema_error", "`property` must be [[property]] tables", Location(file, *smap.position(["property"]))))
    elif isinstance(props_data, list) and len(props_data) > limits.max_rules:
        diags.append(
            Diagnostic(
                "limit_exceeded",
                f"{len(props_data)} properties, more than the limit of {limits.max_rules}",
                Location(file, *smap.position(["property"])),
                help=limit_help("max_rules"),
            )
        )
        props_data = []
    for index, item in enumerate(props_data or []):
        rp = structured(item, RawProperty, ["property", index])
        if rp is not None:
            raw_props.append((index, rp))
    if header is None:
        return None, diags
    hline, hcol = smap.position(["ruleset"])
    hloc = Location(file, hline, hcol)
    if not _NAME.fullmatch(header.name):
        diags.append(Diagnostic("schema_error", f"rule set name `{header.name}` may only use letters, digits, `_`, `-` and `.`", hloc))
    rules: list[tuple[Rule, bool]] = []
    for index, rr in raw_rules:
        rule, rdiags = _build_rule(rr, index, header, smap, file, limits)
        if index in score_only:
            rdiags = [d for d in rdiags if not d.message.startswith("`then` has no effect")]
        diags.extend(rdiags)
        if rule is not None:
            rules.append(rule)
    properties: list[Property] = []
    for index, rp in raw_props:
        prop, pdiags = _build_property(rp, index, header, smap, file, limits)
        diags.extend(pdiags)
        if prop is not None:
            properties.append(prop)
    info = RuleSetInfo(
        name=header.name,
        version=header.version,
        description=header.description,
        requires=tuple(header.requires),
        path=file,
        sha256=sha,
        disables=tuple(header.disable),
    )
    estimates = [attrs.evolve(e, ruleset=header.name) for e in estimates]
    groups = [attrs.evolve(g, ruleset=header.name) for g in groups]
    levers = [attrs.evolve(lv, ruleset=header.name) for lv in levers]
    return _LoadedFile(info, tuple(rules), chance, tuple(estimates), tuple(groups), tuple(levers), hloc, tuple(properties)), diags


def _build_lever(rl: RawLever, index: int, smap: SourceMap, file: str, limits: Limits, diags: list[Diagnostic]) -> Lever | None:
    line, col = smap.position(["lever", index])
    loc = Location(file, line, col)
    ok = True
    if not _RULE_ID.match(rl.id):
        diags.append(Diagnostic("schema_error", f"lever id `{rl.id}` must be lower-case words joined by dots", loc, rl.id))
        ok = False
    if rl.kind not in LEVER_KINDS:
        diags.append(
            Diagnostic(
                "schema_error",
                f"lever kind `{rl.kind}` must be one of {', '.join(LEVER_KINDS)}",
                loc,
                rl.id,
                suggestion=did_you_mean(rl.kind, LEVER_KINDS),
            )
        )
        ok = False
    if not rl.set:
        diags.append(Diagnostic("schema_error", "a lever needs at least one change in `set`", loc, rl.id))
        ok = False
    for text in rl.set:
        try:
            check_change(parse_change(expand_change(text, None, 2000)))
        except InputError as exc:
            d = exc.diagnostics[0]
            diags.append(Diagnostic("schema_error", f"change `{text}`: {d.message}", loc, rl.id, d.help, d.suggestion))
            ok = False
    when: list[Expr] = []
    texts = [] if rl.when is None else [rl.when] if isinstance(rl.when, str) else list(rl.when)
    for text in texts:
        try:
            when.append(parse_expression(text, limits, _expr_origin(smap, ["lever", index, "when"], text, file)))
        except ExpressionError as exc:
            diags.append(attrs.evolve(exc.diagnostic, rule_id=rl.id))
            ok = False
    if not ok:
        return None
    return Lever(rl.id, rl.title, tuple(rl.set), rl.kind, tuple(when), rl.source, rl.description, "", loc)


def _pretty_path(path: Sequence[str | int]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + p)
    return out


def _rule_id_at(data: Any, path: Sequence[str | int]) -> str | None:
    if len(path) >= 2 and path[0] in ("rule", "property") and isinstance(path[1], int):
        rules = data.get(path[0])
        if isinstance(rules, list) and path[1] < len(rules) and isinstance(rules[path[1]], dict):
            rid = rules[path[1]].get("id")
            return rid if isinstance(rid, str) else None
    return None


def _expr_origin(smap: SourceMap, key_path: list[str | int], text: str, file: str) -> Location:
    line, _col = smap.position(key_path)
    # search only up to the next rule's table, so locating every rule's text is one pass over the file
    end = 0
    if len(key_path) >= 2 and key_path[0] == "rule" and isinstance(key_path[1], int):
        end = smap.positions.get(("rule", key_path[1] + 1), (0, 0))[0]
    found = smap.find_text(text, line or 1, end)
    if found != (0, 0):
        return Location(file, found[0], found[1])
    return Location(file, line, 1)


def _build_rule(
    rr: RawRule, index: int, header: RawHeader, smap: SourceMap, file: str, limits: Limits
) -> tuple[tuple[Rule, bool] | None, list[Diagnostic]]:
    """The rule, and whether it overrides an earlier rule of the same id."""
    diags: list[Diagnostic] = []
    base: list[str | int] = ["rule", index]
    line, col = smap.position(base)
    loc = Location(file, line, col)
    rid = rr.id

    def err(code: str, msg: str, where: Location | None = None, help: str | None = None, suggestion: str | None = None) -> None:
        diags.append(Diagnostic(code, msg, where or loc, rid, help, suggestion))

    def key_loc(*keys: str | int) -> Location:
        kl, kc = smap.position([*base, *keys])
        return Location(file, kl, kc)

    if not _RULE_ID.fullmatch(rid):
        err("schema_error", f"rule id `{rid}` must be lower-case words joined by dots, like `red_flags.failed_step1`", key_loc("id"))
    if rr.stage not in STAGES:
        err("schema_error", f"unknown stage `{rr.stage}`; expected profile, program or list", key_loc("stage"), suggestion=did_you_mean(rr.stage, STAGES))
    clauses_text = [rr.when] if isinstance(rr.when, str) else list(rr.when)
    if not clauses_text:
        err("schema_error", "`when` is an empty list; write `when = \"true\"` for a rule that always fires", key_loc("when"))
    when: list[Expr] = []
    when_locs: list[Location] = []
    for text in clauses_text:
        origin = _expr_origin(smap, [*base, "when"], text, file)
        when_locs.append(origin)
        try:
            when.append(parse_expression(text, limits, origin))
        except ExpressionError as exc:
            diags.append(attrs.evolve(exc.diagnostic, rule_id=rid))
    eff = rr.then
    tags: tuple[str, ...] = ()
    if eff.tag is not None:
        tags = (eff.tag,) if isinstance(eff.tag, str) else tuple(eff.tag)
        for t in tags:
            if not _TAG.fullmatch(t):
                err("schema_error", f"tag `{t}` must be a lower-case identifier like `low_step2`", key_loc("then", "tag"))
    templates: dict[str, Template | None] = {}
    for name in ("exclude", "advice"):
        text = getattr(eff, name)
        templates[name] = _template(text, smap, [*base, "then", name], file, rid, diags, limits) if text is not None else None
    explain = _template(rr.explain, smap, [*base, "explain"], file, rid, diags, limits) if rr.explain is not None else None
    breadth = None
    if eff.breadth is not None:
        bounds: list[Expr] = []
        for bname in ("min", "max"):
            value = getattr(eff.breadth, bname)
            bl = key_loc("then", "breadth", bname)
            if isinstance(value, int):
                if value < 0:
                    err("schema_error", f"breadth {bname} must be 0 or more", bl)
                bounds.append(Literal(value, bl))
            else:
                try:
                    bounds.append(parse_expression(value, limits, _expr_origin(smap, [*base, "then", "breadth"], value, file)))
                except ExpressionError as exc:
                    diags.append(attrs.evolve(exc.diagnostic, rule_id=rid))
                    bounds.append(Literal(0, bl))
        breadth = Breadth(bounds[0], bounds[1])
    if abs(rr.salience) > MAX_SALIENCE:
        err("limit_exceeded", f"salience {rr.salience} is out of range (at most {MAX_SALIENCE:,} either way)", key_loc("salience"))
    if eff.priority is not None and not abs(eff.priority) <= 1e6:
        err("limit_exceeded", f"`priority` {eff.priority} is out of range (at most 1,000,000 either way)", key_loc("then", "priority"))

    def number_or_expr(value: int | float | str, keys: list[str | int]) -> Expr:
        where = key_loc("then", *keys)
        if isinstance(value, str):
            try:
                return parse_expression(value, limits, _expr_origin(smap, [*base, "then", *keys], value, file))
            except ExpressionError as exc:
                diags.append(attrs.evolve(exc.diagnostic, rule_id=rid))
                return Literal(0, where)
        if not abs(value) <= 1e6:
            err("limit_exceeded", f"`{'.'.join(map(str, keys))}` {value} is out of range (at most 1,000,000 either way)", where)
        return Literal(value, where)

    odds = number_or_expr(eff.odds, ["odds"]) if eff.odds is not None else None
    if isinstance(odds, Literal) and isinstance(odds.value, int | float) and not odds.value > 0:
        err("schema_error", f"`odds` multiplies the odds of an interview, so it must be above 0, got {odds.value}", key_loc("then", "odds"))
    cap = number_or_expr(eff.chance_cap, ["chance_cap"]) if eff.chance_cap is not None else None
    if isinstance(cap, Literal) and isinstance(cap.value, int | float) and not 0 < cap.value <= 1:
        err("schema_error", f"`chance_cap` is a chance between 0 and 1, got {cap.value}", key_loc("then", "chance_cap"))
    if eff.tier_at_most is not None and eff.tier_at_most not in TIERS:
        err(
            "schema_error",
            f"`tier_at_most` must be one of {', '.join(TIERS)}, got `{eff.tier_at_most}`",
            key_loc("then", "tier_at_most"),
            suggestion=did_you_mean(eff.tier_at_most, TIERS),
        )
    named: dict[str, tuple[tuple[str, Expr], ...]] = {}
    for fname in ("estimate", "at_most", "at_least"):
        table = getattr(eff, fname) or {}
        items: list[tuple[str, Expr]] = []
        for name, value in sorted(table.items()):
            if not _TAG.match(name):
                err("schema_error", f"`{fname}` name `{name}` must be a lower-case identifier", key_loc("then", fname))
            items.append((name, number_or_expr(value, [fname, name])))
        named[fname] = tuple(items)
    sets = tuple(sorted((eff.set or {}).items()))
    for name, v in sets:
        if not _TAG.fullmatch(name):
            err("schema_error", f"`set` target `{name}` must be a lower-case identifier", key_loc("then", "set"))
        if isinstance(v, int | float) and not isinstance(v, bool) and not abs(v) <= 1e6:
            err("limit_exceeded", f"`set {name}` {v} is out of range (at most 1,000,000 either way)", key_loc("then", "set"))
    effect = Effect(
        tags=tags,
        priority=eff.priority,
        odds=odds,
        chance_cap=cap,
        tier_at_most=eff.tier_at_most,
        exclude=templates["exclude"],
        advice=templates["advice"],
        sets=sets,
        breadth=breadth,
        estimate=named["estimate"],
        at_most=named["at_most"],
        at_least=named["at_least"],
    )
    if effect == Effect():
        err(
            "schema_error",
            "`then` has no effect; give it tag, odds, chance_cap, tier_at_most, priority, exclude, advice, set, "
            "estimate, breadth, at_most or at_least",
            key_loc("then"),
        )
    if diags:
        return None, diags
    rule = Rule(
        id=rid,
        stage=rr.stage,
        when=tuple(when),
        then=effect,
        salience=rr.salience,
        explain=explain,
        source=rr.source or "",
        description=rr.description,
        enabled=rr.enabled,
        ruleset=header.name,
        ruleset_version=header.version,
        when_text=tuple(t.strip() for t in clauses_text),
        loc=loc,
        when_locs=tuple(when_locs),
    )
    return (rule, rr.override), diags


# --- properties ------------------------------------------------------------------------------

#: what each part of a property may read, and how to say so when it reads something else
_PROPERTY_READS: dict[str, tuple[frozenset[str], str]] = {
    "given": (frozenset({"applicant", "item"}), "a property's `given` reads only the generated applicant (applicant.)"),
    "where": (frozenset({"program", "item"}), "a property's `where` reads only the program's catalog fields (program.)"),
    "holds": (
        frozenset({"result", "applicant", "item"}),
        "a property's `holds` reads the result (result.) and the applicant (applicant.)",
    ),
    "change.where": (frozenset({"item"}), "the `where` of a `remove` change reads only the item (item.)"),
}
_CHANGE_KEYS = (*CHANGE_KINDS, "by", "with", "to", "where")
_CHANGE_OPTIONS = {"raise": ("by",), "lower": ("by",), "add": ("with",), "remove": ("where",), "set": ("to",)}


def _build_property(
    rp: RawProperty, index: int, header: RawHeader, smap: SourceMap, file: str, limits: Limits
) -> tuple[Property | None, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    base: list[str | int] = ["property", index]
    line, col = smap.position(base)
    loc = Location(file, line, col)
    pid = rp.id

    def key_loc(*keys: str | int) -> Location:
        kl, kc = smap.position([*base, *keys])
        return Location(file, kl, kc)

    def err(code: str, msg: str, where: Location | None = None, help: str | None = None, suggestion: str | None = None) -> None:
        diags.append(Diagnostic(code, msg, where or loc, pid, help, suggestion))

    def condition(text: str, key: str, part: str, stage: str, extra: dict[str, FactType] | None = None, scope_list: Path | None = None) -> Expr | None:
        origin = _expr_origin(smap, [*base, *key.split(".")], text, file)
        try:
            e = parse_expression(text, limits, origin)
        except ExpressionError as exc:
            diags.append(attrs.evolve(exc.diagnostic, rule_id=pid))
            return None
        allowed, why = _PROPERTY_READS[part]
        bad = False
        for node in iter_nodes(e):
            if isinstance(node, Path) and node.root not in allowed:
                err("stage_error", f"`{node.dotted}`: {why}", node.loc)
                bad = True
            elif reads_tags(node):
                err("stage_error", f"has() reads rule tags, which a property cannot: {why}", node.loc, help="test the facts the tag stands for")
                bad = True
        if bad:
            return None
        checked: Expr = e if scope_list is None else Call(ANY_ITEM.name, (scope_list, e), e.loc)
        _t, cdiags, _c = check_expression(checked, stage, rule_id=pid, extra_roots=extra)
        diags.extend(cdiags)
        return None if cdiags else e

    if not _RULE_ID.match(pid):
        err("schema_error", f"property id `{pid}` must be lower-case words joined by dots, like `invariants.step2_never_lowers_tier`", key_loc("id"))
    given_text = [] if rp.given is None else [rp.given] if isinstance(rp.given, str) else list(rp.given)
    given = [condition(t, "given", "given", "profile") for t in given_text]
    change: Change | None = None
    observe: tuple[str, ...] = ()
    never = rp.never or "lower"
    where: Expr | None = None
    holds_text = [] if rp.holds is None else [rp.holds] if isinstance(rp.holds, str) else list(rp.holds)
    holds: list[Expr | None] = []
    if (rp.change is None) == (rp.holds is None):
        err(
            "schema_error",
            "a property has either `change` (a monotone property) or `holds` (an invariant)"
            + (", not both" if rp.change is not None else ""),
            help='monotone: change = { raise = "applicant.step2_ck.score", by = [1, 20] }, observe = ["program.tier"]; '
            'invariant: holds = "len(result.chosen) >= min(result.breadth.min, result.breadth.eligible)"',
        )
    if rp.change is not None:
        change = _build_change(rp.change, base, smap, file, pid, diags, condition)
        observe_list = [] if rp.observe is None else [rp.observe] if isinstance(rp.observe, str) else list(rp.observe)
        if not observe_list:
            err("schema_error", "a `change` needs `observe`: what it must never move the wrong way", help="observables: " + ", ".join(OBSERVABLES))
        for name in observe_list:
            if name not in OBSERVABLES:
                err(
                    "unknown_field",
                    f"unknown observable `{name}`",
                    key_loc("observe"),
                    suggestion=did_you_mean(name, OBSERVABLES),
                    help="observables: " + ", ".join(OBSERVABLES),
                )
        observe = tuple(observe_list)
        if never not in DIRECTIONS:
            err("schema_error", f'`never` must be "lower" or "raise", got "{never}"', key_loc("never"), suggestion=did_you_mean(never, DIRECTIONS))
        if rp.where is not None:
            if observe and not any(OBSERVABLES[o].per_program for o in observe if o in OBSERVABLES):
                err("schema_error", "`where` picks programs, but every observable here is about the whole list", key_loc("where"))
            where = condition(rp.where, "where", "where", "program")
    else:
        for key in ("observe", "never", "where"):
            if getattr(rp, key) is not None and rp.holds is not None:
                err("schema_error", f"`{key}` belongs to a monotone property (one with `change`); an invariant has only `holds`", key_loc(key))
    if rp.holds is not None:
        if not holds_text:
            err("schema_error", "`holds` is an empty list", key_loc("holds"))
        holds = [condition(t, "holds", "holds", "profile", result_root()) for t in holds_text]
    if diags:
        return None, diags
    return (
        Property(
            id=pid,
            given=tuple(g for g in given if g is not None),
            change=change,
            observe=observe,
            never=never,
            where=where,
            holds=tuple(h for h in holds if h is not None),
            description=rp.description,
            source=rp.source or "",
            enabled=rp.enabled,
            ruleset=header.name,
            ruleset_version=header.version,
            given_text=tuple(t.strip() for t in given_text),
            where_text=(rp.where or "").strip(),
            holds_text=tuple(t.strip() for t in holds_text),
            loc=loc,
        ),
        diags,
    )


def _profile_field(parts: Sequence[str]) -> tuple[type, str] | None:
    """The record class holding the last part of an ``applicant.`` path, and the field's name.

    None when the last part is a computed value (``failed_attempts``), which cannot be changed.
    """
    import typing

    from ..domain.models import Profile

    cls: type = Profile
    for part in parts[:-1]:
        hint = type_hints(cls)[part]
        args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        cls = args[0]
    names = {a.name for a in attrs.fields(cls)}
    return (cls, parts[-1]) if parts[-1] in names else None


def _field_is_int(cls: type, name: str) -> bool:
    import typing

    hint = type_hints(cls)[name]
    return int in (typing.get_args(hint) or (hint,))


def _value_fits(value: Any, t: FactType) -> str | None:
    """Why ``value`` (from TOML) is not a value of type ``t``, or None when it is."""
    if t.kind == "bool":
        return None if isinstance(value, bool) else "true or false"
    if t.kind == "number":
        return None if isinstance(value, int | float) and not isinstance(value, bool) else "a number"
    if t.kind == "string":
        if not isinstance(value, str):
            return "a string"
        if t.enum and value not in t.enum:
            return "one of " + ", ".join(t.enum)
        return None
    return f"a {t.describe()}, which a change cannot write"


def _build_change(
    raw: dict[str, Any], base: list[str | int], smap: SourceMap, file: str, pid: str, diags: list[Diagnostic], condition: Any
) -> Change | None:
    def key_loc(*keys: str) -> Location:
        kl, kc = smap.position([*base, "change", *keys])
        return Location(file, kl, kc)

    def err(code: str, msg: str, where: Location, help: str | None = None, suggestion: str | None = None) -> None:
        diags.append(Diagnostic(code, msg, where, pid, help, suggestion))

    before = len(diags)
    for key in raw:
        if key not in _CHANGE_KEYS:
            err("schema_error", f"unknown key `change.{key}`", key_loc(key), suggestion=did_you_mean(key, _CHANGE_KEYS), help="keys: " + ", ".join(_CHANGE_KEYS))
    verbs = [k for k in CHANGE_KINDS if k in raw]
    if len(verbs) != 1:
        err(
            "schema_error",
            "`change` needs exactly one of raise, lower, add, remove or set" + (f"; it has {', '.join(verbs)}" if verbs else ""),
            key_loc(),
            help='e.g. change = { raise = "applicant.step2_ck.score", by = [1, 20] }',
        )
        return None
    kind = verbs[0]
    for key in ("by", "with", "to", "where"):
        if key in raw and key not in _CHANGE_OPTIONS[kind]:
            err("schema_error", f"`{key}` does not go with `{kind}`", key_loc(key), help=f"`{kind}` takes " + (", ".join(_CHANGE_OPTIONS[kind]) or "nothing else"))
    text = raw[kind]
    if not isinstance(text, str):
        err("schema_error", f"`{kind}` names a profile field, like \"applicant.step2_ck.score\"", key_loc(kind))
        return None
    origin = _expr_origin(smap, [*base, "change"], text, file)
    try:
        path = parse_expression(text, DEFAULT_LIMITS, origin)
    except ExpressionError as exc:
        diags.append(attrs.evolve(exc.diagnostic, rule_id=pid))
        return None
    if not isinstance(path, Path) or path.root != "applicant" or not path.parts:
        err("schema_error", f"`{kind}` names a profile field, like \"applicant.step2_ck.score\", not `{text}`", origin)
        return None
    t, cdiags, _c = check_expression(path, "profile", rule_id=pid, want=None)
    if cdiags:
        diags.extend(cdiags)
        return None
    field = _profile_field(path.parts)
    if field is None:
        err("schema_error", f"`{path.dotted}` is computed from other fields; change those instead", origin, help="e.g. lower applicant.step1.attempts rather than failed_attempts")
        return None
    cls, name = field
    by: tuple[float, float] | None = None
    integer = True
    fixed: list[tuple[str, Any]] = []
    to: Any = None
    where: Expr | None = None
    if kind in ("raise", "lower"):
        if t.kind != "number":
            err("type_error", f"`{kind}` moves a number; `{path.dotted}` is a {t.describe()}", origin, help="use `set` for other fields")
        integer = _field_is_int(cls, name)
        amount = raw.get("by")
        bounds = [amount, amount] if isinstance(amount, int | float) else amount
        if amount is None:
            err("schema_error", f"`{kind}` needs `by`: an amount, or [least, most] to draw it from", key_loc())
        elif (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
        ):
            err("schema_error", "`by` is a number or [least, most]", key_loc("by"))
        else:
            lo, hi = float(bounds[0]), float(bounds[1])
            if not (0 < lo <= hi <= 1e6):
                err("schema_error", f"`by` must be more than 0 with least <= most, got {amount}", key_loc("by"))
            elif integer and not (lo.is_integer() and hi.is_integer()):
                err("type_error", f"`{path.dotted}` is a whole number; `by` must be whole numbers", key_loc("by"))
            by = (lo, hi)
    elif kind in ("add", "remove"):
        elem = t.elem
        if t.kind != "list" or elem is None or elem.kind != "record" or elem.record is None:
            err("type_error", f"`{kind}` works on a list of records (letters, usce, ties, community_work); `{path.dotted}` is a {t.describe()}", origin)
            return None
        fields = {a.name for a in attrs.fields(elem.record)}
        types = record_fields(elem.record)
        if kind == "add":
            with_ = raw.get("with", {})
            if not isinstance(with_, dict):
                err("schema_error", "`with` is a table of the item's fields, like { us = true }", key_loc("with"))
                with_ = {}
            for k, v in with_.items():
                if k not in fields:
                    err(
                        "unknown_field",
                        f"`{elem.record.__name__}` has no field `{k}`",
                        key_loc("with", k),
                        suggestion=did_you_mean(k, fields),
                        help=None if did_you_mean(k, fields) else "fields: " + ", ".join(sorted(fields)),
                    )
                    continue
                why = _value_fits(v, types[k])
                if why is not None:
                    err("type_error", f"`with.{k}` must be {why}, got {v!r}", key_loc("with", k))
                    continue
                fixed.append((k, v))
        elif "where" in raw:
            wtext = raw["where"]
            if not isinstance(wtext, str):
                err("schema_error", "`where` is a condition on the item, like \"item.us\"", key_loc("where"))
            else:
                where = condition(wtext, "change", "change.where", "profile", None, path)
    else:
        if "to" not in raw:
            err("schema_error", "`set` needs `to`: the value to set", key_loc())
        else:
            to = raw["to"]
            why = _value_fits(to, t)
            if why is not None:
                err("type_error", f"`to` must be {why} for `{path.dotted}`, got {to!r}", key_loc("to"))
    if len(diags) > before:
        return None
    return Change(
        kind=kind,
        path=path,
        by=by,
        integer=integer,
        fixed=tuple(fixed),
        to=to,
        where=where,
        where_text=str(raw.get("where", "")).strip(),
    )


def _template(text: str, smap: SourceMap, key_path: list[str | int], file: str, rid: str, diags: list[Diagnostic], limits: Limits) -> Template:
    line, col = smap.position(key_path)
    if len(text) > limits.max_message_length:
        diags.append(
            Diagnostic(
                "limit_exceeded",
                f"template longer than {limits.max_message_length} characters",
                Location(file, line, col),
                rid,
                help=limit_help("max_message_length"),
            )
        )
        return Template(text)
    fields: list[Expr] = []
    keys: dict[str, str] = {}
    for placeholder, _offset in Template.placeholders(text):
        ph = placeholder.strip()
        try:
            e = parse_expression(ph, limits, Location(file, line, col))
        except ExpressionError as exc:
            diags.append(attrs.evolve(exc.diagnostic, code="template_error", rule_id=rid, message=f"in `{{{placeholder}}}`: {exc.diagnostic.message}"))
            continue
        if ph not in keys:
            fields.append(e)
            keys[ph] = e.dotted if isinstance(e, Path) else to_source(e)
    return Template(text, tuple(fields), tuple(keys.items()))


# --- finding files ---------------------------------------------------------------------------


def shipped_rulesets_path() -> FsPath:
    """The folder of rule sets shipped with the package.

    In a wheel they are installed inside the package (``smartpick_rules/rulesets``); in an
    editable install from a clone they stay where rule authors edit them, at the repository's
    root (``rulesets/``), which the package's source tree sits two levels below.
    """
    installed = FsPath(__file__).parents[1] / "rulesets"  # the package folder (see inputs.sample_catalog_path)
    if installed.is_dir():
        return installed
    checkout = FsPath(__file__).resolve().parents[3] / "rulesets"
    if checkout.is_dir():
        return checkout
    return installed


#: how shipped rule files are named in diagnostics, audit trails and provenance
SHIPPED_PREFIX = "smartpick_rules/rulesets/"


def shipped_file(name: str) -> FsPath | None:
    """The file a shipped rule set's display name (``smartpick_rules/rulesets/base.toml``) stands for."""
    if not name.startswith(SHIPPED_PREFIX):
        return None
    return shipped_rulesets_path() / name[len(SHIPPED_PREFIX) :]


def _display_name(f: FsPath, shipped: FsPath | None = None) -> str:
    """How a rule file is named in diagnostics and audit trails.

    Shipped files are named relative to the package (``smartpick_rules/rulesets/base.toml``) so
    an audit trail reads the same on every machine; other files keep the path the caller gave.
    ``shipped`` is ``shipped_rulesets_path().resolve()``, when the caller has it already.
    """
    try:
        rel = f.resolve().relative_to(shipped or shipped_rulesets_path().resolve())
    except ValueError:
        return str(f)
    return SHIPPED_PREFIX + rel.as_posix()


def _is_rule_file(p: FsPath) -> bool:
    return p.suffix == ".toml" and not p.name.endswith(".test.toml") and not p.name.startswith(".")


def _expand(paths: Sequence[str | FsPath], diags: list[Diagnostic]) -> list[FsPath]:
    files: list[FsPath] = []
    # the same path named twice (a shell glob, a typo) is one rule set, and one error if missing
    for raw in dict.fromkeys(FsPath(x) for x in paths):
        p = FsPath(raw)
        if p.is_dir():
            root = p.resolve()
            for f in sorted(p.rglob("*.toml")):
                rel_parts = f.relative_to(p).parts
                if any(part == "tests" or part.startswith(".") for part in rel_parts[:-1]):
                    continue
                if not _is_rule_file(f):
                    continue
                if not f.is_file():
                    diags.append(Diagnostic("io_error", "refused: not a regular file", Location(str(f))))
                    continue
                real = f.resolve()
                if not real.is_relative_to(root):
                    diags.append(
                        Diagnostic(
                            "io_error",
                            # where the link points is not said: the message may reach the uploader
                            f"refused: a link to a file outside the rule-set folder {raw}",
                            Location(str(f)),
                            help="a rule-set folder may not link to files outside itself",
                        )
                    )
                    continue
                files.append(f)
        elif p.is_file():
            files.append(p)
        elif p.exists():
            diags.append(Diagnostic("io_error", "refused: not a regular file or folder", Location(str(p))))
        else:
            diags.append(Diagnostic("io_error", "no such file or folder", Location(str(p))))
    return files


def load_rules(*paths: str | FsPath, limits: Limits = DEFAULT_LIMITS, cache: RuleCache | None = None) -> RuleSet:
    """Load, compose and type-check rule sets.

    ``paths`` are files or folders (folders are searched recursively for ``*.toml``, skipping
    ``tests/`` folders and ``*.test.toml`` files). With no argument, the rule sets shipped with the
    package are loaded. Raises [`RulesetError`][smartpick_rules.RulesetError] carrying every
    diagnostic.

    ``cache`` (a ``RuleCache``, what the command line passes) keeps each file's parsed form on
    disk and reads it back while the file's text is unchanged: the same rule set, sooner. Without
    it nothing is written.
    """
    diags: list[Diagnostic] = []
    files = _expand(paths or (shipped_rulesets_path(),), diags)
    sources: list[tuple[str, str]] = []
    if len(files) > limits.max_rulesets:
        raise RulesetError(
            Diagnostic(
                "limit_exceeded",
                f"{len(files)} rule-set files, more than the limit of {limits.max_rulesets}",
                Location(),
                help=limit_help("max_rulesets"),
            )
        )
    total = 0
    shipped: FsPath | None = None
    for f in files:
        try:
            size = f.stat().st_size
            if size > limits.max_ruleset_bytes:
                diags.append(
                    Diagnostic(
                        "limit_exceeded",
                        f"file is {size} bytes, more than the limit of {limits.max_ruleset_bytes}",
                        Location(str(f)),
                        help=limit_help("max_ruleset_bytes"),
                    )
                )
                continue
            total += size
            if total > limits.max_ruleset_total_bytes:
                raise RulesetError(
                    Diagnostic(
                        "limit_exceeded",
                        f"the rule-set files are more than {limits.max_ruleset_total_bytes} bytes together",
                        Location(str(f)),
                        help=limit_help("max_ruleset_total_bytes"),
                    )
                )
            if shipped is None:
                shipped = shipped_rulesets_path().resolve()
            sources.append((_display_name(f, shipped), f.read_bytes().decode("utf-8-sig")))
        except UnicodeDecodeError as exc:
            diags.append(Diagnostic("parse_error", f"not UTF-8 text (byte {exc.start})", Location(str(f))))
        except OSError as exc:
            diags.append(Diagnostic("io_error", f"cannot read: {exc.strerror}", Location(str(f))))
    if diags:
        raise RulesetError(diags)
    return load_rules_from_text(sources, limits=limits, cache=cache)


def load_rules_from_text(
    sources: Iterable[tuple[str, str]], *, limits: Limits = DEFAULT_LIMITS, cache: RuleCache | None = None
) -> RuleSet:
    """Load rule sets from ``(file name, TOML text)`` pairs; what
    [`load_rules`][smartpick_rules.load_rules] does after reading."""
    diags: list[Diagnostic] = []
    loaded: list[_LoadedFile] = []
    total = 0
    for file, text in sources:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            diags.append(Diagnostic("parse_error", f"not valid Unicode text (character {exc.start})", Location(file)))
            continue
        if len(data) > limits.max_ruleset_bytes:
            diags.append(
                Diagnostic(
                    "limit_exceeded",
                    f"more than {limits.max_ruleset_bytes} bytes",
                    Location(file),
                    help=limit_help("max_ruleset_bytes"),
                )
            )
            continue
        total += len(data)
        if total > limits.max_ruleset_total_bytes:
            raise RulesetError(
                Diagnostic(
                    "limit_exceeded",
                    f"the rule-set texts are more than {limits.max_ruleset_total_bytes} bytes together",
                    Location(file),
                    help=limit_help("max_ruleset_total_bytes"),
                )
            )
        sha = hashlib.sha256(data).hexdigest()
        key = RuleCache.key("ruleset-file", file, sha, repr(limits)) if cache is not None else ""
        cached = cache.get(key) if cache is not None else None
        if isinstance(cached, _LoadedFile):
            loaded.append(cached)
            continue
        lf, d = _parse_file(text, file, limits, sha)
        if cache is not None and lf is not None and not d:
            cache.put(key, lf)
        diags.extend(d)
        if lf is not None:
            loaded.append(lf)
    if diags:
        raise RulesetError(diags)
    ordered, order_diags = _order(loaded)
    if order_diags:
        raise RulesetError(order_diags)
    ruleset, compose_diags = _compose(ordered, limits)
    if compose_diags:
        raise RulesetError(compose_diags)
    analysis = analyse_rules(
        ruleset.rules, limits, estimates=ruleset.estimates, groups=ruleset.groups, levers=ruleset.levers
    )
    errors = [d for d in analysis.diagnostics if d.severity == "error"]
    if errors:
        raise RulesetError(errors)
    # the planner reuses it rather than check again (under the same limits)
    ruleset.compiled_cache()[("analysis", limits)] = analysis
    return ruleset


def _order(loaded: list[_LoadedFile]) -> tuple[list[_LoadedFile], list[Diagnostic]]:
    """Rule sets after the ones they require; otherwise in the order given."""
    diags: list[Diagnostic] = []
    by_name: dict[str, _LoadedFile] = {}
    for lf in loaded:
        if lf.info.name in by_name:
            diags.append(
                Diagnostic(
                    "duplicate_rule",
                    f"rule set `{lf.info.name}` is also defined in {by_name[lf.info.name].info.path}",
                    lf.loc,
                )
            )
        by_name[lf.info.name] = lf
    for lf in loaded:
        for req in lf.info.requires:
            if req == lf.info.name:
                diags.append(Diagnostic("dependency_cycle", f"rule set `{req}` requires itself", lf.loc))
            elif req not in by_name:
                diags.append(
                    Diagnostic(
                        "unknown_ruleset",
                        f"requires rule set `{req}`, which is not loaded",
                        lf.loc,
                        suggestion=did_you_mean(req, by_name),
                        help="load it too (pass its file or folder), or remove it from `requires`",
                    )
                )
    if diags:
        return [], diags
    ordered: list[_LoadedFile] = []
    state: dict[str, int] = {}
    # depth-first, post-order, with an explicit stack: a chain of thousands of `requires` must
    # not exhaust Python's stack
    for start in loaded:
        if state.get(start.info.name):
            continue
        state[start.info.name] = 1
        chain: list[str] = [start.info.name]
        work: list[tuple[_LoadedFile, Iterator[str]]] = [(start, iter(start.info.requires))]
        while work:
            lf, requires = work[-1]
            for req in requires:
                dep = by_name[req]
                seen = state.get(req)
                if seen == 1:
                    names = [*chain[chain.index(req):], req]
                    if len(names) > 12:  # one line, however long the cycle
                        names = [*names[:6], f"... {len(names) - 9} more ...", *names[-3:]]
                    cycle = " -> ".join(names)
                    diags.append(Diagnostic("dependency_cycle", f"rule sets require each other: {cycle}", dep.loc))
                elif seen is None:
                    state[req] = 1
                    chain.append(req)
                    work.append((dep, iter(dep.info.requires)))
                    break
            else:
                work.pop()
                chain.pop()
                state[lf.info.name] = 2
                ordered.append(lf)
    return ordered, diags


def _compose(ordered: list[_LoadedFile], limits: Limits) -> tuple[RuleSet, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    active: dict[str, Rule] = {}
    disabled: dict[str, Rule] = {}
    overridden: list[Rule] = []
    model = ChanceModel()
    chance = {k: getattr(model, k) for k in ("base", "target", "likely", "floor", "ceiling")}
    estimates: dict[str, Estimate] = {}
    groups: dict[str, Group] = {}
    levers: dict[str, Lever] = {}
    props: dict[str, Property] = {}
    props_off: dict[str, Property] = {}
    for lf in ordered:
        for r, override in lf.rules:
            if override:
                if r.id in active or r.id in disabled:
                    overridden.append(active.pop(r.id) if r.id in active else disabled.pop(r.id))
                else:
                    diags.append(
                        Diagnostic(
                            "unknown_rule",
                            "`override = true` but no earlier rule set has this id",
                            r.loc,
                            r.id,
                            suggestion=did_you_mean(r.id, [*active, *disabled]),
                        )
                    )
                    continue
            elif r.id in active or r.id in disabled:
                prev = active.get(r.id) or disabled[r.id]
                diags.append(
                    Diagnostic(
                        "duplicate_rule",
                        f"rule id already used at {prev.loc}",
                        r.loc,
                        r.id,
                        help="give it a new id, or write `override = true` to replace the earlier rule",
                    )
                )
                continue
            if r.id in props or r.id in props_off:
                diags.append(
                    Diagnostic(
                        "duplicate_rule",
                        f"id already used by a property at {(props.get(r.id) or props_off[r.id]).loc}",
                        r.loc,
                        r.id,
                        help="rules and properties share one namespace of ids",
                    )
                )
                continue
            if r.enabled:
                active[r.id] = r
            else:
                disabled[r.id] = r
        for prop in lf.properties:
            clash = props.get(prop.id) or props_off.get(prop.id)
            if clash is not None or prop.id in active or prop.id in disabled:
                where = clash.loc if clash is not None else (active.get(prop.id) or disabled[prop.id]).loc
                diags.append(
                    Diagnostic(
                        "duplicate_rule",
                        f"id already used at {where}",
                        prop.loc,
                        prop.id,
                        help="rules and properties share one namespace of ids; give this property a new id",
                    )
                )
                continue
            if prop.enabled:
                props[prop.id] = prop
            else:
                props_off[prop.id] = prop
        for rid in lf.info.disables:
            if rid in props:
                props_off[rid] = attrs.evolve(props.pop(rid), enabled=False)
            elif rid in props_off:
                pass
            elif rid in active:
                disabled[rid] = attrs.evolve(active.pop(rid), enabled=False)
            elif rid not in disabled:
                diags.append(
                    Diagnostic(
                        "unknown_rule",
                        f"`disable` names rule `{rid}`, which no loaded rule set defines",
                        lf.loc,
                        suggestion=did_you_mean(rid, [*active, *props]),
                    )
                )
        if lf.chance is not None:
            for k in chance:
                v = getattr(lf.chance, k)
                if v is not None:
                    chance[k] = v
        for est in lf.estimates:
            if est.name in estimates:
                diags.append(Diagnostic("duplicate_rule", f"estimate `{est.name}` is also declared at {estimates[est.name].loc}", est.loc))
            estimates[est.name] = est
        for lever in lf.levers:
            if lever.id in levers:
                diags.append(Diagnostic("duplicate_rule", f"lever `{lever.id}` is also declared at {levers[lever.id].loc}", lever.loc, lever.id))
            levers[lever.id] = lever
        for grp in lf.groups:
            if grp.name in groups:
                diags.append(Diagnostic("duplicate_rule", f"group `{grp.name}` is also declared at {groups[grp.name].loc}", grp.loc))
            groups[grp.name] = grp
    if len(active) > limits.max_rules:
        diags.append(
            Diagnostic(
                "limit_exceeded",
                f"{len(active)} rules, more than the limit of {limits.max_rules}",
                Location(),
                help=limit_help("max_rules"),
            )
        )
    where = ordered[-1].loc if ordered else Location()
    for k, v in chance.items():
        if not 0 < v < 1:
            diags.append(Diagnostic("schema_error", f"[chance] {k} is a chance between 0 and 1 (exclusive), got {v}", where))
    if not chance["floor"] <= chance["base"] <= chance["ceiling"]:
        diags.append(Diagnostic("schema_error", "[chance] base must lie between floor and ceiling", where))
    if chance["target"] > chance["likely"]:
        diags.append(Diagnostic("schema_error", f"[chance] target ({chance['target']}) is above likely ({chance['likely']})", where))
    rs = RuleSet(
        rules=tuple(active.values()),
        rulesets=tuple(lf.info for lf in ordered),
        chance=ChanceModel(**chance),
        estimates=tuple(estimates.values()),
        groups=tuple(groups.values()),
        levers=tuple(levers.values()),
        disabled=tuple(disabled.values()),
        overridden=tuple(overridden),
        properties=tuple(props.values()),
        disabled_properties=tuple(props_off.values()),
    )
    return rs, diags
