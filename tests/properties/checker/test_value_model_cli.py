"""Value models and restrictions on the command line and in loading: --valuation, --reports, --kind, --arg,
--path, unusable callables as usage errors, imported logs, budgets that say what they cut."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from mechanism import TokenAuction, get_payment_rule, get_rule
from mechanism.errors import InvalidInput
from mechanism.verdicts import Verdict
from properties import check
from properties.audit.logs import audit_log, digest
from tokenauction.cli import main as cli


# -- loading -------------------------------------------------------------------------------

UNBOUND = textwrap.dedent("""
    import numpy as np
    class Mech:
        def run(self, bids, dists):
            return np.asarray(dists)[0]
""")


def test_unbound_method_is_a_usage_error(tmp_path, capsys):
    f = tmp_path / "mech.py"
    f.write_text(UNBOUND)
    assert cli(["check", f"{f}:Mech.run", "--max-examples", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unbound method" in err[0]


def test_a_class_is_a_usage_error_for_check(tmp_path, capsys):
    f = tmp_path / "mech.py"
    f.write_text(UNBOUND)
    assert cli(["check", f"{f}:Mech", "--max-examples", "5"]) == 2
    assert "is a class" in capsys.readouterr().err


def test_kind_overrides_the_guess():
    def pay(rule, dists, bids):   # three parameters: guessed a payment rule
        return np.zeros(len(bids))
    rep = check(pay, ["payment_nonnegative"], max_examples=5, kind="payment")
    assert rep.verdict("payment_nonnegative") is Verdict.NOT_REFUTED
    with pytest.raises(InvalidInput):
        check(get_rule("linear"), max_examples=5, kind="payment")


def test_file_inside_a_package_with_relative_import(tmp_path, capsys):
    root = tmp_path / "proj"
    pkg = root / "ads" / "rules"
    pkg.mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'ads'\n")
    (root / "ads" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "common.py").write_text("import numpy as np\n"
                                   "def mix(P, b):\n    b = np.asarray(b, float)\n"
                                   "    return (b / b.sum()) @ np.asarray(P, float)\n")
    (pkg / "mine.py").write_text("from .common import mix\n"
                                 "def rule(dists, bids):\n    return mix(dists, bids)\n")
    rc = cli(["check", str(pkg / "mine.py") + ":rule", "--property", "normalized",
              "--max-examples", "5", "--no-prove"])
    assert rc == 0, capsys.readouterr()


def test_path_option_finds_a_module(tmp_path, capsys):
    (tmp_path / "elsewhere_rules.py").write_text(
        "import numpy as np\ndef rule(dists, bids):\n    b = np.asarray(bids, float)\n"
        "    return (b / b.sum()) @ np.asarray(dists, float)\n")
    rc = cli(["check", "elsewhere_rules:rule", "--path", str(tmp_path), "--property",
              "normalized", "--max-examples", "5", "--no-prove"])
    assert rc == 0, capsys.readouterr()
    assert cli(["check", "x:y", "--path", str(tmp_path / "nope")]) == 2


# -- value models on the CLI -------------------------------------------------------------------

def test_check_cli_names_the_value_model(capsys):
    rc = cli(["check", "second_price", "--property", "truthful", "--valuation", "kl",
              "--max-examples", "10", "--json"])
    out = json.loads(capsys.readouterr().out)
    f = next(f for f in out["findings"] if f["property"] == "truthful")
    assert rc == 1 and f["verdict"] == "REFUTED" and "kl_forward" in f["detail"]
    assert cli(["check", "second_price", "--valuation", "bogus"]) == 2


def test_second_price_is_individually_rational_under_tv():
    rep = check(get_payment_rule("second_price"), ["individually_rational"], max_examples=15)
    f = rep.find("individually_rational")[0]
    assert f.verdict is Verdict.NOT_REFUTED and "value model tv" in f.detail


def test_pay_your_bid_is_not_individually_rational_and_the_repro_runs():
    rep = check(get_payment_rule("pay_your_bid"), ["individually_rational"], max_examples=20)
    f = rep.find("individually_rational")[0]
    assert f.verdict is Verdict.REFUTED
    ns = {}
    with pytest.raises(AssertionError):
        exec(f.counterexample["repro"], ns)


USER_MODELS = textwrap.dedent("""
    import numpy as np
    def l2(p, q):
        return -float(np.sum((np.asarray(q) - np.asarray(p)) ** 2))
    def nan(p, q):
        return float("nan")
    def text(p, q):
        return "abc"
    def flag(p, q):
        return True
