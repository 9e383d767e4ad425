"""The rule-level prover on tricky rules (tests/proofs/rule_corpus.py): none gets PROVED;
each gets its expected REFUTED (confirmed on numpy) or UNKNOWN with its reason. Planted
bugs in the prover (no bid-0 case split, no trace/code cross-check) make the corpus fail."""

import numpy as np
import pytest

pytest.importorskip("z3")
pytest.importorskip("sympy")

from mechanism.orders import prefers
from mechanism.rules import Rule
from mechanism.verdicts import Verdict
from proofs.bounded import rule_level
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
    assert "ops.ite" in res.detail


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
    res = prove_rule_property(Rule("big_n", big_n), "monotone", "box", max_agents=2,
                              max_tokens=2)
    assert res.verdict is Verdict.PROVED and not res.scope.contains(5, 2)
    assert res.scope.contains(2, 2)


def test_planted_no_case_split_fails_the_corpus(monkeypatch):
    """Plant: an undecided is_positive is assumed True (bid 0 silently excluded). The rule
    that catches it is judged alone (the whole corpus, unplanted, is the test above)."""
    monkeypatch.setattr(rule_level, "CASE_SPLIT", False)
    bad = corpus_failures(["positive_at_zero"])
    assert any(line.startswith("positive_at_zero:") for line in bad), bad


def test_planted_no_cross_check_fails_the_corpus(monkeypatch):
    """Plant: the trace/code cross-check is skipped: the hidden rare literal is PROVED (that
    rule judged alone)."""
    monkeypatch.setattr(rule_level, "CROSS_CHECK", False)
    bad = corpus_failures(["rare_literal_hidden"])
    assert any(line.startswith("rare_literal_hidden: PROVED") for line in bad), bad


LIFTED = {
    "where": lambda b: np.where(b == 0, 5.0, b), "maximum": lambda b: np.maximum(1 - b, b),
    "minimum": lambda b: np.minimum(b, 0.5), "clip": lambda b: np.clip(2 - b, 0.1, 1.0),
    "abs": lambda b: abs(b - 1), "np.abs": lambda b: np.abs(b - 1),
    "square": lambda b: np.square(b), "power": lambda b: b ** 2 + np.power(b, 3),
    "fmax": lambda b: np.fmax(b, 0.25), "sum": lambda b: np.sum([b, b, 1.0]),
    "mean": lambda b: np.mean([b, 3.0]), "dot": lambda b: np.dot([b, 2.0], [0.5, b]),
    "logical": lambda b: np.where(np.logical_and(b > 0.2, b < 2), b, 0.0),
}


@pytest.mark.parametrize("name", sorted(LIFTED))
def test_numpy_lifting_is_exact(name):
    """Each lifted numpy function, traced on a z3 variable, equals numpy at many points."""
    import z3
    from fractions import Fraction
    from proofs.bounded.tracing import Sym, Trace
    f = LIFTED[name]
    x = z3.Real("x")
    trace = Trace(z3)
    term = trace.term(f(Sym(x, trace)))
    assert not trace.events
    for v in (0.0, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 7.0):
        got = z3.simplify(z3.substitute(term, (x, z3.RealVal(str(Fraction(v))))))
        want = float(np.asarray(f(np.float64(v))))
        assert float(got.as_fraction()) == pytest.approx(want, abs=1e-12), (name, v)


REFUSED = {
    "max": lambda b: max(b, 0.1), "exp": lambda b: np.exp(b), "sqrt": lambda b: np.sqrt(b),
    "float": lambda b: float(b), "isclose": lambda b: np.isclose(b, 1),
    "int": lambda b: int(b), "round": lambda b: round(b), "floordiv": lambda b: b // 2,
    "argmax": lambda b: np.argmax(np.array([b, 1.0])), "rpow": lambda b: 2 ** b,
    "if": lambda b: 1.0 if b > 0 else 0.0,
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unliftable_operations_are_refused_and_recorded(name):
    import z3
    from mechanism.arith import Unsupported
    from proofs.bounded.tracing import Sym, Trace
    trace = Trace(z3)
    with pytest.raises(Unsupported):
        REFUSED[name](Sym(z3.Real("b"), trace))
    assert trace.events and "test_rule_corpus.py:" in trace.events[0], trace.events
