"""docs/theory.md and the theorem table stay in step.

* every `[claim: ID]` in the document is a registered claim, or is named in the test
  suite;
* every registered claim is documented.
"""

import pathlib
import re

import pytest

from tests.helpers.requires import require

require("sympy", "z3")

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


SCOPE_ROW = re.compile(r"^\| `([A-Za-z0-9_.\-]+)` \| (.+) \|$", re.M)


def doc_scopes() -> dict:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Scope of a verdict", 1)[1].split("\n## ", 1)[0]
    return dict(SCOPE_ROW.findall(section))


def test_every_claim_that_holds_states_its_recorded_scope():
    """docs/theory.md's scope table says, for each claim expected to hold, exactly the
    Scope the claim declares (and run_claim enforces on every PROVED) at default limits."""
    from proofs.registry import Limits
    load_claims()
    stated = doc_scopes()
    wrong = []
    for c in CLAIMS.values():
        if c.expected != "holds" or c.id.startswith("zz_"):
            continue
        scope = c.scope_for(Limits())
        if scope is None:
            wrong.append(f"{c.id}: declares no scope")
        elif stated.get(c.id) != str(scope):
            wrong.append(f"{c.id}: doc says {stated.get(c.id)!r}, the claim {str(scope)!r}")
    assert not wrong, "\n".join(wrong)
    assert set(stated) <= set(CLAIMS), set(stated) - set(CLAIMS)


@pytest.mark.parametrize("cid", ["blog_example", "z3.box.order_laws", "rule_wta_mon_box"])
def test_recorded_scope_of_a_proved_claim_is_the_declared_one(cid):
    from proofs.registry import Limits, run_claim
    from mechanism.verdicts import Verdict
    load_claims()
    limits = Limits(max_agents=2, max_tokens=3, timeout_s=120)
    res = run_claim(CLAIMS[cid], limits)
    assert res.verdict is Verdict.PROVED, res.detail
    assert res.scope == CLAIMS[cid].scope_for(limits)


def test_doc_states_the_hypotheses_that_were_proved():
    """The old overclaims of the rule-level prover stay out of the page."""
    text = DOC.read_text(encoding="utf-8")
    assert "quasi-convex" in text
    for phrase in ("with *all* distributions and bids symbolic", "same code the numpy auction runs",
                   "up to 16 tokens", "For any preference order and any finite bid grid"):
        assert phrase not in text, phrase
    assert "FIXED to\n  `B = 1`" in text or "FIXED to `B = 1`" in text
    assert "first grid point only" in text
