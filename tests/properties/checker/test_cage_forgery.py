"""User code that patches the checker cannot forge a verdict (docs/audit.md, the cage):
the search and the verdicts run in the checker's own process; only the target's calls cross
to the worker, only numbers come back, and the checker validates them itself."""

from __future__ import annotations

import textwrap

import pytest

from tests.helpers.recording import run_cli

#: A rule that is not monotone (the lowest bidder's report wins) and that, on import,
#: rewrites every part of the checker it can reach so that a clean report would be printed.
FORGER = textwrap.dedent('''
    import builtins, sys
    import numpy as np

    def lowest(dists, bids):
        return np.array(dists[int(np.argmin(bids))], dtype=float)

    class Mech:
        name = "forger"
        def aggregate(self, dists, bids):
            return lowest(dists, bids)

    def _clean(*a, **k):
        raise SystemExit(0)

    import properties.report as R
    import properties.checker.engine as E
    import properties.checker.cli as C
    import properties.audit.suite as S
    R.Report.exit_code = property(lambda self: 0)
    R.Report.__str__ = lambda self: "nothing refuted"
    R.Report.to_json = lambda self: {"exit_code": 0}
    E.check = _clean
    C.check_one = lambda target, options: ("nothing refuted", {"exit_code": 0}, 0)
    S.suite_findings = lambda *a, **k: []
    builtins.print = lambda *a, **k: None
    sys.modules["properties.checker.search"] = None
''')


@pytest.fixture
def forger(tmp_path):
    path = tmp_path / "forger.py"
    path.write_text(FORGER)
    return str(path)


def test_check_of_a_target_that_patches_the_checker_is_refuted(capsys, forger):
    rc, out = run_cli(capsys, "check", f"{forger}:lowest", "--property", "monotone:box",
                      "--max-examples", "30", "--no-prove")
    assert rc == 1, out
    assert "REFUTED" in out and "monotone" in out


def test_audit_suite_rows_of_a_mechanism_that_patches_the_checker_are_refuted(capsys, forger):
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{forger}:Mech", "--max-examples", "30")
    assert rc == 1, out
    suite_monotone = [line for line in out.splitlines() if "suite:" in line and "monotone" in line]
    assert suite_monotone and any("REFUTED" in line for line in suite_monotone), out


def test_check_of_several_targets_cages_each_that_patches_the_checker(capsys, forger):
    rc, out = run_cli(capsys, "check", f"{forger}:lowest", "linear", "--property",
                      "monotone:box", "--max-examples", "30", "--no-prove")
    assert rc == 1, out
    first = out.split("\n\n")[0]
    assert "forger.py:lowest" in first and "REFUTED" in first, out


#: A target that rewrites its worker's replies: whatever crosses back is judged by the
#: checker's own validation (here: not numbers, so not a distribution).
REPLIES = textwrap.dedent('''
    import sys
    import numpy as np
    import properties.cage_worker
    for W in (sys.modules["__main__"], properties.cage_worker):  # the worker runs as __main__
        W._data = lambda method, out: {"verdict": "NOT_REFUTED"} if method == "aggregate" \\
            else [["nothing refuted"]]

    def rule(dists, bids):
        b = np.asarray(bids, dtype=float)
        return b @ np.asarray(dists) / b.sum()
''')


def test_check_of_a_target_whose_worker_sends_junk_is_never_clean(capsys, tmp_path):
    path = tmp_path / "replies.py"
    path.write_text(REPLIES)
    rc, out = run_cli(capsys, "check", f"{path}:rule", "--max-examples", "20", "--no-prove")
    rows = [line for line in out.splitlines() if " hypothesis " in line]
    assert rc in (0, 1) and rows, out  # no crash: a report
    assert not any("NOT_REFUTED" in line for line in rows), out
    assert "sent back dict" in out  # the cage refuses the junk reply itself


#: A payment rule that charges more than the bid, judged under a caged file rule; it also
#: patches the checker on import.
PAYS = textwrap.dedent('''
    import numpy as np
    import properties.report as R
    R.Report.exit_code = property(lambda self: 0)

    def rule(dists, bids):
        b = np.asarray(bids, dtype=float)
        return b @ np.asarray(dists) / b.sum()

    def overcharge(rule, dists, bids):
        return 2.0 * np.asarray(bids, dtype=float) + 1.0
''')


def test_check_of_a_caged_payment_rule_under_a_caged_rule_is_refuted(capsys, tmp_path):
    path = tmp_path / "pays.py"
    path.write_text(PAYS)
    rc, out = run_cli(capsys, "check", f"{path}:overcharge", "--rule", f"{path}:rule",
                      "--property", "payment_at_most_bid", "--max-examples", "20", "--no-prove")
    assert rc == 1, out
    row = [line for line in out.splitlines() if line.startswith("payment_at_most_bid")]
    assert row and "REFUTED" in row[0], out


#: A value model (``--valuation file.py:NAME``) that, on import, rewrites the checker as the
#: forger does (the patched checker would exit 0 and print nothing); under it truthful
#: bidding is refuted, and the caged value model leaves that verdict and exit 1 standing.
VALUE_FORGER = FORGER + textwrap.dedent('''
    def cost(p, q):        # a cost, not a value: truthful bidding is refuted under it
        return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())
''')

#: A value model that ends its process after a few calls.
VALUE_EXIT = textwrap.dedent('''
    import sys
    calls = [0]
    def evil(p, q):
        calls[0] += 1
        if calls[0] > 5:
            sys.exit(0)
        return 1.0
''')


def test_a_valuation_that_patches_the_checker_is_caged(capsys, tmp_path):
    path = tmp_path / "vforger.py"
    path.write_text(VALUE_FORGER)
    rc, out = run_cli(capsys, "check", "second_price", "--property", "truthful",
                      "--valuation", f"{path}:cost", "--max-examples", "10", "--no-prove")
    assert rc == 1 and "REFUTED" in out, out


def test_a_valuation_that_exits_is_a_usage_error_not_its_exit(capsys, tmp_path):
    path = tmp_path / "vexit.py"
    path.write_text(VALUE_EXIT)
    rc, out = run_cli(capsys, "check", "second_price", "--property", "truthful",
                      "--valuation", f"{path}:evil", "--max-examples", "10", "--no-prove")
    flat = " ".join(out.split())
    # a broken yardstick is a usage error naming it (exit 2, ours; it was UNKNOWN, exit 0)
    assert rc == 2 and "SystemExit" in flat and f"--valuation {path}:evil" in flat, out
    assert "PROVED" not in flat and "NOT_REFUTED" not in flat, out
