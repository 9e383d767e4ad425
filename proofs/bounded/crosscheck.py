"""The trace agrees with the code: before the rule-level prover reports PROVED, the traced
z3 expression of ``Q`` is evaluated exactly (``Fraction``) at many concrete points and
compared with the shipped code, ``Rule.evaluate`` (the numpy fast path of a built-in rule)
(docs/theory.md, section 4, "Checking your own rule").

The points: bids 0, 1, 1/2, 2, 1/1000, 1000, every number literal of the rule's source
(so a rare threshold such as ``b == 0.37`` is hit exactly), the midpoints between
consecutive literals and each literal +- 1e-6 (a hidden interval), seeded random bids; one-hot,
random and literal-based distributions, different for each agent. A point where one side
is defined and the other is not (division by zero, an exception) is a disagreement too.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from fractions import Fraction

import numpy as np

from proofs.bounded.tracing import rational

BASE_BIDS = (Fraction(0), Fraction(1), Fraction(1, 2), Fraction(2), Fraction(1, 1000),
             Fraction(1000))
ATOL = 1e-9


class _Undefined(Exception):
    pass


def source_literals(fn) -> list[Fraction]:
    """The finite non-negative number literals of ``fn``'s source (|x| for negatives)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            x = abs(node.value)
            if np.isfinite(x) and x <= 1e6 and rational(x) not in out:
                out.append(rational(x))
    return out


def compile_terms(z3, terms):
    """A function ``env -> [Fraction or None]`` evaluating z3 ``terms`` exactly; ``env``
    maps variable names to Fractions. None where the value is undefined (x / 0).
    (Walks the term DAG once through z3's C API: the Python wrappers are 10x slower.)"""
    C = z3.z3core
    ctx = terms[0].ctx_ref() if terms else None
    nodes, index = [], {}
    todo = [(t.as_ast(), False) for t in terms]
    while todo:
        a, done = todo.pop()
        k = C.Z3_get_ast_id(ctx, a)
        if k in index:
            continue
        if C.Z3_get_ast_kind(ctx, a) == z3.Z3_NUMERAL_AST:
            index[k] = len(nodes)
            nodes.append((None, [], Fraction(C.Z3_get_numeral_string(ctx, a)), True))
            continue
        app = C.Z3_to_app(ctx, a)
        kids = [C.Z3_get_app_arg(ctx, app, j) for j in range(C.Z3_get_app_num_args(ctx, app))]
        if not done and kids:
            todo.append((a, True))
            todo.extend((c, False) for c in kids if C.Z3_get_ast_id(ctx, c) not in index)
            continue
        decl = C.Z3_get_app_decl(ctx, app)
        kind = C.Z3_get_decl_kind(ctx, decl)
        literal = kind in (z3.Z3_OP_TRUE, z3.Z3_OP_FALSE)
        if literal:
            payload = kind == z3.Z3_OP_TRUE
        elif kind == z3.Z3_OP_UNINTERPRETED and not kids:
            payload = C.Z3_get_symbol_string(ctx, C.Z3_get_decl_name(ctx, decl))
        elif kind == z3.Z3_OP_POWER and C.Z3_get_ast_kind(ctx, kids[1]) == z3.Z3_NUMERAL_AST:
            payload = Fraction(C.Z3_get_numeral_string(ctx, kids[1]))
            payload = int(payload) if payload.denominator == 1 else payload
        else:
            payload = None
        index[k] = len(nodes)
        nodes.append((kind, [index[C.Z3_get_ast_id(ctx, c)] for c in kids], payload, literal))
    roots = [index[C.Z3_get_ast_id(ctx, t.as_ast())] for t in terms]
    ops = _ops(z3)

    def run(env):
        val = []
        for kind, args, payload, literal in nodes:
            if literal:
                val.append(payload)
            elif isinstance(payload, str):
                val.append(env[payload])
            else:
                a = [val[i] for i in args]
                if any(x is _UNDEF for x in a) and kind != z3.Z3_OP_ITE:
                    val.append(_UNDEF)
                    continue
                f = ops.get(kind)
                if f is None:
                    raise NotImplementedError(f"z3 operator kind {kind} not evaluated")
                try:
                    val.append(f(a, payload))
                except ZeroDivisionError:
                    val.append(_UNDEF)
        return [None if val[r] is _UNDEF else val[r] for r in roots]
    return run


_UNDEF = object()


def _prod(a):
    out = Fraction(1)
    for x in a:
        out *= x
    return out


