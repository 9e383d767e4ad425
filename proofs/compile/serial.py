"""Compiled trees as JSON data (the cage's worker sends them; docs/theory.md section 4).

A DAG of :class:`proofs.compile.tree.Node` is a list of rows, each naming earlier rows by
index: ``["const", "num/den"]``, ``["bid", j]``, ``["param", name]``, ``["report", j, t]``,
``["ref", t]``, ``["lam"]``, ``[op, i, ...]`` for the operators, ``["ite", cmp, l, r, a, b]``.
:func:`from_data` rebuilds it strictly: only the closed vocabulary, integer indices of
earlier rows, bounded sizes; anything else is :class:`MalformedTree` (nothing the worker
sends can run code or build an object outside the vocabulary).
"""

from __future__ import annotations

import time
from fractions import Fraction

from mechanism.errors import InvalidInput

from proofs.compile import tree as T

MAX_ROWS = 400_000
MAX_DIGITS = 4000
ARITY = {**{op: 1 for op in T.UNARY}, **{op: 2 for op in T.BINARY}}


class MalformedTree(InvalidInput):
    """Data that is not a compiled tree of the closed vocabulary."""


def to_data(trees: dict) -> dict:
    """``{(n, V, has_ref): (V trees)}`` as JSON data: ``{"rows": [...], "sizes": [...]}``."""
    rows, index = [], {}

    def put(n: T.Node) -> int:
        k = id(n)
        if k in index:
            return index[k]
        if n.op == "const":
            row = ["const", exact_text(T.value(n))]
        elif n.op in T.LEAVES:
            row = [n.op, *n.args]
        elif n.op == "ite":
            (c, l, r), a, b = n.args
            row = ["ite", c, put(l), put(r), put(a), put(b)]
        else:
            row = [n.op, *[put(a) for a in n.args]]
        index[k] = len(rows)
        rows.append(row)
        return index[k]
    sizes = [[n, V, bool(ref), [put(t) for t in ts]] for (n, V, ref), ts in trees.items()]
    return {"rows": rows, "sizes": sizes}


def _bad(why: str):
    raise MalformedTree(f"the compiled tree sent by the worker is malformed: {why}", value=why)


def _int(x, hi=10**6) -> int:
    if type(x) is not int or not 0 <= x < hi:
        _bad(f"{x!r} is not a small non-negative integer")
    return x


def exact_text(q: Fraction) -> str:
    """An exact rational as sent: ``"num/den"`` (read back by :func:`rational`)."""
    return f"{q.numerator}/{q.denominator}"


def rational(text) -> Fraction:
    """An exact rational sent as ``"num/den"`` (a constant, a parameter, a domain's end),
    checked."""
    if type(text) is not str or len(text) > MAX_DIGITS or text.count("/") != 1:
        _bad(f"constant {str(text)[:40]!r}")
    num, den = text.split("/")
    if not (num.lstrip("-").isdigit() and den.isdigit()) or int(den) == 0:
        _bad(f"constant {text[:40]!r}")
    return Fraction(int(num), int(den))


def _node(row, nodes) -> T.Node:
    if type(row) is not list or not row or type(row[0]) is not str:
        _bad(f"row {str(row)[:40]}")
    op, args = row[0], row[1:]
    ref = lambda i: nodes[_int(i, len(nodes))]
    if op == "const" and len(args) == 1:
        return T.const(rational(args[0]))
    if op == "bid" and len(args) == 1:
        return T.bid(_int(args[0]))
    if op == "param" and len(args) == 1 and type(args[0]) is str and args[0].isidentifier():
        return T.param(args[0])
    if op == "report" and len(args) == 2:
        return T.report(_int(args[0]), _int(args[1]))
    if op == "ref" and len(args) == 1:
        return T.ref(_int(args[0]))
    if op == "lam" and not args:
        return T.LAM
    if op == "ite" and len(args) == 5 and args[0] in T.CMPS:
        return T.Node("ite", ((args[0], ref(args[1]), ref(args[2])), ref(args[3]), ref(args[4])))
    if op in ARITY and len(args) == ARITY[op]:
        return T.Node(op, tuple(ref(i) for i in args))
    _bad(f"row {str(row)[:60]} is not in the closed vocabulary")


