"""Family rules compiled at declaration (docs/theory.md section 8).

``normalized(f, ...)``: ``f(b, fn, **params)`` is captured once into a tree
(:mod:`proofs.compile.capture`); the weights ``w_j = f(b_j) / (lambda + sum_k f(b_k))``
are evaluated from that tree alone (:mod:`proofs.compile.evaluate`, in log space).
``general(W, ...)``: the n weights ``W(bids, fn)`` are captured once per n. The
winner-take-all block is its own specification (a strict running-maximum scan), not the
library's definition. The user's function is never called again: the rule that runs is
the rule that is proved. :func:`sealed` says whether an object is exactly such a rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mechanism import rules as R
from mechanism.errors import Float64Range, InvalidInput
from mechanism.rules import Rule

from proofs.compile import capture as C
from proofs.compile import enclosure
from proofs.compile import evaluate as E
from proofs.compile import tree as T
from proofs.compile.domains import as_domain
from proofs.compile.seal import originals, seal_reason

POOLINGS = ("linear", "log_linear")
KINDS = ("normalized", "general", "wta")
EAGER_AGENTS = 4   #: general weights are compiled at declaration for n = 1..4 (the proof's n)


def _declare_params(params, domains, symbolic_params):
    params = dict(params or {})
    for k in params:
        if not (isinstance(k, str) and k.isidentifier()) or k in ("b", "fn", "bids"):
            raise C.DeclarationError(f"parameter name {k!r} is not allowed (an identifier "
                                     "other than b, fn, bids)")
    domains = {k: as_domain(k, v) for k, v in (domains or {}).items()}
    if symbolic_params:
        missing = sorted(set(params) - set(domains))
        if missing:
            raise C.DeclarationError(f"symbolic parameter(s) {', '.join(missing)} need a declared "
                                     "domain, e.g. domains={'T': 'positive'}")
    for k in domains:
        if k not in params:
            raise C.DeclarationError(f"domain for {k!r}, which is not a parameter")
    values = {k: C.param_value(k, v) for k, v in params.items()}
    for k, d in domains.items():
        if not d.contains(values[k]):
            raise C.DeclarationError(f"parameter {k} = {params[k]!r} lies outside its declared "
                                     f"domain {d}; a proof over the domain would not apply")
    return params, values, domains


class FamilyRule(Rule):
    """A rule declared from the family's building blocks, compiled once (module docstring)."""

    def __init__(self, name, kind, f=None, params=None, pooling="linear", **options):
        o = declared(options, ("reference", "weight", "epsilon", "domains", "symbolic_params",
                               "timeout_s", "compiled"))
        reference, weight, epsilon = o.reference, o.weight, o.epsilon
        domains, symbolic_params, timeout_s, _compiled = (o.domains, o.symbolic_params,
                                                          o.timeout_s, o.compiled)
        if pooling not in POOLINGS:
            raise InvalidInput(f"pooling {pooling!r} is not a family block; use one of "
                               f"{', '.join(POOLINGS)}", value=pooling)
        if kind in ("normalized", "general") and not callable(f):
            raise InvalidInput(f"{kind} weights need a weight function (see proofs.unbounded."
                               "families)", value=f)
        self.kind, self.f, self.pooling, self.timeout_s = kind, f, pooling, timeout_s
        self.params, self.values, self.domains = _declare_params(params, domains, symbolic_params)
        if kind == "general" and self.domains:
            raise C.DeclarationError("general weights take bound parameters only")
        self.symbolic_params = bool(self.domains)
        self.tree = self.runtime_tree = None
        self._general_trees = {}
        if _compiled is not None:
            self.tree, self.runtime_tree, self._general_trees = _compiled
        elif kind == "normalized":
            self.tree = C.capture_weight(f, self.params, set(self.domains), timeout_s)
            self.runtime_tree = T.substitute(self.tree, self.values)
        elif kind == "general":
            for n in range(1, EAGER_AGENTS + 1):  # at declaration: errors surface here
                self.general_trees(n)
        super().__init__(name, self._generic, numpy_fn=self._numpy, reference=reference,
                         weight=weight, epsilon=epsilon, claims={},
                         batch_fn=None if kind == "wta" else self._batch)

    def with_reference(self, reference, weight=None):
        return FamilyRule(self.name, self.kind, self.f, self.params, self.pooling,
                          reference=reference, weight=self.weight if weight is None else weight,
                          epsilon=self.epsilon, domains=self.domains,
                          compiled=(self.tree, self.runtime_tree, self._general_trees))

    def __repr__(self):
        return f"FamilyRule({self.name!r}, {self.expression()})"

    def expression(self) -> str:
        """The compiled expression (what runs and what is proved)."""
        if self.kind == "wta":
            return "winner-take-all (highest positive bid, ties to the lowest index)"
        if self.kind == "general":
            shown = {n: [T.show(t, [f"b{j}" for j in range(n)]) for t in ts]
                     for n, ts in sorted(self._general_trees.items())}
            return f"general weights W(b0..b_n-1), compiled per n: {shown}"
        pars = "".join(f", {k} in {d} (rule's own {k} = {self.values[k]})"
                       for k, d in self.domains.items())
        return f"f(b) = {T.show(self.tree)}{pars}; {self.pooling} pooling"

    def constants(self) -> list[float]:
        """The compiled trees' constants (a branch's threshold among them) and their float
        neighbours: the bids a search should try first."""
        trees = [self.runtime_tree] if self.runtime_tree is not None else \
            [t for ts in self._general_trees.values() for t in ts]
        vals = {float(T.value(m)) for tr in trees for m in T.walk(tr) if m.op == "const"
                and abs(T.value(m)) < 1e300}
        return sorted({w for v in vals for w in (v, float(np.nextafter(v, np.inf)),
                                                 float(np.nextafter(v, -np.inf)))})

    def general_trees(self, n: int) -> tuple:
        """The compiled weight trees for n agents (captured once per n, then cached)."""
        if n not in self._general_trees:
            self._general_trees[n] = C.capture_general(self.f, n, self.params, self.timeout_s)
        return self._general_trees[n]

    # -- numpy: the generated float64 code ------------------------------------------
    def log_weights(self, B, log_lam=None, exact=True):
        """``(L, S)`` of the agents' weights for bid rows ``B`` (..., n): the generated
        code, and the exact tree where that code is not certified to give the tree's
        normalized weights (:func:`proofs.compile.enclosure.weights_certified`, with the
        reference's ``log_lam`` when it has one) -- in such a row, each weight whose log
        bounds are wider than the accuracy; Float64Range where the exact tree needs exp/log
        there. With ``exact`` False those weights are NaN instead (the float64 search
        after a proof reads only the weights the code itself gives)."""
        B = np.asarray(B, dtype=np.float64)
        trees = [self.runtime_tree] if self.kind == "normalized" else \
            self.general_trees(B.shape[-1])
        one_var = self.kind == "normalized"   # one tree of each bid, else a tree per agent
        L, S, lo, hi = (np.empty(B.shape) for _ in range(4))
        ok = np.empty(B.shape, dtype=bool)
        for j, t in enumerate(trees):
            col = slice(None) if one_var else (Ellipsis, j)
            for arr, v in zip((L, S), E.log_weight(t, B, elementwise=one_var)):
                arr[col] = np.broadcast_to(v, arr[col].shape)
            for arr, v in zip((lo, hi, ok),
                              enclosure.log_entry_bounds(t, B, L[col], elementwise=one_var)):
                arr[col] = np.broadcast_to(v, arr[col].shape)
        rows = enclosure.weights_certified(lo, hi, ok, log_lam)
        with np.errstate(invalid="ignore"):   # -inf - -inf: a zero weight, exact
            redo = ~ok | (~rows[..., None] & ~(hi - lo <= enclosure.ACCURACY))
        if not exact:
            L[redo] = S[redo] = np.nan
            return L, S
        for k in map(tuple, np.argwhere(redo)):
            t = trees[0] if one_var else trees[k[-1]]
            bids = [float(B[k])] if one_var else B[k[:-1]].tolist()
            L[k], S[k] = self._exact_log_weight(t, bids, B[k[:-1]])
        return L, S

    def _exact_log_weight(self, t, bids, row):
        try:
            return E.exact_log_weight(t, bids)
        except (R.arith.Unsupported, ZeroDivisionError):
            raise Float64Range(
                f"rule {self.name!r} ({self.expression()}) at bids {np.asarray(row).tolist()}: "
                "its generated float64 code is not certified to give the exact weight there "
                "(a comparison too close to call in float64, or a weight computed with a "
                f"relative error above {enclosure.ACCURACY}), and the exact weight needs "
                "exp/log or is undefined; the input is declined",
                value=np.asarray(row).tolist()) from None

    def _weights(self, B, ref, lam):
        log_lam = None
        if ref is not None and lam > 0:
            log_lam = np.full(B.shape[:-1] + (1,), np.log(lam))
        L, S = self.log_weights(B, log_lam)
        try:
            return E.normalized_weights(L, S, log_lam)
        except ValueError as exc:
            raise Float64Range(f"rule {self.name!r} ({self.expression()}) is undefined at bids "
                               f"{np.asarray(B).tolist()} in float64: {exc}; the proofs are in "
                               "exact reals", value=np.asarray(B).tolist()) from None

    def _pool(self, P, w, w0, ref):
        if self.pooling == "linear":
            q = w @ P
            return q if w0 is None else q + w0[..., None] * ref
        rows, ws = (P, w) if w0 is None else (np.vstack([P, ref]),
                                              np.concatenate([w, w0[..., None]], axis=-1))
        support = rows > 0
        S = ws @ np.log(np.where(support, rows, 1.0))
        S = np.where(((ws > 0).astype(float) @ (~support).astype(float)) > 0, -np.inf, S)
        return R.arith.NUMPY.softmax(S)

    def _numpy(self, P, b, ref, lam):
        if self.kind == "wta":
            return _wta_spec(P, b, ref)
        w, w0 = self._weights(np.asarray(b, float), ref, lam)
        return self._pool(P, w, w0, ref)

    def evaluate(self, P, b):
        if self.kind == "wta":
            return Rule.evaluate(self, P, b)  # W = 0 is InvalidInput, as for every rule
        P, ref = self.smoothed(P)
        return self._numpy_fn(P, b, ref, self.weight)

    def _batch(self, P, B, ref, lam):
        w, w0 = self._weights(np.asarray(B, float), ref, lam)
        return self._pool(P, w, w0, ref)

    def batch(self, P, bid_matrix):
        if self.kind == "wta":
            return np.stack([self.evaluate(P, row) for row in bid_matrix])
        P, ref = self.smoothed(P)
        return self._batch_fn(P, bid_matrix, ref, self.weight)

    def total_weight(self, b) -> float:
        """``lambda + sum_j f(b_j)`` (may be inf in float64: only its sign is used)."""
        b = np.asarray(b, float)
        lam = self.weight if self.reference is not None else 0.0
        if self.kind == "wta":
            return float(b.sum()) + lam
        L, S = self.log_weights(b)
        L = np.asarray(L, float)[np.asarray(S, float) > 0]
        if not L.size:
            return lam
        top = float(np.max(L))
        with np.errstate(over="ignore"):   # only the sign of W is used: inf is positive
            return float(np.exp(top) * np.sum(np.exp(L - top))) + lam if np.isfinite(top) else top

    # -- the other backends: the same tree -----------------------------------------
    def _backend_weights(self, ops, bids):
        n = len(bids)
        trees = [self.runtime_tree] * n if self.kind == "normalized" else self.general_trees(n)
        idx = (lambda j: [bids[j]]) if self.kind == "normalized" else (lambda j: list(bids))
        if ops.name == "fraction":
            return [E.fraction_value(t, idx(j), {}) for j, t in enumerate(trees)]
        if ops.name == "sympy":
            return [E.sympy_expr(t, idx(j), {}) for j, t in enumerate(trees)]
        raise R.arith.Unsupported(f"family rule {self.name!r}: backend {ops.name!r} is not "
                                  "generated; the family prover decides this rule")

    def _generic(self, ops, dists, bids, reference=None, weight=0):
        if self.kind == "wta":
            return _wta_scan(ops, dists, bids, reference)
        F = self._backend_weights(ops, bids)
        pool = R.linear if self.pooling == "linear" else R.log_linear
        return pool(ops, dists, F, reference, weight)


