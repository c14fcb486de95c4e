"""A pip user, not a clone: build the wheel, install it into a fresh venv outside the checkout,
and run README.md's quick start and Python snippet there.

This is what a user of the published package gets: no ``examples/`` folder, no ``rulesets/``
at a repository root, only what the wheel carries. The dependencies are installed from binary
wheels only (``--only-binary :all:``), so nothing is compiled: the core installs on a machine
without a C compiler, on every Python it supports (the other versions are tested when an
interpreter for them is found, e.g. installed with pyenv), and without durable-rules, whose
engine then says how to install it. It takes about half a minute per Python (building the wheel,
creating the venv, installing the dependencies from the package index pip is set up with) and
runs in the default test run; ``-m "not slow"`` leaves it out.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from test_cli_support import REPO

# one worker builds the wheel: pip builds in the source tree (build/, *.egg-info), and two
# builds at once under pytest-xdist break each other
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]

README = REPO / "README.md"


def _blocks(markdown: str, lang: str, heading: str) -> list[str]:
    section = markdown.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


def readme_commands() -> list[str]:
    """The quick start's commands, as a user types them (``$ `` lines of its first console block)."""
    block = _blocks(README.read_text(encoding="utf-8"), "console", "Quick start")[0]
    return [line[2:] for line in block.splitlines() if line.startswith("$ ")]


