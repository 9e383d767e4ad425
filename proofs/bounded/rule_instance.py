"""One symbolic instance of the rule-level prover (docs/theory.md, section 4): n agents,
V tokens, agent i bidding ``s < s'``; the rule's compiled trees
(:mod:`proofs.compile.generic_rule`) read as z3 terms, and solved query by query with the
simplex projected onto the probabilities each query mentions.
:mod:`proofs.bounded.rule_level` drives it."""

from __future__ import annotations

from fractions import Fraction

from mechanism.errors import InvalidInput
from mechanism.validation import EXACT_TOL

from proofs.bounded.backends import z3_module
from proofs.compile.evaluate import z3_defined, z3_term
from proofs.compile.generic_rule import GenericRule, leaf_values


class Timeout(Exception):
    pass


def row_tolerance(V: int) -> Fraction:
    """How far from 1 the exact sum of a report row the code runs on may be: validation
    uses a row as given when its float64 sum is within ``EXACT_TOL`` of 1
    (:mod:`mechanism.validation`), and that float sum is within ``V`` ulps of the exact
    one; the z3 domain holds every such row (docs/theory.md, section 4)."""
    return Fraction(EXACT_TOL) + Fraction(V, 2 ** 52)


#: a bound on float64 smoothing's rounding: ``fl(fl(p * a) + c)`` is within
#: ``(2u + u^2) (p a + c)`` plus two subnormal half-ulps of ``p a + c`` (u = 2^-53)
SMOOTH_ULPS, SMOOTH_TINY = Fraction(3, 2 ** 53), Fraction(1, 2 ** 1073)


def smoothing_constants(epsilon: float, V: int) -> tuple[Fraction, Fraction]:
    """``(a, c)``: the float64 values the code that runs smooths with,
    ``p * (1 - eps) + eps / V`` (:func:`mechanism.smoothing.smooth`), as exact rationals."""
    e = float(epsilon)
    return Fraction(1.0 - e), Fraction(e / V)


def _smoothed_row(z3, row, epsilon, V, rounding: dict):
    """The smoothed row as the code that runs computes it in float64 (theory §2): each
    entry ``d = a p + c + r``, its rounding ``r`` a fresh variable with ``|r| <= SMOOTH_ULPS
    (a p + c) + SMOOTH_TINY`` and ``d >= c`` (rounding is monotone and ``c`` is a float).
    Smoothing in exact reals instead proved a rule that branches on ``V p[0] < eps``:
    float64 smooths p[0] = 0 at V = 3, eps = 0.3 to 0.09999999999999999 < eps / 3 (found by
    the red team). ``rounding`` gets each variable's constraints, added to a query only
    when it mentions that variable (the per-token projection stays)."""
    a, c = smoothing_constants(epsilon, V)
    out = []
    for x in row:
        if not isinstance(x, z3.ExprRef):   # a bound reference: the float64 value itself
            out.append(Fraction(float(x) * float(a) + float(c)))
            continue
        r = z3.Real(f"rounding_{x}")
        d, exact = x * a + c + r, x * a + c
        rounding[r.get_id()] = [d >= c, r <= SMOOTH_ULPS * exact + SMOOTH_TINY,
                                -r <= SMOOTH_ULPS * exact + SMOOTH_TINY]
        out.append(d)
    return out


