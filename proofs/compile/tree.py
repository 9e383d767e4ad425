"""The closed vocabulary a declared rule compiles into (docs/theory.md section 8).

A node is an immutable ``Node(op, args)``:

* ``("const", Fraction)``: an exact rational (a float is its exact binary value);
* ``("bid", j)``: the bid of party j (``j = 0`` for a one-variable weight function);
* ``("param", name)``: a named symbolic parameter (bound parameters are constants);
* the leaves of a compiled generic rule (:mod:`proofs.compile.generic`): ``("report", j, t)``
  the probability agent j reports for token t, ``("ref", t)`` the reference's, ``("lam",)``
  the reference's weight lambda;
* ``add mul sub div neg`` of nodes, ``("pow", base, k)`` with ``k`` a constant node,
  ``exp log sqrt`` of a node, ``min max`` of two nodes;
* ``("ite", cmp, a, b)`` with ``cmp = ("gt" | "ge", lhs, rhs)``: ``a`` when ``lhs > rhs``
  (``>=``), else ``b``.

Nothing else exists: the evaluators (:mod:`proofs.compile.evaluate`) and the calculus
(:mod:`proofs.compile.calculus`) are total functions of this vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

UNARY = ("exp", "log", "sqrt", "neg")
BINARY = ("add", "sub", "mul", "div", "min", "max", "pow")
CMPS = ("gt", "ge")
LEAVES = ("const", "bid", "param", "report", "ref", "lam")


@dataclass(frozen=True)
class Node:
    op: str
    args: tuple

    def __str__(self) -> str:
        return show(self)


def const(v) -> Node:
    return Node("const", (Fraction(v),))


def bid(j: int = 0) -> Node:
    return Node("bid", (int(j),))


def param(name: str) -> Node:
    return Node("param", (str(name),))


def report(j: int, t: int) -> Node:
    return Node("report", (int(j), int(t)))


def ref(t: int) -> Node:
    return Node("ref", (int(t),))


LAM = Node("lam", ())


def leaf_key(n: Node) -> tuple:
    """The key of a generic rule's leaf in an evaluator's value table: ``("report", j, t)``,
    ``("ref", t)``, ``("lam",)`` (never a string, so no parameter name can collide)."""
    return (n.op,) + n.args


def is_const(n: Node) -> bool:
    return n.op == "const"


def value(n: Node) -> Fraction:
    return n.args[0]


def children(n: Node) -> tuple:
    """The sub-nodes of ``n`` (a comparison's two sides included)."""
    if n.op in LEAVES:
        return ()
    if n.op == "ite":
        return (n.args[0][1], n.args[0][2], n.args[1], n.args[2])
    return n.args


def walk(n: Node):
    """Every node of the tree, ``n`` first (a node shared in the DAG is visited once)."""
    stack, seen = [n], set()
    while stack:
        m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        yield m
        stack.extend(children(m))


#: the deepest tree a compiled rule may have (the evaluators recurse once per level)
MAX_DEPTH = 200


def fold(n: Node, leaf, node, memo: dict | None = None):
    """A bottom-up value of ``n``: ``leaf(m)`` for a node without children, ``node(m,
    values of its children)`` otherwise; iterative (any depth), a shared subtree once
    (``memo`` by id)."""
    memo = {} if memo is None else memo
    stack = [(n, False)]
    while stack:
        m, done = stack.pop()
        if id(m) in memo:
            continue
        kids = children(m)
        if not kids:
            memo[id(m)] = leaf(m)
        elif done:
            memo[id(m)] = node(m, [memo[id(k)] for k in kids])
        else:
            stack.append((m, True))
            stack.extend((k, False) for k in kids if id(k) not in memo)
    return memo[id(n)]


def depth(n: Node, memo: dict | None = None) -> int:
    """The longest path from ``n`` to a leaf (iterative: any depth is measured)."""
    return fold(n, lambda m: 1, lambda m, d: 1 + max(d), memo)


#: the highest polynomial degree a compiled tree may have: z3 expands integer powers and
#: products into polynomials (``(b + 1)^200001`` never leaves its assert; degree 256 takes
#: three times its time limit), so a tree beyond this is refused when it is compiled
MAX_DEGREE = 64


def _degree_of(m: Node, d: list) -> int:
    """``m``'s degree from its children's ``d`` (an integer power: ``|k|`` products)."""
    if m.op in ("mul", "div"):
        return d[0] + d[1]
    if m.op == "pow":
        k = value(m.args[1]) if is_const(m.args[1]) else None
        return abs(int(k)) * max(d[0], 1) if k is not None and k.denominator == 1 else d[0]
    return max(d, default=0)


def degree(n: Node, memo: dict | None = None) -> int:
    """A bound on the polynomial degree z3 expands ``n`` to (every bid, report, reference
    entry and lambda a variable; ``exp``, ``log``, ``sqrt`` and a power that is not an
    integer constant keep their argument's degree; ``a / b`` counts both). Iterative."""
    return fold(n, lambda m: 0 if m.op in ("const", "param") else 1, _degree_of, memo)


def ops_used(n: Node) -> set[str]:
    return {m.op for m in walk(n)}


def params_used(n: Node) -> set[str]:
    return {m.args[0] for m in walk(n) if m.op == "param"}


def bids_used(n: Node) -> set[int]:
    return {m.args[0] for m in walk(n) if m.op == "bid"}


def substitute(n: Node, values: dict) -> Node:
    """``n`` with each parameter in ``values`` replaced by its exact constant."""
    if n.op == "param":
        return const(values[n.args[0]]) if n.args[0] in values else n
    if n.op in LEAVES:
        return n
    if n.op == "ite":
        c, a, b = n.args
        return Node("ite", ((c[0], substitute(c[1], values), substitute(c[2], values)),
                            substitute(a, values), substitute(b, values)))
    return Node(n.op, tuple(substitute(a, values) for a in n.args))


_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def _frac(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def show(n: Node, bid_names=None) -> str:
    """A readable exact form: ``exp(b/2)``, ``min(b, 3)``, ``ite(b > 1, b, 0)``."""
    s = lambda m: show(m, bid_names)
    if n.op == "const":
        q = value(n)
        return _frac(q) if q >= 0 and q.denominator == 1 else f"({_frac(q)})"
    if n.op == "bid":
        return bid_names[n.args[0]] if bid_names else ("b" if n.args[0] == 0 else f"b{n.args[0]}")
    if n.op == "param":
        return n.args[0]
    if n.op == "report":
        return f"p{n.args[0]}[{n.args[1]}]"
    if n.op == "ref":
        return f"p_ref[{n.args[0]}]"
    if n.op == "lam":
        return "lambda"
    if n.op in _INFIX:
        return f"({s(n.args[0])} {_INFIX[n.op]} {s(n.args[1])})"
    if n.op == "neg":
        return f"(-{s(n.args[0])})"
    if n.op == "pow":
        return f"{s(n.args[0])}^{s(n.args[1])}"
    if n.op == "ite":
        (c, l, r), a, b = n.args
        return f"ite({s(l)} {'>' if c == 'gt' else '>='} {s(r)}, {s(a)}, {s(b)})"
    bare = lambda m: s(m)[1:-1] if m.op in _INFIX else s(m)
    return f"{n.op}({', '.join(bare(a) for a in n.args)})"