def _wta_spec(P, b, ref):
    """Winner-take-all from its definition: among positive bids the maximum, the first
    index attaining it; with no positive bid, the reference (else the first report)."""
    b = np.asarray(b, float)
    if not np.any(b > 0):
        return np.array(ref if ref is not None else P[0], dtype=float)
    return np.array(P[int(np.flatnonzero(b == b.max())[0])], dtype=float)


def _wta_scan(ops, dists, bids, reference):
    """The same rule as a strict running-maximum scan (exact backends)."""
    result, top = (reference if reference is not None else dists[0]), 0
    for j in range(len(dists)):
        better = ops.gt(bids[j], top)
        result, top = ops.ite(better, dists[j], result), ops.ite(better, bids[j], top)
    return result


#: Every method the evaluation can reach (mechanism.Rule's own included: winner-take-all's
#: ``evaluate`` is Rule's, which goes on through ``evaluate_weighted``).
SEALED_METHODS = ("evaluate", "evaluate_weighted", "_on_every_token", "_on_support", "batch",
                  "_batch", "total_weight", "smoothed", "_numpy", "_generic",
                  "_weights", "log_weights", "_pool", "_backend_weights", "general_trees",
                  "__call__", "exact", "generic_numpy", "with_reference")
_ORIGINAL = originals(FamilyRule, SEALED_METHODS)


