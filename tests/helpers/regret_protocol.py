"""Test fixtures: the truthfulness-regret protocol, and the softmax(bid/T) mixture with
bid-based externality payments that it was first run on. The regret itself is
:func:`mechanism.regret.regret`.

Protocol (documented so that figures can be compared): ``n = 3`` agents, a vocabulary
of ``V = 50`` tokens, reports drawn from a flat Dirichlet, true values ``t_i`` uniform
on ``[0.5, 1.5]``, the others bid truthfully, agent i tries misreports ``x t_i`` for
``x`` in 15 points evenly spaced on ``[0.25, 2]`` (plus truth); regret = the largest
utility gain over truthful bidding (0 if none), averaged over agents and instances.

Two valuation models:

* ``"kl"`` (theory §6, what ``truthful`` checks): value ``t_i (-L_i(q))``, ``L_i`` the KL the
  rule minimizes (forward KL for a mixture);
* ``"share"``: value ``t_i w_i`` (the agent values its weight in the mixture), the model
  under which bid-based externality payments are VCG-like.
"""

from __future__ import annotations

import numpy as np

from mechanism.divergences import kl
from mechanism.regret import regret


def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def softmax_mixture(T: float = 1.0):
    """``q = sum_j softmax(b / T)_j p_j`` (a rule whose weights are not ``b_j / W``)."""
    def rule(dists, bids):
        w = _softmax(np.asarray(bids, dtype=float) / T)
        return w @ np.asarray(dists, dtype=float)
    rule.__name__ = "softmax_mixture"
    rule.weights = lambda bids: _softmax(np.asarray(bids, dtype=float) / T)
    return rule


def externality_payment(T: float = 1.0):
    """Bid-based externalities: ``z_i = sum_{j != i} b_j (w_j^{-i} - w_j)`` with the
    softmax weights ``w`` (with i) and ``w^{-i}`` (without i)."""
    def payment(rule, dists, bids):
        b = np.asarray(bids, dtype=float)
        w = _softmax(b / T)
        z = np.zeros(len(b))
        for i in range(len(b)):
            others = np.delete(b, i)
            if others.size == 0:
                continue
            z[i] = float(others @ (_softmax(others / T) - np.delete(w, i)))
        return z
    payment.__name__ = "externality_payment"
    payment.kind = "payment"
    return payment


def regret_protocol(rule=None, payment=None, *, n: int = 3, V: int = 50, instances: int = 200,
                    seed: int = 0, model: str = "kl", T: float = 1.0,
                    misreports=tuple(np.linspace(0.25, 2.0, 15))) -> dict:
    """Mean / max regret of truthful bidding (see the module docstring)."""
    rule = rule or softmax_mixture(T)
    payment = payment or externality_payment(T)
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(instances):
        P = rng.dirichlet(np.ones(V), size=n)
        t = rng.uniform(0.5, 1.5, size=n)
        for i in range(n):
            def utility(s):
                b = t.copy()
                b[i] = s
                q = rule(P, b)
                if model == "kl":
                    v = -t[i] * kl(P[i], q)
                else:
                    v = t[i] * rule.weights(b)[i]
                return v - payment(rule, P, b)[i]
            gain, _ = regret(t[i], t[i] * np.asarray(misreports),
                             lambda S: np.array([utility(s) for s in S]))
            gains.append(gain)
    g = np.array(gains)
    return {"mean": float(g.mean()), "max": float(g.max()), "share_positive": float((g > 1e-9).mean()),
            "n": n, "V": V, "instances": instances, "model": model, "T": T}
