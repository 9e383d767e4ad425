"""Samplers (theory §6): plain inverse-CDF, the per-agent stable sampler, the
two-agent joint stable sampler for linear aggregation, and the exponential race.

Every sampler is a deterministic function of explicit uniforms, so a recorded seed
replays exactly. What each guarantees:

* :func:`inverse_cdf` -- exact marginal; NOT stable for ``V >= 3`` (theory §6, item 5).
* :class:`StableSampler` -- theory §6 canonical construction for ONE agent of a MON rule
  (box order): exact marginals, at most one switch per seed, only from an over-served
  to an under-served token, switch probability = TV. For a non-MON rule it is still
  defined, and its marginals (:meth:`StableSampler.grid_marginals`) reveal the violation.
* :func:`maximal_coupling_draw` + :func:`joint_linear_two_agents` -- stable for BOTH
  agents of a two-agent linear rule at once; realized threshold payments.
* :func:`exponential_race` -- a different mechanism (an auction for the token's source):
  switches at most once per agent, but not necessarily in the right direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cdf_search import cumsum_search, draw, pair_search
from .errors import InvalidInput
from .rules import bid_path
from .workspace import scratch


def inverse_cdf(q, u: float) -> int:
    """Token ``t`` with ``sum_{s<t} q(s) <= u < sum_{s<=t} q(s)`` (token order 0..V-1)."""
    u = float(u)
    if not 0.0 <= u < 1.0:  # NaN fails too
        raise InvalidInput(f"uniform {u!r} must lie in [0, 1)", value=u)
    q = np.asarray(q, dtype=np.float64)
    t = int(cumsum_search(q, (u,))[0])
    return t if t < len(q) else int(np.flatnonzero(q > 0)[-1])  # u past the end by round-off


def inverse_cdf_many(q, us) -> np.ndarray:
    """:func:`inverse_cdf` of one ``q`` at each uniform of ``us``, as an int array."""
    us = np.asarray(us, dtype=np.float64)
    bad = ~((us >= 0.0) & (us < 1.0))
    if bad.any():
        u = float(us[bad][0])
        raise InvalidInput(f"uniform {u!r} must lie in [0, 1)", value=u)
    q = np.asarray(q, dtype=np.float64)
    t = cumsum_search(q, us)
    beyond = t >= len(q)
    if beyond.any():  # u beyond the last cumsum by round-off: the last token with mass
        t[beyond] = np.flatnonzero(q > 0)[-1]
    return t


# ---------------------------------------------------------------------------
# Per-agent stable sampler (theory §6, canonical construction)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StableDraw:
    token: int              #: realized token at the agent's bid
    token_at_zero: int      #: token the same seed gives at bid 0
    threshold: float        #: infimum of bids giving ``token`` (0 if the seed never switched)
    switched: bool


class StableSampler:
    """theory §6 canonical stable sampler for ``agent`` (box order).

    Lay ``Q(0)`` out on [0, 1) in token order. A seed ``u`` inside an over-served token
    t (``Q_t(0) > p_i(t)``), at offset ``y``, leaves t at ``tau = inf{s : Q_t(s) <= y}``
    and moves to an under-served token (``Q_u(0) < p_i(u)``) chosen by the auxiliary
    uniform ``v`` with probability proportional to u's gain at tau (on a grid: u's
    increment over that grid step). Seeds in other tokens never move.
    """

    def __init__(self, rule, P: np.ndarray, b: np.ndarray, agent: int,
                 bisect_tol: float = 1e-10):
        self.rule, self.P, self.b, self.agent = rule, P, np.asarray(b, dtype=np.float64), agent
        self.p = rule.smoothed(P)[0][agent]  # with smoothing, the smoothed report (theory §2)
        self.q0 = self.Q(0.0)
        self.starts = np.concatenate(([0.0], np.cumsum(self.q0)[:-1]))
        self.over = self.q0 > self.p
        self.under = self.q0 < self.p
        self.bisect_tol = bisect_tol
        self._grid = None  # (grid bytes, Q on it, its increments): the last grid seen

    def Q(self, s: float) -> np.ndarray:
        return self.Qs([s])[0]

    def Qs(self, grid) -> np.ndarray:
        return bid_path(self.rule, self.P, self.b, self.agent, grid)

    # -- on a bid grid ----------------------------------------------------------
    def _check_grid(self, grid) -> np.ndarray:
        g = np.asarray(grid, dtype=np.float64)
        if g.ndim != 1 or g.size < 1 or g[0] != 0 or np.any(np.diff(g) <= 0) \
                or not np.isfinite(g).all():
            raise InvalidInput(f"bid grid must start at 0 and increase strictly, got {grid!r}",
                               value=grid)
        return g

    def _increments(self, Qg: np.ndarray) -> np.ndarray:
        inc = np.diff(Qg, axis=0) * self.under
        return np.maximum(inc, 0.0)

    def _on_grid(self, grid) -> tuple[np.ndarray, np.ndarray]:
        """``(Q on grid, its increments)``, kept for the last grid: many seeds share one."""
        g = self._check_grid(grid)
        if self._grid is None or self._grid[0] != g.tobytes():
            Qg = self.Qs(g)
            self._grid = (g.tobytes(), Qg, self._increments(Qg))
        return self._grid[1], self._grid[2]

    def grid_path(self, grid, u: float, v: float) -> np.ndarray:
        """Tokens realized by seed ``(u, v)`` at each bid of ``grid`` (grid[0] = 0)."""
        Qg, increments = self._on_grid(grid)
        t = inverse_cdf(self.q0, u)
        path = np.full(len(Qg), t, dtype=np.int64)
        if not self.over[t]:
            return path
        y = u - self.starts[t]
        stay = np.minimum.accumulate(Qg[:, t]) > y
        if stay.all():
            return path
        k = int(np.argmin(stay))  # first grid point where the seed has left t
        inc = increments[k - 1]
        total = inc.sum()
        weights = inc / total if total > 0 else self.under / max(self.under.sum(), 1)
        path[k:] = inverse_cdf(weights, v) if weights.sum() > 0 else t
        return path

    def grid_marginals(self, grid) -> np.ndarray:
        """Exact law of the grid construction: (K, V) marginals at each grid bid.

        Equals ``Q(s_k)`` row by row iff the rule is box-monotone for this agent along
        the grid (what ``stable_sampling`` checks).
        """
        g = self._check_grid(grid)
        Qg = self.Qs(g)
        stay = np.minimum(np.minimum.accumulate(Qg, axis=0), self.q0) * self.over
        leaving = np.concatenate(([0.0], -np.diff(stay, axis=0).sum(axis=1)))
        inc = self._increments(Qg)
        out = np.empty_like(Qg)
        out[0] = self.q0
        moved = np.zeros_like(self.q0)
        for k in range(1, len(g)):
            total = inc[k - 1].sum()
            if leaving[k] > 0:
                share = inc[k - 1] / total if total > 0 else self.under / max(self.under.sum(), 1)
                moved = moved + leaving[k] * share
            out[k] = np.where(self.over, stay[k], self.q0 + moved)
        return out

    def switch_probability(self, grid) -> np.ndarray:
        """Probability that a seed's token at ``grid[k]`` differs from its token at 0.

        Equals ``TV(Q(0), Q(s_k))`` iff every over-served token's mass only decreases
        along the grid (what theory §6 asks; fails when MON fails)."""
        Qg = self.Qs(self._check_grid(grid))
        stay = np.minimum(np.minimum.accumulate(Qg, axis=0), self.q0) * self.over
        return (self.q0 * self.over - stay).sum(axis=1)

    # -- at the agent's own bid, with an exact threshold ---------------------------
    def draw(self, u: float, v: float, bid: float | None = None) -> StableDraw:
        """The seed's token at ``bid`` (default: the agent's bid) and its threshold."""
        s_max = float(self.b[self.agent] if bid is None else bid)
        t = inverse_cdf(self.q0, u)
        if not self.over[t] or s_max <= 0:
            return StableDraw(t, t, 0.0, False)
        y = u - self.starts[t]
        if self.Q(s_max)[t] > y:
            return StableDraw(t, t, 0.0, False)
        lo, hi = 0.0, s_max              # Q_t(lo) > y >= Q_t(hi)
        while hi - lo > self.bisect_tol * max(1.0, hi):
            mid = 0.5 * (lo + hi)
            if self.Q(mid)[t] > y:
                lo = mid
            else:
                hi = mid
        gain = np.maximum((self.Q(hi) - self.Q(lo)) * self.under, 0.0)
        if gain.sum() <= 0:  # flat to float precision: fall back to the whole bracket
            gain = np.maximum((self.Q(hi) - self.q0) * self.under, 0.0)
        new = inverse_cdf(gain / gain.sum(), v) if gain.sum() > 0 else t
        return StableDraw(new, t, hi, new != t)


# ---------------------------------------------------------------------------
# Two agents, linear rule: maximal coupling (theory §6 [ours, fact])
# ---------------------------------------------------------------------------

def maximal_coupling_draw(p1, p2, u1: float, u2: float, u3: float) -> tuple[int, int]:
    """Draw ``(X, Y)``, ``X ~ p1``, ``Y ~ p2``, ``Pr[X != Y] = TV(p1, p2)``; when they differ,
    ``p1(X) > p2(X)`` and ``p2(Y) > p1(Y)``. Deterministic in three uniforms."""
    x, y, _ = _coupling(np.asarray(p1, dtype=np.float64), np.asarray(p2, dtype=np.float64),
                        u1, u2, u3)
    return x, y


def _coupling(p1, p2, u1, u2, u3) -> tuple[int, int, float]:
    """:func:`maximal_coupling_draw` and the ``TV(p1, p2)`` it used (``divergences.tv``'s
    value: the same difference and sum). With ``d = p1 - p2`` and ``a = |d|``, ``d + a`` and
    ``a - d`` are exactly twice ``max(d, 0)`` and ``max(-d, 0)``: an exact doubling of every
    weight changes no partial sum's rounding, so :func:`draw` of ``min(p1, p2)``, ``d + a``
    and ``a - d`` picks the same tokens (the last two by :func:`pair_search`, which reads
    ``d`` and ``a`` once and writes neither sum)."""
    d = np.subtract(p1, p2, out=scratch("coupling.d", p1.shape))
    a = np.abs(d, out=scratch("coupling.a", p1.shape))
    tv_ = 0.5 * float(a.sum())
    if u1 < 1.0 - tv_:
        x = draw(np.minimum(p1, p2, out=scratch("coupling.w", p1.shape)), u2)
        return x, x, tv_
    x, y = pair_search(d, a, u2, u3)  # draw of d + a and of a - d, neither written
    return x, y, tv_


@dataclass(frozen=True)
class JointDraw:
    token: int
    thresholds: np.ndarray  #: realized threshold (second-price) payment per agent
    detail: dict


def joint_linear_two_agents(P: np.ndarray, b: np.ndarray, uniforms) -> JointDraw:
    """theory §6: output X if ``U < b1/(b1+b2)`` else Y. Stable for both agents at once.

    Agent 1 pays ``U b2 / (1 - U)`` when the seed switched to X (X != Y, X realized);
    agent 2 pays ``b1 (1 - U) / U`` when it switched to Y; else 0. Their means equal
    the linear closed form ``TV (B ln(1 + b/B) - bB/(b + B))``; ``detail["tv"]`` is that
    ``TV(p_1, p_2)`` (the step hands it to the closed form).
    """
    if P.shape[0] != 2:
        raise InvalidInput(f"the joint linear sampler takes exactly 2 agents, got {P.shape[0]}",
                           value=P.shape[0])
    u1, u2, u3, U = (float(x) for x in uniforms[:4])
    b1, b2 = float(b[0]), float(b[1])
    if b1 + b2 <= 0:
        raise InvalidInput("every bid is 0: linear aggregation is undefined (theory §2)", value=[b1, b2])
    x, y, tv_ = _coupling(np.asarray(P[0], dtype=np.float64),
                          np.asarray(P[1], dtype=np.float64), u1, u2, u3)
    pick_x = U < b1 / (b1 + b2)
    token = x if pick_x else y
    z = np.zeros(2)
    if x != y:
        if pick_x:
            z[0] = U * b2 / (1.0 - U)
        elif b1 > 0:
            z[1] = b1 * (1.0 - U) / U
    return JointDraw(token, z, {"x": x, "y": y, "U": U, "tv": tv_})


# ---------------------------------------------------------------------------
# Exponential race (theory §6): an auction for the token's source
# ---------------------------------------------------------------------------

def exponential_race(P: np.ndarray, b: np.ndarray, uniforms, reference=None,
                     weight: float = 0.0) -> JointDraw:
    """``j* = argmin_j E_j / b_j`` with ``E_j = -log(1 - u_j)``; the token is drawn from
    ``p_{j*}`` with the last uniform. The reference races with bid ``lambda``.

    The winner's threshold for winning the race is ``E_i / min_{j != i} E_j / b_j``;
    its mean is the Myerson payment with ``x(s) = s / (s + B)``, at least the TV-based
    second price (equal iff TV = 1 or b = 0). A different mechanism from the stable
    sampler: it switches from the others' draw to the agent's own draw.
    """
    n = P.shape[0]
    weights = list(b) + ([weight] if reference is not None else [])
    rows = list(P) + ([reference] if reference is not None else [])
    m = len(weights)
    u = np.asarray(uniforms[:m + 1], dtype=np.float64)
    E = -np.log1p(-u[:m])
    w = np.asarray(weights, dtype=np.float64)
    if not (w > 0).any():
        raise InvalidInput("every weight is 0: the race has no entrant (theory §2: W = 0)",
                           value=w.tolist())
    with np.errstate(divide="ignore"):
        times = np.where(w > 0, E / np.where(w > 0, w, 1.0), np.inf)
    winner = int(np.argmin(times))
    token = inverse_cdf(rows[winner], float(u[m]))
    z = np.zeros(n)
    if winner < n:
        others = np.delete(times, winner)
        best_other = float(np.min(others)) if others.size else np.inf
        z[winner] = 0.0 if not np.isfinite(best_other) else E[winner] / best_other
    return JointDraw(token, z, {"winner": winner, "times": times.tolist()})


# ---------------------------------------------------------------------------
# Samplers that consume several uniforms per step (theory §6)
# ---------------------------------------------------------------------------

def gumbel_max(log_weights, uniforms) -> int:
    """``argmax_j (log_weights_j + G_j)`` with ``G_j = -log(-log u_j)``, one uniform per
    entry: entry j wins with probability ``w_j / sum w`` (the Gumbel-max trick). Entries
    with weight 0 (log weight ``-inf``) never win; ties go to the lowest index."""
    lw = np.asarray(log_weights, dtype=np.float64)
    u = np.asarray(uniforms, dtype=np.float64)[:lw.size]
    if u.size < lw.size:
        raise InvalidInput(f"gumbel_max needs {lw.size} uniforms (one per entry), got {u.size}",
                           value=u.size)
    if not np.isfinite(lw).any():
        raise InvalidInput("every weight is 0: the Gumbel-max draw has no entrant",
                           value=lw.tolist())
    u = np.clip(u, 1e-300, 1.0 - 1e-16)
    return int(np.argmax(lw - np.log(-np.log(u))))


def gumbel_max_token(q, uniforms) -> int:
    """A token of ``q`` by the Gumbel-max trick (``V`` uniforms): its law is ``q``."""
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return gumbel_max(np.log(q), uniforms)


def race_token(q, uniforms) -> int:
    """A token of ``q`` by an exponential race, ``argmin_t E_t / q_t`` with
    ``E_t = -log(1 - u_t)`` (``V`` uniforms): its law is ``q``."""
    q = np.asarray(q, dtype=np.float64)
    u = np.asarray(uniforms, dtype=np.float64)[:q.size]
    if u.size < q.size:
        raise InvalidInput(f"race_token needs {q.size} uniforms, got {u.size}", value=u.size)
    with np.errstate(divide="ignore"):
        times = np.where(q > 0, -np.log1p(-u) / np.where(q > 0, q, 1.0), np.inf)
    return int(np.argmin(times))


#: Samplers of a token from q by the number of uniforms they consume: ``1`` (inverse CDF)
#: or ``"V"`` (one per token).
MULTI_UNIFORM_SAMPLERS = {"gumbel_max": gumbel_max_token, "race": race_token}
