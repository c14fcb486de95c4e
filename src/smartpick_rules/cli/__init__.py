"""The ``smartpick-rules`` command.

``evaluate`` builds the list, ``explain`` says why one program is where it is, ``check`` and
``test`` are for rule authors, ``whatif`` and ``levers`` for applicants, ``schema`` and
``compile`` for editors and auditors. See docs/cli.md.

Every error the library raises on purpose (a wrong path, a malformed profile, a broken rule
file) is printed as one line on stderr, ``file:line:col: code: message``, with exit status 2;
never a traceback.
"""

from __future__ import annotations

import argparse
import contextvars
import datetime as _dt
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import IO, Any, NoReturn

from ..errors import Diagnostic, InputError, Location, SmartpickError, did_you_mean
from ..version import __version__
from .io import (
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_INTERNAL,
    EXIT_OK,
    SHIPPED_PREFIX,
    Io,
    Progress,
    UsageError,
    catalog_is_synthetic,
    evaluation_inputs,
    loading,
    profile_arg,
    rules_from,
    shipped_path,
    title,
    whole_number_argument,
    write_output,
    year_argument,
)

__all__ = ["main"]

PROG = "smartpick-rules"

_CURRENT_IO: contextvars.ContextVar[Io | None] = contextvars.ContextVar("smartpick_cli_io", default=None)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def _print_message(self, message: str, file: Any = None) -> None:
        io = _CURRENT_IO.get()
        if io is not None and message:
            (io.err if file is sys.stderr else io.out).write(message)
            return
        super()._print_message(message, file)


class _CommandParser(_Parser):
    """A command's parser: options and positionals in any order.

    ``explain PROFILE --as-of 2026 PROGRAM_ID`` and ``explain --example NAME PROGRAM_ID`` both
    work: the positionals are matched together after the options, not chunk by chunk (where an
    optional PROFILE would swallow the program id).
    """

    _inner = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._inner:
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


# --- commands ---------------------------------------------------------------------------------
# (The handlers of `test`, `whatif` and `compile` are not named cmd_test & co.: importing the
# submodule of that name rebinds the package attribute, and a second main() in one process would
# find a module where the handler was.)


def cmd_evaluate(args: argparse.Namespace, io: Io) -> int:
    from ..reports import render as report
    from ..runtime.session import evaluate

    with loading(io, args, "loading") as progress:
        profile, catalog, rules = evaluation_inputs(args, progress)
        progress.update(f"evaluating {len(catalog):,} programs")
        rec = evaluate(profile, catalog, rules, engine=args.engine, as_of=args.as_of)
        progress.update("writing the report")
        color = args.format == "table" and not args.output and io.out_wants_color()
        text = report.render(
            rec,
            args.format,
            top=args.top,
            width=args.width,
            title=title(profile),
            synthetic=catalog_is_synthetic(catalog),
            profile_arg=profile_arg(args),
            color=color,
        )
    # a coloured table is built from text already stripped of control characters
    write_output(io, text, args.output, f"the {args.format} report", json_text=args.format == "json", sanitized=color)
    return EXIT_OK


def _program_or_error(catalog: Any, program_id: str) -> None:
    if catalog.get(program_id) is None:
        raise InputError(
            Diagnostic(
                "input_error",
                f"no program `{program_id}` in the catalog",
                Location(catalog.source or "<catalog>"),
                suggestion=did_you_mean(program_id, catalog.ids()),
                help="program ids are the first column of the catalog; `evaluate` lists them",
            )
        )