def sealed(rule) -> str | None:
    """None when ``rule`` is exactly a compiled family rule whose evaluation is the
    generated code; else the reason it is not (then it gets no proof)."""
    bound = (("generic", "_generic"), ("_numpy_fn", "_numpy"))
    why = seal_reason(rule, FamilyRule, _ORIGINAL,
                      bound if getattr(rule, "kind", None) == "wta"
                      else bound + (("_batch_fn", "_batch"),))
    if why is not None:
        return why
    if rule.kind == "normalized":
        if not (isinstance(rule.tree, T.Node) and rule.runtime_tree ==
                T.substitute(rule.tree, rule.values)):
            return "the rule's runtime tree is not its compiled tree with its parameters"
        outside = [k for k, d in rule.domains.items() if not d.contains(rule.values[k])]
        if outside:
            return f"parameter(s) {', '.join(outside)} lie outside their declared domains"
    return None


@dataclass(frozen=True)
class Declared:
    """The options of a family rule's declaration (``normalized(f, **options)`` etc.)."""
    params: dict | None = None
    pooling: str = "linear"
    reference: object = None
    weight: float = 0.0
    epsilon: float = 0.0
    name: str | None = None
    domains: dict | None = None
    symbolic_params: bool = False
    timeout_s: float = 5.0
    compiled: tuple | None = None   #: trees already compiled (with_reference shares them)


