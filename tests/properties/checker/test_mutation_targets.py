"""The payment mutants of scripts/mutation.py mutate the code that runs.

A mutant patched into a function the payment path no longer calls is "missed" by every
suite (the Myerson mutants once patched ``payments.myerson``, which the batched and the
crossing paths never call): each payment mutant must change the payments of a step.
"""

from __future__ import annotations

import contextlib
import importlib.util
import pathlib

import numpy as np
import pytest

from mechanism import compute_payments, get_rule
from mechanism import payments as PAY

_path = pathlib.Path(__file__).resolve().parents[3] / "scripts" / "mutation.py"
_spec = importlib.util.spec_from_file_location("mutation_script_targets", _path)
mutation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutation)

RULES = {"sp_loglin": get_rule("log_linear"), "sp_linear": get_rule("linear"),
         "sp_wta": get_rule("winner_take_all")}


def _step(seed=3, n=3, V=7):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(V), size=n)
    return P, rng.uniform(0.5, 2.0, size=n)


def _payments(rule, P, b, patches=()):
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(mutation.patched(*patch))
        return compute_payments(rule, P, b).values.copy()


PAYMENT_MUTANTS = [m for m in mutation.MUTANTS if m[2] in RULES]


def test_there_are_payment_mutants_for_every_rule():
    assert {m[2] for m in PAYMENT_MUTANTS} == set(RULES)
    assert len(PAYMENT_MUTANTS) >= 10


@pytest.mark.parametrize("name,patches,battery", PAYMENT_MUTANTS,
                         ids=[m[0] for m in PAYMENT_MUTANTS])
def test_each_payment_mutant_changes_a_payment(name, patches, battery):
    rule = RULES[battery]
    P, b = _step()
    clean = _payments(rule, P, b)
    mutated = _payments(rule, P, b, patches)
    assert not np.allclose(clean, mutated, rtol=1e-6, atol=1e-9), (name, clean, mutated)


def test_a_stale_patch_is_what_this_test_catches():
    """The old Myerson mutant (``payments.myerson`` replaced) leaves the log-linear step's
    payments as they were: the test above would have failed it."""
    rule = RULES["sp_loglin"]
    P, b = _step()

    def no_integral(x, bid, tol, **_):
        return float(bid * x(np.array([bid]))[0]), 0.0

    assert np.array_equal(_payments(rule, P, b),
                          _payments(rule, P, b, [(PAY, "myerson", no_integral)]))
