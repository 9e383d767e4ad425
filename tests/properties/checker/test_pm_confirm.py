"""payment_monotone confirms a violation within the quadrature's noise before REFUTED.

A false REFUTED: under a weight capped at 1 (``min(b, 1)``) the outcome is frozen above
bid 1, so second price pays exactly the same at 1.001 as at 1; the mechanism's
Gauss-Kronrod put Z(1.001) 1.1e-7 below Z(1) (its estimate under-reports next to the
kink) and PM read that as "dearer, not better". A payment genuinely dearer on the frozen
stretch must still be refuted by the same check.
"""

import numpy as np

from mechanism.payments import PaymentRule, get_payment_rule
from properties import oracle
from properties.checker.groups import cex
from properties.checker.payment_checks import PaymentGroup
from proofs.unbounded.families import normalized
from properties.target import Target
from tokenauction.cli import main as cli_main

capped = normalized(lambda b, fn: fn.min(b, 1), name="capped")
KEY = ("payment_monotone", "box")
# the counterexample the false REFUTED printed: agent 1 moves from 1.001 to 1
P, BIDS = np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([1.0, 1.001])
CEX = cex(P, BIDS, 1, 1.001, 1.0, order="box")


def _group(payment):
    return PaymentGroup(Target(payment, rule=capped), [KEY])


def _noisy(rule, dists, bids):
    """Second price with the mechanism's old error at this counterexample: 1.1e-7 less
    above bid 1 (mechanism.valuations.flat_tail now computes it exactly)."""
    z = get_payment_rule("second_price")(rule, dists, bids)
    return z - 1.1e-7 * (np.asarray(bids) > 1.0)


def test_capped_second_price_is_not_refuted_at_the_printed_counterexample():
    assert _group(get_payment_rule("second_price")).verify(KEY, dict(CEX)) is None
    noisy = PaymentRule("noisy_second_price", _noisy)
    z = [noisy(capped, P, np.array([1.0, s]))[1] for s in (1.0, 1.001)]
    assert z[0] - z[1] > 1e-7   # the noise the check saw (exact: equal)
    assert _group(noisy).verify(KEY, dict(CEX)) is None


def test_the_oracle_difference_is_exact_across_the_frozen_stretch():
    x = lambda s: np.minimum(np.asarray(s), 1.0) / (np.minimum(np.asarray(s), 1.0) + 0.5)  # noqa: E731
    d, err = oracle.difference(x, 1.0, 1.001)
    assert abs(d) < 1e-14 and err < 1e-12
    d, err = oracle.difference(x, 0.5, 0.25)   # Z(0.25) - Z(0.5) on the rising part
    exact = lambda s: s * x(s) - (s - 0.5 * np.log1p(2 * s))  # noqa: E731
    assert abs(d - (exact(0.25) - exact(0.5))) < 1e-12 and err < 1e-9


def _planted(rule, dists, bids):
    """Pays 1e-3 b_i more than second price: dearer on the frozen stretch (by 1e-6 from 1
    to 1.001, within the confirmation's range) and not Myerson's payment."""
    return get_payment_rule("second_price")(rule, dists, bids) + 1e-3 * np.asarray(bids)


planted = PaymentRule("planted_dearer", _planted)


def test_a_planted_dearer_payment_is_still_refuted():
    found = _group(planted).verify(KEY, cex(P, BIDS, 1, 1.0, 1.001, order="box"))
    assert found is not None and found["kind"] == "dearer_not_better"
    assert "confirmed" not in found   # not Myerson's payment: its own numbers stand


def test_check_of_capped_second_price_does_not_refute_pm(capsys):
    assert cli_main(["check", "second_price", "--rule", f"{__file__}:capped", "--property",
                     "payment_monotone:box", "--max-examples", "50"]) == 0
    assert "REFUTED payment_monotone" not in capsys.readouterr().out
    assert cli_main(["check", f"{__file__}:planted", "--kind", "payment", "--rule",
                     f"{__file__}:capped", "--property", "payment_monotone:box",
                     "--max-examples", "50"]) == 1
    assert "REFUTED payment_monotone (box)" in capsys.readouterr().out