class Instance:
    """Symbolic reports for n agents over V tokens, agent i bidding s < s'."""

    def __init__(self, rule: GenericRule, n: int, V: int, i: int, symbolic_reference: bool):
        z3 = self.z3 = z3_module()
        self.rule, self.n, self.V, self.i = rule, n, V, i
        self.symbolic_reference = symbolic_reference
        self.P = [[z3.Real(f"p{j}_{t}") for t in range(V)] for j in range(n)]
        self.b = [z3.Real(f"b{j}") for j in range(n)]
        self.s, self.s2 = z3.Real("s"), z3.Real("s_prime")
        self.simplices = list(self.P)
        cons = [x >= 0 for x in self.b] + [self.s >= 0, self.s2 > self.s]
        ref = lam = None
        if symbolic_reference:
            ref = [z3.Real(f"ref_{t}") for t in range(V)]
            lam = z3.Real("lam")
            self.simplices.append(ref)
            cons.append(lam >= 0)
        elif rule.reference is not None:
            ref = [Fraction(float(x)) for x in rule.reference]
        self.ref, self.lam = ref, lam
        lam_value = lam if lam is not None else Fraction(float(rule.weight))
        bf, bt = list(self.b), list(self.b)
        bf[i], bt[i] = self.s, self.s2
        W = z3.Sum(*bf) + (lam if lam is not None else
                           (lam_value if rule.reference is not None else 0))
        cons.append(W > 0)
        self.rounding: dict = {}   # a smoothed entry's rounding variable -> its bounds
        smooth = (lambda row: row) if not rule.epsilon else \
            (lambda row: _smoothed_row(z3, row, rule.epsilon, V, self.rounding))
        dists = [smooth(p) for p in self.P]
        self.p_i = dists[i]
        trees = rule.trees(n, V, ref is not None)   # DeclarationError: the rule's own line
        leaves = leaf_values(dists, None if ref is None else smooth(ref), lam_value)
        for prof, out in ((bf, "q_from"), (bt, "q_to")):
            terms, defined = {}, {}
            setattr(self, out, [z3_term(t, prof, leaves, terms) for t in trees])
            # where the tree is undefined (a division by 0) the code declines: no claim there
            cons += [z3_defined(t, prof, leaves, defined, terms) for t in trees]
        self.constraints = cons
        self.mentioned: set = set()
        self._constraint_vars: set | None = None  # _variables(self.constraints), once
        self._variable_memo: dict = {}  # _variables' memo, shared by this instance's queries
        self._ctx = None  # this instance's z3 context: its queries come in a fixed order

    def _simplex_constraints(self, extra):
        """Simplex constraints (each row's sum within :func:`row_tolerance` of 1, as the
        code that runs accepts it), with the probabilities that neither ``extra`` nor the
        instance's own constraints mention projected out: ``exists x >= 0 with sum in
        [1 - tol, 1 + tol]`` becomes ``sum of the mentioned <= 1 + tol`` (equisatisfiable;
        the per-token queries of a token-separable rule then stay small)."""
        z3 = self.z3
        if self._constraint_vars is None:  # the same for every query of this instance
            self._constraint_vars = _variables(z3, self.constraints, self._variable_memo)
        self.mentioned = self._constraint_vars | _variables(z3, extra, self._variable_memo)
        tol = row_tolerance(self.V)
        lo, hi = (z3.RealVal(f"{q.numerator}/{q.denominator}") for q in (1 - tol, 1 + tol))
        out = [c for k in self.mentioned & self.rounding.keys() for c in self.rounding[k]]
        for p in self.simplices:
            seen = [x for x in p if x.get_id() in self.mentioned]
            out += [x >= 0 for x in seen]
            if len(seen) == len(p):
                out += [z3.Sum(*p) >= lo, z3.Sum(*p) <= hi]
            elif seen:
                out.append(z3.Sum(*seen) <= hi)
        return out

    def solve(self, extra, budget):
        """A model of the instance with ``extra``, or None (unsat); :class:`Timeout` when
        ``budget`` (:class:`proofs.bounded.budget.Budget`) is spent or z3 gives up."""
        z3 = self.z3
        if budget.spent():
            raise Timeout
        extra = extra if isinstance(extra, list) else [extra]
        from proofs.encode.encode_z3 import solve  # a fresh z3 context per query (see there)
        timeout_s, rlimit = budget.z3_limits()
        if self._ctx is None:
            self._ctx = z3.Context()
        r, model, reason = solve(list(self.constraints)
                                 + list(self._simplex_constraints(extra))
                                 + extra, timeout_s, rlimit=rlimit, ctx=self._ctx)
        if r == z3.unknown:
            raise Timeout(reason)
        return model

    def decode(self, model) -> dict:
        val = lambda x: _value(self.z3, model.eval(x, model_completion=True))
        def dist(p):  # projected-out probabilities take the remaining mass
            v = [val(x) for x in p]
            free = [t for t, x in enumerate(p) if x.get_id() not in self.mentioned]
            if free:
                v[free[0]] += 1 - sum(v)
            return v
        out = {"dists": [dist(p) for p in self.P],
               "bids": [val(x) for x in self.b], "agent": self.i,
               "bid_from": val(self.s), "bid_to": val(self.s2)}
        if self.symbolic_reference:   # a bound reference is Fractions: no model value
            out["reference"] = dist(self.ref)
            out["weight"] = val(self.lam)
        return out


def _variables(z3, formulas, memo: dict | None = None) -> set:
    """ids of the uninterpreted constants (the Real variables) in ``formulas``.

    ``memo`` (id -> (node, frozenset of ids)) carries what was found below each node
    across calls: the queries of one instance share the rule's traced terms, so each
    shared node is walked once. It keeps its nodes alive, so their ids stay unique."""
    memo = {} if memo is None else memo
    out: set = set()
    for formula in formulas:
        todo = [(formula, None)]
        while todo:
            node, kids = todo.pop()
            k = node.get_id()
            if k in memo:
                continue
            if kids is None:
                if z3.is_const(node) and node.decl().kind() == z3.Z3_OP_UNINTERPRETED:
                    memo[k] = (node, frozenset((k,)))
                    continue
                kids = node.children()
                todo.append((node, kids))
                todo.extend((c, None) for c in kids if c.get_id() not in memo)
            else:
                memo[k] = (node, frozenset().union(*(memo[c.get_id()][1] for c in kids)))
        out |= memo[formula.get_id()][1]
    return out


def _value(z3, v):
    from fractions import Fraction
    if z3.is_rational_value(v):
        return Fraction(v.numerator_as_long(), v.denominator_as_long())
    if z3.is_algebraic_value(v):
        return _value(z3, v.approx(20))
    raise InvalidInput(f"z3 returned a non-numeric model value {v}", value=str(v))