def declared(options: dict, allowed=None) -> Declared:
    """``options`` as :class:`Declared`; an unknown name is InvalidInput naming it."""
    names = set(Declared.__dataclass_fields__) if allowed is None else set(allowed)
    unknown = sorted(set(options) - names)
    if unknown:
        raise InvalidInput(f"unknown option(s) {', '.join(unknown)}; use "
                           f"{', '.join(sorted(names))}", value=unknown)
    return Declared(**options)


def normalized(f, **options) -> FamilyRule:
    """Normalized independent weights ``f(b_j) / sum_k f(b_k)`` (module docstring).
    Options (:class:`Declared`): ``params``, ``pooling``, ``reference``, ``weight``,
    ``epsilon``, ``name``; ``domains={"T": "positive"}``: T is symbolic in the proof, over
    that domain; ``timeout_s``: the capture's time budget."""
    o = declared(options, set(Declared.__dataclass_fields__) - {"compiled"})
    return FamilyRule(o.name or getattr(f, "__name__", "family_rule"), "normalized", f, o.params,
                      o.pooling, reference=o.reference, weight=o.weight, epsilon=o.epsilon,
                      domains=o.domains, symbolic_params=o.symbolic_params,
                      timeout_s=o.timeout_s)


def general(weights, **options) -> FamilyRule:
    """General weights ``weights(bids, fn, **params) -> [W_1..W_n]`` (>= 0), normalized
    with the reference's ``lambda``: proved for every V and n <= max_agents
    (:mod:`proofs.unbounded.family_general`). Options: ``params``, ``reference``,
    ``weight``, ``epsilon``, ``name``, ``timeout_s``."""
    o = declared(options, ("params", "reference", "weight", "epsilon", "name", "timeout_s"))
    return FamilyRule(o.name or getattr(weights, "__name__", "general_rule"), "general", weights,
                      o.params, "linear", reference=o.reference, weight=o.weight,
                      epsilon=o.epsilon, timeout_s=o.timeout_s)


def winner_take_all(*, reference=None, weight=0.0, epsilon=0.0, name="family_wta") -> FamilyRule:
    """The highest positive bidder's report (ties to the lowest index); else the reference."""
    return FamilyRule(name, "wta", reference=reference, weight=weight, epsilon=epsilon)