def cmd_explain(args: argparse.Namespace, io: Io) -> int:
    from ..domain.converter import unstructure
    from ..runtime.session import evaluate

    with loading(io, args, "loading") as progress:
        profile, catalog, rules = evaluation_inputs(args, progress)
        _program_or_error(catalog, args.program_id)
        progress.update(f"evaluating {len(catalog):,} programs")
        rec = evaluate(profile, catalog, rules, engine=args.engine, as_of=args.as_of)
    if args.format == "json":
        result = rec.get(args.program_id)
        assert result is not None
        data = {
            "program": unstructure(result),
            "why_not": [unstructure(w) for w in rec.why_not(args.program_id)],
            "provenance": unstructure(rec.provenance),
        }
        write_output(io, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", args.output, "the explanation", json_text=True)
    else:
        note = "\n(Tiers estimate the chance of an interview invitation, not of matching.)\n"
        write_output(io, rec.explain(args.program_id) + "\n" + note, args.output, "the explanation")
    return EXIT_OK


def cmd_check(args: argparse.Namespace, io: Io) -> int:
    from ..analysis.lint import lint_rules
    from ..errors import RulesetError
    paths = args.paths or [str(shipped_path())]
    diags: list[Diagnostic] = []
    n_rules = 0
    files: list[str] = []
    with Progress(io, "checking rule sets"):
        try:
            rs = rules_from(paths, args.with_shipped)
        except RulesetError as exc:
            diags = list(exc.diagnostics)
        else:
            own = [
                info.path
                for info in rs.rulesets
                if not (args.with_shipped and info.path.startswith(SHIPPED_PREFIX))
            ]
            files = own
            n_rules = sum(1 for r in rs.rules if r.loc.file in set(own))
            diags = lint_rules(rs, files=own if args.with_shipped else None)
    errors = [d for d in diags if d.severity == "error"]
    warnings = [d for d in diags if d.severity != "error"]
    own_props = [] if errors else [p for p in rs.properties if not args.with_shipped or p.loc.file in set(own)]
    report = None
    if args.properties and not errors:
        from .cmd_properties import run_property_check

        report = run_property_check(args, io, rs, own_props)
    if args.format == "json":
        data: dict[str, Any] = {
            "files": files,
            "rules": n_rules,
            "errors": len(errors),
            "warnings": len(warnings),
            "diagnostics": [d.to_dict() for d in diags],
        }
        if own_props:
            data["property_count"] = len(own_props)
        if report is not None:
            data["properties"] = report.to_dict()
        io.print(json.dumps(data, indent=2, ensure_ascii=False, default=str), raw=True)
    else:
        for d in diags:
            io.print(d.render())
        if errors:
            io.print(f"{_plural(len(errors), 'error')}, {_plural(len(warnings), 'warning')}: the rule sets do not load")
        else:
            props = f", {len(own_props):,} propert{'y' if len(own_props) == 1 else 'ies'}" if own_props else ""
            io.print(
                f"checked {_plural(len(files), 'file')}, {_plural(n_rules, 'rule')}{props}: "
                f"{_plural(len(errors), 'error')}, {_plural(len(warnings), 'warning')}"
            )
        if report is not None:
            io.print(report.render())
    if errors:
        return EXIT_ERROR
    if report is not None and not report.ok:
        return EXIT_FAIL
    if warnings and args.strict:
        return EXIT_FAIL
    return EXIT_OK


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# Not named cmd_test, cmd_whatif, cmd_compile: importing the submodules of those names sets the
# package attribute, which replaced such a function by the module for every later main() call
# in the same process (exit 70, "'module' object is not callable").
def run_test_command(args: argparse.Namespace, io: Io) -> int:
    from .cmd_test import run_tests

    return run_tests(args, io)


def run_whatif_command(args: argparse.Namespace, io: Io) -> int:
    from .cmd_whatif import whatif_command

    return whatif_command(args, io)


def cmd_levers(args: argparse.Namespace, io: Io) -> int:
    from .cmd_whatif import levers_command

    return levers_command(args, io)


def cmd_schema(args: argparse.Namespace, io: Io) -> int:
    from ..domain.schema import catalog_file_schema, profile_file_schema
    from ..ruleset.json_schema import rule_file_schema

    which = args.schema or "rules"
    schema, what = {
        "rules": (rule_file_schema, "rule files"),
        "profile": (profile_file_schema, "profiles"),
        "catalog": (catalog_file_schema, "catalogs"),
    }[which]
    text = json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
    write_output(io, text, args.output, f"the JSON Schema of {what}", json_text=True)
    return EXIT_OK


def cmd_init(args: argparse.Namespace, io: Io) -> int:
    import tomllib
    from pathlib import Path

    from ..domain.examples import example_names, example_profile_path
    from ..reports.reference import init_profile_text

    if args.list:
        for name in example_names():
            io.print(name)
        return EXIT_OK
    source = example_profile_path(args.example)
    target = Path(args.path)
    if target.exists() and not args.force:
        raise UsageError(f"{PROG} init: {target} exists; pass --force to overwrite it, or give another PATH")
    example = tomllib.loads(source.read_text(encoding="utf-8"))
    # the example's own name would title every report; the new file is the user's
    example["id"] = target.stem or "me"
    example.pop("name", None)
    target.write_text(init_profile_text(example), encoding="utf-8")
    io.print(f"Wrote an example profile to {target}: every field is explained in it.")
    io.print(f"Edit it to describe the applicant, then run: {PROG} evaluate {_shell_word(str(target))}")
    return EXIT_OK


def cmd_import_catalog(args: argparse.Namespace, io: Io) -> int:
    from ..domain.converter import unstructure
    from ..domain.importers import catalog_to_csv, import_catalog

    with Progress(io, f"importing {args.source}"):
        catalog = import_catalog(args.source, args.column_map, sheet=args.sheet)
    as_json = bool(args.output) and args.output.lower().endswith(".json")
    if as_json:
        text = json.dumps({"programs": [unstructure(p) for p in catalog]}, indent=2, ensure_ascii=False) + "\n"
    else:
        text = catalog_to_csv(catalog)
    write_output(io, text, args.output, f"{len(catalog):,} programs", json_text=as_json)
    return EXIT_OK


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)


