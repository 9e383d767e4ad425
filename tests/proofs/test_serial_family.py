"""A family rule as data (proofs/compile/serial_family.py): the rebuilt rule is the same
compiled rule (sealed, the same expression, the same numbers, bit for bit), and the strict
reader refuses every field it does not know, every wrong type and non-finite number."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from proofs.compile.rule import sealed
from proofs.compile.serial import MalformedTree
from proofs.compile.serial_family import MalformedFamily, from_worker, worker_data
from proofs.unbounded.families import general, normalized, winner_take_all

RULES = {
    "softmax": lambda: normalized(lambda b, fn, T: fn.exp(b / T), params={"T": 2.0}),
    "symbolic": lambda: normalized(lambda b, fn, T: fn.exp(b / T), params={"T": 0.5},
                                   domains={"T": "positive"}),
    "log_linear_ref": lambda: normalized(lambda b, fn: b + 1, pooling="log_linear",
                                         reference=[0.5, 0.25, 0.25], weight=0.5,
                                         epsilon=0.01),
    "general": lambda: general(lambda bids, fn: [b * b + 1 for b in bids]),
    # a power with a symbolic exponent (docs: the power family): the reader refused it
    # as malformed, so check FILE.py:NAME of a documented family exited 2
    "power": lambda: normalized(lambda b, fn, beta: fn.pow(b, beta), params={"beta": 0.5},
                                domains={"beta": "positive"}),
    "wta": lambda: winner_take_all(reference=[0.5, 0.5], weight=1.0),
}


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_rebuilt_rule_is_the_same_sealed_rule(name):
    rule = RULES[name]()
    back = from_worker(worker_data(rule))
    assert sealed(back) is None
    assert back.expression() == rule.expression() and back.kind == rule.kind
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 5):
        V = 3 if rule.reference is None else len(rule.reference)
        P = rng.dirichlet(np.ones(V), size=n)
        b = rng.uniform(0, 3, size=n)
        assert np.array_equal(back.evaluate(P, b), rule.evaluate(P, b))


def _data():
    return worker_data(RULES["symbolic"]())


@pytest.mark.parametrize("forge, why", [
    (lambda d: d.update(extra=1), "extra"),
    (lambda d: d.pop("epsilon"), "epsilon"),
    (lambda d: d.update(kind="custom"), "kind 'custom'"),
    (lambda d: d.update(pooling=None), "pooling"),
    (lambda d: d.update(weight=float("inf")), "weight = inf"),
    (lambda d: d.update(epsilon="0"), "epsilon = 0"),
    (lambda d: d.update(reference=[0.5, float("nan")]), "nan"),
    (lambda d: d.update(params={"T": 0.5}), "constant '0.5'"),
    (lambda d: d.update(params={"T": "1/0"}), "'1/0'"),
    (lambda d: d.update(domains={}), "leaf T cannot occur"),
    (lambda d: d.update(domains={"T": ["1/1", "0/1", False, False]}), "empty"),
    (lambda d: d.update(domains={"U": [None, None, False, False]}), "not parameters"),
    (lambda d: d["rows"].append(["call", 0]), "closed vocabulary"),
    (lambda d: d["rows"].__setitem__(0, ["const", "nan"]), "constant"),
    (lambda d: d.update(tree=-1), "names no row"),
    (lambda d: d.update(rows=[["bid", 0]] + [["neg", i] for i in range(5000)], tree=5000),
     "deeper than"),
    (lambda d: d.update(general=[[0]]), "no general weight trees"),
])
def test_the_strict_reader_refuses_forged_data(forge, why):
    data = copy.deepcopy(_data())
    forge(data)
    with pytest.raises(MalformedTree, match="malformed") as info:
        from_worker(data)
    assert why in str(info.value), str(info.value)


def test_general_weights_need_every_eager_size_and_only_their_agents_bids():
    data = worker_data(RULES["general"]())
    short = copy.deepcopy(data)
    short["general"] = short["general"][:2]
    with pytest.raises(MalformedFamily, match="n = 1..4"):
        from_worker(short)
    wrong = copy.deepcopy(data)
    wrong["general"][0] = wrong["general"][1][1:]  # n = 1 given the tree over b1
    with pytest.raises(MalformedFamily, match="b1 cannot occur"):
        from_worker(wrong)


def test_a_power_exponent_holds_no_bid():
    from proofs.compile import tree as T
    from proofs.compile.serial_family import _exponent
    beta, b0 = T.Node("param", ("beta",)), T.Node("bid", (0,))
    assert _exponent(beta, {"beta"}) and not _exponent(beta, set())
    assert not _exponent(b0, {"beta"})
