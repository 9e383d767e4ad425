"""Compiled generic rules: the generated numpy code of the built-ins' trees equals their
fast paths (the tie the bounded prover's scope names), exact constants, the case split's
join, declined sizes, the seal, and the strict JSON form the cage's worker sends."""

from fractions import Fraction

import numpy as np
import pytest

from mechanism import rules as R
from mechanism.errors import Float64Range, InvalidInput
from proofs.compile import tree as T
from proofs.compile.capture import DeclarationError
from proofs.compile.generic import capture_rule
from proofs.compile.generic_rule import Bounds, GenericRule, compiled, sealed
from proofs.compile.serial import MalformedTree, from_data, from_worker, to_data, worker_data
from tests.helpers.slow_rules import many_slow_splits


def _instances(seed, n_max=4, V_max=8, count=300):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n, V = int(rng.integers(1, n_max + 1)), int(rng.integers(1, V_max + 1))
        P = rng.dirichlet(np.ones(V), size=n)
        P[rng.random(P.shape) < 0.25] = 0.0          # zeros in the reports
        P[P.sum(axis=1) == 0, 0] = 1.0
        P /= P.sum(axis=1, keepdims=True)
        b = rng.choice([0.0, 0.5, 1.0, 1.0, 2.0, 3.5], size=n)   # zero bids and ties
        if b.sum() == 0:
            b[int(rng.integers(n))] = 1.0
        yield P, b


def _outcome(rule, P, b):
    try:
        return rule.evaluate(P, b)
    except InvalidInput as exc:
        return type(exc)


@pytest.mark.parametrize("name", ["linear", "log_linear", "winner_take_all"])
def test_builtin_fast_paths_equal_the_generated_code_of_their_trees(name):
    """The tie the bounded prover's scope names (proofs.bounded.compiled_form.BUILTIN_TIE):
    seeded reports with zeros, zero bids and ties, n <= 4, V <= 8, float64 vs float64."""
    fast, gen = R.get_rule(name), compiled(getattr(R, name))
    for P, b in _instances(7):
        want, got = _outcome(fast, P, b), _outcome(gen, P, b)
        if isinstance(want, type) or isinstance(got, type):
            assert isinstance(want, type) and isinstance(got, type), (P, b, want, got)
        else:
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=f"{P} {b}")


def test_the_tie_would_catch_a_planted_fast_path_bug():
    """Plant: winner-take-all's ties go to the highest index; the tie test sees it."""
    def wta_last(ops, dists, bids, reference=None, weight=0):
        best = max(range(len(bids)), key=lambda j: (bids[j], j))
        return dists[best] if bids[best] > 0 else dists[0]
    fast, gen = R.Rule("bad", None, numpy_fn=lambda P, b, ref, lam: wta_last(
        None, list(P), list(b))), compiled(R.winner_take_all)
    assert any(not np.allclose(_outcome(fast, P, b), _outcome(gen, P, b))
               for P, b in _instances(7))


def test_float_constants_are_their_exact_binary_values():
    def r(ops, dists, bids, reference=None, weight=0):
        ws = [b * 0.1 + 0.3700000001 for b in bids]
        return sum(p * w for p, w in zip(dists, ws)) / sum(ws)
    consts = {T.value(m) for m in T.walk(capture_rule(r, 1, 2, False)[0]) if m.op == "const"}
    assert Fraction(0.1) in consts and Fraction(1, 10) not in consts
    assert Fraction(0.3700000001) in consts


