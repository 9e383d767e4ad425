"""The reduction lemmas (proofs.unbounded.lemmas*) and the unbounded claims built on them
(docs/theory.md section 8). Planted bugs: a lemma checked with one hypothesis dropped
must make its claim no longer PROVED."""

import numpy as np
import pytest

from tests.helpers.requires import require

require("z3", "sympy")

from mechanism.rules import get_rule
from mechanism.verdicts import Verdict
from proofs.unbounded import chains as L
from proofs.claims import unbounded_rules, unbounded_theorem  # noqa: F401 (registers claims)
from proofs.registry import CLAIMS, Limits, run_claim

SOLVER_LEMMAS = sorted(k for k, v in L.all_lemmas().items() if v.engine != "argument")


@pytest.mark.parametrize("lemma_id", SOLVER_LEMMAS)
def test_every_solver_lemma_is_proved(lemma_id):
    assert L.verdict_of(lemma_id) == "PROVED", L.LEMMA_ERRORS.get(lemma_id)


def run(claim_id):
    return run_claim(CLAIMS[claim_id], Limits(timeout_s=20))


HOLDS = ["unbounded.linear.mon_box", "unbounded.linear.mon_segment", "unbounded.linear.ca_box",
         "unbounded.linear_ref.mon_box", "unbounded.linear_ref.ca_segment",
         "unbounded.wta.mon_box", "unbounded.wta.mon_segment", "unbounded.wta.ca_box",
         "unbounded.softmax.mon_box", "unbounded.softmax.mon_segment",
         "unbounded.power.mon_box", "unbounded.power.mon_segment",
         "unbounded.characterization",
         "unbounded.theorem.box.mon_implies_ca", "unbounded.theorem.box.grid_second_price_witness",
         "unbounded.theorem.segment.grid_second_price_witness",
         "unbounded.theorem.box.converse", "unbounded.theorem.segment.converse"]


@pytest.mark.parametrize("claim_id", HOLDS)
def test_unbounded_claims_are_proved_for_every_n_and_V(claim_id):
    res = run(claim_id)
    assert res.verdict is Verdict.PROVED, res.detail
    assert res.scope is not None and res.scope.unbounded, res.scope
    assert res.scope == CLAIMS[claim_id].scope_for(Limits(timeout_s=20))  # declared = recorded
    assert res.lemmas and any(s.verdict == "PROVED" for s in res.lemmas)


def test_log_linear_two_tokens_every_n_with_its_assumption():
    res = run("unbounded.log_linear.mon_box_v2")
    assert res.verdict is Verdict.PROVED
    assert res.scope.max_agents is None and res.scope.max_tokens == 2
    assert any("positive reports" in a for a in res.scope.assumptions)


@pytest.mark.parametrize("order", ["box", "segment"])
def test_log_linear_three_tokens_refuted_for_every_n(order):
    res = run(f"unbounded.log_linear.mon_{order}_v3")
    assert res.verdict is Verdict.REFUTED and "every n>=2" in res.size
    # the parametric instance on the LIBRARY's rule, for several n and V
    lin = get_rule("log_linear")
    for n, V in [(2, 3), (3, 3), (4, 5), (7, 4)]:
        pad = lambda p: list(p) + [0.0] * (V - 3)
        P = np.array([pad([.6, .3, .1])] + [pad([.1, .3, .6])] * (n - 1))
        q0 = lin(P, [0.0] + [1.0] * (n - 1))
        q1 = lin(P, [1.0] * n)
        assert q1[1] > q0[1] + 1e-3 and q0[1] >= 0.3 - 1e-12  # the middle token moves away


def test_dropped_hypotheses_are_refuted_at_every_size_by_padding():
    for h in ("CA", "PM", "Znd"):
        res = run(f"unbounded.theorem.box.converse_without_{h}")
        assert res.verdict is Verdict.REFUTED, res.detail


def test_pad_chain_keeps_every_property():
    """Padding a finite counterexample with zero-mass tokens and repeated outcomes keeps each
    of its properties (the dropped-PM chain: PM fails, CA, Z0, Znd hold, MON fails), at
    several padded sizes; a padding that gives the new token mass in an outcome is unsound,
    and the property evaluation sees the difference."""
    from fractions import Fraction
    from proofs.encode import z3_decode as D
    from proofs.claims.z3_theorem import dropped_counterexample
    chain, V, K = dropped_counterexample("box", "PM", Limits(max_tokens=3, max_grid=4))
    base = D.properties(chain, "box")
    assert base == {"MON": False, "CA": True, "PM": False, "Z0": True, "Znd": True}
    for dv, dk in [(1, 1), (4, 7)]:
        padded = unbounded_theorem.pad_chain(chain, dv, dk)
        assert len(padded["p"]) == len(chain["p"]) + dv
        assert len(padded["Q"]) == len(padded["Z"]) == len(chain["Q"]) + dk
        assert D.properties(padded, "box") == base
    bad = unbounded_theorem.pad_chain(chain, 1, 0)
    bad["Q"][0] = [Fraction(0), Fraction(1, 2), Fraction(1, 2)]
    assert D.properties(bad, "box") != base