def run_compile_command(args: argparse.Namespace, io: Io) -> int:
    from .cmd_compile import compile_command

    return compile_command(args, io)


# --- the parser -------------------------------------------------------------------------------


def _positive(text: str) -> int:
    return whole_number_argument(text, 0)


def _width(text: str) -> int:
    n = _positive(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a width of 1 column or more, got {n}")
    return n


def _percent(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage like 90, got {text!r}") from None
    if not 0 <= p <= 100:
        raise argparse.ArgumentTypeError(f"expected a percentage between 0 and 100, got {text}")
    return p


def _add_rules_options(p: argparse.ArgumentParser, positional: bool = False) -> None:
    if not positional:
        p.add_argument(
            "--rules",
            action="append",
            metavar="PATH",
            help="a rule-set file or folder (repeatable); default: the rule sets shipped with the package",
        )
    p.add_argument(
        "--with-shipped",
        action="store_true",
        help="load the shipped rule sets as well, so yours can require, override or disable them",
    )


def _add_evaluation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("profile", metavar="PROFILE", nargs="?", help="the applicant profile (.toml or .json)")
    p.add_argument(
        "--example",
        metavar="NAME",
        help="use a shipped example profile instead of PROFILE (e.g. im_la_low_scores; `smartpick-rules init --list` lists them)",
    )
    p.add_argument(
        "--catalog",
        metavar="FILE",
        help="the program catalog (.csv, .json, .toml, or a spreadsheet .xlsx); default: the shipped sample catalog",
    )
    p.add_argument("--catalog-map", metavar="MAP", help="a column map (TOML) for a catalog whose columns are named otherwise (docs/import.md)")
    _add_rules_options(p)
    p.add_argument("--engine", default="native", metavar="NAME", help="the engine: native (default), durable, or one an installed plugin registers")
    p.add_argument(
        "--as-of",
        type=year_argument,
        default=None,
        metavar="YEAR",
        help="the year years_since() counts from (default: this year); recorded for replay",
    )


class _Unbuilt:
    """Stands for the parser of a command that is not being run: its options are not added."""

    def __getattr__(self, name: str) -> Callable[..., _Unbuilt]:
        return lambda *args, **kwargs: self


def _command_in(argv: Sequence[str]) -> str | None:
    """The command an argument list runs: its first word that is not an option (the top level
    has no option that takes a value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command``, only that command's options are added.

    argparse validates each option as it is added (a formatter, a translation lookup): the
    110 options of all commands cost a cold process about 5 ms, and a run parses one command.
    The others keep their name and help, which is all the top-level usage, help and errors show.
    """
    parser = _Parser(
        prog=PROG,
        description="Build an audited residency program list from declarative TOML rule sets.",
        epilog="Run `smartpick-rules COMMAND --help` for a command's options. Docs: docs/cli.md",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    built: list[str] = []

    def add(name: str, **kwargs: Any) -> Any:
        if command is None or name == command:
            built.append(name)
            return sub.add_parser(name, **kwargs)
        sub.add_parser(name, help=kwargs.get("help"), add_help=False)  # never parses: no -h of its own
        return _Unbuilt()

    p = add("evaluate", help="the recommended program list for a profile", description="Evaluate a profile against a catalog and print the recommended list.")
    _add_evaluation_options(p)
    p.add_argument("--format", choices=("table", "json", "markdown", "html"), default="table", help="output format (default: table)")
    p.add_argument("--top", type=_positive, default=25, metavar="N", help="programs shown in table and markdown (default: 25)")
    p.add_argument("--width", type=_width, default=100, metavar="COLUMNS", help="table width (default: 100)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(func=cmd_evaluate)

    p = add(
        "init",
        help="write a commented example profile to edit",
        description="Write an applicant profile with every field explained (its meaning, unit and allowed values), "
        "filled with an example applicant. Edit it, then run `smartpick-rules evaluate PATH`.",
    )
    p.add_argument("path", metavar="PATH", nargs="?", default="profile.toml", help="where to write it (default: profile.toml)")
    p.add_argument("--example", metavar="NAME", default="default", help="the example applicant to start from (default: default)")
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    p.add_argument("--list", action="store_true", help="list the example profiles and exit")
    p.set_defaults(func=cmd_init)

    p = add("explain", help="why one program is where it is", description="The full trace for one program: every rule that fired, with the values it read and the score after, then every rule considered but not fired, with the clause that failed.")
    _add_evaluation_options(p)
    p.add_argument("program_id", metavar="PROGRAM_ID", help="the program's id in the catalog")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--output", "-o", metavar="FILE")
    p.set_defaults(func=cmd_explain)

    p = add("check", help="load, type-check and lint rule sets", description="Load, type-check and lint rule sets. Exit status: 0 clean (or warnings only), 1 warnings with --strict, 2 errors.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="rule-set files or folders (default: the shipped rule sets)")
    _add_rules_options(p, positional=True)
    p.add_argument("--strict", action="store_true", help="exit with status 1 when there are warnings")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--properties",
        action="store_true",
        help="also search for counterexamples to the rule sets' declared properties (exit status 1 when one is found)",
    )
    from .cmd_properties import add_property_options

    add_property_options(p)
    p.set_defaults(func=cmd_check)

    p = add("test", help="run the rule tests kept beside rule sets", description="Run *.test.toml rule-test suites: pass/fail per case, and the coverage of rules and clauses.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="test files or folders searched for *.test.toml (default: the shipped rule sets' tests)")
    _add_rules_options(p, positional=True)
    p.add_argument("--fail-under", type=_percent, default=None, metavar="PERCENT", help="fail when rule coverage is below PERCENT")
    p.add_argument("--fail-under-clauses", type=_percent, default=None, metavar="PERCENT", help="fail when clause coverage is below PERCENT")
    p.add_argument("--verbose", "-v", action="store_true", help="also list the clauses no test makes true or false")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--no-properties", dest="properties", action="store_false", help="run the rule tests only, not the rule sets' properties")
    add_property_options(p)
    p.set_defaults(func=run_test_command)

    p = add("whatif", help="re-evaluate with changes and show what moves", description="Re-evaluate a profile with changes and show the programs that change tier or exclusion, with the rules responsible.")
    _add_evaluation_options(p)
    p.add_argument(
        "--set",
        dest="changes",
        action="append",
        required=True,
        metavar="FIELD=VALUE",
        help="a change: FIELD=VALUE sets, FIELD+=VALUE appends to a list or adds to a number; "
        "FIELD is a dotted profile path (step2_ck.score), VALUE a TOML value (240, true, \"spanish\")",
    )
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    p.add_argument("--top", type=_positive, default=25, metavar="N", help="programs shown (default: 25)")
    p.add_argument("--output", "-o", metavar="FILE")
    p.set_defaults(func=run_whatif_command)

    p = add("levers", help="which change to the profile moves the most programs", description="Try the parts of a profile an applicant can still change and rank them by how many programs they move.")
    _add_evaluation_options(p)
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    p.add_argument("--output", "-o", metavar="FILE")
    p.set_defaults(func=cmd_levers)

    p = add(
        "schema",
        help="write the JSON Schema of rule, profile or catalog files",
        description="Write a JSON Schema for editors' TOML and JSON plugins: of rule files (default), profiles or catalogs.",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--rules", dest="schema", action="store_const", const="rules", help="rule files (the default)")
    which.add_argument("--profile", dest="schema", action="store_const", const="profile", help="applicant profiles")
    which.add_argument("--catalog", dest="schema", action="store_const", const="catalog", help="JSON and TOML catalogs")
    p.add_argument("--output", "-o", metavar="FILE")
    p.set_defaults(func=cmd_schema)

    p = add(
        "import-catalog",
        help="turn a spreadsheet into a catalog",
        description="Read a spreadsheet (.xlsx or .csv) with a column map and write a catalog (.csv or .json). "
        "Every bad cell is reported with its sheet, row and column. See docs/import.md.",
    )
    p.add_argument("source", metavar="SHEET", help="the spreadsheet: .xlsx or .csv")
    p.add_argument("--map", dest="column_map", metavar="MAP", help="the column map (TOML); without it, columns must be named like the fields")
    p.add_argument("--sheet", metavar="NAME", help="the sheet of an .xlsx workbook (default: the map's, or the first)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the catalog to FILE (.csv or .json); default: CSV on standard output")
    p.set_defaults(func=cmd_import_catalog)

    p = add("compile", help="show what a rule set compiles to", description="Show what a rule set compiles to for an engine, for auditors.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="rule-set files or folders (default: the shipped rule sets)")
    _add_rules_options(p, positional=True)
    p.add_argument("--engine", default="native", metavar="NAME", help="native (default), durable, or one an installed plugin registers")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--output", "-o", metavar="FILE")
    p.set_defaults(func=run_compile_command)
    if command is not None and not built:
        # not a command (a typo, an option's value): every command whole, for argparse's error
        return build_parser(None)
    return parser


def _as_of_default(args: argparse.Namespace) -> None:
    if hasattr(args, "as_of") and args.as_of is None:
        args.as_of = _dt.date.today().year


def main(argv: Sequence[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Run the command line; return the exit status. Streams are injectable for tests."""
    io = Io(stdout if stdout is not None else sys.stdout, stderr if stderr is not None else sys.stderr)
    argv = list(argv) if argv is not None else sys.argv[1:]
    parser = build_parser(_command_in(argv))
    token = _CURRENT_IO.set(io)
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        io.eprint(one_line(str(exc)))
        return EXIT_ERROR
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
    finally:
        _CURRENT_IO.reset(token)
        _flush(parser, io)
    if not getattr(args, "command", None):
        parser.print_usage(io.err)
        io.eprint(f"{PROG}: a command is required (see {PROG} --help)")
        return EXIT_ERROR
    _as_of_default(args)
    func: Callable[[argparse.Namespace, Io], int] = args.func
    try:
        status = func(args, io)
        io.out.flush()
        return status
    except SmartpickError as exc:
        # every mistake in a profile or catalog at once (up to a limit), each on its own line
        for line in error_lines(exc):
            io.eprint(f"{PROG}: {line}")
        return EXIT_ERROR
    except UsageError as exc:
        io.eprint(one_line(str(exc)))
        return EXIT_ERROR
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            _silence_stdout()
            return 141
        where = str(exc.filename or "")
        io.eprint(one_line(f"{PROG}: {where}{': ' if where else ''}{exc.strerror or exc}"))
        return EXIT_ERROR
    except KeyboardInterrupt:
        io.eprint(f"{PROG}: interrupted")
        return 130
    except RecursionError:
        io.eprint(f"{PROG}: an input is nested too deeply to process")
        return EXIT_ERROR
    except Exception as exc:  # a bug: still one line, with a way to see more
        if os.environ.get("SMARTPICK_TRACEBACK"):
            raise
        io.eprint(
            one_line(
                f"{PROG}: internal error: {type(exc).__name__}: {exc} "
                "(please report it; set SMARTPICK_TRACEBACK=1 to see the traceback)"
            )
        )
        return EXIT_INTERNAL


#: most diagnostics printed for one error; the rest are counted
MAX_ERROR_LINES = 20


def error_line(exc: SmartpickError) -> str:
    """One line for stderr: ``exc.first_line()``, which names the field when the message does not.

    Text from the input (an id, a key, a file name) may carry newlines or terminal escapes;
    they are shown escaped, so the error stays one line and cannot rewrite the terminal.
    """
    return one_line(exc.first_line())


_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with control characters (newlines, ESC, ...) written as escapes."""
    return _CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def error_lines(exc: SmartpickError, limit: int = MAX_ERROR_LINES) -> list[str]:
    """Each diagnostic on one line (up to ``limit``), with no control characters from the input."""
    from ..reports.text import clean

    return [clean(line) for line in exc.lines(limit)]


def _flush(parser: argparse.ArgumentParser, io: Io) -> None:
    with suppress(OSError, ValueError):
        io.out.flush()


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())
