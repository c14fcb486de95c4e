"""The examples in docs/cli.md, docs/authoring.md and docs/embedding.md are run and compared.

Markdown conventions (so the docs cannot drift from the real output):

* A fenced block whose info string has ``file=PATH`` (```` ```toml file=rules/kern.toml ````)
  is written to PATH, relative to the folder the examples run in, before the commands after
  it run. Later blocks for the same PATH replace it (a step-by-step edit).
* In a ```` ```console ```` block, a line starting with ``$ `` is a command (a trailing ``\\``
  continues it on the next line); the lines after it, up to the next ``$ `` line or the end of
  the block, are its output: standard output and standard error together, as a terminal shows
  them. Other fenced blocks (``sh``, ``python``, ``toml`` without ``file=``) are not run.

The commands run with ``bash`` in a fresh folder holding a link to the repository's
``examples/``, with this environment's ``smartpick-rules`` first on PATH. In the output the
repository's path is removed, so a location reads ``src/smartpick_rules/rulesets/base.toml:12``
as it does when run from a checkout.

After a deliberate change (a rule, a message), regenerate the shown outputs with
``SMARTPICK_UPDATE_DOCS=1 pytest tests/test_docs_examples.py`` and review the diff.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from test_cli_support import REPO

pytestmark = pytest.mark.slow  # run by CI and `pytest -m slow`

DOCS = ["docs/cli.md", "docs/authoring.md", "docs/embedding.md", "docs/import.md"]
UPDATE = os.environ.get("SMARTPICK_UPDATE_DOCS") == "1"

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")


@attrs.frozen
class Command:
    text: str
    expected: str
    #: where the expected output sits in the file, as line numbers (start inclusive, end exclusive)
    out_start: int
    out_end: int
    line: int


@attrs.frozen
class FileBlock:
    path: str
    content: str
    line: int


def parse(markdown: str) -> list[Command | FileBlock]:
    lines = markdown.split("\n")
    steps: list[Command | FileBlock] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").strip()
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].startswith(fence[0] * len(fence)):
            end += 1
        body = lines[start:end]
        words = info.split()
        attrs_ = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if "file" in attrs_:
            steps.append(FileBlock(attrs_["file"], "\n".join(body) + "\n", i + 1))
        elif words[:1] == ["console"]:
            steps.extend(_commands(body, start))
        i = end + 1
    return steps


def _commands(body: list[str], offset: int) -> list[Command]:
    out: list[Command] = []
    k = 0
    while k < len(body):
        if not body[k].startswith("$ "):
            k += 1
            continue
        line_no = offset + k + 1
        text = body[k][2:]
        while text.endswith("\\") and k + 1 < len(body):
            k += 1
            text = text + "\n" + body[k]  # bash reads backslash-newline as a continuation
        k += 1
        start = k
        while k < len(body) and not body[k].startswith("$ "):
            k += 1
        out.append(Command(text, "\n".join(body[start:k]), offset + start, offset + k, line_no))
    return out


def _normalise(text: str, workdir: Path) -> str:
    for root in (str(workdir.resolve()), str(workdir), str(REPO.resolve()), str(REPO)):
        text = text.replace(root + "/", "")
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _run(command: str, workdir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTPICK_", "PYTEST_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("COLUMNS", None)
    proc = subprocess.run(
        ["bash", "-c", "set -o pipefail\n" + command],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        timeout=600,
    )
    return proc.stdout


def _workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples", target_is_directory=True)
    return work


@pytest.mark.parametrize("doc", DOCS)
def test_doc_examples(doc: str, tmp_path: Path) -> None:
    path = REPO / doc
    if not path.exists():
        pytest.skip(f"{doc} is not written yet")
    if shutil.which("smartpick-rules", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the smartpick-rules console script is not installed in this environment (pip install -e .)")
    markdown = path.read_text(encoding="utf-8")
    steps = parse(markdown)
    commands = [s for s in steps if isinstance(s, Command)]
    assert commands, f"{doc} shows no `$ smartpick-rules` example"
    work = _workdir(tmp_path)
    failures: list[str] = []
    replacements: list[tuple[Command, str]] = []
    for step in steps:
        if isinstance(step, FileBlock):
            target = work / step.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.content, encoding="utf-8")
            continue
        actual = _normalise(_run(step.text, work), work)
        expected = _normalise(step.expected, work)
        if actual != expected:
            replacements.append((step, actual))
            diff = "\n".join(
                difflib.unified_diff(expected.split("\n"), actual.split("\n"), "shown in the docs", "real output", lineterm="")
            )
            failures.append(f"{doc}:{step.line}: $ {step.text}\n{diff}")
    if UPDATE and replacements:
        lines = markdown.split("\n")
        for step, actual in sorted(replacements, key=lambda r: -r[0].out_start):
            new = actual.split("\n") if actual else []
            old = lines[step.out_start : step.out_end]
            if old and not old[-1].strip():
                new.append("")  # keep the blank line before the next command
            lines[step.out_start : step.out_end] = new
        path.write_text("\n".join(lines), encoding="utf-8")
        pytest.skip(f"updated {len(replacements)} outputs in {doc}; review the diff")
    assert not failures, (
        "\n\n".join(failures)
        + "\n\nThe docs show output the command no longer prints. If the change is intended, run "
        "SMARTPICK_UPDATE_DOCS=1 pytest tests/test_docs_examples.py and review the diff."
    )


def test_the_parser() -> None:
    md = (
        "intro\n\n```toml file=rules/a.toml\n[ruleset]\nname = \"a\"\n```\n\n"
        "```console\n$ smartpick-rules check rules \\\n    --strict\nchecked 1 file\n\n$ echo hi\nhi\n```\n"
        "```sh\n$ not run\n```\n"
    )
    steps = parse(md)
    assert steps[0] == FileBlock("rules/a.toml", '[ruleset]\nname = "a"\n', 3)
    assert [(s.text, s.expected) for s in steps[1:] if isinstance(s, Command)] == [
        ("smartpick-rules check rules \\\n    --strict", "checked 1 file\n"),
        ("echo hi", "hi"),
    ]