""")


@pytest.mark.parametrize("prop", ["payment_identity", "truthful"])
def test_a_refuted_user_value_model_gets_a_runnable_reproduction(tmp_path, capsys, prop):
    """The reproduction loads the model by its file spec (planted: by its name, 'l2', an
    unknown value model in a fresh process: NOT confirmed)."""
    f = tmp_path / "models.py"
    f.write_text(USER_MODELS)
    rc = cli(["check", "second_price", "--valuation", f"{f}:l2", "--property", prop,
              "--no-prove", "--max-examples", "10"])
    out = capsys.readouterr().out
    assert rc == 1 and "ran in a fresh process and failed as expected" in out, out
    assert f"load_spec('{f}:l2', '--valuation')" in out, out


@pytest.mark.parametrize("name,words", [("nan", "returned nan"), ("text", "returned str")])
@pytest.mark.parametrize("argv", [["check", "second_price", "--no-prove", "--property",
                                   "payment_identity"],
                                  ["check", "second_price", "--no-prove", "--property",
                                   "truthful"],
                                  ["audit", "--mechanism", "tests.helpers.llm_ads:SegmentAuction",
                                   "--no-suite"]])
def test_a_user_value_model_that_returns_no_real_number_is_a_usage_error(
        tmp_path, capsys, name, words, argv):
    """Was (red team): NaN values REFUTED payment_identity (a NaN identity) and left
    truthful NOT_REFUTED; a string ended in 'the checker itself failed', exit 0."""
    f = tmp_path / "models.py"
    f.write_text(USER_MODELS)
    rc = cli([*argv, "--valuation", f"{f}:{name}", "--max-examples", "10"])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and "internal error" not in err, err


@pytest.mark.parametrize("bad", [float("nan"), np.float64("nan"), "0.5", True, np.bool_(True),
                                 None, [0.5]])
def test_a_callable_value_model_must_return_one_real_number(bad):
    from mechanism.errors import InvalidValueModel
    from mechanism.valuations import as_value_model
    model = as_value_model(lambda p, q: bad, name="mine")
    with pytest.raises(InvalidValueModel, match="value model 'mine' returned"):
        model.values(np.array([0.5, 0.5]), np.array([[0.5, 0.5]]))
    good = as_value_model(lambda p, q: np.float32(-np.inf), name="ok")   # infinite: allowed
    assert good.values(np.array([0.5, 0.5]), np.array([[0.5, 0.5]]))[0] == -np.inf


def test_win_model_in_check_draws_one_hot_reports():
    from tests.helpers.llm_ads import WinnerTakeAllRunnerUp
    m = WinnerTakeAllRunnerUp()

    def pay(rule, dists, bids):
        return m.payments(dists, bids)
    rep = check(pay, ["payment_identity", "truthful"], rule=m.aggregate, max_examples=15,
                valuation="win")
    assert not rep.refuted, str(rep)
    rep_tv = check(pay, ["payment_identity"], rule=m.aggregate, max_examples=30)
    assert rep_tv.verdict("payment_identity") is Verdict.REFUTED


def test_audit_cli_constructor_args_and_valuation(capsys):
    rc = cli(["audit", "--mechanism", "tests.helpers.llm_ads:SegmentAuction",
              "--arg", "relevance=[1, 0.5, 2, 1.5]", "--valuation", "win", "--no-suite",
              "--max-examples", "10"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "(value model win)" in out.splitlines()[0]
    rc = cli(["audit", "--mechanism", "tests.helpers.llm_ads:SegmentAuction",
              "--arg", "nonsense=1", "--no-suite"])
    assert rc == 2


def test_audit_context_drawn_per_instance():
    from properties.audit.implementation import audit_mechanism

    class Ctx:
        name = "ctx-linear"

        def aggregate(self, dists, bids, context):
            w = np.asarray(bids, float) * np.asarray(context["relevance"])[:len(bids)]
            if w.sum() <= 0:
                raise InvalidInput("no weight")
            return (w / w.sum()) @ np.asarray(dists, float)

    seen = []

    def draw(rng):
        seen.append(1)
        return {"relevance": rng.uniform(0.5, 2.0, 4).tolist()}

    rep = audit_mechanism(Ctx(), context=draw, use_suite=False, max_examples=10)
    assert seen and "monotone" not in rep.refuted_properties()
    with pytest.raises(InvalidInput):
        audit_mechanism(get_rule("linear"), context={"x": 1}, use_suite=False)


def test_budget_cut_says_how_many_examples_ran(monkeypatch):
    import time
    clock = [time.perf_counter()]   # a fake clock: only the payment rule's calls move it

    def slow_pay(rule, dists, bids):   # 20 ms a call: a 0.3 s budget cuts the run short
        clock[0] += 0.02
        return np.zeros(len(bids))
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    rep = check(slow_pay, ["payment_nonnegative"], max_examples=400, budget_s=0.3)
    f = rep.find("payment_nonnegative")[0]
    assert f.verdict is Verdict.NOT_REFUTED
    assert "of 200 examples" in f.detail and "--budget" in f.detail, f.detail
    assert f.examples < 200


# -- imported logs -------------------------------------------------------------------------------

def _honest_log(path, tamper=None, inconsistent=False):
    rule = get_rule("linear")
    auction = TokenAuction("linear")
    rng = np.random.default_rng(0)
    lines = [{"format": "tokenauction-log", "version": 1, "mechanism": "honest-linear",
              "payments": "expected", "rule": "linear", "sampler": "inverse_cdf"}]
    P0 = None
    for k in range(6):
        P = rng.dirichlet(np.ones(3), size=2) if P0 is None or k % 2 else P0
        P0 = P
        b = np.array([1.0, 2.0])
        from mechanism import expected_payments, inverse_cdf
        q = rule(P, b)
        z = expected_payments(rule, P, b).values
        u = float(rng.random())
        row = {"step": k, "bids": b.tolist(), "reports": P.tolist(), "outcome": q.tolist(),
               "token": int(inverse_cdf(q, u)), "payments": z.tolist(), "uniforms": [u]}
        if tamper == k:
            row["payments"] = (z * 1.5).tolist()
        if inconsistent and k == 2:
            row = {**row, "payments": (z + 0.01).tolist()}
        lines.append(row)
    del auction
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_honest_log_audits_clean(tmp_path):
    rep = audit_log(str(_honest_log(tmp_path / "log.jsonl")))
    assert not rep.refuted, rep.summary()
    checked = {f.property for f in rep.findings if f.verdict is Verdict.NOT_REFUTED}
    assert {"payment_identity", "individually_rational", "consistent_steps", "sampler",
            "payment_at_most_bid"} <= checked


def test_tampered_log_is_refuted(tmp_path, capsys):
    path = _honest_log(tmp_path / "log.jsonl", tamper=3)
    rep = audit_log(str(path))
    assert "payment_identity" in rep.refuted_properties()
    assert cli(["audit", "--log", str(path)]) == 1
    path = _honest_log(tmp_path / "log2.jsonl", inconsistent=True)
    assert "consistent_steps" in audit_log(str(path)).refuted_properties()


def test_log_with_rule_refutes_ir_exactly_in_the_shared_vocabulary(tmp_path):
    """A payment above what the outcome is worth (here the whole bid) is an exact IR violation
    when the log names its rule; the counterexample is properties.checks.ir_violation's."""
    path = _honest_log(tmp_path / "log.jsonl")
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[3]["payments"] = rows[3]["bids"]
    path.write_text("\n".join(json.dumps(x) for x in rows) + "\n")
    ir = next(f for f in audit_log(str(path)).findings if f.property == "individually_rational")
    assert ir.verdict is Verdict.REFUTED
    c = ir.counterexample
    assert c["exact"] is True and c["value"] == c["bid_from"] and c["utility"] < 0