def test_case_split_join_matches_the_function_at_bid_zero():
    def drop(ops, dists, bids, reference=None, weight=0):
        ws = [b if ops.is_positive(b) else 0.5 for b in bids]
        return sum(p * w for p, w in zip(dists, ws)) / sum(ws)
    rule, plain = compiled(drop), R.Rule("drop", drop)
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    for b in ([0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [0.0, 4.0]):
        np.testing.assert_array_equal(rule(P, b), plain(P, b))
    assert "ite(b0 > 0" in rule.expression()


def test_sizes_beyond_the_bounds_are_declined():
    rule = compiled(R.linear, bounds=Bounds(max_agents=2, max_tokens=3))
    with pytest.raises(InvalidInput, match="compiled for n <= 2 agents, V <= 3 tokens"):
        rule(np.full((3, 2), 0.5), np.ones(3))
    # 1e308 + 1e308 overflows the generated code: the same tree computed exactly instead
    q = compiled(R.linear).evaluate(np.eye(2), np.array([1e308, 1e308]))
    np.testing.assert_array_equal(q, [0.5, 0.5])
    with pytest.raises(Float64Range):   # exp/log: no exact rationals, declined
        compiled(R.log_linear).evaluate(np.array([[1.0, 0.0], [0.0, 1.0]]), np.ones(2))


def test_seal_reasons():
    rule = compiled(R.linear)
    assert sealed(rule) is None

    class Sub(GenericRule):
        pass
    assert "not the compiled GenericRule" in sealed(Sub("s", R.linear))
    patched = compiled(R.linear)
    patched.batch = lambda P, B: None
    assert "batch was replaced" in sealed(patched)
    swapped = compiled(R.linear)
    swapped.generic = R.linear
    assert "generic is not the generated code" in sealed(swapped)
    assert "not the compiled" in sealed(R.get_rule("linear"))


def test_declaration_errors():
    def returns_list_of_wrong_length(ops, dists, bids, reference=None, weight=0):
        return [0.5]
    with pytest.raises(DeclarationError, match="1 values for V=2"):
        compiled(returns_list_of_wrong_length)

    def eq_branch(ops, dists, bids, reference=None, weight=0):
        return dists[0] if bids[0] == 1 else dists[-1]
    with pytest.raises(DeclarationError, match="test_generic_compile.py:.*bids\\[0\\] == 1"):
        compiled(eq_branch)


def test_json_round_trip_and_the_worker_form():
    rule = compiled(R.winner_take_all)
    data = worker_data(rule)
    back = from_worker(data)
    assert sealed(back) is None and back.fn is None
    P, b = np.array([[0.2, 0.8], [0.6, 0.4], [1.0, 0.0]]), np.array([1.0, 2.0, 2.0])
    np.testing.assert_array_equal(back(P, b), rule(P, b))
    with pytest.raises(InvalidInput, match="compiled for"):
        back(np.full((5, 2), 0.5), np.ones(5))
    assert from_data(to_data(rule.compiled_trees)).keys() == rule.compiled_trees.keys()


@pytest.mark.parametrize("rows", [
    [["exec", "import os"]], [["const", "1/0"]], [["const", "9" * 5000 + "/1"]],
    [["add", 0, 1]], [["bid", -1]], [["ite", "eq", 0, 0, 0, 0]], [["param", "a b"]],
    [["report", 0, True]], [{"op": "add"}],
])
def test_malformed_trees_are_refused(rows):
    with pytest.raises(MalformedTree):
        from_data({"rows": rows, "sizes": []})


def test_worker_trees_with_leaves_outside_their_size_are_refused():
    good = to_data(compiled(R.linear).compiled_trees)
    assert from_data(good)   # the good rows are read; each bad row below is refused
    for row in (["report", 5, 0], ["bid", 3], ["param", "T"], ["ref", 0]):
        bad = {"rows": good["rows"] + [row], "sizes": [[1, 1, False, [len(good["rows"])]]]}
        with pytest.raises(MalformedTree):
            from_data(bad)


@pytest.mark.parametrize("kw", [dict(max_agents=0), dict(max_tokens=True),
                                dict(timeout_s=-1), dict(max_agents=2.5)])
def test_bad_bounds_are_invalid_input(kw):
    with pytest.raises(InvalidInput):
        Bounds(**kw)


def test_weight_is_zero_without_a_reference_and_a_leaf_with_one():
    def uses_weight(ops, dists, bids, reference=None, weight=0):
        if reference is not None and weight > 0:   # a Python test of the weight: refused
            return reference
        return sum(p * b for p, b in zip(dists, bids)) / sum(bids)
    rule = compiled(uses_weight)
    np.testing.assert_allclose(rule(np.eye(2), np.array([1.0, 3.0])), [0.25, 0.75])
    with pytest.raises(DeclarationError, match="Python branch"):
        compiled(uses_weight, reference=[0.5, 0.5], weight=1.0)


def test_too_deep_trees_are_refused_at_capture_and_from_the_worker():
    def deep(ops, dists, bids, reference=None, weight=0):
        w = bids[0]
        for _ in range(1000):
            w = w + 0 * bids[0]
        return dists[0] * (w / w)
    with pytest.raises(DeclarationError, match="levels deep"):
        compiled(deep)
    from proofs.compile.rule import normalized

    def deep_weight(b, fn):
        w = b
        for _ in range(1000):
            w = w + 0 * b
        return w
    with pytest.raises(DeclarationError, match="levels deep"):
        normalized(deep_weight)
    rows = [["bid", 0]] + [["neg", k] for k in range(5000)]
    with pytest.raises(MalformedTree, match="deeper"):
        from_data({"rows": rows, "sizes": []})


def test_a_tree_at_the_depth_limit_evaluates_on_every_backend():
    """Within MAX_DEPTH every evaluator (they recurse per level) stays within Python's stack."""
    import sympy
    import z3
    from proofs.compile import evaluate as E
    node = T.bid(0)
    for _ in range(T.MAX_DEPTH - 1):
        node = T.Node("add", (node, T.const(1)))
    assert T.depth(node) == T.MAX_DEPTH
    want = T.MAX_DEPTH - 1 + 2
    assert float(E.numpy_values([node], np.array([[2.0]]))[0][0]) == want
    assert E.fraction_value(node, [2], {}) == want
    assert z3.simplify(E.z3_term(node, [z3.RealVal(2)], {})) == z3.RealVal(want)
    assert E.sympy_expr(node, [sympy.Integer(2)], {}) == want
    assert len(T.show(node)) > T.MAX_DEPTH


def test_the_generated_program_is_built_once_per_trees_and_shares_nodes():
    """numpy_values runs one program per tuple of trees (kept while those very trees live;
    an equal but distinct tree gets its own), each shared node computed once, in order."""
    from proofs.compile import evaluate as E
    shared = T.Node("mul", (T.bid(0), T.bid(1)))
    trees = (T.Node("add", (shared, T.const(1))), T.Node("pow", (shared, T.const(2))),
             T.Node("ite", (("gt", T.bid(0), T.bid(1)), shared, T.Node("neg", (shared,)))))
    prog = E.program(trees)
    assert E.program(trees) is prog and E.program(list(trees)) is prog
    twin = tuple(T.Node(t.op, t.args) for t in trees)
    assert E.program(twin) is not prog
    assert len(prog.steps) == len({id(m) for t in trees for m in T.walk(t)})
    B = np.array([[2.0, 3.0], [5.0, 0.5]])
    got = E.numpy_values(trees, B)
    np.testing.assert_array_equal(got[0], [7.0, 3.5])
    np.testing.assert_array_equal(got[1], [36.0, 6.25])
    np.testing.assert_array_equal(got[2], [-6.0, 2.5])


@pytest.mark.parametrize("name, sizes", [
    ("log_linear", [(2, 2, False), (2, 3, True)]),
    ("winner_take_all", [(3, 2, True), (3, 3, False)])])
def test_a_witnessed_path_is_explored_as_z3_would(name, sizes, monkeypatch):
    """A case split's side taken by one of the capture's fixed inputs is feasible without
    z3; the trees are the ones z3 alone gives."""
    from proofs.compile import generic
    fn = getattr(R, name)
    fast = [capture_rule(fn, *s) for s in sizes]
    monkeypatch.setattr(generic, "_witnessed", lambda *a: False)
    assert fast == [capture_rule(fn, *s) for s in sizes]


def test_an_infeasible_side_has_no_witness(monkeypatch):
    """Every bid 0 without a reference is outside the domain (W = 0): no fixed input takes
    that side, so log-linear's capture never runs it. Plant: every side witnessed runs it,
    and log-linear with no party left is a declaration error there."""
    from proofs.compile import generic
    assert not generic._witnessed([(("gt", T.bid(0), T.const(0)), False)], 1, 2, False)
    assert generic._witnessed([(("gt", T.bid(0), T.const(0)), True)], 1, 2, False)
    capture_rule(R.log_linear, 2, 2, False)
    monkeypatch.setattr(generic, "_witnessed", lambda *a: True)
    with pytest.raises(DeclarationError, match="softmax of a scalar"):
        capture_rule(R.log_linear, 2, 2, False)


def test_an_overflow_on_float_rows_is_not_blamed_on_the_rule():
    """Float64 reports sum to 1 as rationals only within their rounding ([0.1, 0.2, 0.7]
    does not), and so does a correct rule's exact output: where the generated code
    overflows (weights (b + 1)^2 at a bid of 1e156), the exact value within SUM_TOL of a
    distribution is the answer, not an InvalidRule "nan"; an exact output that is no
    distribution is still the rule's failure."""
    from mechanism.errors import InvalidRule

    P = np.array([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]])
    assert sum(Fraction(x) for x in P[0]) != 1
    def squared(ops, dists, bids, reference=None, weight=0):
        ws = [(b + 1) * (b + 1) for b in bids]
        return [sum(w * p[v] for w, p in zip(ws, dists)) / sum(ws) for v in range(len(dists[0]))]
    rule = compiled(squared)
    np.testing.assert_allclose(rule.evaluate(P, np.array([1e156, 1.0])), P[0], rtol=1e-15)
    np.testing.assert_allclose(rule.evaluate(P, np.array([1e156, 1e156])), P.mean(axis=0),
                               rtol=1e-15)

    def doubled(ops, dists, bids, reference=None, weight=0):   # sums to 2 in exact reals
        ws = [(b + 1) * (b + 1) for b in bids]
        return [2 * sum(w * p[v] for w, p in zip(ws, dists)) / sum(ws)
                for v in range(len(dists[0]))]
    with pytest.raises(InvalidRule):
        compiled(doubled).evaluate(P, np.array([1e156, 1.0]))


