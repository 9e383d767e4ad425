"""Backend-generic rules compiled into exact trees (docs/theory.md section 4).

``compiled(fn)``: the rule ``fn(ops, dists, bids, reference, weight)`` is captured once per
size (n agents, V tokens, with or without a reference) by :func:`proofs.compile.generic.
capture_rule`; the :class:`GenericRule` that runs evaluates the generated code of those trees
(:func:`proofs.compile.evaluate.numpy_values`, vectorized over bid profiles), and its exact
backends (``Fraction``, sympy) evaluate the same trees. The user's function is called only
to capture a size not yet compiled, never to evaluate. Sizes beyond ``Bounds`` are not
compiled: the rule declines them (``InvalidInput``) and no proof claims anything there.
A rule compiled in the cage's worker arrives as trees only (``fn=None``): then every size
it was not compiled for is declined. :func:`sealed` says whether an object is exactly such
a rule, the only kind the bounded prover reports PROVED for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mechanism import arith
from mechanism.bids import has_weight
from mechanism.errors import Float64Range, InvalidInput, InvalidRule
from mechanism.rules import Rule
from mechanism.validation import SUM_TOL, output_defect

from proofs.compile import enclosure
from proofs.compile import evaluate as E
from proofs.compile import tree as T
from proofs.compile.capture import DeclarationError
from proofs.compile.generic import capture_rule
from proofs.compile.seal import originals, seal_reason


@dataclass(frozen=True)
class Bounds:
    """The sizes a generic rule is compiled for (``check`` draws n <= 4, V <= 8), and the
    time budget of one capture."""
    max_agents: int = 4
    max_tokens: int = 8
    timeout_s: float = 5.0

    def __post_init__(self):
        for k in ("max_agents", "max_tokens"):
            v = getattr(self, k)
            if type(v) is not int or not 1 <= v <= 64:
                raise InvalidInput(f"Bounds.{k} = {v!r}: an integer from 1 to 64", value=v)
        if not (isinstance(self.timeout_s, (int, float)) and self.timeout_s > 0):
            raise InvalidInput(f"Bounds.timeout_s = {self.timeout_s!r}: a positive number of "
                               "seconds", value=self.timeout_s)

    def text(self) -> str:
        return f"n <= {self.max_agents} agents, V <= {self.max_tokens} tokens"


def leaf_values(dists, ref, lam) -> dict:
    """The values of a generic tree's leaves (:func:`proofs.compile.tree.leaf_key`)."""
    out = {("report", j, t): x for j, p in enumerate(dists) for t, x in enumerate(p)}
    if ref is not None:
        out.update({("ref", t): x for t, x in enumerate(ref)})
    out[("lam",)] = lam
    return out


#: The fidelity check's seeded points per compiled size: FIDELITY_EDGES with bids from the
#: fixed FIDELITY_BIDS (zeros, extremes), then FIDELITY_POINTS with bids drawn log-uniform
#: over FIDELITY_SPAN (a rule that answered otherwise only for a bid in (3, 4), never one of
#: the fixed bids, was PROVED), and its margin (q is a probability vector: an absolute
#: margin is scale-free here). A refuter only: a branch on a region no point reaches still
#: passes (docs/theory.md, "What a compiled rule's proof covers").
FIDELITY_EDGES = 4
FIDELITY_POINTS = 16
FIDELITY_BIDS = np.array([0.0, 1e-3, 0.5, 1.0, 2.0, 10.0, 1e8])
FIDELITY_SPAN = (-4.0, 4.0)
FIDELITY_MARGIN = 1e-9


