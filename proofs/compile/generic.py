"""Capture a backend-generic rule ``rule(ops, dists, bids, reference, weight)`` into exact
trees, one per token, for one size (n agents, V tokens) (docs/theory.md section 4).

The rule is called on the tool's own symbols (:class:`proofs.compile.capture.Sym`): report
leaves ``p_j[t]``, bid leaves ``b_j``, the reference ``p_ref[t]`` and its weight ``lambda``
(without a reference: ``None`` and weight 0),
through :data:`OPS`, a capture backend of the :class:`mechanism.arith.Ops` protocol.
``ops.gt`` / ``ops.ge`` / ``ops.and_`` build comparisons that only ``ops.ite`` consumes;
``ops.log`` and ``ops.softmax`` are tree nodes (softmax as ``exp(v_t - max v) / sum``).
``ops.is_positive`` on an undecided symbol is a case split: the rule is re-run once per
decision path and the results are joined with ``ite(x > 0, ., .)`` on that comparison, so
the tree is exact on the whole domain (:func:`capture_rule`). Everything the capture of
:mod:`proofs.compile.capture` refuses (Python truthiness, ``==``, ``float()``, numpy or
``isinstance`` on a symbol, a function that does not return) is a DeclarationError here too.
A rule that decides differently on a re-run (random numbers, state) is refused.

The capture depends on the size (a rule may index tokens or count agents), so a compiled
rule holds one capture per size; :data:`MAX_PATHS` bounds the case splits of one capture.
"""

from __future__ import annotations

import numbers
import time
from fractions import Fraction

from mechanism.arith import Unsupported

from proofs.compile import capture as C
from proofs.compile import tree as T
from proofs.compile.evaluate import fraction_value

#: the most decision paths (undecided ``ops.is_positive``) one capture explores
MAX_PATHS = 64
#: the wall-clock budget of one size's capture, case splits and their z3 feasibility
#: queries included, in units of the per-call timeout (5 s: 20 s a size); past it the size
#: cannot be compiled (a tool limit: its inputs are declined, the rule is not blamed)
CAPTURE_BUDGET = 4
#: the longest one feasibility query of a case split may take (seconds; undecided: explored)
FEASIBLE_S = 2.0


class CVec:
    """A vector of symbols during capture: elementwise ``+ - * /`` with vectors and scalars."""

    __slots__ = ("items",)
    capture_vector = True

    def __init__(self, items):
        self.items = [x if type(x) is C.Sym else C.Sym(C.lift(x)) for x in items]

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, i):
        return CVec(self.items[i]) if type(i) is slice else self.items[i]

    def _zip(self, other, f):
        if type(other) is CVec:
            if len(other) != len(self):
                C.refuse(f"vectors of lengths {len(self)} and {len(other)}",
                         "combine reports of one vocabulary")
            return CVec(f(a, b) for a, b in zip(self.items, other.items))
        return CVec(f(a, other) for a in self.items)

    def __add__(self, o):
        return self._zip(o, lambda a, b: a + b)

    def __radd__(self, o):
        return self._zip(o, lambda a, b: b + a)

    def __sub__(self, o):
        return self._zip(o, lambda a, b: a - b)

    def __rsub__(self, o):
        return self._zip(o, lambda a, b: b - a)

    def __mul__(self, o):
        return self._zip(o, lambda a, b: a * b)

    def __rmul__(self, o):
        return self._zip(o, lambda a, b: b * a)

    def __truediv__(self, o):
        return self._zip(o, lambda a, b: a / b)

    def __rtruediv__(self, o):
        return self._zip(o, lambda a, b: b / a)

    def __neg__(self):
        return CVec(-a for a in self.items)

    def __eq__(self, other):
        C.refuse("`==` on a vector of symbols", "compare entries with ops.gt / ops.ge")

    __ne__ = __eq__
    __hash__ = None

    def __array__(self, *args, **kwargs):
        C.refuse("a numpy array of symbols", "write the rule with ops' functions")

    def __array_ufunc__(self, *args, **kwargs):
        C.refuse("a numpy function applied to a vector of symbols", "use ops.log, ops.softmax")

    def __repr__(self):
        return f"CVec({self.items!r})"


