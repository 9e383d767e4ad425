"""Vectorized replay of a recorded run, many steps per numpy call.

The serial audit (:mod:`properties.audit.replay`) spends its time in per-step Python: a
dense ``(n, V)`` decode, one ``bid_path`` call per agent and grid point, one adaptive
quadrature per agent. For the platform's common configuration -- the ``linear`` rule
(docs/theory.md section 2; with or without a reference, no smoothing), the
``second_price`` payment charged in expectation, the ``inverse_cdf`` sampler -- this
module replays CHUNKS of steps at once on the sparse rows as stored:

* inputs: every value finite and >= 0, token indices increasing per row, each row
  summing to 1 within half of ``EXACT_TOL`` (so the serial path would not renormalize);
* replay: the aggregate ``q = (sum_j b_j p_j + lambda p_0) / W`` on each step's support
  (one ``bincount`` per chunk), the token by inverse CDF with ``u_0``, and the closed
  form ``Z_i = TV(p_i, m_i) (B_i ln(1 + b_i/B_i) - b_i B_i/(b_i + B_i))`` with
  ``2 B_i TV(p_i, m_i) = sum_{t in supp p_i} (|W p_i(t) - S(t)| - S(t)) + sum_t S(t)``
  (``S = W q``): O(nonzeros) per step;
* properties: ``0 <= z_i <= b_i`` on the recorded values (the serial arithmetic); the
  payment identity by Gauss-Legendre quadrature of ``x(s) = s/(s + B_i) TV(p_i, m_i)``
  (the second-price allocation of the linear rule), a method independent of the
  closed form it checks; box monotonicity by the theorem that the linear rule's bid
  path ``Q_i(s) = p_i + B_i/(s + B_i) (m_i - p_i)`` moves each token monotonically to
  ``p_i`` (docs/theory.md section 4, "Which rules are monotone"), the library's grid
  check running in full on one step of every chunk (its sparsest).

It is a FILTER, never a judge of failures: a step passes here only with a margin
(tokens: ``u_0`` farther than ``MARGIN`` from a CDF boundary; payments and identity:
inside the tolerance by ``MARGIN``); every other step -- anything unusual, anything
near a threshold, any step the stream flagged, and one step of every chunk --
is audited by the run audit's step (``replay.RunStep.audit``, in the one loop
:func:`audit_stream`), which writes every divergence. So a report
has the serial path's divergences and verdicts, in the same order. Memory stays
bounded: at most ``CHUNK_STEPS`` steps or ``CHUNK_ENTRIES`` stored values at a time.
"""

from __future__ import annotations

import numpy as np

from mechanism import step_uniforms
from mechanism.auction import EXTRA_UNIFORMS
from mechanism import rules as R
from mechanism.errors import InvalidInput
from mechanism.payments import race_share

from properties import checks as C
from properties.audit.blocks import SparseRows
from properties.audit.entries import Entries
from properties.audit.stream import VerifiedStep, verified_steps
from properties.audit.uniforms import many_step_uniforms

