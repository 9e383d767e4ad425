"""Every agent's bid path at once (theory §4, §6): ``G_i(s) = TV(Q_i(0), Q_i(s))``, the
allocation the second-price payment integrates, for many ``(agent, bid)`` pairs per call.

Along agent i's path only one number moves, ``t = s / (s + B_i)`` (``B_i`` the others'
weight, reference included), so the built-in smooth rules are one-parameter families:

* linear (theory §2): ``Q_i(s) = m_i + t (p_i - m_i)``, ``m_i`` the others' mixture;
* log-linear (theory §2): ``log Q_i(s) = m_i + t (l_i - m_i) - log Z(t)``, ``l_i = log p_i``
  and ``m_i`` the others' weighted mean of logs, a one-parameter exponential family.
  A token no other party supports is vetoed on the whole path; a token only agent i
  leaves out is vetoed for ``s > 0``.

The logs of the reports, ``m_i`` and ``Q_i(0)`` are computed once per step; a log-linear
node then costs one scaled row, one ``exp``, its total and one pass of ``min`` against
``Q_i(0)`` (no sum over the parties, no maximum: the log-weights are ``<= 0``); a large
batch of nodes is shared between threads.
Any other rule goes through ``rule.batch`` on the bid profiles (:func:`mechanism.bids.
bid_profiles`), the definition itself. ``tests/mechanism/test_paths.py`` compares the
families with that definition.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import rules as R
from .bids import bid_profiles, dominant, others_weights
from .divergences import tv, tv_rows
from .errors import InvalidInput

#: Entries of one (rows, V) work buffer: small enough to stay in cache.
CHUNK = 1 << 16
#: Threads that share a large batch of log-linear nodes (one per core, at most 4).
WORKERS = max(1, min(4, os.cpu_count() or 1))
#: Node entries (nodes x V) per thread below which a batch stays in the calling thread.
PARALLEL_ENTRIES = 1 << 19
_POOL: tuple | None = None  # (pid, executor, workers)
#: A node whose weights total less than this is renormalized by its maximum (underflow).
TINY = 1e-200


class BidPaths:
    """``G_i(s)`` for agent/bid pairs of one step of ``rule`` on validated ``P``, ``b``."""

    def __init__(self, rule: R.Rule, P: np.ndarray, b: np.ndarray):
        self.rule, self.P, self.b = rule, P, np.asarray(b, dtype=np.float64)
        self.family = _family(rule, P, self.b)
        self._q0: dict[int, np.ndarray] = {}  # Q_i(0) of rules without a family

    def tv(self, agents, s) -> np.ndarray:
        """``TV(Q_i(0), Q_i(s))`` for each pair ``(agents[k], s[k])``: (K,)."""
        agents = np.asarray(agents, dtype=np.int64)
        s = np.asarray(s, dtype=np.float64)
        out = np.zeros(len(s))
        pos = np.flatnonzero(s > 0)  # G_i(0) = 0 exactly
        if not len(pos):
            return out
        if self.family is not None:
            out[pos] = self.family.tv(agents[pos], s[pos])
            return out
        for i in np.unique(agents[pos]):
            at = pos[agents[pos] == i]
            if i not in self._q0:
                self._q0[i] = self.rule.batch(self.P, bid_profiles(self.b, i, [0.0]))[0]
            out[at] = tv_rows(self.rule.batch(self.P, bid_profiles(self.b, i, s[at])),
                              self._q0[i])
        return out


def _family(rule, P, b):
    """The path family of a built-in smooth rule (None: use ``rule.batch``)."""
    if rule.generic is R.linear:
        return LinearFamily(rule, P, b)
    if rule.generic is R.log_linear:
        return LogLinearFamily(rule, P, b)
    return None


def _parties(rule, P, b):
    """``(rows, W, B)``: the smoothed reports (reference last when it has weight), every
    agent's others' weights ``W[i, j] = w_j / B_i`` (``W[i, i] = 0``) and ``B_i``."""
    Ps, ref = rule.smoothed(P)
    rows, w = Ps, b
    if ref is not None and rule.weight > 0:
        rows, w = np.vstack([Ps, ref]), np.append(b, rule.weight)
    n = len(b)
    W = np.repeat(w[None, :], n, axis=0)
    W[np.arange(n), np.arange(n)] = 0.0
    B = W.sum(axis=1)  # the others' own sum: W - b_i cancels when b_i dominates
    W /= np.where(B > 0, B, 1.0)[:, None]
    return rows, W, B


def others_mixture(P, b, i: int, B_i: float, reference=None, weight: float = 0.0):
    """``m_i = Q_i(0)`` of the linear rule: the others' mixture (reference included), from
    the others' rows alone (``B_i`` their total weight)."""
    w = np.asarray(b, dtype=np.float64).copy()
    w[i] = 0.0
    S = w @ P
    if reference is not None and weight > 0:
        S = S + weight * np.asarray(reference, dtype=np.float64)
    return S / B_i