class Conj:
    """A conjunction of comparisons (``ops.and_``): only ``ops.ite`` consumes it."""

    __slots__ = ("cmps",)

    def __init__(self, cmps):
        self.cmps = tuple(cmps)

    def __bool__(self):
        C.refuse("a Python branch on ops.and_(...)", "write ops.ite(ops.and_(...), a, b)")


def _cmp(op, a, b):
    x, y = C.lift(a), C.lift(b)
    if T.is_const(x) and T.is_const(y):
        return T.value(x) > T.value(y) if op == "gt" else T.value(x) >= T.value(y)
    return C.Cmp(op, x, y)


def _ite_node(c: C.Cmp, a: T.Node, b: T.Node) -> T.Node:
    return a if a == b else T.Node("ite", ((c.op, c.lhs, c.rhs), a, b))


def _ite(cond, a, b):
    """``a`` where ``cond`` holds, else ``b``, elementwise on vectors."""
    if type(cond) is bool:
        return a if cond else b
    if type(cond) is C.Cmp:
        cmps = (cond,)
    elif type(cond) is Conj:
        cmps = cond.cmps
    else:
        C.refuse(f"ops.ite's condition {cond!r}", "give ops.ite ops.gt / ops.ge / ops.and_")
    if type(a) is CVec or type(b) is CVec:
        n = len(a) if type(a) is CVec else len(b)
        av = a.items if type(a) is CVec else [a] * n
        bv = b.items if type(b) is CVec else [b] * n
        if len(av) != len(bv):
            C.refuse("ops.ite of vectors of different lengths", "choose between equal sizes")
        return CVec(_ite(cond, x, y) for x, y in zip(av, bv))
    x, y = C.lift(a), C.lift(b)
    for c in reversed(cmps):  # ite(c1 and c2, x, y) = ite(c1, ite(c2, x, y), y)
        x = _ite_node(c, x, y)
    return C.Sym(x)


class _Split(BaseException):
    """A new undecided ``is_positive``: the driver re-runs the rule on both sides."""

    def __init__(self, cmp):
        self.cmp = cmp


class CaptureOps:
    """The capture backend (``ops``) handed to the rule; ``decisions`` drive its case splits."""

    name = "capture"

    def __init__(self, decisions=(), expected=()):
        self.decisions, self.expected, self.pos = list(decisions), list(expected), 0
        self.pending = None   #: the split this run asked for (it must not be swallowed)

    def vector(self, values):
        return CVec(values)

    def scalar(self, x):
        return x if type(x) is C.Sym else C.Sym(C.lift(x))

    def total(self, v):
        out = C.Sym(T.const(0))
        for x in v:
            out = out + x
        return out

    def gt(self, a, b):
        return _cmp("gt", a, b)

    def ge(self, a, b):
        return _cmp("ge", a, b)

    def and_(self, *conds):
        cmps = []
        for c in conds:
            if type(c) is bool:
                if not c:
                    return False
            elif type(c) is C.Cmp:
                cmps.append(c)
            elif type(c) is Conj:
                cmps.extend(c.cmps)
            else:
                C.refuse(f"ops.and_ of {c!r}", "combine comparisons from ops.gt / ops.ge")
        return Conj(cmps) if cmps else True

    def ite(self, cond, a, b):
        return _ite(cond, a, b)

    def is_positive(self, x) -> bool:
        c = _cmp("gt", x, 0)
        if type(c) is bool:
            return c
        if self.pos < len(self.decisions):
            if self.expected[self.pos] != (c.op, c.lhs, c.rhs):
                C.refuse("a rule that decides differently when it is run again (random "
                         "numbers or state)", "a rule must be a function of its inputs")
            d = self.decisions[self.pos]
            self.pos += 1
            return d
        self.pending = c
        raise _Split(c)

    def log(self, v):
        if type(v) is CVec:
            return CVec(self.log(x) for x in v)
        return C.Sym(T.Node("log", (C.lift(v),)))

    def softmax(self, v):
        if type(v) is not CVec:
            C.refuse("ops.softmax of a scalar", "give ops.softmax a vector")
        xs = [C.lift(x) for x in v]
        top = xs[0]
        for x in xs[1:]:
            top = T.Node("max", (top, x))
        es = [T.Node("exp", (T.Node("sub", (x, top)),)) for x in xs]
        z = es[0]
        for e in es[1:]:
            z = T.Node("add", (z, e))
        return CVec(C.Sym(T.Node("div", (e, z))) for e in es)