def test_the_fidelity_check_skips_points_where_the_rule_declines():
    """W = 0 (every bid 0, no reference) is outside every rule's domain: a seeded fidelity
    point there is no evidence, so a rule whose capture differs only there (a zero bid
    weighs 1 by ``is_positive``; at n=2, V=4 a point has both bids 0) still compiles, and
    its float64 rows are computed in one call."""
    from tests.proofs.generic_corpus import CORPUS
    rule = CORPUS["positive_at_zero"][0]()
    assert len(rule.trees(2, 4, False)) == 4
    P = np.full((2, 4), 0.25)
    Q = rule.rows(P, np.array([[0.0, 0.0], [0.0, 1.0], [1e-3, 0.0]]))
    assert np.isnan(Q[0]).all() and np.isfinite(Q[1:]).all()


def test_the_seal_covers_every_method_evaluate_reaches(monkeypatch):
    """A compiled rule's ``evaluate`` is mechanism.Rule's, which goes on through
    ``evaluate_weighted`` and ``_on_every_token``: a replacement of either (on the object or
    on the class) changes the code that runs, so it breaks the seal (without them in
    SEALED_METHODS the patched rule below kept its proofs while answering 0). Every method
    Rule defines is sealed, but construction and printing."""
    from proofs.compile import generic_rule, rule as family
    own = {k for k, v in vars(R.Rule).items() if callable(v)} - {"__init__", "__repr__"}
    for methods in (generic_rule.SEALED_METHODS, family.SEALED_METHODS):
        assert own <= set(methods), own - set(methods)
    obj = compiled(R.linear)
    obj.evaluate_weighted = lambda P, b: np.zeros(P.shape[1])
    assert "evaluate_weighted was replaced" in sealed(obj)
    cls = compiled(R.linear)
    monkeypatch.setattr(R.Rule, "_on_every_token", lambda self, P, b: np.zeros(P.shape[1]))
    assert "_on_every_token was replaced" in sealed(cls)