class LinearFamily:
    """theory §2 linear on agent i's path: ``Q_i(s) = m_i + t (p_i - m_i)``, so
    ``G_i(s) = t TV(m_i, p_i)`` with ``m_i = Q_i(0)`` the others' mixture; from the total
    ``S = sum_j w_j p_j``, ``p_i - m_i = (W p_i - S) / B_i`` (one pass, no per-agent mixture)."""

    def __init__(self, rule, P, b):
        Ps, ref = rule.smoothed(P)
        S = b @ Ps
        W = float(b.sum())
        if ref is not None and rule.weight > 0:
            S, W = S + rule.weight * ref, W + rule.weight
        self.B = others_weights(b, W, ref, rule.weight)
        dev = np.multiply(Ps, W)
        dev -= S
        np.abs(dev, out=dev)
        self.tv1 = dev.sum(axis=1) / (2.0 * np.where(self.B > 0, self.B, 1.0))
        i = dominant(b, W)  # W p_i - S lost the others' mixture to p_i's weight: m_i itself
        if i is not None and self.B[i] > 0:
            self.tv1[i] = float(tv(Ps[i], others_mixture(Ps, b, i, self.B[i], ref,
                                                         rule.weight)))

    def tv(self, agents: np.ndarray, s: np.ndarray) -> np.ndarray:
        return s / (s + self.B[agents]) * self.tv1[agents]