def _ops(z3):
    def ite(a, _):
        c, x, y = a
        if c is _UNDEF:
            return _UNDEF
        return x if c else y
    return {
        z3.Z3_OP_ADD: lambda a, _: sum(a, Fraction(0)),
        z3.Z3_OP_SUB: lambda a, _: a[0] - sum(a[1:], Fraction(0)),
        z3.Z3_OP_MUL: lambda a, _: _prod(a),
        z3.Z3_OP_DIV: lambda a, _: Fraction(a[0]) / a[1],
        z3.Z3_OP_UMINUS: lambda a, _: -a[0],
        z3.Z3_OP_TO_REAL: lambda a, _: Fraction(a[0]),
        z3.Z3_OP_POWER: lambda a, k: Fraction(a[0]) ** k,
        z3.Z3_OP_ITE: ite,
        z3.Z3_OP_LE: lambda a, _: a[0] <= a[1], z3.Z3_OP_LT: lambda a, _: a[0] < a[1],
        z3.Z3_OP_GE: lambda a, _: a[0] >= a[1], z3.Z3_OP_GT: lambda a, _: a[0] > a[1],
        z3.Z3_OP_EQ: lambda a, _: a[0] == a[1],
        z3.Z3_OP_DISTINCT: lambda a, _: len(set(a)) == len(a),
        z3.Z3_OP_AND: lambda a, _: all(a), z3.Z3_OP_OR: lambda a, _: any(a),
        z3.Z3_OP_NOT: lambda a, _: not a[0], z3.Z3_OP_XOR: lambda a, _: a[0] != a[1],
        z3.Z3_OP_IMPLIES: lambda a, _: (not a[0]) or a[1],
    }


def _dist_sets(n, V, lits, rng):
    """Distribution profiles (lists of n rows of Fractions), every agent different."""
    onehot = [[Fraction(int(t == j % V)) for t in range(V)] for j in range(n)]
    out = [onehot]
    for _ in range(2):
        rows = []
        for _ in range(n):
            k = rng.multinomial(100, np.ones(V) / V)
            rows.append([Fraction(int(x), 100) for x in k])
        out.append(rows)
    for L in lits:
        if 0 < L < 1:
            rows = []
            for j in range(n):
                r = [Fraction(0)] * V
                r[j % V], r[(j + 1) % V] = L, 1 - L
                rows.append(r)
            out.append(rows)
    return out


def _between(lits):
    """Midpoints of consecutive literals and each literal +- 1e-6 (a hidden interval
    ``0.5 < b < 0.6`` has no literal inside it)."""
    xs = sorted(set(lits) | {Fraction(0)})
    mids = [(a + b) / 2 for a, b in zip(xs, xs[1:])]
    near = [x + d * max(Fraction(1), x) * Fraction(1, 10**6) for x in xs if x > 0
            for d in (-1, 1)]
    return [x for x in mids + near if x >= 0]


def points(n, V, lits, seed, has_weight=False):
    """``[(P rows, bid profile)]``: every bid value at every agent, round-robin over the
    distribution profiles; profiles with total weight 0 are left out (no rule is defined)."""
    rng = np.random.default_rng(seed)
    bids = list(BASE_BIDS) + [x for x in lits if x not in BASE_BIDS] + \
        _between(lits) + [Fraction(int(x), 1000) for x in rng.integers(1, 3000, size=3)]
    profiles = [[Fraction(1)] * n]
    for k in range(n):
        for v in bids:
            prof = [Fraction(1)] * n
            prof[k] = v
            profiles.append(prof)
        profiles.append([Fraction(int(j == k)) for j in range(n)])
    profiles.append([Fraction(int(x), 1000) for x in rng.integers(0, 3000, size=n)])
    dists = _dist_sets(n, V, lits, rng)
    out = []
    for m, prof in enumerate(profiles):
        if sum(prof) == 0 and not has_weight:
            continue
        out.append((dists[m % len(dists)], prof))
        out.append((dists[(m + 1) % len(dists)], prof))
    return out


def _close(a, b) -> bool:
    return abs(float(a) - b) <= ATOL * max(1.0, abs(b))


def disagreement(rule, z3, traced, env_of, n, V, seed, concrete_rule=None,
                 stride: int = 1) -> str | None:
    """First point where the traced terms and ``rule.evaluate`` differ, as text, or None.

    ``traced``: the V traced terms of ``Q(P, b)``; ``env_of(P, b)``: the variable values
    that make the trace compute ``Q(P, b)``, or None for a point outside the traced
    domain. ``concrete_rule(P, b)``: the rule the code
    runs at that point (a reference bound), default ``rule``. ``stride``: use every
    stride-th point only."""
    run = compile_terms(z3, traced)
    lits = source_literals(rule.generic)
    has_weight = rule.reference is not None and rule.weight > 0
    for P, prof in points(n, V, lits, seed, has_weight)[::stride]:
        env = env_of(P, prof)
        if env is None:  # outside the traced domain
            continue
        try:
            got = run(env)
        except (KeyError, NotImplementedError) as exc:
            return f"the trace cannot be evaluated ({type(exc).__name__}: {exc})"
        r = concrete_rule(P, prof) if concrete_rule else rule
        try:
            with np.errstate(all="ignore"):
                want = np.asarray(r.evaluate(np.array(P, dtype=float),
                                             np.array(prof, dtype=float)), dtype=float)
            ok = want.shape == (V,) and np.isfinite(want).all()
        except Exception:  # the code fails here: compare as undefined
            want, ok = None, False
        at = f"dists {[[str(x) for x in p] for p in P]}, bids {[str(x) for x in prof]}"
        if any(g is None for g in got) or not ok:
            if any(g is None for g in got) and not ok:
                continue
            return (f"at {at} the code gives {None if want is None else want.tolist()} and the "
                    f"trace {[None if g is None else float(g) for g in got]}")
        if not all(_close(g, w) for g, w in zip(got, want)):
            return f"at {at} the code gives {want.tolist()} and the trace " \
                   f"{[float(g) for g in got]}"
    return None
