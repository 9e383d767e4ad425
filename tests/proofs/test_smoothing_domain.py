"""A rule declared with smoothing is proved for the rows the code that runs reads: the
reports smoothed in float64 (``p * (1 - eps) + eps / V``, proofs/bounded/rule_instance.py),
and judged against the smoothed report (theory §2), by z3 and by the float64 search after it.

Both were found by the red team. Planted bugs seen failing: z3 smoothing in exact reals
(the old ``_smooth``: smooth_hole PROVED), the search and its confirmation comparing with
the raw report (smoothed linear pooling REFUTED)."""

import numpy as np

from tests.helpers.requires import require

require("z3")

from mechanism.orders import prefers  # noqa: E402
from mechanism.verdicts import Verdict  # noqa: E402
from proofs.bounded.rule_level import prove_rule_property  # noqa: E402
from proofs.compile.generic_rule import compiled  # noqa: E402

EPS = 0.3


def _hole(ops, dists, bids, reference=None, weight=0):
    """Weight 1, but 1 / (1 + b) where V p[0] < eps: never on an exactly smoothed row
    (p[0] >= eps / V), yet float64 smooths p[0] = 0 at V = 3 to 0.09999999999999999."""
    ws = [ops.ite(ops.gt(EPS, len(p) * p[0]), 1 / (1 + b), 1 + 0 * b)
          for p, b in zip(dists, bids)]
    total = ws[0]
    for w in ws[1:]:
        total = total + w
    return [sum(p[k] * w for p, w in zip(dists, ws)) / total for k in range(len(dists[0]))]


def _linear(ops, dists, bids, reference=None, weight=0):
    total = bids[0]
    for b in bids[1:]:
        total = total + b
    return [sum(p[k] * b for p, b in zip(dists, bids)) / total for k in range(len(dists[0]))]


def test_a_branch_on_float64_smoothing_is_not_proved():
    rule = compiled(_hole, name="smooth_hole", epsilon=EPS)
    P = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    p0 = rule.smoothed(P)[0][0]
    qf, qt = rule(P, [1.0, 1.0]), rule(P, [2.0, 1.0])
    assert not prefers(p0, qt, qf, "box")   # the code that runs: n=2, V=3, in scope
    res = prove_rule_property(rule, "monotone", "box", timeout_s=60)
    assert res.verdict is not Verdict.PROVED, res.detail


def test_smoothed_linear_pooling_is_proved_against_the_smoothed_report():
    rule = compiled(_linear, name="smoothed_linear", epsilon=EPS)
    res = prove_rule_property(rule, "monotone", "box", timeout_s=60)
    assert res.verdict is Verdict.PROVED, (res.detail, res.counterexample)
    assert "as float64 computes it" in " ".join(res.scope.assumptions)


def _linear_ref(ops, dists, bids, reference=None, weight=0):
    total = weight
    for b in bids:
        total = total + b
    return [(weight * reference[k] + sum(p[k] * b for p, b in zip(dists, bids))) / total
            for k in range(len(dists[0]))]


def test_the_bound_reference_is_smoothed_as_float64_smooths_it():
    rule = compiled(_linear_ref, name="smoothed_linear_ref", epsilon=EPS,
                    reference=[0.25, 0.75], weight=1.0)
    res = prove_rule_property(rule, "monotone", "box", max_agents=2, max_tokens=2,
                              timeout_s=60)
    assert res.verdict is Verdict.PROVED, (res.detail, res.counterexample)


def test_the_exact_search_judges_against_the_smoothed_report():
    """The exact re-evaluation of a search hit (proofs/bounded/exact_search.py) takes the
    box for the smoothed report too: q moving from 0.9 to 0.8 on token 0 stays between q
    and the smoothed [0.75, 0.25] (eps = 0.5), though not between q and the raw [1, 0].
    Planted bug seen failing: the raw report (the old code)."""
    from fractions import Fraction as F

    from proofs.bounded.exact_search import _exact_violation
    cex = {"dists": [[F(1), F(0)], [F(1, 2), F(1, 2)]], "agent": 0}
    qf, qt = [F(9, 10), F(1, 10)], [F(8, 10), F(2, 10)]
    assert _exact_violation(cex, qf, qt, "monotone")
    assert not _exact_violation(cex, qf, qt, "monotone", 0.5)
