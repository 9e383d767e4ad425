"""Lemmas for the theorem of docs/theory.md section 5 on a SYMBOLIC grid
``0 = s_0 < s_1 < ... < s_K`` for every K and every V (section 8 of docs/theory.md).

The bounded claims (:mod:`proofs.claims.z3_theorem`, :mod:`proofs.encode.decomposition`) fix
``s_k = k`` and a size. Here every statement about the grid is reduced to lemmas over a
PAIR ``j < k`` of grid bids (plus the bid 0), each proved once by z3 over a few reals
and Booleans; the lift to every K and V is an induction written out below.

(a) MON => CA: CA is a conjunction over pairs; each conjunct follows from MON's conjunct
    for the same pair (lemma ``mon_ca``), for any relation, so every K, V and order.

(b) MON => the grid second price ``Z(s_k) = sum_{l<=k} s_l (G(s_l) - G(s_{l-1}))``,
    ``G = TV(Q(0), .)``, has ``Z(0) = 0`` (empty sum), Z non-decreasing and PM (box):
    * per token (V-free): the per-token lemmas PT1-PT3 of :mod:`proofs.encode.decomposition`
      (the token moves monotonically toward p; equal iff no move). Summed over the tokens
      (an induction over t with the step ``sum_pos``): ``G(s_k) - G(s_j) = TV(Q_j, Q_k)
      >= 0`` and it is > 0 iff ``Q_k != Q_j``, and given ``Q_k ⪰ Q_j``,
      ``Q_j ⪰ Q_k`` iff ``Q_k = Q_j``;
    * per step (the grid is symbolic): ``s_l > 0`` so ``s_l dG_l`` has the sign of
      ``dG_l`` (lemma ``step_sign``);
    * over the steps ``l = j+1 .. k`` (an induction for every K, lemma ``z_step``): with
      ``A = Z(s_l) - Z(s_j)`` and ``D = G(s_l) - G(s_j)``, the invariant ``A >= 0``,
      ``D >= 0``, ``A > 0 <=> D > 0`` holds at ``l = j`` (``A = D = 0``) and is kept by a step;
    * the pair assembly (lemma ``pair_pm``) turns these facts into Z non-decreasing on the
      pair and both PM conjuncts of the ordered pairs ``(k, j)`` and ``(j, k)``. PM and Z
      non-decreasing are conjunctions over pairs, so every K.
    segment: the per-token S1 lemma in alpha-form (``s1_alpha``) gives seg => box and,
    given ``seg(Q_k, Q_j)``, ``seg(Q_j, Q_k)`` iff ``Q_k = Q_j`` iff ``box(Q_j, Q_k)``,
    so the box chain applies verbatim; the alpha-form is the segment order for every V
    by lemma ``seg_global`` (:mod:`proofs.unbounded.lemmas`).

(c) CA + PM + Z non-decreasing => MON, any relation: Z non-decreasing on consecutive bids
    gives every pair (an induction, lemma ``znd_trans``), then lemma ``converse_pair``.
"""

from __future__ import annotations

import z3


from proofs.encode import encode_z3 as E
from proofs.encode.decomposition import per_token_lemmas
from proofs.unbounded.chains import argument, lemma, z3_verdict

_PT: dict = {}


def _pt(name):
    def check(timeout_s):
        if not _PT:
            _PT.update(per_token_lemmas(timeout_s))
        return _PT[name]
    return check


for _name, _text in (("PT1", "one token: b between a and p, c between b and p, c between a "
                      "and p => |c - a| = |b - a| + |c - b| (G adds up along MON)"),
                     ("PT2", "one token: c between b and p => (b between c and p <=> b = c)"),
                     ("PT3", "one token: |c - b| >= 0 and = 0 iff b = c; a between a and p")):
    lemma(_name, _text)(_pt(_name))


@lemma("sum_pos", "V-induction step: A >= 0, x >= 0 => A + x >= 0 and (A + x > 0 <=> A > 0 "
       "or x > 0): a sum of per-token terms >= 0 is positive iff one term is")
def _sum_pos(timeout_s):
    A, x = z3.Reals("A x")
    return z3_verdict([A >= 0, x >= 0], z3.And(A + x >= 0, (A + x > 0) == z3.Or(A > 0, x > 0)),
                  timeout_s)


#: hypotheses of ``step_sign`` / ``z_step`` (planted-bug tests drop one)
STEP_HYPS = ("s > 0", "dG >= 0")


@lemma("step_sign", "per step, symbolic grid: s_k > 0 => s_k dG_k has the sign of dG_k")
def _step_sign(timeout_s, drop: tuple = ()):
    s, d = z3.Reals("s dG")
    hyps = [h for k, h in {"s > 0": s > 0}.items() if k not in drop]
    return z3_verdict(hyps, z3.And((s * d > 0) == (d > 0), (s * d == 0) == (d == 0),
                               (s * d < 0) == (d < 0)), timeout_s, True)