class GenericRule(Rule):
    """A backend-generic rule whose evaluation is the code generated from its trees."""

    def __init__(self, name, fn=None, *, reference=None, weight=0.0, epsilon=0.0, trees=None,
                 bounds: Bounds = Bounds()):
        self.fn, self.bounds = fn, bounds
        self.compiled_trees: dict = dict(trees or {})   #: (n, V, has_ref) -> V trees
        self.uncompilable: dict = {}   #: (n, V, has_ref) -> why it cannot be compiled there
        super().__init__(name, self._generic, numpy_fn=self._numpy, reference=reference,
                         weight=weight, epsilon=epsilon, claims={}, batch_fn=self._batch)
        if fn is not None:  # at declaration: a rule that cannot be compiled fails here
            V = 2 if self.reference is None else int(self.reference.size)
            self.trees(1, V, self.reference is not None)

    def with_reference(self, reference, weight=None):
        return GenericRule(self.name, self.fn, reference=reference,
                           weight=self.weight if weight is None else weight,
                           epsilon=self.epsilon, trees=self.compiled_trees, bounds=self.bounds)

    def __repr__(self):
        return f"GenericRule({self.name!r}, compiled for {self.bounds.text()})"

    def trees(self, n: int, V: int, has_ref: bool) -> tuple:
        """The V trees for n agents (captured on first use; InvalidInput beyond the bounds)."""
        key = (int(n), int(V), bool(has_ref))
        if key not in self.compiled_trees:
            if n > self.bounds.max_agents or V > self.bounds.max_tokens:
                raise InvalidInput(f"rule {self.name!r} is compiled for {self.bounds.text()} "
                                   f"only, not for n={n}, V={V}: a larger size would run code "
                                   "that no proof covers; declare it with larger Bounds",
                                   value=[n, V])
            if self.fn is None:   # rebuilt from data: a size not sent did not compile
                raise InvalidInput(f"rule {self.name!r} has no compiled code at n={n}, V={V} "
                                   "(it could not be compiled there); the input is declined",
                                   value=[n, V])
            if key in self.uncompilable:
                raise InvalidInput(self.uncompilable[key], value=[n, V])
            try:
                trees = capture_rule(self.fn, n, V, has_ref, self.bounds.timeout_s)
            except DeclarationError as exc:
                if not self.compiled_trees:   # no size compiles: the rule is not compiled
                    raise
                # a tool limit at this size (case splits, degree, depth, time): the compiled
                # rule declines the input, as beyond its bounds (and remembers it: one
                # capture per size); judging it as the rule's failure gave a monotone rule
                # REFUTED "raised DeclarationError"
                self.uncompilable[key] = (f"rule {self.name!r} cannot be compiled at n={n}, "
                                          f"V={V} ({exc}); the input is declined: no code "
                                          "runs there")
                raise InvalidInput(self.uncompilable[key], value=[n, V]) from None
            self.compiled_trees[key] = trees
            try:
                self._faithful(n, V, has_ref)
            except DeclarationError:
                del self.compiled_trees[key]
                raise
        return self.compiled_trees[key]

    def _faithful(self, n: int, V: int, has_ref: bool) -> None:
        """The function as written, run on numbers (numpy backend) at a few seeded points,
        answers what its capture's generated float64 code answers; else a DeclarationError (a rule
        that branches on the type of ``ops`` or of a bid, on the call stack or on its own
        call count would have its capture proved, not itself). A refuter only: agreeing
        at these points proves nothing, and a point either side declines is skipped."""
        rng = np.random.default_rng([n, V, int(has_ref)])
        ref = np.full(V, 1.0 / V) if has_ref else None
        lam = 1.0 if has_ref else 0.0
        for k in range(FIDELITY_EDGES + FIDELITY_POINTS):
            P = rng.dirichlet(np.ones(V), size=n)
            b = rng.choice(FIDELITY_BIDS, size=n) if k < FIDELITY_EDGES else \
                10.0 ** rng.uniform(*FIDELITY_SPAN, size=n)
            if not has_weight(b, ref, lam):   # W = 0: the rule declines there (no evidence)
                continue
            try:
                mine = np.asarray(self.fn(arith.NUMPY, list(P), list(b), ref, lam),
                                  dtype=np.float64).reshape(V)
                # the same float64 operations as the function's (what runs also replaces
                # the rows the enclosure does not certify by the exact tree's values)
                code = self._float_code(P, b[None, :], ref, lam)[2][0]
            except Exception:  # noqa: BLE001 - declined or undefined there: no evidence
                continue
            if np.all(np.isfinite(mine)) and np.all(np.isfinite(code)) and \
                    np.max(np.abs(mine - code)) > FIDELITY_MARGIN:
                raise DeclarationError(
                    f"rule {self.name!r}: the function as written answers numbers differently "
                    f"from its compiled capture at n={n}, V={V}, dists={P.round(6).tolist()}, "
                    f"bids={b.tolist()}: {mine.tolist()} vs {code.tolist()}; a rule must "
                    "compute the same on every backend (no branch on the type of ops or of a "
                    "bid, on the call stack or on its own state)")

    def expression(self, n: int = 2, V: int = 2) -> str:
        """The compiled expression of token 0 (what runs and what is proved), shortened."""
        has_ref = self.reference is not None
        V = int(self.reference.size) if has_ref else V
        text = T.show(self.trees(n, V, has_ref)[0], [f"b{j}" for j in range(n)])
        return f"q_0 at n={n}, V={V}: " + (text if len(text) <= 300 else text[:300] + " ...")

    def constants(self) -> list[float]:
        """The compiled trees' constants and their float neighbours (bids to try first)."""
        vals = {float(T.value(m)) for ts in self.compiled_trees.values() for t in ts
                for m in T.walk(t) if m.op == "const" and abs(T.value(m)) < 1e300}
        return sorted({w for v in vals for w in (v, float(np.nextafter(v, np.inf)),
                                                 float(np.nextafter(v, -np.inf)))})

    # -- numpy: the generated float64 code ------------------------------------------
    def rows(self, P, B) -> np.ndarray:
        """``q`` per row of the bid matrix ``B`` (validated float64 inputs), NaN on a row
        where :meth:`evaluate` declines or fails (``W = 0``, a decline of :meth:`_defect`):
        the generated code of :meth:`batch`, one row's failure not failing the others."""
        B = np.asarray(B, dtype=np.float64)
        out = np.full((len(B), P.shape[1]), np.nan)
        ok = np.asarray(has_weight(B, self.reference, self.weight), dtype=bool).reshape(-1)
        if ok.any():
            Ps, ref = self.smoothed(P)
            out[ok] = self._batch(Ps, B[ok], ref, self.weight, failed=np.nan)
        return out

    def code_rows(self, P, B) -> np.ndarray:
        """``q`` per row of ``B`` where the generated float64 code itself answers (its
        output certified and a distribution), NaN on every other row: those :meth:`rows`
        answers by the exact tree (:meth:`_defect`) or declines. The float64 search after a
        proof (:mod:`proofs.bounded.float_search`) reads these: on the other rows what runs
        is the tree z3 proved, rounded once."""
        B = np.asarray(B, dtype=np.float64)
        out = np.full((len(B), P.shape[1]), np.nan)
        ok = np.asarray(has_weight(B, self.reference, self.weight), dtype=bool).reshape(-1)
        if ok.any():
            Ps, ref = self.smoothed(P)
            out[ok] = self._batch(Ps, B[ok], ref, self.weight, failed=np.nan, exact=False)
        return out

    def _batch(self, P, B, ref, lam, failed=None, exact=True):
        """The generated code on every row of ``B``; a row whose output is not a
        distribution, or where the code is not certified to give the exact tree's value
        (:func:`proofs.compile.enclosure.certified`: a comparison too close to call in
        float64, a value computed with a large error), goes to :meth:`_defect` (which
        raises where it declines; with ``failed`` given, that row is ``failed`` instead;
        with ``exact`` False it is ``failed`` without going to :meth:`_defect`)."""
        B = np.asarray(B, dtype=np.float64)
        n, V = P.shape
        trees, leaves, Q = self._float_code(P, B, ref, lam)
        rows = B.shape[:-1]
        sure = enclosure.certified(trees, B, leaves, values=np.moveaxis(Q, -1, 0))
        sure = np.broadcast_to(sure, rows)
        finite = np.isfinite(Q).all(axis=-1)
        ok = finite & sure & (Q.min(axis=-1, initial=0.0) >= 0) \
            & (np.abs(Q.sum(axis=-1) - 1.0) <= SUM_TOL)
        if not ok.all():
            rows, flat = B.reshape(-1, n), Q.reshape(-1, V).copy()
            sure = sure.reshape(-1)
            for k in np.flatnonzero(~ok.reshape(-1)):
                if not exact:
                    flat[k] = failed
                    continue
                try:
                    flat[k] = self._defect(P, rows[k], ref, lam, flat[k], bool(sure[k]))
                except Exception:  # noqa: BLE001 - declined or failed there: that row only
                    if failed is None:
                        raise
                    flat[k] = failed
            Q = flat.reshape(Q.shape)
        return Q

    def _float_code(self, P, B, ref, lam):
        """(trees, leaves, Q): the generated float64 code's outputs on the bid rows ``B``,
        as they are (nothing certified, nothing replaced)."""
        trees = self.trees(P.shape[0], P.shape[1], ref is not None)
        leaves = leaf_values(P, ref, float(lam))
        vals = E.numpy_values(trees, B, leaves)
        rows = B.shape[:-1]   # a value constant in the bids is broadcast to every row
        return trees, leaves, np.stack([np.broadcast_to(np.asarray(v, dtype=np.float64), rows)
                                        for v in vals], axis=-1)

    def _defect(self, P, b, ref, lam, q, certified=True):
        """The exact tree decides at bids ``b``: the generated code's output ``q`` is not a
        distribution, or (``certified`` False) the code may not give the tree's value there.
        A distribution in exact reals (an overflow or a cancellation of the float64 code,
        e.g. linear at bids 1e308, 1e308; its exact sum within ``SUM_TOL`` of 1, as the
        reports' own is): that exact value, rounded to float64 (the same tree, computed
        exactly: never a wrong answer); undefined there (a division by 0) -> InvalidInput
        (declined); exp/log (no exact rationals) -> Float64Range (declined) where ``q`` is
        not finite or not certified; else the rule's own output -> InvalidRule."""
        where = f"rule {self.name!r} at bids {np.asarray(b).tolist()}"
        try:
            exact = self.exact(P, b) if ref is None else \
                self.with_reference(ref, lam).exact(P, b)
            # the reports are float64 rows: as rationals they sum to 1 only within their own
            # rounding, and so does a correct rule's exact output (the tolerance the float64
            # output is held to above; an exact sum of exactly 1 would blame the rule for it)
            if all(x >= 0 for x in exact) and abs(sum(exact) - 1) <= SUM_TOL:
                return np.array([float(x) for x in exact], dtype=np.float64)
            if not certified:
                raise InvalidRule(f"{where} gives {[float(x) for x in exact]} in exact reals: "
                                  "not a distribution", rule=self.name,
                                  value=[float(x) for x in exact])
            dist = False
        except ZeroDivisionError:
            raise InvalidInput(f"{where} is undefined in exact reals (a division by 0 in its "
                               "compiled expression): declined", value=np.asarray(b).tolist())
        except arith.Unsupported:   # exp / log: judged in float64 alone
            if not certified:
                raise Float64Range(
                    f"{where}: its generated float64 code is not certified to give the exact "
                    "tree's value there (a comparison too close to call in float64, or a "
                    f"value computed with an error above {enclosure.ACCURACY}), and the exact "
                    "tree needs exp/log/sqrt; the input is declined",
                    value=np.asarray(b).tolist()) from None
            dist = bool(np.isfinite(q).all()) is False
        if dist:
            raise Float64Range(f"{where}: its generated float64 code gives {q.tolist()}, "
                               "not the distribution it computes in exact reals (an overflow "
                               "or a cancellation); the input is declined",
                               value=np.asarray(b).tolist())
        _, defect = output_defect(q, len(q), f"rule {self.name!r}")
        raise InvalidRule(defect[1] if defect else f"{where} returned {q.tolist()}",
                          rule=self.name, value=q.tolist())

    def _numpy(self, P, b, ref, lam):
        return self._batch(P, np.asarray(b, dtype=np.float64)[None, :], ref, lam)[0]

    # -- the exact backends: the same trees ------------------------------------------
    def _generic(self, ops, dists, bids, reference=None, weight=0):
        n, V = len(dists), len(dists[0])
        trees = self.trees(n, V, reference is not None)
        leaves = leaf_values([list(p) for p in dists],
                             None if reference is None else list(reference), weight)
        memo: dict = {}
        if ops.name == "fraction":
            return ops.vector([E.fraction_value(t, list(bids), leaves, memo) for t in trees])
        if ops.name == "sympy":
            return arith.Vec(E.sympy_expr(t, list(bids), leaves, memo) for t in trees)
        if ops.name == "numpy":
            return self._numpy(np.asarray(dists, dtype=float), np.asarray(bids, dtype=float),
                               None if reference is None else np.asarray(reference, float),
                               float(weight))
        raise arith.Unsupported(f"compiled rule {self.name!r}: backend {ops.name!r} is not "
                                "generated; the bounded prover reads the trees directly")


