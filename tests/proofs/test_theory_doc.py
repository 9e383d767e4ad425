"""docs/theory.md and the theorem table stay in step (issue 4).

* every `[claim: ID]` in the document is a registered claim, or is named in the test
  suite;
* every registered claim is documented.
"""

import pathlib
import re

import pytest

pytest.importorskip("sympy")
pytest.importorskip("z3")

from proofs.cli import load_claims
from proofs.registry import CLAIMS

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "theory.md"
CLAIM_TAG = re.compile(r"\[claim: ([A-Za-z0-9_.\-]+)\]")


def doc_ids():
    return CLAIM_TAG.findall(DOC.read_text(encoding="utf-8"))


def test_doc_has_claim_tags():
    assert len(doc_ids()) >= 20


def test_every_doc_claim_is_checked_somewhere():
    load_claims()
    tests_text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("*.py")
                           if p.name != "test_theory_doc.py")
    unknown = []
    for cid in doc_ids():
        if cid in CLAIMS or re.search(rf"(?<![\w.]){re.escape(cid)}(?![\w.])", tests_text):
            continue
        unknown.append(cid)
    assert not unknown, f"docs/theory.md cites claims nothing checks: {unknown}"


def test_every_registered_claim_is_documented():
    load_claims()
    documented = set(doc_ids())
    undocumented = sorted(c for c in CLAIMS if c not in documented
                          and not c.startswith("zz_"))  # zz_: planted by the CLI tests
    assert not undocumented, f"claims missing from docs/theory.md: {undocumented}"