# -- planted bugs: weaken one lemma, the claim is no longer PROVED -----------------------

PLANTED = [("between", {"drop": ("c <= 1",)}, "unbounded.linear.mon_box"),
           ("between", {"drop": ("c >= 0",)}, "unbounded.wta.mon_segment"),
           ("norm_scale", {"drop": ("f non-decreasing",)}, "unbounded.softmax.mon_box"),
           ("norm_scale", {"drop": ("f non-decreasing",)}, "unbounded.power.mon_box"),
           ("norm_scale", {"drop": ("S > 0",)}, "unbounded.linear_ref.mon_box"),
           ("step_sign", {"drop": ("s > 0",)}, "unbounded.theorem.box.grid_second_price_witness"),
           ("z_step", {"drop": ("dG >= 0",)}, "unbounded.theorem.segment.grid_second_price_witness"),
           ("pair_pm", {"drop": ("PT2",)}, "unbounded.theorem.box.grid_second_price_witness"),
           ("converse_pair", {"drop": ("PM",)}, "unbounded.theorem.box.converse"),
           ("converse_pair", {"drop": ("CA",)}, "unbounded.theorem.segment.converse"),
           ("between", {"drop": ("c <= 1",)}, "unbounded.characterization"),
           ("between", {"drop": ("c >= 0",)}, "unbounded.log_linear.mon_box_v2"),
           ("mon_ca", {"drop": ("MON",)}, "unbounded.theorem.box.mon_implies_ca"),
           ("mon_ca", {"drop": ("MON",)}, "unbounded.linear.ca_segment"),
           ("mon_ca", {"drop": ("MON",)}, "unbounded.wta.ca_box")]


@pytest.mark.parametrize("lemma_id,kw,claim_id", PLANTED)
def test_weakened_lemma_breaks_the_claim(lemma_id, kw, claim_id):
    assert run(claim_id).verdict is Verdict.PROVED
    with L.weakened(lemma_id, **kw):
        assert L.verdict_of(lemma_id) == "REFUTED"
        res = run(claim_id)
        assert res.verdict is not Verdict.PROVED
        assert lemma_id in res.detail
    assert run(claim_id).verdict is Verdict.PROVED


def _mixture_violates(w, w2, P, i):
    from mechanism.orders import prefers
    q, q2 = w @ P, w2 @ P
    return not prefers(P[i], q2, q, "box")


def test_characterization_only_if_instances_violate_on_numpy():
    """The 'only if' constructions of nec_rise / nec_shape, on random weight changes that
    are not one common scaling (V = 2, agent 0; the other parties sit at p_0(t))."""
    rng = np.random.default_rng(1)
    for _ in range(200):
        m = int(rng.integers(2, 6))             # other parties
        w = rng.dirichlet(np.ones(m + 1))
        w2 = rng.dirichlet(np.ones(m + 1))      # almost surely not a common scaling
        others = range(1, m + 1)
        rise = [j for j in others if w2[j] > w[j] + 1e-9]
        P = np.tile([0.5, 0.5], (m + 1, 1))
        if rise:                                 # nec_rise
            P[:] = [0.0, 1.0]
            P[rise[0]] = [1.0, 0.0]
        else:                                    # nec_shape on the first pair not scaled alike
            j, k = next((j, k) for j in others for k in others
                        if j < k and abs(w2[j] * w[k] - w2[k] * w[j]) > 1e-9)
            h = 1 / (2 * max(w[j], w[k]))
            P[j] = [0.5 + h * w[k], 0.5 - h * w[k]]
            P[k] = [0.5 - h * w[j], 0.5 + h * w[j]]
        assert _mixture_violates(w, w2, P, 0)


def test_characterization_if_direction_on_numpy():
    rng = np.random.default_rng(2)
    for _ in range(200):
        m, V = int(rng.integers(1, 6)), int(rng.integers(2, 7))
        w = rng.dirichlet(np.ones(m + 1))
        c = rng.random()
        w2 = np.concatenate([[1 - c * (1 - w[0])], c * w[1:]])
        P = rng.dirichlet(np.ones(V), size=m + 1)
        assert not _mixture_violates(w, w2, P, 0)
        # q' = c q + (1 - c) p_0 (segment form)
        assert np.allclose(w2 @ P, c * (w @ P) + (1 - c) * P[0])
