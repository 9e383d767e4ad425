"""A tree z3 would expand into a huge polynomial is refused when it is compiled, with the
reason (proofs/compile/tree.py MAX_DEGREE, docs/theory.md section 8): ``(b + 1)^200001``
hung ``check`` inside z3's assert, beyond every budget. Seen failing before the cap (the
family declaration compiled, and its z3 facts never returned)."""

import subprocess
import sys
import textwrap

import pytest

from proofs.compile import tree as T
from proofs.compile.capture import DeclarationError
from proofs.compile.generic_rule import compiled

from tests.proofs import float_code_corpus as FC


def test_a_family_weight_of_huge_degree_is_refused_with_its_reason():
    with pytest.raises(DeclarationError, match="degree 200001"):
        FC.big_power()


def test_a_generic_rule_of_huge_degree_is_refused_with_its_reason():
    def fn(ops, dists, bids, reference=None, weight=0):
        w = [(b + 1) ** 200001 for b in bids]
        return sum(p * x for p, x in zip(dists, w)) / ops.total(w)
    with pytest.raises(DeclarationError, match="degree"):
        compiled(fn)


def test_degree_counts_products_and_powers():
    b = T.bid(0)
    sq = T.Node("mul", (b, b))
    assert T.degree(T.Node("pow", (T.Node("add", (b, T.const(1))), T.const(7)))) == 7
    assert T.degree(T.Node("pow", (sq, T.const(40)))) == 80
    assert T.degree(T.Node("div", (sq, T.Node("add", (b, T.const(1)))))) == 3


def test_check_of_a_huge_power_finishes():
    code = textwrap.dedent("""
        from proofs.compile import rule as api
        from proofs.bounded.rule_level import prove_rule_property
        try:
            r = api.normalized(lambda b, fn: fn.pow(b + 1, 200001) - fn.pow(b, 200001))
        except Exception as e:
            print("refused:", e)
        else:
            print(prove_rule_property(r, "monotone", "box", timeout_s=5).verdict)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert "refused" in out.stdout and "degree" in out.stdout, out.stdout + out.stderr
