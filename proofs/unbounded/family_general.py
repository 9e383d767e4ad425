"""General mixture weights ``w = W(b) / sum W(b)`` (docs/theory.md section 8): proved for
every V and every n up to ``max_agents`` by the characterization, checked by z3 per n.

For each n <= max_agents and each agent i, z3 is asked for bids ``b``, ``s < s'`` where
raising i's bid does NOT scale the other parties' weights by one common ``c`` in [0, 1]:
some other weight rises (``W'_j S > W_j S'``) or two are not scaled alike
(``W'_j W_k != W'_k W_j``; the normalizations cancel). unsat for every (n, i): box- and
segment-MON for those n and EVERY V (lemmas ``agg``, ``between``, ``seg_pair``: the
characterization's "if"). sat: the model gives the instance of lemma ``nec_rise`` or
``nec_shape`` (the characterization's "only if"), on two tokens, re-run on the numpy
reference. n is bounded because W may depend on all bids in any way; normalized
independent weights (:func:`proofs.unbounded.families.normalized`) are proved for every n.
After z3's proof of the exact trees, a float64 search of the generated code
(:mod:`proofs.unbounded.family_general_float`) may still REFUTE on the code that runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import z3

from mechanism.verdicts import NO_REFERENCE, Scope, Verdict

from proofs.compile import evaluate as E
from proofs.encode import encode_z3 as Z
from mechanism.arith import Unsupported
from proofs.compile.capture import DeclarationError
from proofs.compile.enclosure import CERTIFIED_CODE
from proofs.unbounded.chains import run_chain
from proofs.unbounded.family_general_float import refute_general
from proofs.registry import ProofResult

MAX_AGENTS = 4


def _weights(rule, bids):
    """The compiled weight trees for len(bids) agents as z3 terms (+ the reference's lambda)."""
    W = [E.z3_term(tr, bids, {}) for tr in rule.general_trees(len(bids))]
    return W + ([z3.RealVal(str(Fraction(rule.weight)))] if rule.reference is not None else [])


@dataclass(frozen=True)
class RaiseQuery:
    """z3's question for n agents and agent ``agent``: bids ``b``, the raised bid ``s2``,
    the weights before (``W``) and after (``W2``), the constraints, and ``bad``: some other
    weight rises (one of ``rise``) or two other weights are not scaled alike."""
    agent: int
    b: list
    s2: object
    W: list
    W2: list
    cons: list
    bad: object
    rise: list
    others: list


def _query(rule, n, i) -> RaiseQuery:
    b = [z3.Real(f"b{j}") for j in range(n)]
    s2 = z3.Real("s_prime")
    bt = list(b)
    bt[i] = s2
    W, W2 = _weights(rule, b), _weights(rule, bt)
    S, S2 = z3.Sum(W), z3.Sum(W2)
    cons = [x >= 0 for x in b] + [s2 > b[i], S > 0, S2 > 0] + [w >= 0 for w in W + W2]
    others = [j for j in range(len(W)) if j != i]
    rise = [W2[j] * S > W[j] * S2 for j in others]
    shape = [W2[j] * W[k] != W2[k] * W[j] for j in others for k in others if j < k]
    return RaiseQuery(i, b, s2, W, W2, cons, z3.Or(rise + shape), rise, others)


def prove_general(rule, property_id, order, *, timeout_s=10.0, max_agents=MAX_AGENTS):
    done = []
    for n in range(1, max_agents + 1):
        for i in range(n):
            try:
                q = _query(rule, n, i)
            except (Unsupported, DeclarationError) as exc:  # not in z3 (exp, log, ...)
                return ProofResult(Verdict.UNKNOWN, "z3", f"general weights: {exc}")
            r, m, _ = Z.solve(q.cons + [q.bad], timeout_s, True)
            if r == z3.unknown:
                return ProofResult(Verdict.UNKNOWN, "z3", f"z3 gave unknown at n = {n}")
            if r == z3.sat:
                return _refute(rule, q, m, order, property_id) or \
                    ProofResult(Verdict.UNKNOWN, "z3", f"at n = {n} raising agent {i}'s bid does "
                                "not scale the other weights alike (the characterization's "
                                "condition fails), and no counterexample was confirmed on the "
                                "code that runs")
        done.append(n)
    ids = ["mixture_form", "v_free_box", "characterization", "agg", "between"]
    ids += ["v_free_segment", "seg_pair", "seg_global"] if order == "segment" else []
    ids += ["mon_ca"] if property_id == "consistent" else []
    chain = run_chain(ids, timeout_s)
    if not chain.proved:
        return ProofResult(Verdict.UNKNOWN, "z3", "the lemma chain is not proved: "
                           + chain.summary())
    cex = refute_general(rule, property_id, order, max_agents)
    if cex is not None:
        return _float_refuted(rule, property_id, order, cex, chain)
    res = ProofResult(Verdict.PROVED, "z3", f"{property_id} under {order}: z3 finds no bids "
                      f"where the other weights are not scaled by one c in [0, 1], for every "
                      f"agent at n = 1..{max_agents} (compiled weights: {rule.expression()}); "
                      f"every V by the lemma chain: "
                      + chain.summary(), f"n<={max_agents}, every V")
    res.scope = Scope(max_agents, None, "real bids >= 0", "exact reals",
                      ("general weights: n bounded, the weights may depend on n",
                       CERTIFIED_CODE) + (() if rule.reference is not None else (NO_REFERENCE,)))
    res.lemmas = chain.steps
    return res


def _refute(rule, q: RaiseQuery, m, order, prop):
    """The characterization's instance from z3's model ``m`` of ``q``, confirmed on the code
    that runs (REFUTED), or None."""
    if prop != "monotone":
        return None
    val = lambda t: float(Z.num(m.eval(t, model_completion=True)))
    n, i, W, others = len(q.b), q.agent, q.W, q.others
    w = np.array([val(x) for x in W]); w2 = np.array([val(x) for x in q.W2])
    w, w2 = w / w.sum(), w2 / w2.sum()
    P = np.tile([0.5, 0.5], (len(W), 1))
    j_rise = [j for j, c in zip(others, q.rise) if z3.is_true(m.eval(c, model_completion=True))]
    if j_rise:  # nec_rise: token 0, agent i at 0, party j at 1, the rest at 0
        P[:] = [0.0, 1.0]
        P[j_rise[0]] = [1.0, 0.0]
    else:       # nec_shape: a = 1/2, x_j = a + h w_k, x_k = a - h w_j, the rest at a
        j, k = next((j, k) for j in others for k in others if j < k
                    and abs(w2[j] * w[k] - w2[k] * w[j]) > 0)
        h = 1 / (2 * max(w[j], w[k]))
        P[j] = [0.5 + h * w[k], 0.5 - h * w[k]]
        P[k] = [0.5 - h * w[j], 0.5 + h * w[j]]
    if rule.reference is not None and len(W) > n and not np.allclose(P[-1], rule.reference):
        return None  # the reference is fixed: this instance needs it elsewhere
    bids = [val(x) for x in q.b]
    cex = {"dists": P[:n].tolist(), "bids": bids, "agent": i, "bid_from": bids[i],
           "bid_to": val(q.s2)}
    from proofs.unbounded.family_counterexamples import confirm_on_code
    got = confirm_on_code(rule, cex, order)
    if got is None:
        return None
    chain = run_chain(["characterization", "nec_rise" if j_rise else "nec_shape"], 10.0)
    res = ProofResult(Verdict.REFUTED, "z3+numpy", f"raising agent {i}'s bid does not scale the "
                      f"other weights alike ({'a weight rises' if j_rise else 'two weights move apart'}"
                      f"); the characterization's instance, confirmed on the numpy reference",
                      f"n={n}, V=2", dict(cex, q_from=got[0].tolist(), q_to=got[1].tolist(),
                                          property=prop, order=order))
    res.lemmas = chain.steps
    return res


def _float_refuted(rule, prop, order, cex, chain):
    """REFUTED on the code that runs: z3 proved the exact-real trees (``chain``), and the
    float64 search (:mod:`proofs.unbounded.family_general_float`) found ``cex``."""
    n, i = len(cex["bids"]), cex["agent"]
    res = ProofResult(Verdict.REFUTED, "numpy", f"{prop} under {order} fails in the float64 "
                      f"code that runs: at n = {n} agent {i} raises its bid from "
                      f"{cex['bid_from']!r} to {cex['bid_to']!r} (the others at {cex['bids']}, "
                      f"reports {cex['dists']}) and q goes from {cex['q_from']} to "
                      f"{cex['q_to']}; in exact reals the compiled weights are proved ("
                      f"{chain.summary()}): the float64 code violates what holds in reals",
                      f"n={n}, V={len(cex['q_from'])}", cex)
    res.scope = Scope(None, None, "float64 bids", "float64 (the code that runs)")
    res.lemmas = chain.steps
    return res
