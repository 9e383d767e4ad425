"""One registry-driven test (OpenSpiel style): every registered rule x payment x option
(smoothing epsilon, reference, sampler, charge) runs an honest recorded auction on the
synthetic provider, and ``audit_run`` finds it clean (exit 0).

The matrix is read from the registries (``mechanism.rules.RULES``,
``mechanism.payments.PAYMENTS``, ``mechanism.auction.SAMPLERS``), so registering a rule
adds its rows. A combination the mechanism refuses by its documented preconditions
(:func:`refusal`) must raise :class:`mechanism.InvalidInput` instead: it is tested too,
never skipped.
"""

from __future__ import annotations

import inspect

import pytest

from mechanism import InvalidInput, get_rule
from mechanism import rules as R
from mechanism.auction import SAMPLERS
from mechanism.payments import PAYMENTS, valuation_loss
from properties.audit.replay import audit_run

from tests.helpers.recording import record

#: Smoothing levels tried for a rule whose factory takes ``epsilon`` (0.1 and the demo's 1e-4).
EPSILONS = (0.1, 1e-4)
STEPS = 3


def _rule_variants():
    for name in sorted(R.RULES):
        yield name, {}
        if "epsilon" in inspect.signature(R.RULES[name]).parameters:
            for eps in EPSILONS:
                yield name, {"epsilon": eps}


def _cases():
    for name, options in _rule_variants():
        for payment in PAYMENTS:
            for reference in (False, True):
                for sampler in SAMPLERS:
                    charges = ("expected", "realized") if sampler in (
                        "joint_linear", "exponential_race") else ("expected",)
                    for charge in charges:
                        yield name, options, payment, reference, sampler, charge


def _id(case):
    name, options, payment, reference, sampler, charge = case
    eps = f"eps{options['epsilon']:g}" if options else ""
    return "-".join(x for x in (name + eps, payment, "ref" if reference else "", sampler,
                                charge) if x)


CASES = list(_cases())


def refusal(rule, payment, reference, sampler, charge, n) -> str | None:
    """Why the mechanism refuses this combination (documented preconditions), or None.
    A realized charge is the joint sampler's threshold: the payment rule is not computed."""
    if payment == "valuation" and charge == "expected":
        try:
            valuation_loss(rule)
        except InvalidInput:
            return "the rule minimizes no known KL: no valuation payment"
    if sampler == "joint_linear" and (rule.generic is not R.linear or reference or n != 2):
        return "joint_linear needs the linear rule, two agents and no active reference"
    if sampler == "exponential_race" and (rule.generic is not R.linear or rule.epsilon):
        # was recorded, and audited clean: its tokens follow the linear mixture, not q
        return "exponential_race needs the linear rule without smoothing"
    return None


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_honest_run_audits_clean(tmp_path, case):
    name, options, payment, reference, sampler, charge = case
    rule = get_rule(name, **options)
    n = 2 if sampler in ("joint_linear", "auto") else 3
    kw = dict(n=n, steps=STEPS, rule=rule, payment=payment, sampler=sampler, charge=charge,
              reference=reference, reference_weight=0.5 if reference else None)
    why = refusal(rule, payment, reference, sampler, charge, n)
    if why is not None:
        with pytest.raises(InvalidInput):
            record(tmp_path / "run", **kw)
        return
    report = audit_run(record(tmp_path / "run", **kw))
    assert report.exit_code == 0, report.summary()
    assert report.steps_replayed == STEPS, report.summary()
    if reference:  # the recorded reference took part in the audited steps
        assert report.header["has_reference"]


def test_matrix_covers_every_registered_rule_and_payment():
    """The matrix is the registries' product: each rule, payment and sampler appears."""
    assert {c[0] for c in CASES} == set(R.RULES)
    assert {c[2] for c in CASES} == set(PAYMENTS)
    assert {c[4] for c in CASES} == set(SAMPLERS)
