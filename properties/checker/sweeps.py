"""Bid-path properties of an aggregation rule: monotone (MON), consistent (CA) per order
(theory §4) and stable_sampling (theory §6), from one sweep per (instance, agent).

The sweep: agent i's bid runs over a jittered log grid ``B * [1e-3, 1e3]`` (B = the
others' weight), a dense uniform grid on ``[0, 4B]``, round numbers and the instance's
own bid, and every positive number of the target's source up to ``1e300`` with its float
neighbours (``Target.path_literals``: a branch at ``1e7`` or ``1e300``, beyond the drawn
magnitudes, is crossed on every path). Adaptive refinement then zooms (16 points each,
3 rounds) into the intervals where the path looks suspicious: where some token's distance to ``p_i(t)`` grew (a
violation, localized to the narrowest pair), or where the slope of ``Q`` changes
abruptly (a kink: a narrow bump starts there). Every token is examined (the box order
is per token), so a violation on one token out of many is found. A bid the rule declines
(it raises ``InvalidInput``) drops out of the path: that point is no evidence, and the
points around it still are (theory §8, "Declined inputs and reproductions"), so a rule
cannot hide a violation by declining one bid inside it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from mechanism import orders as O
from mechanism.bids import bid_path, bid_profiles
from mechanism.divergences import tv_rows
from mechanism.sampling import StableSampler

from properties.checker.groups import Group, cex, with_bid
from properties.sandbox import Undefined
from properties.strategies import beyond_for, instances, literal_bids

TOL = O.ORDER_TOL
ROUND_BIDS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
SEEDS = 8   #: seeds whose realized token path is followed along each sweep


def segment_ok(p, q, qp, tol=TOL):
    """Vectorized :func:`mechanism.orders.segment` (``q >= qp``), rows broadcast."""
    d = p - qp
    nd = (d * d).sum(-1)
    safe = np.where(nd > tol * tol, nd, 1.0)
    alpha = ((q - qp) * d).sum(-1) / safe
    a = np.clip(alpha, 0.0, 1.0)
    resid = np.abs(q - qp - a[..., None] * d).max(-1)
    ok = resid <= tol   # within tol of the segment [qp, p] (mechanism.orders.segment)
    return np.where(nd <= tol * tol, np.abs(q - qp).max(-1) <= tol, ok)


def violation_margin(order, p, q, qp) -> float:
    """By how much ``q ⪰ q'`` fails (0 when it holds): the box excess, the distance from
    ``q`` to the segment ``[q', p]``, or the loss increase. The shrinker keeps it well above
    the tolerance (:func:`properties.checker.shrink.shrink`)."""
    p, q, qp = (np.asarray(x, dtype=np.float64) for x in (p, q, qp))
    if order == "box":
        return float(max(O.box_excess(p, q, qp).max(), 0.0))
    if order == "segment":
        d = p - qp
        nd = float(d @ d)
        a = min(max(float((q - qp) @ d) / nd, 0.0), 1.0) if nd > 0 else 0.0
        return float(np.abs(q - qp - a * d).max())
    a, b = float(_loss(order, p, q[None, :])[0]), float(_loss(order, p, qp[None, :])[0])
    if a == b:
        return 0.0
    return float(a - b) if np.isfinite(a - b) else float("inf")


def _loss(order, p, Q):
    """The loss order's loss of every row (:func:`mechanism.orders.loss_rows`)."""
    if order in O.LOSSES:
        return O.loss_rows(order, p, Q)
    f = O.ORDERS[order].loss
    return np.array([f(p, q) for q in Q])


def first_violation(order, p, Q):
    """Index k of the first consecutive pair with ``Q[k+1] not >= Q[k]`` (or None)."""
    if order == "box":
        bad = np.flatnonzero(O.box_path_excess(p, Q) > TOL)
        return int(bad[0]) if bad.size else None
    if order == "segment":
        bad = np.flatnonzero(~segment_ok(p, Q[1:], Q[:-1]))
        return int(bad[0]) if bad.size else None
    L = _loss(order, p, Q)
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero((L[1:] > L[:-1] + TOL * np.maximum(1.0, np.abs(L[:-1])))
                             & ~(L[1:] == L[:-1]))
    return int(bad[0]) if bad.size else None


class Sweep:
    """Q along one agent's bid path, with adaptive refinement."""

    def __init__(self, t, P, b, i, seed: int, points: int = 160):
        self.t, self.P, self.b, self.i = t, P, np.asarray(b, dtype=float), i
        self.p = t.ideal(P, i)
        B = t.total_weight(b) - b[i]
        self.B = B
        scale = B if B > 0 else max(b[i], 1.0)
        rng = np.random.default_rng(seed)
        logs = scale * np.geomspace(1e-3, 1e3, points) * np.exp(rng.uniform(0, 0.05))
        dense = 4 * scale * rng.random(2 * points)
        lits = literal_bids(t.literals)
        grid = np.concatenate([logs, dense, ROUND_BIDS, [b[i]], lits])
        grid = grid[grid > 0]
        if B > 0:
            grid = np.concatenate([[0.0], grid])
        self.declined = 0   #: bids of the path the rule declined (dropped from it)
        self.last_decline = Undefined("the rule declined every bid of the path")
        self.s, self.Q = self._eval(np.unique(grid))
        if self.s.size == 0:
            raise self.last_decline   # every bid declined: the example is a decline
        # literals of every magnitude in a call of their own: a rule that declines a huge
        # bid (beyond float64 for it) then answers the grid above in one batch
        self.insert(np.asarray(literal_bids(t.path_literals), dtype=float))

    def _eval(self, s):
        """``(bids, Q)`` on ``s`` without the bids the rule declines (Undefined, W = 0,
        passes on)."""
        try:
            return s, bid_path(self.t, self.P, self.b, self.i, s)
        except Undefined as exc:
            if exc.__cause__ is None:
                raise
        # one bid at a time: keep what the rule answers
        keep, Q, last = self.t.answered(self.P, bid_profiles(self.b, self.i, s))
        if last is not None:
            self.last_decline = last
        self.declined += len(s) - len(keep)
        return s[keep], Q

    def insert(self, new):
        new = np.setdiff1d(np.unique(new), self.s)
        if new.size == 0:
            return
        new, Qn = self._eval(new)
        s = np.concatenate([self.s, new])
        order = np.argsort(s)
        self.s, self.Q = s[order], np.concatenate([self.Q, Qn])[order]

    def refine(self, orders, rounds: int = 3, top: int = 6, sub: int = 16):
        for _ in range(rounds):
            ks = set()
            for order in orders:
                k = first_violation(order, self.p, self.Q)
                if k is not None:
                    ks.add(k)
            dQ = np.abs(np.diff(self.Q, axis=0)).max(axis=1)
            ds = np.diff(self.s)
            with np.errstate(over="ignore"):
                slope = dQ / np.maximum(ds, 1e-300)
            if len(slope) > 2:
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    r = np.abs(np.log((slope[1:] + 1e-300) / (slope[:-1] + 1e-300)))
                r[~np.isfinite(r)] = 0
                ks.update(int(k) for k in np.argsort(r)[-top:])
                ks.update(int(k) + 1 for k in np.argsort(r)[-top:] if k + 1 < len(ds))
            new = [np.linspace(self.s[k], self.s[k + 1], sub + 2)[1:-1] for k in ks]
            if not new:
                return
            self.insert(np.concatenate(new))


class PathGroup(Group):
    """monotone:<order>, consistent:<order> and stable_sampling on shared sweeps."""

    examples_factor = 0.5

    def strategy(self):
        t = self.t
        V = t.fixed_vocab or (2, 8)
        # more tokens sometimes (a rule that changes at V >= 9); more agents only in the
        # rule checks' draws (here they would cost the shrinker its smallest instances)
        return st.tuples(instances(n=(2, 4), V=V, others_positive=True, huge=False,
                                   literals=t.literals,
                                   beyond=tuple(x for x in beyond_for(t.obj) if x == "V"),
                                   beyond_one_in=8),
                         st.integers(0, 2 ** 31 - 1))

    def search(self, arg):
        inst, seed = arg
        orders = [o for p, o in self.keys if p == "monotone"]
        found = {}
        for i in [inst.agent] + [j for j in range(len(inst.b)) if j != inst.agent]:
            sw = Sweep(self.t, inst.P, inst.b, i, seed + i)
            sw.refine(orders or ["box"])
            for key in self.keys:
                if key in found:
                    continue
                c = self._check_path(key, sw)
                if c is not None:
                    got = self.verify(key, c)
                    if got is not None:
                        found[key] = got
            if len(found) == len(self.keys):
                break
        return found

    def _check_path(self, key, sw):
        prop, order = key
        P, b, i, s, Q, p = sw.P, sw.b, sw.i, sw.s, sw.Q, sw.p
        if prop == "monotone":
            k = first_violation(order, p, Q)
            if k is None:
                return None
            return cex(P, with_bid(b, i, s[k]), i, s[k], s[k + 1], order=order)
        if prop == "consistent":
            idx = np.unique(np.linspace(0, len(s) - 1, min(len(s), 96)).astype(int))
            for k, l in self._incomparable(order, p, Q[idx]):
                return cex(P, with_bid(b, i, s[idx[k]]), i, s[idx[k]], s[idx[l]], order=order)
            return None
        if prop == "stable_sampling":
            if sw.B <= 0:
                return None
            k = self._sampler_violation(sw, s, Q)
            if k is None:
                return None
            return cex(P, with_bid(b, i, 0.0), i, 0.0, s[k])
        return None

    @staticmethod
    def _incomparable(order, p, Q):
        if order == "box":
            A = (O.box_excess(p, Q[None, :, :], Q[:, None, :]) <= TOL).all(axis=2)  # Q_l >= Q_k
            bad = np.argwhere(~(A | A.T))
            return [tuple(x) for x in bad[:1]]
        if order == "segment":
            A = segment_ok(p, Q[None, :, :], Q[:, None, :])   # A[k, l]: Q_l >= Q_k
            bad = np.argwhere(~(A | A.T))
            return [tuple(x) for x in bad[:1]]
        return []

    def _sampler_violation(self, sw, s, Q):
        t = self.t

        class Cached(StableSampler):
            def Qs(self_, grid):
                if len(grid) == len(s) and np.array_equal(grid, s):
                    return Q
                return StableSampler.Qs(self_, grid)

        sam = _ideal(Cached(t, sw.P, with_bid(sw.b, sw.i, 0.0), sw.i), t, sw.P, sw.i)
        k = sampler_defect(sam, s, Q)
        if k is not None:
            return k
        rng = np.random.default_rng(len(s))
        for u, v in rng.random((SEEDS, 2)):   # per seed: one switch, right direction
            k = path_defect(sam, sam.grid_path(s, u, v), Q)
            if k is not None:
                return k
        return None

    def verify(self, key, c):
        prop, order = key
        i, P = c["agent"], c["dists"]
        s0, s1 = c["bid_from"], c["bid_to"]
        if s0 is None or s1 is None or s0 < 0 or s1 < 0:
            return None
        if prop == "monotone" and not s0 < s1:
            return None
        b0, b1 = with_bid(c["bids"], i, s0), with_bid(c["bids"], i, s1)
        if self.t.total_weight(b0) <= 0 or self.t.total_weight(b1) <= 0:
            return None
        q0, q1 = self.t.evaluate(P, b0), self.t.evaluate(P, b1)
        p = self.t.ideal(P, i)
        out = {**c, "bids": b0, "q_from": q0, "q_to": q1}
        if prop == "monotone":
            if O.prefers(p, q1, q0, order):
                return None
            if order == "box":
                out["token"] = O.box_violation(p, q1, q0)[0]
            out["margin"] = violation_margin(order, p, q1, q0)
            return out
        if prop == "consistent":
            if O.comparable(p, q0, q1, order):
                return None
            out["token"] = O.box_violation(p, q1, q0)[0] if order == "box" else None
            out["margin"] = min(violation_margin(order, p, q1, q0),
                                violation_margin(order, p, q0, q1))
            return out
        if prop == "stable_sampling":
            if s0 != 0 or np.delete(c["bids"], i).sum() + (self.t.weight if self.t.reference
                                                            is not None else 0) <= 0:
                return None
            grid = np.array([0.0, s1])
            sam = _ideal(StableSampler(self.t, P, b0, i), self.t, P, i)
            Qg = np.stack([q0, q1])
            if sampler_defect(sam, grid, Qg) is None:
                return None
            out["sampler_marginal"] = sam.grid_marginals(grid)[1]
            out["reason"] = sampler_reason(sam, grid, Qg, 1)
            return out
        return None

    def describe(self, key, c):
        prop, order = key
        i, t = c["agent"], c.get("token")
        if prop == "stable_sampling":
            return f"agent {i}: bid 0 -> {c['bid_to']:g}: {c['reason']}"
        what = "Q(bid_to) is not preferred to Q(bid_from)" if prop == "monotone" else \
            "Q(bid_from) and Q(bid_to) are incomparable"
        tok = ""
        if t is not None:
            tok = (f"; token {t}: {c['q_from'][t]:.6g} -> {c['q_to'][t]:.6g}, "
                   f"p_i={c['dists'][i][t]:.6g}")
        by = f", violated by {c['margin']:.3g}" if c.get("margin") is not None else ""
        return (f"agent {i}: bid {c['bid_from']!r} -> {c['bid_to']!r}: {what} ({order}{by})"
                f"{tok}")

    def repro(self, key, c):
        prop, order = key
        lines = self.data_lines(c) + [
            f"b_from = bids.copy(); b_from[agent] = {c['bid_from']!r}",
            f"b_to = bids.copy(); b_to[agent] = {c['bid_to']!r}",
            "q_from, q_to = rule(dists, b_from), rule(dists, b_to)"]
        eps = self.t.epsilon
        lines.append(f"p = (1 - {eps!r}) * dists[agent] + {eps!r} / dists.shape[1]"
                     "  # theory §2: the smoothed report" if eps else "p = dists[agent]")
        if prop == "monotone":
            lines.append(f"assert prefers(p, q_to, q_from, {order!r})"
                         "  # fails: raising the bid made the outcome worse")
        elif prop == "consistent":
            lines.append(f"assert prefers(p, q_to, q_from, {order!r}) or "
                         f"prefers(p, q_from, q_to, {order!r})  # fails: incomparable")
        else:
            lines += ["from mechanism import StableSampler",
                      "class AsRule:  # the two methods StableSampler calls",
                      "    evaluate = staticmethod(lambda P, b: np.asarray(rule(P, b), float))",
                      "    batch = staticmethod(lambda P, M: np.stack([rule(P, x) for x in M]))",
                      f"    smoothed = staticmethod(lambda P: ((1 - {self.t.epsilon!r}) * P + "
                      f"{self.t.epsilon!r} / P.shape[1], None))",
                      "sampler = StableSampler(AsRule(), dists, b_from, agent)",
                      f"marg = sampler.grid_marginals([0.0, {c['bid_to']!r}])[1]",
                      "over, under = sampler.q0 > p, sampler.q0 < p",
                      "assert np.allclose(marg, q_to, atol=1e-7), (marg, q_to)  # exact marginals",
                      "assert not (over & (q_to < p - 1e-9)).any() and "
                      "not (under & (q_to > p + 1e-9)).any()  # right direction"]
        return lines


def _ideal(sam: StableSampler, t, P, i) -> StableSampler:
    """Judge against the agent's (smoothed) report whatever the mechanism version does."""
    sam.p = t.ideal(P, i)
    sam.over, sam.under = sam.q0 > sam.p, sam.q0 < sam.p
    return sam


def sampler_defect(sam: StableSampler, grid, Q) -> int | None:
    """First grid index where the canonical sampler's law is not ``Q`` or a seed would
    switch in the wrong direction (theory §6; §9 item 6), else None."""
    M = sam.grid_marginals(grid)
    err = np.abs(M - Q).max(axis=1)
    p, q0 = sam.p, sam.q0
    cross_over = (Q < p - 1e-9) & sam.over     # an over-served token fell below p_i
    cross_under = (Q > p + 1e-9) & sam.under   # an under-served token rose above p_i
    bad = (err > 1e-7) | cross_over.any(axis=1) | cross_under.any(axis=1)
    # switch probability = TV(Q(0), Q(s))
    moved = np.clip(q0 - np.minimum(M, q0), 0, None)[:, sam.over].sum(axis=1) if sam.over.any() \
        else np.zeros(len(grid))
    bad |= np.abs(moved - tv_rows(Q, q0)) > 1e-7
    k = np.flatnonzero(bad)
    return int(k[0]) if k.size else None


def path_defect(sam: StableSampler, path, Q) -> int | None:
    """Grid index of a second switch, or of a switch away from a token that was not
    over-served / to a token that was not under-served just before (theory §6)."""
    changes = np.flatnonzero(path[1:] != path[:-1]) + 1
    if len(changes) > 1:
        return int(changes[1])
    for k in changes:
        t, u = path[k - 1], path[k]
        if not (Q[k - 1][t] > sam.p[t] - 1e-12 and Q[k - 1][u] < sam.p[u] + 1e-12):
            return int(k)
    return None


def sampler_reason(sam: StableSampler, grid, Q, k: int) -> str:
    """Why :func:`sampler_defect` flagged grid index ``k``, in words."""
    M = sam.grid_marginals(grid)[k]
    p, q = sam.p, Q[k]
    err = np.abs(M - q)
    if err.max() > 1e-7:
        u = int(np.argmax(err))
        return (f"the stable sampler's marginal of token {u} is {M[u]:.6g}, Q gives "
                f"{q[u]:.6g} (Q(0)={sam.q0[u]:.6g}, p_i={p[u]:.6g})")
    for u in range(len(p)):
        if (sam.over[u] and q[u] < p[u] - 1e-9) or (sam.under[u] and q[u] > p[u] + 1e-9):
            return (f"token {u} crosses p_i={p[u]:.6g} (Q(0)={sam.q0[u]:.6g} -> {q[u]:.6g}): "
                    "a seed would switch in the wrong direction")
    return "the switch probability differs from TV(Q(0), Q(s))"