@lemma("z_step", "K-induction step: A >= 0, D >= 0, (A > 0 <=> D > 0), s > 0, dG >= 0 => "
       "A + s dG >= 0, D + dG >= 0, (A + s dG > 0 <=> D + dG > 0); base A = D = 0")
def _z_step(timeout_s, drop: tuple = ()):
    A, D, s, d = z3.Reals("A D s dG")
    hyps = {"s > 0": s > 0, "dG >= 0": d >= 0}
    base = [A >= 0, D >= 0, (A > 0) == (D > 0)] + [h for k, h in hyps.items() if k not in drop]
    return z3_verdict(base, z3.And(A + s * d >= 0, D + d >= 0, (A + s * d > 0) == (D + d > 0)),
                  timeout_s, True)


@lemma("pair_pm", "pair j < k: MON (Q_k ⪰ Q_j), (Q_j ⪰ Q_k <=> Q_k = Q_j), G_k - G_j >= 0 "
       "and > 0 iff Q_k != Q_j, Z_k - Z_j >= 0 and > 0 iff G_k > G_j => Z_j <= Z_k and PM on "
       "(k, j) and (j, k)")
def _pair_pm(timeout_s, drop: tuple = ()):
    pkj, pjk, neq = z3.Bools("pref_kj pref_jk neq")
    T, A = z3.Reals("T A")
    hyps = {"MON": pkj, "PT2": pjk == z3.Not(neq), "PT1": T >= 0, "PT3": (T > 0) == neq,
            "z_step": z3.And(A >= 0, (A > 0) == (T > 0))}
    strict = lambda x, y: z3.And(x, z3.Not(y))
    return z3_verdict([h for k, h in hyps.items() if k not in drop],
                  z3.And(A >= 0, strict(pkj, pjk) == (A > 0), strict(pjk, pkj) == (-A > 0)),
                  timeout_s)


@lemma("s1_alpha", "one token, segment alpha-form q = q' + alpha (p - q'), alpha in [0, 1]: "
       "q between q' and p (seg => box), and q' between q and p iff q = q'")
def _s1_alpha(timeout_s):
    p, q, q2, al = z3.Reals("p q qp alpha")
    return z3_verdict([al >= 0, al <= 1, q == q2 + al * (p - q2)],
                  z3.And(E.between(q2, q, p), E.between(q, q2, p) == (q == q2)), timeout_s, True)


@lemma("znd_trans", "K-induction step: Z_j <= Z_(l-1) and Z_(l-1) <= Z_l => Z_j <= Z_l")
def _znd_trans(timeout_s):
    a, b, c = z3.Reals("Zj Zl1 Zl")
    return z3_verdict([a <= b, b <= c], a <= c, timeout_s)


#: the hypotheses of the converse (planted-bug tests drop one)
CONVERSE_HYPS = ("CA", "PM", "Znd")


@lemma("converse_pair", "pair j < k, any relation: CA, PM on (k, j) and (j, k), Z_j <= Z_k "
       "=> Q_k ⪰ Q_j")
def _converse_pair(timeout_s, drop: tuple = ()):
    pkj, pjk = z3.Bools("pref_kj pref_jk")
    Zj, Zk = z3.Reals("Zj Zk")
    strict = lambda x, y: z3.And(x, z3.Not(y))
    hyps = {"CA": z3.Or(pkj, pjk),
            "PM": z3.And(strict(pkj, pjk) == (Zk > Zj), strict(pjk, pkj) == (Zj > Zk)),
            "Znd": Zj <= Zk}
    return z3_verdict([h for k, h in hyps.items() if k not in drop], pkj, timeout_s)


argument("pairs_to_grid", "MON, CA, PM and Z non-decreasing are conjunctions over pairs of "
         "grid bids; a lemma for one pair (with bid 0) covers every K")
argument("z_zero", "Z(0) = 0: the grid second price at s_0 is the empty sum")
argument("tokens_sum", "G and the box order are sums/conjunctions over tokens: the per-token "
         "lemmas PT1-PT3 summed with sum_pos (an induction over t) give the pair facts for every V")

THEOREM_CHAINS = {
    "mon_implies_ca": ("pairs_to_grid", "mon_ca"),
    "witness_box": ("pairs_to_grid", "tokens_sum", "PT1", "PT2", "PT3", "sum_pos", "z_zero",
                    "step_sign", "z_step", "pair_pm"),
    "witness_segment": ("pairs_to_grid", "seg_global", "s1_alpha", "tokens_sum", "PT1", "PT2",
                        "PT3", "sum_pos", "z_zero", "step_sign", "z_step", "pair_pm"),
    "converse": ("pairs_to_grid", "znd_trans", "converse_pair"),
}