def from_data(data) -> dict:
    """The trees of :func:`to_data`, rebuilt and checked (module docstring)."""
    if type(data) is not dict or type(data.get("rows")) is not list or \
            type(data.get("sizes")) is not list or len(data["rows"]) > MAX_ROWS:
        _bad("expected {'rows': [...], 'sizes': [...]} within the size limits")
    nodes = read_rows(data["rows"])
    out = {}
    for item in data["sizes"]:
        if type(item) is not list or len(item) != 4 or type(item[2]) is not bool \
                or type(item[3]) is not list:
            _bad(f"size entry {str(item)[:60]}")
        n, V = _int(item[0], 65), _int(item[1], 65)
        if len(item[3]) != V:
            _bad(f"{len(item[3])} trees for V = {V}")
        trees = tuple(nodes[_int(i, len(nodes))] for i in item[3])
        for t in trees:
            _check_leaves(t, n, V, item[2])
        out[(n, V, item[2])] = trees
    return out


def _check_leaves(tree: T.Node, n: int, V: int, has_ref: bool) -> None:
    """Every leaf of a generic rule's tree exists at its size (else an evaluator would
    fail deep inside): bids and reports of the n agents over V tokens, the reference only
    with one, no named parameter, and integer-constant powers."""
    for m in T.walk(tree):
        a = m.args
        if (m.op == "bid" and a[0] >= n) or (m.op == "report" and (a[0] >= n or a[1] >= V)) \
                or (m.op == "ref" and (not has_ref or a[0] >= V)) or m.op == "param" \
                or (m.op == "pow" and not T.is_const(a[1])):
            _bad(f"the leaf {T.show(m)[:40]} does not exist at n={n}, V={V}")


#: the worker's budget for capturing every size, in units of the rule's per-call timeout
#: (5 s: 60 s, well inside the cage's 120 s start): the sizes not reached are not sent, so
#: declined as uncompilable (a slow capture made the load time out: the rule REFUTED)
WORKER_BUDGET = 12


def worker_data(rule) -> dict:
    """What the cage's worker sends for a compiled generic rule: its trees at every size
    within its bounds where it compiles in :data:`WORKER_BUDGET` (the parent's copy declines
    the others), its reference, weight and smoothing (data only)."""
    has_ref = rule.reference is not None
    Vs = [int(rule.reference.size)] if has_ref else range(1, rule.bounds.max_tokens + 1)
    end = time.monotonic() + WORKER_BUDGET * rule.bounds.timeout_s
    for n in range(1, rule.bounds.max_agents + 1):
        for V in Vs:
            if time.monotonic() > end and (n, V, has_ref) not in rule.compiled_trees:
                continue   # the budget is spent: not sent, so declined as uncompilable
            try:
                rule.trees(n, V, has_ref)
            except InvalidInput:   # a size it cannot be compiled at: not sent, declined
                pass
    return {"trees": to_data(rule.compiled_trees), "name": str(rule.name),
            "reference": None if not has_ref else [float(x) for x in rule.reference],
            "weight": float(rule.weight), "epsilon": float(rule.epsilon),
            "bounds": [rule.bounds.max_agents, rule.bounds.max_tokens]}


def from_worker(data):
    """The :class:`proofs.compile.generic_rule.GenericRule` of :func:`worker_data`: trees
    only (no function: a size not sent is declined), checked by :func:`from_data`."""
    from proofs.compile.generic_rule import Bounds, GenericRule
    if type(data) is not dict or type(data.get("bounds")) is not list:
        _bad("expected the worker's compiled rule")
    trees = from_data(data.get("trees"))
    ref = data.get("reference")
    if ref is not None and (type(ref) is not list or not all(type(x) is float for x in ref)):
        _bad("reference")
    n, V = (_int(x, 65) for x in data["bounds"])
    return GenericRule(str(data.get("name"))[:80], None, reference=ref,
                       weight=float(data.get("weight", 0.0)),
                       epsilon=float(data.get("epsilon", 0.0)), trees=trees,
                       bounds=Bounds(max_agents=n, max_tokens=V))


def read_rows(rows) -> list:
    """The nodes of :func:`to_data`'s rows, each checked against the closed vocabulary
    and no deeper than ``tree.MAX_DEPTH`` nor of a degree above ``tree.MAX_DEGREE`` (the
    caller checks which leaves may occur)."""
    if type(rows) is not list or len(rows) > MAX_ROWS:
        _bad("expected a list of rows within the size limits")
    nodes: list = []
    memo: dict = {}
    degrees: dict = {}
    for row in rows:
        nodes.append(_node(row, nodes))
        if T.depth(nodes[-1], memo) > T.MAX_DEPTH:
            _bad(f"a tree deeper than {T.MAX_DEPTH} levels")
        if T.degree(nodes[-1], degrees) > T.MAX_DEGREE:
            _bad(f"a tree of degree above {T.MAX_DEGREE}")
    return nodes