CHUNK_STEPS = 1024
CHUNK_ENTRIES = 1 << 21
#: The filter's arithmetic runs on slices of a chunk this large (cache-sized arrays).
SLICE_STEPS = 128
SLICE_ENTRIES = 1 << 17
#: Slack kept from every threshold before a step passes here (else the serial path runs).
MARGIN = 1e-10
#: Gauss-Legendre nodes for the identity (and half as many for its error estimate).
GL_NODES = 24
_X, _W = np.polynomial.legendre.leggauss(GL_NODES)
_X2, _W2 = np.polynomial.legendre.leggauss(GL_NODES // 2)


class StreamLog:
    """Stands in for the report while the stream reads ahead: buffers its calls, which
    are replayed into the report step by step, in the serial order."""

    def __init__(self):
        self.ops: list = []
        self.head_hash = None

    def count(self, check, n=1):
        self.ops.append(("count", (check, n)))

    def fail(self, div):
        self.ops.append(("fail", (div,)))

    def warn(self, text):
        self.ops.append(("warn", (text,)))

    def take(self) -> list:
        ops, self.ops = self.ops, []
        return ops


def supported(header: dict, auction, tol: float, identity_tol: float) -> bool:
    """Whether the run's configuration is the one vectorized here (else: serial)."""
    rule = auction.rule  # the sampler actually used is checked per step (its record)
    return (rule.generic is R.linear and not rule.epsilon
            and auction.sampler in ("auto", "inverse_cdf")
            and header.get("payment") == "second_price" and header.get("charge") == "expected"
            and tol >= 2 * MARGIN and identity_tol >= 2 * MARGIN)


def payment_method(auction, header: dict) -> str:
    """The ``payment_method`` the auction records for this configuration (a probe)."""
    from mechanism.payments import compute_payments

    n, rule = int(header["n"]), auction.rule
    if header.get("has_reference"):
        rule = rule.with_reference(np.array([0.5, 0.5]))
    return compute_payments(rule, np.full((n, 2), 0.5), np.ones(n), auction.payment).method


class ChunkAuditor:
    """Replays chunks of steps of one run (see the module docstring)."""

    def __init__(self, header, tol, identity_tol, method, check_properties):
        self.n, self.V = int(header["n"]), int(header["V"])
        self.has_ref = bool(header.get("has_reference"))
        self.lam = float(header.get("reference_weight") or 0.0) if self.has_ref else 0.0
        self.seed = header["seed"]
        self.tol, self.identity_tol = tol, identity_tol
        self.method, self.check_properties = method, check_properties
        self.derived_at, self.derived = {}, None   # see _derive

    def _eligible(self, item: VerifiedStep, ops) -> bool:
        """A step this filter replays: its stream flagged nothing, and its record is of this
        configuration. The record passed the schema (:func:`properties.audit.stream.verified_steps`
        yields no other): bids, payments and uniforms are lists of finite numbers of the
        right lengths, bids >= 0, the step and the token integers."""
        rec = item.record
        if not isinstance(item.rows, SparseRows) or any(op == "fail" for op, _ in ops):
            return False
        return (not any(rec["payment_errors"])   # closed forms state 0
                and rec["sampler"] == "inverse_cdf" and rec["thresholds"] is None
                and rec["payment_method"] == self.method)

    def check(self, chunk: list) -> np.ndarray:
        """Per ``(item, stream ops)``: True if the step passes every check here (its
        tallies are then the serial path's), False if the serial path must audit it.
        ``self.errs``: the largest replay and identity errors of the passing steps;
        ``self.replayed``: the eligible steps' replayed payments and identities (m, n)."""
        elig = np.array([self._eligible(it, ops) for it, ops in chunk], dtype=bool)
        ok = np.zeros(len(chunk), dtype=bool)
        self.errs, self.replayed = (0.0, 0.0), (np.zeros((0, self.n)), None)
        if elig.any():
            items = [it for (it, _), e in zip(chunk, elig) if e]
            self._derive([it.record["step"] for it in items])
            with np.errstate(all="ignore"):  # NaN or inf compare False: the serial path runs
                ok[elig] = self._check_groups(items)
        return ok

    def _derive(self, steps: list[int]) -> None:
        """The uniforms of ``steps`` derived at once for the whole chunk (its slices look
        them up: one call of the vector form has a fixed cost of about a millisecond)."""
        self.derived_at = {k: j for j, k in enumerate(dict.fromkeys(steps))}
        self.derived = many_step_uniforms(self.seed, list(self.derived_at),
                                          self.n + EXTRA_UNIFORMS)

    def _check_groups(self, items: list[VerifiedStep]) -> np.ndarray:
        """:meth:`_check` on the dense steps (every row stores all V tokens) and on the
        others apart, each kind in slices of at most ``SLICE_STEPS`` steps or about
        ``SLICE_ENTRIES`` stored values (each step's checks are its own; a slice's arrays
        stay in the cache), the results in ``items``' order."""
        m = len(items)
        dense = np.array([self._dense(it) for it in items], dtype=bool)
        slices = _slices(items, dense)
        if len(slices) == 1:
            return self._check(items)
        ok = np.zeros(m, dtype=bool)
        want = np.zeros((m, self.n))
        ident = np.zeros((m, self.n)) if self.check_properties else None
        errs = (0.0, 0.0)
        for at in slices:
            ok[at] = self._check([items[k] for k in at])
            want[at] = self.replayed[0]
            if ident is not None:
                ident[at] = self.replayed[1]
            errs = (max(errs[0], self.errs[0]), max(errs[1], self.errs[1]))
        self.errs, self.replayed = errs, (want, ident)
        return ok

    def _dense(self, item: VerifiedStep) -> bool:
        """Every row of the step stores exactly the tokens ``0..V-1``: ``V`` entries a row
        (a block :func:`properties.audit.blocks.decode_blocks` reads holds, per row, tokens
        strictly increasing in ``0..V-1``, so at most ``V``, and exactly ``V`` only when
        every row stores every token)."""
        return item.rows.idx.size == item.rows.n_rows * self.V

    def _check(self, items: list[VerifiedStep]) -> np.ndarray:
        """Per step of ``items`` (all dense, or all not: :meth:`_check_groups`): whether it
        passes every check here."""
        n = self.n
        dense = all(self._dense(it) for it in items)
        b = np.array([it.record["bids"] for it in items], dtype=np.float64)        # (m, n)
        z = np.array([it.record["payments"] for it in items], dtype=np.float64)    # (m, n)
        ok, u0 = self._uniforms(items)
        e = Entries(items, self.n + self.has_ref, dense)
        ok &= e.rows_ok()
        weight = np.hstack([b, np.full((len(items), 1), self.lam)]) if self.has_ref else b
        # each step's weights scaled by their largest, as the rule scales them
        # (mechanism.rules._with_reference): W q = S is then computed in [0, n + 1], where
        # its round-off is far below MARGIN; unscaled, subnormal bids rounded b_j p_j(t)
        # to 0 or one ulp, q came out [0, 0, 1] for a rule answering [0.2, 0.2, 0.6], and
        # forged tokens passed here
        top = weight.max(axis=1, initial=0.0)
        ok &= (top > 0) & np.isfinite(top)
        c = np.where(ok, top, 1.0)
        w = weight / c[:, None]
        W = w.sum(axis=1)                                                          # (m,)
        S, S_e = e.weighted_sum(w, self.V)                                         # W q
        ok &= self._tokens(items, ok, e, S, np.where(ok, W, 1.0), u0)
        # closed-form payments (the reference's row adds to bins that are dropped); the TV
        # in the scaled units, the payment in the bids' own
        T = e.tv_sums(W, S_e)[:, :n]
        total = np.bincount(e.key_step, weights=S, minlength=len(items))
        B = (b.sum(axis=1) + self.lam)[:, None] - b
        Bw = W[:, None] - w[:, :n]
        good = (b > 0) & (B > 0) & (Bw > 0)
        Bs = np.where(good, B, 1.0)
        tv = (T + total[:, None]) / (2.0 * np.where(good, Bw, 1.0))
        # as mechanism.payments: no b * Bs (under/overflow at 1e+-300), no b / Bs overflow
        want = np.where(good, np.minimum(tv * (Bs * race_share(b, Bs)), b), 0.0)
        diff = np.abs(want - z)
        # the serial path's slack (replay._close) less MARGIN, with half its round-off
        # allowance (the other half is the mechanism's own), less this closed form's own
        # worst-case round-off: T + total sums 3 nnz_i + union terms of at most W (scaled
        # units), then / (2 Bw) and * B_i: u (3 nnz_i + union + 9) W / 2 in the bids'
        # units (B_i / Bw is the scaling factor, so W B_i / Bw is the step's weight). A
        # dominant agent (b / B = 1e12) made this larger than its payment, and under a
        # slack of tol * b_i a forged payment of 0 matched
        Wt = (b.sum(axis=1) + self.lam)[:, None]
        terms = 3 * e.nnz.reshape(len(items), -1)[:, :n] + 9 + \
            np.bincount(e.key_step, minlength=len(items))[:, None]
        slack = (self.tol - MARGIN) * np.maximum(np.abs(want), np.abs(z)) + \
            0.5 * C.round_allowance(self.V + n, Wt) - C.UNIT_ROUNDOFF * terms * Wt
        ok &= (diff <= slack).all(axis=1)
        pay_err = float(diff[ok].max(initial=0.0))
        id_err = 0.0
        if self.check_properties:
            ok &= ((z >= 0) & (z <= b)).all(axis=1)                    # 0 <= z_i <= b_i
            ident, err = _identity(tv, b, B, good)
            idiff = np.abs(ident - z)
            ok &= (idiff + err <= (self.identity_tol - MARGIN) * b).all(axis=1)
            id_err = float(idiff[ok].max(initial=0.0))
        self.errs = (pay_err, id_err)
        self.replayed = (want, ident if self.check_properties else None)
        return ok

    def _uniforms(self, items) -> tuple[np.ndarray, np.ndarray]:
        """Per step: whether the recorded uniforms are ``step_uniforms(seed, step, n)``
        (a pure function of both; for the chunk at once by
        :func:`properties.audit.uniforms.many_step_uniforms`), and ``u_0``."""
        steps = [it.record["step"] for it in items]
        at = [self.derived_at.get(k, -1) for k in steps]
        u = self.derived[at] if self.derived is not None and -1 not in at else \
            many_step_uniforms(self.seed, steps, self.n + EXTRA_UNIFORMS)
        if u is None:  # a seed or step beyond what the vector form takes
            u = np.array([step_uniforms(self.seed, k, self.n) for k in steps])
        recorded = np.array([it.record["uniforms"] for it in items], dtype=np.float64)
        return (recorded == u).all(axis=1), u[:, 0].copy()

    def _tokens(self, items, ok, e, S, Wsafe, u0) -> np.ndarray:
        """Per step: the recorded token is the inverse CDF of ``q = S / W`` at ``u_0``,
        with ``u_0`` farther than ``MARGIN`` from both ends of its token's interval. One
        cumulative sum for the slice (each step's starts where the last one ended; a slice
        has at most ``SLICE_STEPS`` steps, each adding at most 1 + ``EXACT_TOL``, so its
        round-off stays far below ``MARGIN``)."""
        m = len(items)
        token = np.array([it.record["token"] for it in items], dtype=np.int64)
        out = np.zeros(m, dtype=bool)
        if not e.key_step.size:
            return out
        f = np.searchsorted(e.key_step, np.arange(m + 1))          # each step's first key
        # steps already failed add nothing (a NaN or a huge sum would spoil the later ones)
        c = np.cumsum(np.where(ok[e.key_step], S / Wsafe[e.key_step], 0.0))
        base = np.concatenate(([0.0], c))[f[:-1]]                  # the sum before the step
        x = base + u0
        t = np.searchsorted(c, x, side="right")                    # the token's key
        tc = np.minimum(t, c.size - 1)
        below = np.where(t > f[:-1], c[np.maximum(tc - 1, 0)], base)
        return (ok & (t < f[1:]) & (c[tc] - x > MARGIN) & (x - below > MARGIN)
                & (e.uniq[tc] - np.arange(m) * self.V == token))


def _slices(items: list[VerifiedStep], dense: np.ndarray) -> list[np.ndarray]:
    """Positions of ``items`` in groups of one kind (dense or not), in order, each of at
    most ``SLICE_STEPS`` steps and, past its first step, ``SLICE_ENTRIES`` stored values."""
    out = []
    for kind in (True, False):
        at = np.flatnonzero(dense == kind)
        sizes = np.array([items[k].rows.val.size for k in at], dtype=np.int64)
        start = 0
        while start < at.size:
            stop = min(at.size, start + SLICE_STEPS)
            cum = np.cumsum(sizes[start:stop])
            stop = start + max(1, int(np.searchsorted(cum, SLICE_ENTRIES, side="right")))
            out.append(at[start:stop])
            start = stop
    return out


def _identity(tv, b, B, good):
    """Myerson's identity ``b x(b) - int_0^b x`` with ``x(s) = s/(s+B) TV(p_i, m_i)``
    (the linear rule's second-price allocation), by Gauss-Legendre; and an error
    estimate (the difference with half the nodes)."""
    Bs = np.where(good, B, 1.0)
    bs = np.where(good, b, 0.0)

    def gl(x, w):
        s = bs[..., None] * (x + 1.0) / 2.0
        return bs * (w * (s / (s + Bs[..., None]))).sum(axis=-1) / 2.0

    area, coarse = gl(_X, _W), gl(_X2, _W2)
    value = np.where(good, tv * (bs * (bs / (bs + Bs)) - area), 0.0)
    return value, np.where(good, tv * np.abs(area - coarse), 0.0)


def audit_stream(run_dir, header, report, step, *, chunks: ChunkAuditor | None = None,
                 progress=None) -> None:
    """The run audit's one step loop, serial and chunked alike: stream the run, apply the
    stream's report calls in order, and audit each step by ``step.audit(item)`` -- or, for the
    steps that ``chunks`` passes (:class:`ChunkAuditor`, a filter), record ``step.passed(k)``
    (tallies only, so once per chunk).
    Without ``chunks`` every step is audited one at a time (the serial replay)."""
    from mechanism.transcript import decode_rows

    log = StreamLog()
    chunk: list = []
    size = 0
    steps, entries = (CHUNK_STEPS, CHUNK_ENTRIES) if chunks is not None else (1, 0)

    def apply(ops):
        for op, args in ops:
            getattr(report, op)(*args)

    def flush():
        nonlocal chunk, size
        items, chunk, size = chunk, [], 0
        ok, errs = _filter(chunks, items)
        step.passed(int(ok.sum()))  # counts only: their order does not matter
        for passed, (item, ops) in zip(ok.tolist(), items):
            if ops:
                apply(ops)
            report.steps_read += 1
            if not passed:
                if isinstance(item.rows, SparseRows):
                    item = VerifiedStep(item.line, item.record,
                                        decode_rows(item.rows.blob, item.rows.n_rows,
                                                    item.rows.V), item.side_ok)
                step.audit(item)
            if progress is not None:
                progress(report.steps_read, item)
        if errs is not None:
            t = report.tallies
            t["replay_payments"].max_error = max(t["replay_payments"].max_error, errs[0])
            t["payment_identity"].max_error = max(t["payment_identity"].max_error, errs[1])

    try:
        for item in verified_steps(run_dir, header, log, sparse=chunks is not None):
            chunk.append((item, log.take()))
            size += item.rows.val.size if isinstance(item.rows, SparseRows) else 0
            if len(chunk) >= steps or (entries and size >= entries):
                flush()
    except InvalidInput:
        flush()
        apply(log.take())
        report.head_hash = log.head_hash
        raise
    flush()
    apply(log.take())
    report.head_hash = log.head_hash


def _filter(chunks: ChunkAuditor | None, items: list):
    """``(ok, errs)``: which steps of ``items`` the filter passes and the largest replay and
    identity errors among them (None without a filter). One step per chunk (the sparsest,
    so the cheapest) also goes through the library's own checks in full, tying the filter
    to them on every chunk."""
    if chunks is None or not items:
        return np.zeros(len(items), dtype=bool), None
    ok = chunks.check(items)
    sizes = [it.rows.val.size if isinstance(it.rows, SparseRows) else 0 for it, _ in items]
    if ok.any():
        ok[int(np.argmin(np.where(ok, sizes, np.iinfo(np.int64).max)))] = False
    return ok, chunks.errs
