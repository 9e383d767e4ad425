"""Pointwise properties of an aggregation rule (theory §1-2): normalized, anonymous,
unanimous, zero_bid_no_influence, scale_invariant, continuous.

Equality of two aggregates uses :data:`EQ_TOL` (max-abs over tokens).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from properties.checker.groups import Group, cex, with_bid
from properties.checker.shrink import fmt
from properties.strategies import beyond_for, distributions, instances

#: Two float aggregates are "equal" when they differ by at most this, token by token.
EQ_TOL = 1e-7
#: A change of q larger than this across an interval narrower than JUMP_WIDTH is a jump.
JUMP = 1e-2
JUMP_WIDTH = 1e-9


def _inst(t, **kw):
    V = t.fixed_vocab or kw.pop("V", (2, 5))
    kw.pop("V", None)
    return instances(V=V, positive_total=not (t.reference is not None and t.weight > 0),
                     literals=t.literals, beyond=beyond_for(t.obj), **kw)


def _gap(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


class Normalized(Group):
    """theory §1-2: q is a distribution over T for every input the rule takes: an invalid
    output (NaN, negative, unnormalized, the wrong shape) is a failure, reported by the
    engine from :class:`properties.sandbox.RuleFailure`; an input the rule declines
    (it raises ``InvalidInput``) is no evidence either way (theory §8, "Declined inputs
    and reproductions")."""

    def strategy(self):
        return _inst(self.t, n=(1, 4), V=(1, 6))

    def search(self, inst):
        self.t.evaluate(inst.P, inst.b)
        return {}


class Anonymous(Group):
    """Permuting the agents leaves q unchanged (theory §2: a rule of the parties' (p_j, b_j)).

    Checked on profiles without ties among positive bids: a deterministic rule must break
    ties somehow, and winner-take-all breaks them by index (theory §2), which is allowed.
    """

    def strategy(self):
        return st.tuples(_inst(self.t, n=(2, 4)), st.randoms(use_true_random=False))

    def search(self, arg):
        inst, rnd = arg
        n = len(inst.b)
        perm = list(range(n))[::-1] if rnd.random() < 0.5 else rnd.sample(range(n), n)
        b = np.array(inst.b)
        for j in range(n):   # break exact ties among positive bids (see verify)
            while b[j] > 0 and np.sum(b[:j] == b[j]) > 0:
                b[j] *= 1.01
        c = cex(inst.P, b, perm=np.array(perm))
        got = self.verify(self.keys[0], c)
        return {self.keys[0]: got} if got else {}

    def verify(self, key, c):
        pos = c["bids"][c["bids"] > 0]
        if len(np.unique(pos)) != len(pos):
            return None   # ties: a rule may break them by index (winner-take-all does)
        perm = np.asarray(c["perm"])
        if len(perm) != len(c["bids"]):
            perm = np.arange(len(c["bids"]))[::-1]
        q1 = self.t.evaluate(c["dists"], c["bids"])
        q2 = self.t.evaluate(c["dists"][perm], c["bids"][perm])
        if _gap(q1, q2) <= EQ_TOL:
            return None
        return {**c, "perm": perm, "q": q1, "q_permuted": q2, "token": int(np.argmax(np.abs(q1 - q2)))}

    def describe(self, key, c):
        return (f"permuting agents {c['perm'].tolist()} moves token {c['token']} from "
                f"{c['q'][c['token']]:.6g} to {c['q_permuted'][c['token']]:.6g}")

    def repro(self, key, c):
        return self.data_lines(c) + [
            f"perm = {fmt(c['perm'])}",
            "q1, q2 = rule(dists, bids), rule(dists[perm], bids[perm])",
            f"assert np.allclose(q1, q2, atol={EQ_TOL}), (q1, q2)  # fails: not anonymous"]


class Unanimous(Group):
    """Every party with positive weight reports p => q = p (the reference too, if bound)."""

    def strategy(self):
        V = self.t.fixed_vocab
        Vs = st.just(V) if V else st.integers(1, 5)
        return Vs.flatmap(lambda v: st.tuples(distributions(v), _inst(self.t, n=(1, 4), V=v)))

    def _rule(self, p):
        return self.t.variant(p, self.t.weight) if self.t.reference is not None else None

    def search(self, arg):
        p, inst = arg
        c = cex(np.tile(p, (len(inst.b), 1)), inst.b)
        got = self.verify(self.keys[0], c)
        return {self.keys[0]: got} if got else {}

    def verify(self, key, c):
        P = np.asarray(c["dists"])
        if not np.allclose(P, P[0], atol=0):
            P = np.tile(P[0], (len(P), 1))
        q = self.t.evaluate(P, c["bids"], self._rule(P[0]))
        if _gap(q, P[0]) <= EQ_TOL:
            return None
        return {**c, "dists": P, "q": q, "token": int(np.argmax(np.abs(q - P[0])))}

    def describe(self, key, c):
        t = c["token"]
        return (f"every agent reports p but q({t}) = {c['q'][t]:.6g} != p({t}) = "
                f"{c['dists'][0][t]:.6g}")

    def repro(self, key, c):
        ref = (["rule = rule.with_reference(dists[0], rule.weight)  # the reference agrees too"]
               if self.t.reference is not None else [])
        return self.data_lines(c) + ref + [
            "q = rule(dists, bids)",
            f"assert np.allclose(q, dists[0], atol={EQ_TOL}), q  # fails: not unanimous"]


class ZeroBidNoInfluence(Group):
    """An agent bidding 0 has no influence: changing its report leaves q (theory §2)."""

    def strategy(self):
        return _inst(self.t, n=(2, 4)).flatmap(lambda inst: st.tuples(
            st.just(inst), distributions(inst.P.shape[1])))

    def search(self, arg):
        inst, alt = arg
        b = with_bid(inst.b, inst.agent, 0.0)
        if self.t.total_weight(b) <= 0:
            b[(inst.agent + 1) % len(b)] = 1.0
        c = cex(inst.P, b, agent=inst.agent, p_alt=alt)
        got = self.verify(self.keys[0], c)
        return {self.keys[0]: got} if got else {}

    def verify(self, key, c):
        i = c["agent"]
        if c["bids"][i] != 0 or len(c["p_alt"]) != c["dists"].shape[1]:
            return None
        P2 = np.array(c["dists"])
        P2[i] = c["p_alt"]
        q1, q2 = self.t.evaluate(c["dists"], c["bids"]), self.t.evaluate(P2, c["bids"])
        if _gap(q1, q2) <= EQ_TOL:
            return None
        return {**c, "q": q1, "q_alt": q2, "token": int(np.argmax(np.abs(q1 - q2)))}

    def describe(self, key, c):
        t = c["token"]
        return (f"agent {c['agent']} bids 0 yet changing its report moves token {t} from "
                f"{c['q'][t]:.6g} to {c['q_alt'][t]:.6g}")

    def repro(self, key, c):
        return self.data_lines(c) + [
            f"dists2 = dists.copy(); dists2[agent] = {fmt(c['p_alt'])}",
            "q1, q2 = rule(dists, bids), rule(dists2, bids)",
            f"assert np.allclose(q1, q2, atol={EQ_TOL}), (q1, q2)  # fails: a zero bid has influence"]


class ScaleInvariant(Group):
    """q depends on the weights w_j = b_j / W only: scaling all bids (and lambda) by c."""

    def strategy(self):
        return st.tuples(_inst(self.t, n=(1, 4), huge=False),
                         st.sampled_from([2.0, 0.5, 10.0, 0.1, 3.0]))

    def search(self, arg):
        inst, c_ = arg
        c = cex(inst.P, inst.b, factor=float(c_))
        got = self.verify(self.keys[0], c)
        return {self.keys[0]: got} if got else {}

    def verify(self, key, c):
        k = c["factor"]
        q1 = self.t.evaluate(c["dists"], c["bids"])
        rule2 = (self.t.variant(self.t.reference, self.t.weight * k)
                 if self.t.reference is not None else None)
        q2 = self.t.evaluate(c["dists"], c["bids"] * k, rule2)
        if _gap(q1, q2) <= EQ_TOL:
            return None
        return {**c, "q": q1, "q_scaled": q2, "token": int(np.argmax(np.abs(q1 - q2)))}

    def describe(self, key, c):
        t = c["token"]
        return (f"scaling every bid by {c['factor']:g} moves token {t} from {c['q'][t]:.6g} "
                f"to {c['q_scaled'][t]:.6g}")

    def repro(self, key, c):
        scaled = (f"rule.with_reference(rule.reference, rule.weight * {c['factor']!r})"
                  if self.t.reference is not None else "rule")
        return self.data_lines(c) + [
            f"q1, q2 = rule(dists, bids), {scaled}(dists, bids * {c['factor']!r})",
            f"assert np.allclose(q1, q2, atol={EQ_TOL}), (q1, q2)  # fails: not scale invariant"]


class Continuous(Group):
    """No jump in q as the reports move (bids fixed), on the interior of the simplex.

    Bisection jump finder: along the segment between two report profiles, keep the half
    where q changes most; a change above :data:`JUMP` over a width below
    :data:`JUMP_WIDTH` is a discontinuity. (Continuity in the bids is not asked:
    winner-take-all jumps at ties by design; MON covers the bid direction.)
    """

    def strategy(self):
        V = self.t.fixed_vocab
        Vs = st.just(V) if V else st.integers(2, 5)
        return st.tuples(Vs, st.integers(1, 4)).flatmap(lambda vn: st.tuples(
            instances(n=vn[1], V=vn[0], interior=True, huge=False,
                      positive_total=not (self.t.reference is not None and self.t.weight > 0)),
            st.lists(distributions(vn[0], interior=True), min_size=vn[1], max_size=vn[1])))

    def search(self, arg):
        inst, other = arg
        A, B, b = inst.P, np.array(other), inst.b
        def f(x):
            return self.t.evaluate((1 - x) * A + x * B, b)
        xs = np.linspace(0, 1, 9)
        qs = [f(x) for x in xs]
        k = int(np.argmax([_gap(qs[j], qs[j + 1]) for j in range(8)]))
        lo, hi, qlo, qhi = xs[k], xs[k + 1], qs[k], qs[k + 1]
        while hi - lo > JUMP_WIDTH / 4:
            if _gap(qlo, qhi) < JUMP:
                return {}
            mid = 0.5 * (lo + hi)
            qm = f(mid)
            if _gap(qlo, qm) >= _gap(qm, qhi):
                hi, qhi = mid, qm
            else:
                lo, qlo = mid, qm
        c = cex((1 - lo) * A + lo * B, b, dists_to=(1 - hi) * A + hi * B, _no_round_dists=True)
        got = self.verify(self.keys[0], c)
        return {self.keys[0]: got} if got else {}

    def verify(self, key, c):
        A, B = np.asarray(c["dists"]), np.asarray(c["dists_to"])
        if A.shape != B.shape or _gap(A, B) > JUMP_WIDTH:
            return None
        q1, q2 = self.t.evaluate(A, c["bids"]), self.t.evaluate(B, c["bids"])
        if _gap(q1, q2) < JUMP:
            return None
        return {**c, "q_from": q1, "q_to": q2, "token": int(np.argmax(np.abs(q1 - q2)))}

    def describe(self, key, c):
        t = c["token"]
        return (f"reports {_gap(c['dists'], c['dists_to']):.1e} apart move token {t} from "
                f"{c['q_from'][t]:.6g} to {c['q_to'][t]:.6g} (a jump)")

    def repro(self, key, c):
        return [f"dists = np.array({fmt(c['dists'])})", f"dists_to = np.array({fmt(c['dists_to'])})",
                f"bids = np.array({fmt(c['bids'])})",
                "q1, q2 = rule(dists, bids), rule(dists_to, bids)",
                "print(np.abs(dists - dists_to).max(), np.abs(q1 - q2).max())",
                f"assert np.abs(q1 - q2).max() < {JUMP}  # fails: a jump in the reports"]


POINTWISE = {"normalized": Normalized, "anonymous": Anonymous, "unanimous": Unanimous,
             "zero_bid_no_influence": ZeroBidNoInfluence, "scale_invariant": ScaleInvariant,
             "continuous": Continuous}
