"""One symbolic instance of the rule-level prover (docs/theory.md, section 4): n agents,
V tokens, agent i bidding ``s < s'``; the rule traced soundly (:mod:`proofs.bounded.tracing`),
cross-checked against the shipped code (:mod:`proofs.bounded.crosscheck`), and solved query by
query with the simplex projected onto the probabilities each query mentions.
:mod:`proofs.bounded.rule_level` drives it."""

from __future__ import annotations

import time
from fractions import Fraction

from mechanism.arith import Unsupported, Vec
from mechanism.errors import InvalidInput
from mechanism.rules import Rule
from mechanism.smoothing import smooth

from proofs.bounded import crosscheck
from proofs.bounded.backends import Z3Ops, _z3
from proofs.bounded.tracing import Sym, Trace


class Timeout(Exception):
    pass


class TraceMismatch(Exception):
    """The traced expression and the shipped code disagree at a concrete point."""


class Instance:
    """Symbolic reports for n agents over V tokens, agent i bidding s < s'."""

    def __init__(self, rule: Rule, n: int, V: int, i: int, symbolic_reference: bool,
                 case_split: bool = True):
        z3 = self.z3 = _z3()
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
        self.ref, self.lam = ref, lam
        bf, bt = list(self.b), list(self.b)
        bf[i], bt[i] = self.s, self.s2
        W = z3.Sum(*bf) + (lam if lam is not None else
                           (rule.weight if rule.reference is not None else 0))
        cons.append(W > 0)
        domain = cons + [c for p in self.simplices for c in [x >= 0 for x in p]
                         + [z3.Sum(*p) == 1]]
        trace = self.trace = Trace(z3, domain)
        ops = self.ops = Z3Ops(trace)
        if not case_split:
            ops.is_positive = lambda x: _assume_positive(ops, x)
        sym = lambda xs: Vec(Sym(x, trace) for x in xs)
        dists = [sym(p) for p in self.P]
        if symbolic_reference:
            sref, slam = sym(ref), Sym(lam, trace)
        elif rule.reference is not None:
            sref, slam = ops.vector(rule.reference), ops.scalar(rule.weight)
        else:
            sref, slam = None, ops.scalar(0)
        if rule.epsilon:
            eps = ops.scalar(rule.epsilon)
            dists = [smooth(p, eps, V) for p in dists]
            sref = None if sref is None else smooth(sref, eps, V)
        self.p_i = [x.term for x in dists[i]]
        self.q_from = self._trace(lambda: rule.generic(ops, dists, [Sym(x, trace) for x in bf],
                                                       sref, slam))
        self.q_to = self._trace(lambda: rule.generic(ops, dists, [Sym(x, trace) for x in bt],
                                                     sref, slam))
        self.constraints = cons
        self.mentioned: set = set()
        self._constraint_vars: set | None = None  # _variables(self.constraints), once
        self._variable_memo: dict = {}  # _variables' memo, shared by this instance's queries

    def _trace(self, fn):
        """Every case of ``fn`` (case splits of is_positive), joined with If; a refusal
        the rule caught still counts."""
        try:
            paths = self.trace.explore(lambda: self.ops.terms(fn(), self.V))
        except Unsupported:
            raise
        except Exception as exc:
            if self.trace.events:
                raise Unsupported(self.trace.events[0]) from exc
            raise RuleRaised(f"the rule raised {type(exc).__name__}: {exc}") from exc
        if self.trace.events:
            raise Unsupported(self.trace.events[0] + " (the rule caught the refusal)")
        return self.trace.join(paths)

    def cross_check(self, seed: int):
        """Compare q_from and q_to with ``Rule.evaluate`` at many points (TraceMismatch).
        Agent 0's traces get every point (its bid symbols cover every agent's position);
        the re-traces for the other agents every 4th."""
        z3, i = self.z3, self.i

        def env(P, prof, moving):
            if moving == "s_prime" and prof[i] == 0:
                return None  # s' > s >= 0: bid 0 lies outside Q(s')'s domain
            e = {f"p{j}_{t}": P[j][t] for j in range(self.n) for t in range(self.V)}
            e.update({f"b{j}": prof[j] for j in range(self.n)})
            e["s"], e["s_prime"] = (prof[i], prof[i] + 1) if moving == "s" else \
                (prof[i] / 2, prof[i])
            if self.symbolic_reference:
                e.update({f"ref_{t}": Fraction(1, self.V) for t in range(self.V)})
                e["lam"] = Fraction(1, 2)
            return e
        concrete = None
        if self.symbolic_reference:
            ref = [1 / self.V] * self.V
            concrete = lambda P, prof: self.rule.with_reference(ref, 0.5)
        for name, terms, moving in (("Q(s)", self.q_from, "s"), ("Q(s')", self.q_to, "s_prime")):
            bad = crosscheck.disagreement(self.rule, z3, terms,
                                          lambda P, prof: env(P, prof, moving),
                                          self.n, self.V, seed, concrete,
                                          stride=1 if i == 0 else 4)
            if bad:
                raise TraceMismatch(f"the trace does not match the code: {name} for agent {i}, "
                                    f"n={self.n}, V={self.V}, {bad}")

    def _simplex_constraints(self, extra):
        """Simplex constraints, with the probabilities that neither ``extra`` nor the
        instance's own constraints mention projected out: ``exists x >= 0 with sum = 1``
        becomes ``sum of the mentioned <= 1`` (equisatisfiable; the per-token queries of a
        token-separable rule then stay small)."""
        z3 = self.z3
        if self._constraint_vars is None:  # the same for every query of this instance
            self._constraint_vars = _variables(z3, self.constraints, self._variable_memo)
        self.mentioned = self._constraint_vars | _variables(z3, extra, self._variable_memo)
        out = []
        for p in self.simplices:
            seen = [x for x in p if x.get_id() in self.mentioned]
            out += [x >= 0 for x in seen]
            if len(seen) == len(p):
                out.append(z3.Sum(*p) == 1)
            elif seen:
                out.append(z3.Sum(*seen) <= 1)
        return out

    def solve(self, extra, deadline: float):
        z3 = self.z3
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout
        extra = extra if isinstance(extra, list) else [extra]
        from proofs.encode.encode_z3 import solve  # a fresh z3 context per query (see there)
        r, model, reason = solve(list(self.constraints)
                                 + list(self._simplex_constraints(extra))
                                 + extra, left)
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
        if self.ref is not None and not isinstance(self.ref[0], (int, float)):
            out["reference"] = dist(self.ref)
            out["weight"] = val(self.lam)
        return out


class RuleRaised(Exception):
    """The rule raised (not a refusal of the tracer) while being traced."""


def _assume_positive(ops, x) -> bool:
    """The planted unsound ``is_positive`` (CASE_SPLIT off): undecided means True."""
    z3 = ops.z3
    d = z3.simplify(ops.scalar(x).term > 0)
    return not z3.is_false(d)


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
