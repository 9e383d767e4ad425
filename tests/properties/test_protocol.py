"""properties.protocol: a user's object is read ONCE at load into typed fields, and an object
that lies about its protocol gets a clear usage error or the same honest verdict, in
``check`` and in the mechanism audit alike.

Planted bugs each test was seen failing under (then reverted): ``attribute`` without its
``try`` (a raising property crashed with RuntimeError), without its type check (``__getattr__``
answering 42 crashed later or was judged as a method), ``_bound_call`` returning the object
itself (the self-patching rule's lie was believed), the sandbox without its SystemExit
clause (a rule calling ``sys.exit(0)`` ended the run), ``Target`` reading ``reserve`` again
(read twice), and ``aggregate`` looked up at each call instead of bound at load (the patched
class was judged)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from mechanism import TokenAuction, expected_payments, get_payment_rule, get_rule
from mechanism.errors import InvalidInput, InvalidRule
from mechanism.verdicts import Verdict
from properties import check
from properties.audit.implementation import audit_mechanism
from properties.protocol import read_mechanism, read_target
from properties.target import Target
from tests.helpers.recording import run_cli

P = np.array([[0.6, 0.4], [0.3, 0.7]])
B = np.array([1.0, 2.0])


def linear(dists, bids):
    b = np.asarray(bids, dtype=float)
    return b @ np.asarray(dists, dtype=float) / b.sum()


def lowest(dists, bids):
    """The lowest bidder's report wins: not monotone (theory §4)."""
    return np.array(dists[int(np.argmin(bids))], dtype=float)


def generic(ops, dists, bids, reference=None, weight=0):
    return linear(dists, bids)


def pay(rule, dists, bids):
    return np.zeros(len(bids))


class Honest:
    name = "honest"
    reserve = 0.0
    claims = {"truthful": True}
    uniforms = 1

    def aggregate(self, dists, bids):
        return linear(dists, bids)

    def payments(self, dists, bids):
        return expected_payments(get_rule("linear"), dists, bids).values

    def sample(self, q, u):
        return int(np.searchsorted(np.cumsum(q), u, side="right"))


# -- loading each kind -------------------------------------------------------------------
def test_each_kind_of_check_target_loads_as_its_kind():
    assert read_target(get_rule("linear")).kind == "rule"
    assert read_target(get_payment_rule("second_price")).kind == "payment"
    g = read_target(generic)
    assert g.kind == "rule" and g.obj.generic is generic and g.name == "generic"
    assert (read_target(linear).kind, read_target(linear).name) == ("rule", "linear")
    assert read_target(pay).kind == "payment"
    assert read_target(linear, "payment").kind == "payment"  # --kind overrides the guess


def test_a_mechanism_is_read_into_typed_fields():
    u = read_mechanism(Honest())
    assert (u.kind, u.name, u.reserve, u.uniforms, u.context) == ("mechanism", "honest", 0.0,
                                                                  1, False)
    assert u.claims == {"truthful": True}
    assert u.aggregate.__func__ is Honest.aggregate and u.payments.__func__ is Honest.payments
    assert u.sample.__func__ is Honest.sample and u.rule is None


def test_a_token_auction_is_its_rule_and_expected_payments():
    auction = TokenAuction("linear", payment="pay_your_bid")
    u = read_mechanism(auction)
    assert u.rule is auction.rule and u.sample is None
    np.testing.assert_array_equal(u.payments(P, B),
                                  expected_payments(auction.rule, P, B, "pay_your_bid").values)


def test_a_mechanism_without_aggregate_names_the_method():
    class NoAggregate:
        def payments(self, dists, bids):
            return np.zeros(len(bids))
    with pytest.raises(InvalidRule, match=r"NoAggregate exposes no aggregate\(dists, bids\)"):
        read_mechanism(NoAggregate())


def test_protocol_attributes_are_read_once_per_audit():
    reads = []

    class Counted(Honest):
        @property
        def reserve(self):
            reads.append("reserve")
            return 0.0
    report = audit_mechanism(Counted(), use_suite=False, max_examples=8)
    assert reads == ["reserve"] and report.verdict("truthful") is Verdict.NOT_REFUTED


# -- objects that lie --------------------------------------------------------------------
class RaisingReserve(Honest):
    @property
    def reserve(self):
        raise RuntimeError("no reserve today")


class RaisingClaims:
    @property
    def claims(self):
        raise RuntimeError("no claims today")

    def __call__(self, dists, bids):
        return linear(dists, bids)


def test_a_raising_property_is_a_usage_error_naming_it():
    with pytest.raises(InvalidInput, match=r"reading RaisingReserve\.reserve raised "
                                           r"RuntimeError: no reserve today"):
        audit_mechanism(RaisingReserve(), use_suite=False, max_examples=4)
    with pytest.raises(InvalidInput, match=r"reading RaisingClaims\.claims raised RuntimeError"):
        check(RaisingClaims(), ["normalized"], max_examples=4, prove=False)