def readme_python() -> str:
    return _blocks(README.read_text(encoding="utf-8"), "python", "From Python")[0]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"$ {shlex.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "SMARTPICK_", "PYTEST_"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    # pip builds in an isolated environment with the setuptools pyproject.toml asks for
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)], root, _clean_env())
    wheels = list(dist.glob("smartpick_rules-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _venv_with(python: str, wheel: Path, root: Path) -> tuple[Path, dict[str, str]]:
    """A fresh venv of ``python`` with only the wheel and its dependencies, every one of them
    from a binary wheel (nothing compiled); returns its bin/ and env."""
    env = _clean_env()
    venv = root / "venv"
    _run([python, "-m", "venv", str(venv)], root, env)
    bin_dir = venv / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--only-binary", ":all:", str(wheel)], root, env, timeout=600)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    env["NO_COLOR"] = "1"
    return bin_dir, env


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The wheel in a fresh venv of this Python; returns its bin/ and env."""
    return _venv_with(sys.executable, wheel, tmp_path_factory.mktemp("venv"))


def _interpreter(version: str) -> str | None:
    """A ``pythonX.Y`` that runs: on PATH, or one pyenv installed (its shims answer only for the
    versions selected, so look in its versions folder too)."""
    candidates = [shutil.which(f"python{version}")]
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted((root / "versions").glob(f"{version}.*/bin/python{version}"), reverse=True)]
    for c in candidates:
        if c and subprocess.run([c, "-c", "import venv, ensurepip"], capture_output=True, timeout=60).returncode == 0:
            return c
    return None


CORE = (
    "import importlib.metadata, importlib.util, sys, smartpick_rules as sr\n"
    "print(sys.version_info[:2] >= (3, 11), importlib.util.find_spec('durable') is None)\n"
    "print(sr.available_engines())\n"
    "print(sorted(ep.name for ep in importlib.metadata.entry_points(group='smartpick_rules.engines')))\n"
    "rec = sr.Session(None, sr.load_catalog(sr.sample_catalog_path()), as_of=2026).evaluate("
    "sr.load_profile(sr.example_profile_path('default')))\n"
    "print(rec.provenance.engine, len(rec.chosen()))\n"
    "try:\n"
    "    sr.evaluate(sr.load_profile(sr.example_profile_path('default')), sr.load_catalog(sr.sample_catalog_path()), engine='durable')\n"
    "except sr.EngineUnavailable as exc:\n"
    "    print(exc.diagnostics[0].message)\n"
)


def _check_core(bin_dir: Path, env: dict[str, str], cwd: Path) -> str:
    """The core, installed without durable-rules: it imports, evaluates with the native engine,
    lists its engines from the wheel's entry points, and says how to get the durable one."""
    lines = _run([str(bin_dir / "python"), "-c", CORE], cwd, env).stdout.splitlines()
    assert lines[0] == "True True", lines  # durable-rules was not installed
    assert lines[1] == "['native']"
    assert lines[2] == "['durable', 'native']"  # the wheel registers both; durable cannot run here
    engine, chosen = lines[3].split()
    assert engine == "native" and int(chosen) > 0
    return lines[4]


def test_the_wheel_carries_rules_catalog_examples_and_templates(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    bin_dir, env = installed
    code = (
        "import smartpick_rules as sr, pathlib, importlib.resources as r\n"
        "root = pathlib.Path(str(r.files('smartpick_rules')))\n"
        "print(sorted(p.name for p in (root / 'rulesets').glob('*.toml')))\n"
        "print(sr.example_names())\n"
        "print(sr.sample_catalog_path().is_file(), (root / 'reports' / 'templates' / 'report.html.j2').is_file())\n"
        "print(str(root).startswith(str(pathlib.Path(sr.__file__).parent)))\n"
    )
    out = _run([str(bin_dir / "python"), "-c", code], tmp_path, env).stdout.splitlines()
    assert "'base.toml'" in out[0] and "'la_ties.toml'" in out[0]
    assert "im_la_low_scores" in out[1] and "default" in out[1]
    assert out[2] == "True True"
    # nothing is read from the checkout: the package is the installed one
    assert str(REPO) not in _run([str(bin_dir / "python"), "-c", "import smartpick_rules; print(smartpick_rules.__file__)"], tmp_path, env).stdout


def test_readme_quick_start_runs_from_the_wheel(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    _bin, env = installed
    commands = readme_commands()
    assert commands[0].startswith("pip install smartpick-rules")
    outputs = []
    for command in commands[1:]:  # the install is the fixture's
        outputs.append(_run(["bash", "-c", command], tmp_path, env).stdout)
    assert (tmp_path / "me.toml").is_file()
    listing = outputs[1]
    assert "Recommended programs for me" in listing
    assert re.search(r"^\s*1\s", listing, flags=re.M), listing[:2000]
    page = (tmp_path / "list.html").read_text(encoding="utf-8")
    assert "<!DOCTYPE html>" in page and 'id="synthetic"' in page  # the banner: the sample catalog is synthetic
    assert "Recommended programs" in outputs[3]


def test_readme_python_snippet_runs_from_the_wheel(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    bin_dir, env = installed
    script = tmp_path / "snippet.py"
    script.write_text(readme_python(), encoding="utf-8")
    out = _run([str(bin_dir / "python"), str(script)], tmp_path, env).stdout
    lines = out.splitlines()
    assert len(lines) > 12
    assert lines[0].split()[0] in ("likely", "target", "reach")
    assert "Rules that fired, in order:" in out


def test_python_dash_m_from_the_wheel(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    bin_dir, env = installed
    out = _run([str(bin_dir / "python"), "-m", "smartpick_rules", "evaluate", "--example", "default", "--top", "3", "--as-of", "2026"], tmp_path, env).stdout
    assert "Recommended programs for" in out


def test_wheel_has_no_stray_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "smartpick_rules/examples/im_la_low_scores.toml" in names
    assert "smartpick_rules/rulesets/tests/base.test.toml" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_core_installs_without_durable_rules(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    bin_dir, env = installed
    said = _check_core(bin_dir, env, tmp_path)
    if sys.version_info < (3, 13):
        assert "pip install 'smartpick-rules[durable]'" in said and 'engine="native"' in said, said


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_the_core_installs_on_each_supported_python(version: str, wheel: Path, tmp_path: Path) -> None:
    if version == f"{sys.version_info[0]}.{sys.version_info[1]}":
        pytest.skip("this Python: test_the_core_installs_without_durable_rules")
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} here (pyenv install {version} to test it)")
    bin_dir, env = _venv_with(python, wheel, tmp_path)
    said = _check_core(bin_dir, env, tmp_path)
    expected = "does not import on Python 3.13" if version == "3.13" else "pip install 'smartpick-rules[durable]'"
    assert expected in said, said