def test_log_without_rule_checks_ir_bound_and_skips_identity(tmp_path):
    rows = [{"format": "tokenauction-log", "payments": "expected"},
            {"step": 0, "bids": [1.0, 1.0], "reports_digest": digest(np.eye(2)),
             "payments": [0.2, 0.0]},
            {"step": 1, "bids": [1.0, 1.0], "reports": [[1, 0], [0, 1]],
             "outcome": [0.1, 0.9], "payments": [0.5, 0.1]}]
    p = tmp_path / "l.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    rep = audit_log(str(p), valuation="win")
    assert "individually_rational" in rep.refuted_properties()   # pays 0.5 for a 0.1 chance
    assert "consistent_steps" in rep.refuted_properties()        # same digest, other payments
    ident = next(f for f in rep.findings if f.property == "payment_identity")
    assert ident.verdict is Verdict.SKIPPED


def test_bad_log_is_a_usage_error(tmp_path, capsys):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"not": "a header"}\n')
    assert cli(["audit", "--log", str(p)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_check_kind_mechanism_runs_the_mechanism_audit(capsys):
    rc = cli(["check", "tests.helpers.llm_ads:WinnerTakeAllRunnerUp", "--kind", "mechanism",
              "--valuation", "tv", "--max-examples", "8", "--budget", "5"])
    out = capsys.readouterr().out
    assert rc == 1 and "(value model tv)" in out.splitlines()[0]
    assert "payment_identity" in out.split("REFUTED:")[-1]


CHEATS = textwrap.dedent("""
    import numpy as np
    from mechanism import expected_payments

    def _sp(rule, dists, bids):
        return np.array(expected_payments(rule, dists, bids).values, dtype=float)

    def big_vocab(rule, dists, bids):        # pays twice its bid from 6 tokens on
        z = _sp(rule, dists, bids)
        return z + 2 * np.asarray(bids, float) if np.shape(dists)[1] >= 6 else z

    def many_agents(rule, dists, bids):      # pays twice its bid from 5 agents on
        z = _sp(rule, dists, bids)
        return z + 2 * np.asarray(bids, float) if len(bids) >= 5 else z

    def monopoly_rebate(rule, dists, bids):  # an agent without competition is paid its bid
        b = np.asarray(bids, float)
        z = _sp(rule, dists, b)
        for i in range(len(b)):
            if b[i] > 0 and np.delete(b, i).sum() == 0:
                z[i] = -b[i]
        return z
""")


@pytest.mark.parametrize("name,prop", [("big_vocab", "payment_at_most_bid"),
                                       ("many_agents", "payment_at_most_bid"),
                                       ("monopoly_rebate", "payment_nonnegative")])
def test_a_payment_that_cheats_where_the_draws_rarely_go_is_refuted(tmp_path, capsys, name,
                                                                     prop):
    """Was (red team): payment draws stopped at 4 agents and 5 tokens (NOT_REFUTED), and a
    monopolist's violation, relabelled to that agent, hit the competition guard of the
    re-check (UNKNOWN 'did not reproduce', exit 0)."""
    f = tmp_path / "cheats.py"
    f.write_text(CHEATS)
    rc = cli(["check", f"{f}:{name}", "--kind", "payment", "--property", prop, "--no-prove",
              "--max-examples", "100"])
    out = capsys.readouterr().out
    assert rc == 1 and f"REFUTED {prop}" in out and "did not reproduce" not in out, out


def test_the_report_says_when_the_draws_are_restricted(capsys):
    """Was (red team): --valuation win drew one-hot reports only, and the report said
    "reports": null with no word in its header."""
    rc = cli(["check", "second_price", "--valuation", "win", "--rule", "winner_take_all",
              "--property", "payment_at_most_bid", "--no-prove", "--max-examples", "10",
              "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["reports"] == "one_hot", doc
    rc = cli(["check", "second_price", "--valuation", "win", "--rule", "winner_take_all",
              "--property", "payment_at_most_bid", "--no-prove", "--max-examples", "10"])
    assert "reports drawn one_hot only" in capsys.readouterr().out


def test_a_property_that_is_no_name_is_invalid_input():
    with pytest.raises(InvalidInput, match="is not a property name"):
        check("linear", properties=[None], max_examples=5)


def test_an_order_given_to_a_property_without_orders_is_refused():
    """Was (red team): 'payment_identity:box' dropped the order without a word."""
    with pytest.raises(InvalidInput, match="payment_identity takes no order"):
        check("second_price", properties=["payment_identity:box"], max_examples=5)
