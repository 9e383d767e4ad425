"""Packaging facts: import hygiene, the main-job command (README examples: tests/test_docs.py)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_mechanism_is_numpy_only():
    code = ("import sys, mechanism, mechanism.auction, mechanism.payments, mechanism.sampling;"
            "heavy = [m for m in ('torch', 'transformers', 'sympy', 'z3', 'hypothesis') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mechanism_imports_nothing_from_proofs_or_properties():
    for path in (ROOT / "mechanism").glob("*.py"):  # the reference never imports upward
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(proofs|properties|tokenauction)\b", text, re.M), path


def test_readme_names_the_two_commands_and_ci_uses_one():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    assert "make test" in (ROOT / ".ci" / "run").read_text()
