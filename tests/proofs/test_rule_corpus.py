"""The rule-level prover on tricky plain rules (tests/proofs/rule_corpus.py): none gets
PROVED; each gets its expected REFUTED (confirmed on numpy) or UNKNOWN with its reason.
The compiled corpus and its planted bugs: tests/proofs/test_generic_corpus.py."""

import numpy as np
import pytest

from tests.helpers.requires import require

require("z3", "sympy")

from mechanism.orders import prefers
from mechanism.rules import Rule
from mechanism.verdicts import Verdict
from proofs.compile.capture import DeclarationError
from proofs.compile.generic_rule import compiled
from proofs.bounded.rule_level import prove_rule_property
from tests.proofs.rule_corpus import EXPECT, corpus_rule


def _confirmed(rule, cex) -> bool:
    P = np.array(cex["dists"])
    bf, bt = list(cex["bids"]), list(cex["bids"])
    bf[cex["agent"]], bt[cex["agent"]] = cex["bid_from"], cex["bid_to"]
    qf, qt = rule.evaluate(P, np.array(bf)), rule.evaluate(P, np.array(bt))
    return cex["bid_from"] < cex["bid_to"] and not prefers(P[cex["agent"]], qt, qf, "box")


def corpus_failures(names=None) -> list[str]:
    """One line per corpus rule whose verdict is not the expected one."""
    bad = []
    for name in names or EXPECT:
        _, want, words = EXPECT[name]
        rule = corpus_rule(name)
        res = prove_rule_property(rule, "monotone", "box", max_agents=3, max_tokens=4,
                                  timeout_s=120)
        got = str(res.verdict)
        if got != want or words not in res.detail:
            bad.append(f"{name}: {got} (want {want} with {words!r}): {res.detail[:200]}")
        elif got == "REFUTED" and not _confirmed(rule, res.counterexample):
            bad.append(f"{name}: REFUTED but numpy does not confirm {res.counterexample}")
    return bad


def test_corpus_has_the_issue_targets():
    assert len(EXPECT) >= 15
    assert {"py_branch_eq", "np_where_zero", "np_maximum", "np_clip", "positive_at_zero",
            "rare_literal_branch", "rare_literal_hidden", "by_agents", "by_tokens",
            "always_raises"} <= set(EXPECT)


def test_no_corpus_rule_is_proved_and_each_gets_its_verdict():
    assert corpus_failures() == []


def test_branch_message_names_the_line_and_suggests_ite():
    res = prove_rule_property(corpus_rule("py_branch_eq"), "monotone", "box")
    assert res.verdict is Verdict.UNKNOWN
    assert "rule_corpus.py:" in res.detail and "0.1 if b == 1 else b" in res.detail
    assert "ops.ite" in res.detail and "ops.gt" in res.detail


def test_caught_refusal_still_counts():
    def sneaky(ops, dists, bids, reference=None, weight=0):
        ws = []
        for b in bids:
            try:
                ws.append(0.1 if b == 1 else b)
            except Exception:
                ws.append(b)
        return sum(p * w for p, w in zip(dists, ws)) / sum(ws)
    res = prove_rule_property(Rule("sneaky", sneaky), "monotone", "box")
    assert res.verdict is Verdict.UNKNOWN and "caught the refusal" in res.detail


def test_size_dependent_rule_outside_the_scope_is_proved_only_for_its_scope():
    """Branching on n = 5 is invisible at n <= 3: PROVED is true there, and the scope
    says so (it does not contain n = 5)."""
    def big_n(ops, dists, bids, reference=None, weight=0):
        ws = [1 / (1 + b) for b in bids] if len(dists) == 5 else list(bids)
        return sum(p * w for p, w in zip(dists, ws)) / sum(ws)
    res = prove_rule_property(compiled(big_n), "monotone", "box", max_agents=2,
                              max_tokens=2)
    assert res.verdict is Verdict.PROVED and not res.scope.contains(5, 2)
    assert res.scope.contains(2, 2)


REFUSED = {
    "max": lambda b: max(b, 0.1), "exp": lambda b: np.exp(b), "sqrt": lambda b: np.sqrt(b),
    "float": lambda b: float(b), "isclose": lambda b: np.isclose(b, 1),
    "int": lambda b: int(b), "round": lambda b: round(b), "floordiv": lambda b: b // 2,
    "argmax": lambda b: np.argmax(np.array([b, 1.0])), "if": lambda b: 1.0 if b > 0 else 0.0,
    "where": lambda b: np.where(b > 0, 5.0, b), "maximum": lambda b: np.maximum(1 - b, b),
    "clip": lambda b: np.clip(2 - b, 0.1, 1.0), "eq": lambda b: b == 0.37,
    "isinstance": lambda b: isinstance(b, float), "truth": lambda b: bool(b),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_inexact_operations_are_refused_naming_the_line(name):
    from proofs.compile import capture as C
    from proofs.compile import tree as T
    with pytest.raises(DeclarationError) as info:
        REFUSED[name](C.Sym(T.bid(0)))
    text = str(info.value)
    assert "test_rule_corpus.py:" in text and "cannot be compiled exactly" in text
    assert text.split("cannot be compiled exactly;", 1)[1].strip()   # the fix is named


def test_exact_operations_are_captured_exactly():
    """abs, integer powers and float constants: the tree is the exact value."""
    from fractions import Fraction
    from proofs.compile import capture as C
    from proofs.compile import evaluate as E
    from proofs.compile import tree as T
    f = lambda b: abs(b - 1) + b ** 2 + 0.1 * b
    node = C.lift(f(C.Sym(T.bid(0))))
    for v in (0, Fraction(1, 3), 2, 7):
        want = abs(v - 1) + Fraction(v) ** 2 + Fraction(0.1) * v
        assert E.fraction_value(node, [v], {}) == want
