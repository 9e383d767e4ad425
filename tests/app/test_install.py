"""Every install works: the command line and the pytest plugin with extras missing, and a
shadowed ``mechanism`` / ``proofs`` / ``properties`` diagnosed in one line.

A missing extra is simulated in a subprocess by an import blocker
(tests/helpers/blocked_imports.py); the real fresh-venv matrix is a manual check (docs/ci.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = ROOT / "tests" / "helpers" / "blocked_imports.py"
PROOFS = "z3,sympy"
LLM = "torch,transformers,gguf,accelerate,matplotlib"
SCALE = "dask,distributed"
#: what a bare `pip install tokenauction` lacks (pytest is there only to run this test)
BASE = ",".join([PROOFS, LLM, SCALE])


def run(blocked: str, *argv, cwd=None, env=None, timeout=300):
    e = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, str(BLOCK), blocked, "--", *argv], cwd=cwd,
                          env=e, capture_output=True, text=True, timeout=timeout)


def no_traceback(r):
    assert "Traceback" not in r.stdout + r.stderr, r.stderr


def test_core_dependencies_are_what_check_needs():
    """hypothesis (the checker) and scipy (the payment oracle) are core: a bare install runs
    `check`; the proofs, the LLM and Dask are extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("=")[0].split("[")[0] for d in project["dependencies"]}
    assert names == {"numpy", "hypothesis", "scipy"}
    assert {"proofs", "llm", "scale", "test", "all"} <= set(project["optional-dependencies"])
    assert project["entry-points"]["pytest11"] == {"tokenauction": "tokenauction.pytest_plugin"}


def test_base_install_help_and_check_run(tmp_path):
    """Was: `tokenauction --help` and `check linear` crashed with ModuleNotFoundError."""
    r = run(BASE, "--help", cwd=tmp_path)
    assert r.returncode == 0 and "check" in r.stdout and "exit codes" in r.stdout
    r = run(BASE, "check", "linear", "--property", "monotone:box", "--property", "normalized",
            "--max-examples", "20", "--quiet", cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 0, r.stdout + r.stderr
    # the proofs engine row says which extra brings it; no "prover raised" UNKNOWN
    flat = " ".join(r.stdout.split())  # the table wraps at 100 columns
    assert "pip install 'tokenauction[proofs]'" in flat and "prover raised" not in flat
    assert "UNKNOWN" not in flat
    # --strict counts the missing engine as a failure
    r = run(BASE, "check", "linear", "--property", "monotone:box", "--max-examples", "20",
            "--quiet", "--strict", cwd=tmp_path)
    assert r.returncode == 1 and "an engine is not installed" in " ".join(r.stdout.split())


@pytest.mark.parametrize("argv", [["prove"], ["prove", "--json"], ["prove", "--claim", "x"]])
def test_prove_without_z3_is_one_line_exit_2(tmp_path, argv):
    """Was: a z3 traceback and exit 1 (the code for "refuted")."""
    r = run(PROOFS, *argv, cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'tokenauction[proofs]'" in lines[0]


def test_each_extra_missing_names_its_extra(tmp_path):
    r = run(SCALE, "check", "linear", "second_price", "--workers", "2", "--max-examples", "5",
            "--no-prove", "--quiet", cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 2 and "pip install 'tokenauction[scale]'" in r.stderr
    r = run(LLM, "demo", "--max-tokens", "2", "--out", str(tmp_path / "demo"), cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 2 and "tokenauction[llm]" in r.stderr


def test_all_extras_present_prove_runs(tmp_path):
    r = run("", "prove", "--claim", "blog_example", "--quiet", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip().splitlines()[-1].endswith("(exit 0)")


def test_shadowed_package_is_one_line_with_the_fix(tmp_path):
    """Was: an ImportError that does not say why. A `mechanism` of another origin first on
    the path (as a package of that name on the index would be)."""
    shadow = tmp_path / "shadow"
    (shadow / "mechanism").mkdir(parents=True)
    (shadow / "mechanism" / "__init__.py").write_text("raise ImportError('not ours')\n")
    env = {"PYTHONPATH": f"{shadow}{os.pathsep}{ROOT}"}
    for argv in (["check", "linear"], ["prove"], ["audit", "x"]):
        r = run("", *argv, cwd=tmp_path, env=env)
        no_traceback(r)
        assert r.returncode == 2
        [line] = r.stderr.strip().splitlines()
        assert "'mechanism' resolves to" in line and str(shadow) in line and "fix:" in line


_UNRELATED = """
def test_one():
    assert 1 + 1 == 2

def test_two():
    assert "abc".upper() == "ABC"
"""


def _unrelated_run(tmp_path, blocked: str):
    (tmp_path / "test_unrelated.py").write_text(_UNRELATED)
    r = run(blocked, "pytest", "-q", "-p", "no:cacheprovider", "-p",
            "tokenauction.pytest_plugin", str(tmp_path), cwd=tmp_path,
            env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout
    return [line for line in (r.stdout + r.stderr).splitlines()
            if "tokenauction plugin disabled" in line]


@pytest.mark.parametrize("blocked", ["hypothesis", "numpy,hypothesis,scipy"])
def test_plugin_never_breaks_an_unrelated_project(tmp_path, blocked):
    """Was: once tokenauction and pytest were installed, every pytest run failed (exit 3).
    The plugin module alone, with core dependencies missing: one warning, tests pass."""
    warned = _unrelated_run(tmp_path, blocked)
    assert len(warned) == 1 and "is not installed" in warned[0]


def test_plugin_on_a_full_install_says_nothing(tmp_path):
    assert _unrelated_run(tmp_path, "") == []


def test_plugin_with_a_shadowing_properties_module(tmp_path):
    """A project with its own `properties.py` (python -m pytest puts its folder first)."""
    (tmp_path / "properties.py").write_text("X = 1\n")
    (tmp_path / "test_unrelated.py").write_text(_UNRELATED + "\nimport properties\n"
                                                "def test_theirs():\n    assert properties.X\n")
    r = run("", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tokenauction.pytest_plugin",
            str(tmp_path), cwd=tmp_path, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                                              "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout and "'properties' resolves to" in r.stdout + r.stderr


def test_plugin_module_imports_nothing_heavy():
    code = ("import sys; import tokenauction.pytest_plugin; "
            "print(sorted(m for m in ('numpy', 'hypothesis', 'scipy', 'mechanism', 'properties',"
            " 'proofs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
