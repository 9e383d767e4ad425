"""The theorem of SPEC section 4 on finite bid grids, each implication checked by z3.

Grid: ``K`` bids ``s_k = k`` (concrete ``0, 1, ..., K-1``; ``0 = s_0 < ... < s_m``, m = K-1).
Outcomes ``Q(s_k)``: symbolic distributions (one Real per probability, on the simplex);
the agent's ``p`` symbolic; payments ``Z(s_k)`` symbolic Reals, or the grid
second-price payment ``Z(s_k) = sum_{j=1..k} s_j (G(s_j) - G(s_{j-1}))``,
``G(s) = TV(Q(0), Q(s))`` (SPEC 4). Properties exactly as SPEC 4 defines them
(MON over ALL pairs ``j < k``, CA over all pairs, PM over all ordered pairs).

* (a) MON => CA.
* (b) MON => the grid second-price payment has ``Z(0) = 0``, ``Z`` non-decreasing and PM.
  box: one direct query. segment: MON and PM mention segment atoms ``seg(Q_x, Q_y)``
  (quadratic); the full nlsat query times out from V=3, K=4. We replace every atom by a
  Boolean ``S_xy`` and add the instances of lemma S1 -- ``seg(q, q') => box(q, q')`` and,
  given ``seg(q, q')``, ``seg(q', q) <=> box(q', q)`` -- proved by z3 (nlsat) at the same
  V. Sound: any model of the original query gives a model of the abstraction (set
  ``S_xy`` to the atom's truth value; the lemma instances are then true), so unsat of the
  abstraction implies unsat of the original.
* (c) CA + PM + (Z non-decreasing) => MON (``Z(0) = 0`` is not assumed: never needed).
* (d) each of CA, PM, Z non-decreasing dropped from (c): z3 returns a model (fewest
  tokens, fewest bids, round numbers), decoded and confirmed by ``proofs.z3_decode``.
Loss orders: ``proofs.z3_theorem_loss``; the scalable encoding: ``proofs.z3_scale``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

import z3

from mechanism.verdicts import Verdict

from . import encode_z3 as E
from . import z3_decode as D
from .registry import Limits, ProofResult, claim
from .z3_orders import round_model

Pref = Callable[[int, int], object]  #: pref(k, j): "Q(s_k) ⪰ Q(s_j)" as a z3 Bool


def grid(K: int) -> list[Fraction]:
    return [Fraction(k) for k in range(K)]


def outcomes(V: int, K: int):
    p = E.dist("p", V)
    Q = [E.dist(f"Q{k}", V) for k in range(K)]
    return p, Q, E.simplex(p) + sum((E.simplex(q) for q in Q), [])


def order_pref(order, p, Q) -> Pref:
    """``order``: "box", "segment", or a callable ``(p, q, q') -> Bool`` (planted orders)."""
    f = order if callable(order) else E.ORDERS[order]
    return lambda k, j: f(p, Q[k], Q[j])


def strict(pref: Pref, k: int, j: int):
    return z3.And(pref(k, j), z3.Not(pref(j, k)))


def mon(pref: Pref, K: int) -> list:
    return [pref(k, j) for j in range(K) for k in range(j + 1, K)]


def ca(pref: Pref, K: int) -> list:
    return [z3.Or(pref(k, j), pref(j, k)) for j in range(K) for k in range(j + 1, K)]


def pm(pref: Pref, Z, K: int) -> list:
    return [strict(pref, k, j) == (Z[k] > Z[j]) for j in range(K) for k in range(K) if j != k]


def z_nondecreasing(Z) -> list:
    return [Z[k - 1] <= Z[k] for k in range(1, len(Z))]


def grid_second_price(Q, bids) -> list:
    """SPEC 4: ``Z(s_k) = sum_{j=1..k} s_j (G(s_j) - G(s_{j-1}))``, ``G = TV(Q(0), .)``."""
    G = [E.tv(Q[0], q) for q in Q]
    Z = [z3.RealVal(0)]
    for k in range(1, len(Q)):
        Z.append(Z[-1] + z3.RealVal(bids[k]) * (G[k] - G[k - 1]))
    return Z


def segment_abstraction(p, Q):
    """Booleans ``S[x][y]`` for ``seg(Q_x, Q_y)`` plus the lemma-S1 instances (docstring)."""
    K = len(Q)
    S = [[z3.Bool(f"S_{x}_{y}") for y in range(K)] for x in range(K)]
    facts = []
    for x in range(K):
        for y in range(K):
            if x != y:
                facts.append(z3.Implies(S[x][y], E.box(p, Q[x], Q[y])))
                facts.append(z3.Implies(S[x][y], S[y][x] == E.box(p, Q[y], Q[x])))
    return (lambda k, j: S[k][j]), facts


def lemma_s1(V: int, timeout_s: float) -> Verdict:
    """``seg(q,q') => box(q,q')`` and, given ``seg(q,q')``, ``seg(q',q) <=> box(q',q)``;
    proved as two queries (the halves ``=>`` and ``<=``: one nlsat query for both is slow)."""
    p, a, b = (E.dist(n, V) for n in "pab")
    hyps = E.simplex(p) + E.simplex(a) + E.simplex(b) + [E.segment(p, a, b)]
    halves = [z3.And(E.box(p, a, b), z3.Implies(E.segment(p, b, a), E.box(p, b, a))),
              z3.Implies(E.box(p, b, a), E.segment(p, b, a))]
    vs = [E.prove(hyps, g, timeout_s, nonlinear=True)[0] for g in halves]
    return Verdict.PROVED if all(v is Verdict.PROVED for v in vs) else Verdict.UNKNOWN


def mon_implies_witness(order, V: int, K: int, timeout_s: float, payment=grid_second_price):
    """(b) at one size: ``(Verdict, chain or None)``; ``payment(Q, bids)`` is the witness."""
    p, Q, base = outcomes(V, K)
    if order == "segment":
        pref, facts = segment_abstraction(p, Q)
        base = base + facts
    else:
        pref = order_pref(order, p, Q)
    Z = payment(Q, grid(K))
    goal = z3.And([Z[0] == 0] + z_nondecreasing(Z) + pm(pref, Z, K))
    v, m = E.prove(base + mon(pref, K), goal, timeout_s)
    return v, (D.decode_chain(m, p, Q, Z) if m is not None else None)


def _sizes(limits: Limits):
    return [(V, K) for V in range(2, limits.max_tokens + 1) for K in range(2, limits.max_grid + 1)]


def _all_sizes(check: Callable[[int, int], Verdict], limits: Limits, what: str) -> ProofResult:
    bad = [(V, K, str(v)) for V, K in _sizes(limits) if (v := check(V, K)) is not Verdict.PROVED]
    size = f"V=2..{limits.max_tokens}, K=2..{limits.max_grid} grid bids s_k=k"
    if not bad:
        return ProofResult(Verdict.PROVED, "z3", what, size)
    refuted = [b for b in bad if b[2] == "REFUTED"]
    return ProofResult(Verdict.REFUTED if refuted else Verdict.UNKNOWN, "z3",
                       f"{what}; not proved at (V, K, verdict) {bad}", size)


def _mon_implies_ca(order: str, limits: Limits) -> ProofResult:
    def check(V, K):
        p, Q, base = outcomes(V, K)
        pref = order_pref(order, p, Q)
        return E.prove(base + mon(pref, K), z3.And(ca(pref, K)), limits.timeout_s,
                       order == "segment")[0]
    return _all_sizes(check, limits, f"{order}: unsat of MON and not CA")


def _witness(order: str, limits: Limits) -> ProofResult:
    what = f"{order}: unsat of MON and not (Z(0)=0, Z non-decreasing, PM)"
    if order == "segment":
        s1 = [lemma_s1(V, limits.timeout_s) for V in range(2, limits.max_tokens + 1)]
        if any(v is not Verdict.PROVED for v in s1):
            return ProofResult(Verdict.UNKNOWN, "z3", f"lemma S1 not proved: {s1}")
        what += "; segment atoms abstracted with lemma S1 (proved, nlsat)"
    def check(V, K):
        if order == "box" and V + K > DIRECT_MAX:  # beyond the defaults: proofs.z3_scale
            from .z3_scale import decomposed
            return decomposed(V, K, limits.timeout_s)
        return mon_implies_witness(order, V, K, limits.timeout_s)[0]
    if order == "box" and limits.max_tokens + limits.max_grid > DIRECT_MAX:
        what += f"; sizes with V + K > {DIRECT_MAX}: decomposed encoding (proofs.z3_scale)"
    return _all_sizes(check, limits, what)


HYPOTHESES = ("CA", "PM", "Znd")
DIRECT_MAX = 10  #: the box witness uses the direct encoding while V + K <= 10


def converse_query(order, V: int, K: int, drop: str | None = None):
    """(c) with hypothesis ``drop`` left out: ``(constraints, p, Q, Z)`` of "hyps and not MON"."""
    p, Q, base = outcomes(V, K)
    Z = [z3.Real(f"Z{k}") for k in range(K)]
    pref = order_pref(order, p, Q)
    hyps = {"CA": ca(pref, K), "PM": pm(pref, Z, K), "Znd": z_nondecreasing(Z)}
    cons = base + sum((h for name, h in hyps.items() if name != drop), [])
    if drop is not None:  # the counterexample keeps Z(0) = 0 too
        cons.append(Z[0] == 0)
    return cons + [z3.Not(z3.And(mon(pref, K)))], p, Q, Z


def abstract_relation(K: int) -> Pref:
    """A free Boolean ``R_kj`` per ordered pair: an arbitrary relation on the outcomes."""
    R = [[z3.Bool(f"R_{k}_{j}") for j in range(K)] for k in range(K)]
    return lambda k, j: R[k][j]


def _converse(order: str, limits: Limits) -> ProofResult:
    """box: the direct query. segment: the order atoms abstracted to free Booleans (any
    relation at all), so unsat proves (c) for every order, segment included, at every V
    (the nlsat query with segment atoms takes minutes); the proof needs no order law."""
    def check(V, K):
        if order == "segment":
            pref, Z = abstract_relation(K), [z3.Real(f"Z{k}") for k in range(K)]
            cons = ca(pref, K) + pm(pref, Z, K) + z_nondecreasing(Z) + [z3.Not(z3.And(mon(pref, K)))]
        else:
            cons, *_ = converse_query(order, V, K)
        return Verdict.PROVED if E.check(cons, limits.timeout_s)[0] == z3.unsat else Verdict.UNKNOWN
    return _all_sizes(check, limits, f"{order}: unsat of CA, PM, Z non-decreasing, not MON "
                      "(Z(0)=0 not assumed)" + ("; order atoms abstracted: holds for any relation"
                                                if order == "segment" else ""))


def dropped_counterexample(order, drop: str, limits: Limits):
    """Fewest tokens, then fewest bids, then round numbers: ``(chain, V, K)`` or None."""
    for V in range(2, limits.max_tokens + 1):
        for K in range(2, limits.max_grid + 1):
            cons, p, Q, Z = converse_query(order, V, K, drop)
            m = round_model(cons, p + sum(Q, []) + Z, limits.timeout_s)
            if m is not None:
                return D.decode_chain(m, p, Q, Z), V, K
    return None


def _dropped(order: str, drop: str, limits: Limits) -> ProofResult:
    found = dropped_counterexample(order, drop, limits)
    if found is None:
        return ProofResult(Verdict.UNKNOWN, "z3", "no model within the limits")
    chain, V, K = found
    keep = tuple(h for h in HYPOTHESES if h != drop)
    ok = D.confirms(chain, order, must_hold=keep, must_fail=("MON",))
    return ProofResult(Verdict.REFUTED if ok else Verdict.UNKNOWN, "z3+numpy",
                       f"model of {' + '.join(keep)} and not MON; numpy-confirmed={ok}",
                       f"V={V}, K={K}", D.report(chain, grid(K)))


_NAMES = {"CA": "CA", "PM": "PM", "Znd": "Z non-decreasing"}

for _order in ("box", "segment"):
    claim(f"z3.theorem.{_order}.mon_implies_ca", "MON implies CA on every finite bid grid",
          order=_order)(lambda limits, o=_order: _mon_implies_ca(o, limits))
    claim(f"z3.theorem.{_order}.grid_second_price_witness", "MON implies the grid second-price "
          "payment satisfies Z(0)=0, Z non-decreasing and PM", order=_order)(
        lambda limits, o=_order: _witness(o, limits))
    claim(f"z3.theorem.{_order}.converse", "CA + PM + Z non-decreasing imply MON (Z(0)=0 "
          "never needed)", order=_order)(lambda limits, o=_order: _converse(o, limits))
    for _h in HYPOTHESES:
        keep = " + ".join(_NAMES[x] for x in HYPOTHESES if x != _h)
        claim(f"z3.theorem.{_order}.converse_without_{_h}", f"{keep} imply MON ({_NAMES[_h]} "
              "dropped) -- false: counterexample", expected="fails", order=_order)(
            lambda limits, o=_order, h=_h: _dropped(o, h, limits))
