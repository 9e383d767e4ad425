"""The sign and monotonicity calculus (proofs/unbounded/calculus.py) against exact
arithmetic on seeded random trees: whenever it derives f >= 0, f non-decreasing or an
interval, exact Fraction evaluation at random rational points 0 <= x < y agrees (a
planted bug -- a product of unsigned factors treated as increasing -- is caught)."""

from fractions import Fraction

import numpy as np

from proofs.compile import evaluate as E
from proofs.compile import tree as T
from proofs.unbounded import calculus

OPS = ("add", "sub", "mul", "div", "neg", "min", "max", "pow", "ite")


def random_tree(rng, depth):
    if depth == 0 or rng.random() < 0.25:
        if rng.random() < 0.5:
            return T.bid()
        return T.const(Fraction(int(rng.integers(-4, 5)), int(rng.integers(1, 4))))
    op = OPS[int(rng.integers(len(OPS)))]
    a, b = random_tree(rng, depth - 1), random_tree(rng, depth - 1)
    if op == "neg":
        return T.Node("neg", (a,))
    if op == "pow":
        return T.Node("pow", (a, T.const(int(rng.integers(-2, 4)))))
    if op == "ite":
        return T.Node("ite", (("gt" if rng.random() < 0.5 else "ge", a, T.const(1)),
                              b, random_tree(rng, depth - 1)))
    return T.Node(op, (a, b))


def value(n, x):
    try:
        return E.fraction_value(n, [x], {})
    except ZeroDivisionError:
        return None


POINTS = sorted({Fraction(k, 4) for k in range(0, 17)} | {Fraction(1, 1000), Fraction(99, 100),
                                                          Fraction(101, 100), Fraction(7)})


def violations(trees):
    bad = []
    for n in trees:
        f = calculus.facts(n, {})
        if f.undefined:
            continue
        vals = [value(n, x) for x in POINTS]
        if any(v is None for v in vals):
            bad.append((T.show(n), "undefined at a point but derived defined"))
            continue
        if f.nonneg and min(vals) < 0:
            bad.append((T.show(n), "derived >= 0"))
        if f.lo is not None and min(vals) < f.lo or f.hi is not None and max(vals) > f.hi:
            bad.append((T.show(n), f"interval [{f.lo}, {f.hi}]"))
        if f.mono in ("inc", "const") and any(a > b for a, b in zip(vals, vals[1:])):
            bad.append((T.show(n), "derived non-decreasing"))
        if f.mono in ("dec", "const") and any(a < b for a, b in zip(vals, vals[1:])):
            bad.append((T.show(n), "derived non-increasing"))
    return bad


def trees(seed=0, count=3000):
    rng = np.random.default_rng(seed)
    return [random_tree(rng, 3) for _ in range(count)]


def test_the_calculus_agrees_with_exact_arithmetic_on_random_trees():
    ts = trees()
    derived = [n for n in ts if calculus.facts(n, {}).mono == "inc" and n.op != "bid"]
    assert len(derived) > 300            # not vacuous: many non-trivial trees are derived
    assert violations(ts) == []


def test_planted_unsigned_product_rule_is_caught(monkeypatch):
    monkeypatch.setattr(calculus, "product_direction",
                        lambda a, b: calculus.same(a.mono, b.mono))
    assert any(why == "derived non-decreasing" for _, why in violations(trees()))