def compiled(fn, *, name=None, reference=None, weight=0.0, epsilon=0.0,
             bounds: Bounds = Bounds()) -> GenericRule:
    """The generic rule ``fn`` compiled (module docstring); DeclarationError naming the
    user's line and the fix when it cannot be compiled exactly."""
    return GenericRule(name or getattr(fn, "__name__", "generic"), fn, reference=reference,
                       weight=weight, epsilon=epsilon, bounds=bounds)


#: Every method the evaluation can reach (mechanism.Rule's own included: ``evaluate`` goes
#: on through ``evaluate_weighted``); one replaced breaks the seal.
SEALED_METHODS = ("evaluate", "evaluate_weighted", "_on_every_token", "_on_support", "batch",
                  "rows", "code_rows", "_batch", "_numpy", "_generic", "trees", "smoothed", "total_weight",
                  "__call__", "exact", "generic_numpy", "with_reference")
_ORIGINAL = originals(GenericRule, SEALED_METHODS)


def sealed(rule) -> str | None:
    """None when ``rule`` is exactly a compiled generic rule whose evaluation is the
    generated code; else the reason it is not (then it gets no proof)."""
    return seal_reason(rule, GenericRule, _ORIGINAL, (("generic", "_generic"),
                                                      ("_numpy_fn", "_numpy"),
                                                      ("_batch_fn", "_batch")))