class LogLinearFamily:
    """theory §2 log-linear on agent i's path, a one-parameter exponential family.

    Every log-weight is ``<= 0`` (``m_i`` is a convex combination of the parties' logs and
    ``m_i + t d_i = (1 - t) m_i + t l_i``), so ``exp`` cannot overflow and no maximum is
    subtracted; a node whose weights all but underflow (total below :data:`TINY`) is
    recomputed with its maximum subtracted. ``TV(Q_i(0), Q_i(s)) = 1 - sum min(q0, q)``."""

    def __init__(self, rule, P, b):
        rows, W, self.B = _parties(rule, P, b)
        n = len(b)
        support = rows > 0
        logs = np.log(np.where(support, rows, 1.0))
        m = W @ logs
        if not support.all():
            vetoed = ((W > 0).astype(np.float64) @ (~support).astype(np.float64)) > 0
            m[vetoed] = -np.inf
            d = np.where(vetoed, 0.0, logs[:n] - np.where(vetoed, 0.0, m))
            d[~support[:n] & ~vetoed] = -np.inf   # only agent i leaves the token out
        else:
            d = logs[:n] - m
        self.m, self.d = m, d
        #: no token vetoed on any agent's path (every m and d finite)
        self.finite = bool(support.all())
        self.q0 = m.copy()
        #: log of each row's normalizer: q0 = exp(m - logZ0)
        self.logZ0 = _softmax(self.q0, log_normalizer=True)

    def tv(self, agents: np.ndarray, s: np.ndarray) -> np.ndarray:
        """``TV(Q_i(0), Q_i(s))`` per pair, per chunk of nodes (any agents):
        ``E = exp(m_i + t d_i)``, ``Z = sum E``, ``1 - sum min(E, Z q0_i) / Z`` (two
        reused buffers; a fresh large array per node costs page faults). Large batches
        are split between :data:`WORKERS` threads (numpy releases the GIL)."""
        t = s / (s + self.B[agents])
        out = np.empty(len(s))
        parts = min(WORKERS, len(s) * self.m.shape[1] // PARALLEL_ENTRIES)
        if parts < 2:
            self._nodes(agents, t, out)
            return out
        cuts = np.linspace(0, len(s), parts + 1).astype(int)
        list(thread_pool().map(
            lambda k: self._nodes(agents[cuts[k]:cuts[k + 1]], t[cuts[k]:cuts[k + 1]],
                                  out[cuts[k]:cuts[k + 1]]), range(parts)))
        return out  # a token i vetoes has q = 0: min(q0, 0) = 0 counts Q_i(0)'s mass there

    def _nodes(self, agents, t, out):
        """The nodes ``(agents[k], t[k])`` into ``out``, a chunk of rows at a time (one row
        of a large vocabulary; many of a small one, where per-call overhead dominates)."""
        V = self.m.shape[1]
        rows = max(1, CHUNK // max(V, 1))
        E, T = np.empty((min(rows, len(t)), V)), np.empty((min(rows, len(t)), V))
        for lo in range(0, len(t), rows):
            a, tt = agents[lo:lo + rows], t[lo:lo + rows]
            e, q = E[:len(a)], T[:len(a)]
            if len(a) == 1:
                np.multiply(self.d[a[0]], tt[0], out=e[0])
                e += self.m[a[0]]
            else:
                # mode "clip": an out= take under the default "raise" is buffered (a copy more);
                # the agents index their own rows
                np.take(self.d, a, axis=0, out=e, mode="clip")
                e *= tt[:, None]
                e += np.take(self.m, a, axis=0, out=q, mode="clip")
            np.exp(e, out=e)
            Z = e.sum(axis=1)
            for j in np.flatnonzero(~(Z >= TINY)):  # the weights (nearly) underflowed
                np.multiply(self.d[a[j]], tt[j], out=e[j])
                e[j] += self.m[a[j]]
                _softmax(e[j:j + 1])  # shifted by its maximum
                Z[j] = 1.0
            if len(a) == 1:
                np.multiply(self.q0[a[0]], Z[0], out=q[0])
            else:
                np.take(self.q0, a, axis=0, out=q, mode="clip")
                q *= Z[:, None]
            np.minimum(e, q, out=e)
            out[lo:lo + rows] = 1.0 - e.sum(axis=1) / Z


def thread_pool() -> ThreadPoolExecutor:
    """The threads that share large batches of log-linear nodes (here and in
    :mod:`mechanism.crossings`), created on first use in each process
    (a forked child has its parent's pool object but none of its threads: a fresh one)."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid() or _POOL[2] != WORKERS:
        if _POOL is not None and _POOL[0] == os.getpid():
            _POOL[1].shutdown(wait=False)  # WORKERS changed: the old threads end
        _POOL = (os.getpid(), ThreadPoolExecutor(WORKERS, thread_name_prefix="bidpaths"), WORKERS)
    return _POOL[1]


def _softmax(S: np.ndarray, log_normalizer: bool = False) -> np.ndarray:
    """Row-wise softmax of log-weights, in place (``-inf``: a vetoed token); returns ``S``,
    or with ``log_normalizer`` each row's ``log sum exp``."""
    top = S.max(axis=1, keepdims=True)
    if not np.isfinite(top).all():
        raise InvalidInput("log-linear aggregation is undefined: the parties with positive "
                           "weight have no token in common (every token is vetoed by some "
                           "party); smooth the reports (epsilon > 0) or change the bids",
                           value=None)
    S -= top
    np.exp(S, out=S)
    total = S.sum(axis=1, keepdims=True)
    S /= total
    return (top + np.log(total))[:, 0] if log_normalizer else S