def splits_per_entry(ops, dists, bids, reference=None, weight=0):
    """Monotone (each weight is b_j times a constant set by p_j) but one case split per
    report entry: it compiles while n V <= 6 and needs over 64 splits beyond."""
    ws = []
    for p, b in zip(dists, bids):
        w = b
        for x in p:
            w = w + (b if ops.is_positive(x - 0.5) else 0)
        ws.append(w)
    total = sum(ws)
    return [sum(p[t] * w for p, w in zip(dists, ws)) / total for t in range(len(dists[0]))]


def test_a_size_the_tool_cannot_compile_is_declined_not_the_rules_failure():
    """Past the case-split limit the compiled rule declines (InvalidInput), in process and
    in the worker's data (that size is not sent); the check is never REFUTED (planted: the
    DeclarationError raised from evaluation, which check judged the rule's failure: REFUTED
    'raised DeclarationError' at n=3, V=3 for a monotone rule)."""
    from properties import check
    rule = compiled(splits_per_entry, name="splits")
    P = np.array([[1.0, 0.0, 0.0]] * 3)
    with pytest.raises(InvalidInput, match="cannot be compiled at n=3, V=3"):
        rule(P, [1.0, 0.0, 0.0])
    assert rule(P[:2, :2] / P[:2, :2].sum(1, keepdims=True), [1.0, 2.0]).tolist() == [1.0, 0.0]
    data = worker_data(compiled(splits_per_entry, name="splits",
                                bounds=Bounds(max_agents=3, max_tokens=3)))
    parent = from_worker(data)
    with pytest.raises(InvalidInput, match="no compiled code at n=3, V=3"):
        parent(P, [1.0, 0.0, 0.0])
    small = compiled(splits_per_entry, name="splits", bounds=Bounds(max_agents=3, max_tokens=3))
    report = check(small, ["monotone:box"], max_examples=10)
    assert not report.refuted and report.exit_code == 0, str(report)


def test_a_capture_past_its_time_budget_cannot_be_compiled_there():
    """Was (red team): no budget on the case splits; 2 s feasibility queries for up to 128
    runs a size made the cage's load time out, and a correct rule was REFUTED for it."""
    import time
    start = time.monotonic()
    with pytest.raises(DeclarationError, match="took more than 0.5 s to capture"):
        capture_rule(many_slow_splits, 2, 2, False, budget_s=0.5)
    assert time.monotonic() - start < 5
    rule = GenericRule("slow", many_slow_splits, bounds=Bounds(timeout_s=0.25))
    data = worker_data(rule)   # every size within 12 x 0.25 s; the rest declined
    assert (1, 2, False) in rule.compiled_trees
    assert time.monotonic() - start < 15
    rebuilt = from_worker(data)
    with pytest.raises(InvalidInput, match="no compiled code at n=2, V=2"):
        rebuilt.trees(2, 2, False)