class AnswersEverything(Honest):
    """Whatever attribute is asked for, 42."""

    def __getattr__(self, key):
        return 42


class CallableAnswersEverything:
    def __getattr__(self, key):
        return 42

    def __call__(self, dists, bids):
        return linear(dists, bids)


def test_getattr_answering_anything_is_refused_naming_the_attribute():
    class NoPayments:  # payments answered by __getattr__, not defined
        aggregate = Honest.aggregate

        def __getattr__(self, key):
            return 42
    with pytest.raises(InvalidInput, match=r"NoPayments\.payments is int 42: expected a method"):
        audit_mechanism(NoPayments(), use_suite=False, max_examples=4)
    with pytest.raises(InvalidInput, match=r"\.kind is int 42: expected 'rule' or 'payment'"):
        check(CallableAnswersEverything(), ["normalized"], max_examples=4, prove=False)


def test_getattr_answering_none_is_judged_as_the_plain_object():
    class Quiet(Honest):
        def __getattr__(self, key):
            return None
    quiet = audit_mechanism(Quiet(), use_suite=False, max_examples=12, name="m")
    plain = audit_mechanism(Honest(), use_suite=False, max_examples=12, name="m")
    assert [(f.property, f.verdict, f.detail) for f in quiet.findings] == \
        [(f.property, f.verdict, f.detail) for f in plain.findings]
    assert quiet.verdict("payment_identity") is Verdict.NOT_REFUTED


class TurnsHonest:
    """Not monotone; on its first call it patches its class to look monotone afterwards."""

    name = "turns-honest"

    def aggregate(self, dists, bids):
        type(self).aggregate = lambda self, d, b: linear(d, b)
        return lowest(dists, bids)


class CallTurnsHonest:
    def __call__(self, dists, bids):
        type(self).__call__ = lambda self, d, b: linear(d, b)
        return lowest(dists, bids)


def test_a_method_patched_after_load_does_not_change_what_is_judged():
    report = audit_mechanism(TurnsHonest(), use_suite=False, max_examples=12)
    assert report.verdict("monotone") is Verdict.REFUTED
    got = check(CallTurnsHonest(), ["monotone:box"], max_examples=40, prove=False, seed=1)
    assert got.verdict("monotone", "box") is Verdict.REFUTED


def test_a_subclass_overriding_after_load_is_judged_as_loaded():
    class Sub(Honest):
        pass
    t = Target(Sub(), kind="mechanism")
    Sub.aggregate = lambda self, d, b: lowest(d, b)  # after load: not what was read
    np.testing.assert_allclose(t.rule.evaluate(P, B), linear(P, B))


def exits(dists, bids):
    raise SystemExit(0)


class Exits(Honest):
    def aggregate(self, dists, bids):
        raise SystemExit(0)


def test_a_rule_calling_sys_exit_is_refuted_not_a_clean_exit():
    got = check(exits, ["normalized"], max_examples=4, prove=False)
    f = got.findings[0]
    assert (got.exit_code, f.verdict) == (1, Verdict.REFUTED) and "SystemExit(0)" in f.detail
    report = audit_mechanism(Exits(), use_suite=False, max_examples=4)
    assert report.verdict("aggregate_valid") is Verdict.REFUTED and report.exit_code == 1
    assert "SystemExit(0)" in str(report.findings[0].counterexample)


# -- the same refusals through the CLI (the object is read in its worker) -------------------
LIARS = textwrap.dedent('''
    import numpy as np

    class RaisingReserve:
        @property
        def reserve(self):
            raise RuntimeError("no reserve today")

        def aggregate(self, dists, bids):
            b = np.asarray(bids, dtype=float)
            return b @ np.asarray(dists) / b.sum()

    class Rule:
        def __getattr__(self, key):
            return 42

        def __call__(self, dists, bids):
            b = np.asarray(bids, dtype=float)
            return b @ np.asarray(dists) / b.sum()

    rule = Rule()
''')


def test_cli_refuses_a_lying_object_with_one_line_naming_the_attribute(capsys, tmp_path):
    path = tmp_path / "liars.py"
    path.write_text(LIARS)
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{path}:RaisingReserve",
                      "--max-examples", "4", "--no-suite")
    assert rc == 2 and "RaisingReserve.reserve raised RuntimeError" in out, out
    rc, out = run_cli(capsys, "check", f"{path}:rule", "--max-examples", "4", "--no-prove")
    assert rc == 2 and ".kind is int 42" in out, out


def test_a_mechanism_named_by_its_spec_is_loaded_and_read_like_the_object():
    t = Target("tests.properties.test_protocol:Honest", kind="mechanism")
    assert (t.kind, t.name, t.has_payments, t.has_sample) == ("mechanism", "honest", True, True)
    np.testing.assert_allclose(t.rule.evaluate(P, B), linear(P, B))