def _inputs(n: int, V: int, has_ref: bool):
    dists = [CVec(C.Sym(T.report(j, t)) for t in range(V)) for j in range(n)]
    bids = [C.Sym(T.bid(j)) for j in range(n)]
    if not has_ref:   # no reference: no weight either (a rule may test `weight > 0`)
        return dists, bids, None, 0
    return dists, bids, CVec(C.Sym(T.ref(t)) for t in range(V)), C.Sym(T.LAM)


def _where(fn) -> str:
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__qualname__", type(fn).__name__)
    return f"{code.co_filename}:{code.co_firstlineno}: {name}" if code else name


def _outputs(fn, out, V: int) -> tuple:
    if type(out) is C.Sym or isinstance(out, (numbers.Number, str, bytes)) or out is None \
            or not hasattr(out, "__iter__"):
        raise C.DeclarationError(f"{_where(fn)} returned {type(out).__name__}, not a vector: "
                                 f"return a vector of {V} probabilities (ops.vector, or "
                                 "arithmetic on the reports)")
    items = list(out.items) if type(out) is CVec else list(out)
    if len(items) != V:
        raise C.DeclarationError(f"{_where(fn)} returned a vector of {len(items)} values for "
                                 f"V={V} tokens: return one value per token")
    return tuple(C.shallow(C.lift(x)) for x in items)


