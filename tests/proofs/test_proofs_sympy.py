"""Each sympy derivation returns its expected verdict; planted wrong claims are REFUTED
with a witness that the numpy reference confirms."""

import numpy as np
import pytest

from tests.helpers.requires import require

require("sympy")

from mechanism.divergences import kl
from mechanism.orders import prefers
from mechanism.rules import Rule, get_rule, linear, log_linear
from mechanism.verdicts import Verdict
from proofs.claims import sympy_monotone, sympy_optimality, sympy_payments  # noqa: F401 (registers)
from proofs.registry import CLAIMS, Limits, run_claim
from proofs.encode.sympy_common import Derivation

SMALL = Limits(max_tokens=3, max_agents=2)

HOLDS = ["linear_derivative", "linear_mon_box", "linear_mon_segment", "linear_mon_box_ref",
         "linear_mon_segment_ref", "loglinear_mon_box_v2", "linear_kl_optimal",
         "loglinear_kl_optimal", "logit_averaging", "rlhf_closed_form",
         "payment_linear_closed_form", "payment_wta_closed_form"]


@pytest.mark.parametrize("cid", HOLDS)
def test_sympy_claim_is_proved(cid):
    c = CLAIMS[cid]
    assert c.expected == "holds"
    res = run_claim(c, SMALL)
    assert res.verdict is Verdict.PROVED, res.detail
    assert res.engine == "sympy" and "FAILED" not in res.detail


def test_loglinear_three_tokens_is_refuted_exactly_and_numpy_agrees():
    res = run_claim(CLAIMS["loglinear_mon_box_v3"], SMALL)
    assert CLAIMS["loglinear_mon_box_v3"].expected == "fails"
    assert res.verdict is Verdict.REFUTED
    cex = res.counterexample
    assert cex["exact"]["q_to"][1] == "-3/5 + 2*sqrt(6)/5"
    rule = get_rule("log_linear")
    P = np.array(cex["dists"])
    qf, qt = rule(P, [0.0, 1.0]), rule(P, [1.0, 1.0])
    assert qt[1] == pytest.approx(0.3798, abs=1e-4) and qf[1] == pytest.approx(0.3)
    assert not prefers(P[0], qt, qf, "box")


@pytest.mark.parametrize("generic,direction", [(linear, "reverse"), (log_linear, "forward")])
def test_planted_wrong_kl_optimality_is_refuted_with_a_descent_step(generic, direction):
    res = sympy_optimality.kl_optimality(generic, direction, Limits(max_tokens=3))
    assert res.verdict is Verdict.REFUTED
    cex = res.counterexample
    P, ref, lam, b = np.array(cex["dists"]), np.array(cex["reference"]), cex["weight"], cex["bids"]
    q = Rule("r", generic, reference=ref, weight=lam).evaluate(P, np.array(b))
    step = np.zeros(len(q))
    step[cex["to_token"]], step[cex["move_0.001_from_token"]] = 1e-3, -1e-3
    f = (lambda p, x: kl(p, x)) if direction == "forward" else (lambda p, x: kl(x, p))
    F = lambda x: lam * f(ref, x) + sum(b[j] * f(P[j], x) for j in range(2))
    assert F(q + step) < F(q)


def test_a_failed_check_is_unknown_not_a_counterexample():
    """A simplification that did not close proves nothing either way: UNKNOWN, with the
    failed step named, and no "counterexample" made of failed steps."""
    d = Derivation()
    d.step("true thing", True)
    d.step("2 + 2 = 5", False)
    res = d.result("toy")
    assert res.verdict is Verdict.UNKNOWN and res.counterexample is None
    assert "FAILED CHECK: 2 + 2 = 5" in res.detail


def test_argued_steps_are_marked_and_are_no_evidence():
    d = Derivation()
    d.step("an argument in words")
    assert d.result("toy").verdict is Verdict.UNKNOWN  # nothing checked
    d.step("sympy says so", True)
    res = d.result("toy")
    assert res.verdict is Verdict.PROVED
    assert "argued:  an argument in words" in res.detail and "checked: sympy says so" in res.detail


def test_spec_linear_payment_example():
    sp = pytest.importorskip("sympy")
    z = sympy_payments.linear_closed_form(sp.Integer(1), sp.Integer(1), sp.Integer(1))
    assert float(z) == pytest.approx(np.log(2) - 0.5)