def _points(n: int, V: int, has_ref: bool):
    """A few fixed inputs of the rule's domain (exact rationals): bids with zeros, ties and
    both orders; uniform, one-hot and skewed reports; lambda 1 and 0."""
    one, zero = Fraction(1), Fraction(0)
    bids = [[one] * n, [Fraction(j + 1) for j in range(n)], [Fraction(n - j) for j in range(n)]]
    bids += [[one if k == j else zero for k in range(n)] for j in range(n)]
    bids += [[zero if k == j else one for k in range(n)] for j in range(n)] if n > 1 else []
    bids += [[Fraction(2) if k == j else one for k in range(n)] for j in range(n)]
    skew = [Fraction(V - t, V * (V + 1) // 2) for t in range(V)]
    reports = [[[Fraction(1, V)] * V] * n, [[one if t == j % V else zero for t in range(V)]
                                            for j in range(n)], [skew] * n]
    for lam in ([one, zero] if has_ref else [zero]):
        for rows in reports:
            leaves = {("report", j, t): x for j, r in enumerate(rows) for t, x in enumerate(r)}
            leaves.update({("ref", t): Fraction(1, V) for t in range(V)} if has_ref else {})
            leaves[("lam",)] = lam
            for b in bids:
                yield b, leaves


def _witnessed(conds, n: int, V: int, has_ref: bool) -> bool:
    """Whether one of :func:`_points` takes the path ``conds``, computed exactly: such an
    input is a model, so the path is feasible without asking z3 (exp/log, a division by 0
    there: not a witness; z3 then decides as before)."""
    for b, leaves in _points(n, V, has_ref):
        memo: dict = {}
        value = lambda m: fraction_value(m, b, leaves, memo)  # noqa: E731 - this point's
        try:
            if all((value(l) > value(r) if op == "gt" else value(l) >= value(r)) is taken
                   for (op, l, r), taken in conds):
                return True
        except ArithmeticError:   # a division by 0 at this point: not a witness
            continue
        except Unsupported:       # exp/log/sqrt: no exact value at any point
            return False
    return False


def _feasible(conds, n: int, V: int, has_ref: bool, timeout_s: float = FEASIBLE_S) -> bool:
    """Whether the decision path ``conds`` ([(cmp, taken)]) has an input in the rule's
    domain: bids >= 0, reports on the simplex, ``W = lambda + sum b > 0``: a fixed input
    on the path (:func:`_witnessed`), else z3. Undecided (no z3, exp/log, a timeout) counts
    as feasible: that path is explored."""
    if _witnessed(conds, n, V, has_ref):
        return True
    try:
        import z3
        from proofs.compile.evaluate import z3_term
        from proofs.encode.encode_z3 import solve
    except ImportError:
        return True
    leaves = {("report", j, t): z3.Real(f"p{j}_{t}") for j in range(n) for t in range(V)}
    leaves.update({("ref", t): z3.Real(f"r_{t}") for t in range(V)})
    leaves[("lam",)] = lam = z3.Real("lam")
    bids = [z3.Real(f"b{j}") for j in range(n)]
    dom = [b >= 0 for b in bids] + [lam >= 0, z3.Sum(*bids) + (lam if has_ref else 0) > 0]
    rows = [[leaves[("report", j, t)] for t in range(V)] for j in range(n)]
    rows += [[leaves[("ref", t)] for t in range(V)]] if has_ref else []
    dom += [x >= 0 for r in rows for x in r] + [z3.Sum(*r) == 1 for r in rows]
    try:
        for (op, lhs, rhs), taken in conds:
            a, b = z3_term(lhs, bids, leaves), z3_term(rhs, bids, leaves)
            c = a > b if op == "gt" else a >= b
            dom.append(c if taken else z3.Not(c))
    except Unsupported:
        return True
    return solve(dom, timeout_s)[0] != z3.unsat


def capture_rule(fn, n: int, V: int, has_ref: bool, timeout_s: float = 5.0,
                 budget_s: float | None = None) -> tuple:
    """The V trees of ``fn(ops, dists, bids, reference, weight)`` for n agents, V tokens,
    every feasible case split of ``ops.is_positive`` joined by ``ite`` (module docstring);
    a side no input in the rule's domain reaches is not explored. The whole capture takes
    at most ``budget_s`` seconds (default ``CAPTURE_BUDGET * timeout_s``), else a
    DeclarationError: slow feasibility queries on a correct rule's branches made the
    cage's load time out, and the rule was REFUTED for it."""
    runs = [0]
    budget_s = CAPTURE_BUDGET * timeout_s if budget_s is None else budget_s
    end = time.monotonic() + budget_s

    def left() -> float:
        rest = end - time.monotonic()
        if rest <= 0:
            raise C.DeclarationError(f"its case splits of ops.is_positive at n={n}, V={V} "
                                     f"took more than {budget_s:g} s to capture ({runs[0]} "
                                     "runs); it cannot be compiled there in the tool's time")
        return rest

    def solve(decisions, expected):
        runs[0] += 1
        if runs[0] > 2 * MAX_PATHS:
            raise C.DeclarationError(f"the rule needs more than {MAX_PATHS} case splits of "
                                     f"ops.is_positive at n={n}, V={V}; it cannot be compiled")
        ops = CaptureOps(decisions, expected)
        dists, bids, ref, lam = _inputs(n, V, has_ref)
        try:
            out = C.call_captured(fn, (ops, dists, bids, ref, lam), {},
                                  min(timeout_s, left()))
        except _Split as split:
            c = split.cmp
            C.shallow(c.lhs), C.shallow(c.rhs)   # before z3 reads them (_feasible)
            key = expected + [(c.op, c.lhs, c.rhs)]
            sides = [d for d in (True, False)
                     if _feasible(list(zip(key, decisions + [d])), n, V, has_ref,
                                  min(FEASIBLE_S, left()))]
            left()   # a query that ran to its limit may have spent the budget
            if len(sides) == 1:
                return solve(decisions + sides, key)
            yes, no = solve(decisions + [True], key), solve(decisions + [False], key)
            return tuple(_ite_node(c, a, b) for a, b in zip(yes, no))
        if ops.pending is not None:
            raise C.DeclarationError("the rule caught the capture's case split of "
                                     "ops.is_positive (an `except BaseException`); let it pass")
        return _outputs(fn, out, V)
    return solve([], [])
