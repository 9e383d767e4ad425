"""The tricky-target corpus: no false PROVED, no evidence-free NOT_REFUTED.

Every target of tests/properties/checker/tricky_targets.py goes through ``check`` with the default
settings (seed, budget, the prover included), loaded by its ``file.py:NAME`` string as a
user would. For each, ``WITNESSES`` holds one concrete violation, re-checked here on the
numpy reference (the ground truth). The verdicts must then satisfy:

* no PROVED finding whose scope contains the witness's size (a false PROVED);
* no NOT_REFUTED without valid evaluations, and none at all on a target that never
  answers validly (it raises on every call or returns a scalar);
* the witnessed property's verdict is REFUTED (each witness is a violation).

``tally`` counts the first two; run this module as a script to print them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest

from mechanism import prefers
from mechanism.verdicts import Scope, Verdict
from properties import check
from properties.loading import load_spec

HERE = os.path.relpath(os.path.join(os.path.dirname(__file__), "tricky_targets.py"))


@dataclass
class Witness:
    """One concrete violation of ``key`` by the target (the corpus's ground truth)."""

    key: tuple                      #: (property, order or None)
    dists: list
    bids: list
    agent: int | None = None
    bid_from: float | None = None
    bid_to: float | None = None
    properties: list | None = None  #: what to ask check (None: every property of the kind)
    never_valid: bool = False       #: the target never answers validly
    xfail: str | None = None

    @property
    def size(self):
        return len(self.bids), len(self.dists[0])


def mon(order, dists, bids, agent, s0, s1, **kw):
    return Witness(("monotone", order), dists, bids, agent, s0, s1, **kw)


TWO = [[1.0, 0.0], [0.0, 1.0]]
WITNESSES: dict[str, Witness] = {
    "py_branch": mon("box", TWO, [0.99, 1.0], 0, 0.99, 1.0, properties=["monotone"]),
    "np_where_zero": mon("box", TWO, [0.0, 1.0], 0, 0.0, 0.01, properties=["monotone"]),
    "np_maximum_dip": mon("box", TWO, [0.0, 1.0], 0, 0.0, 0.25, properties=["monotone"]),
    "np_clip_cap": mon("box", TWO, [2.0, 1.0], 0, 2.0, 3.0, properties=["monotone"]),
    "positive_zero": mon("box", TWO, [0.0, 1.0], 0, 0.0, 0.01, properties=["monotone"]),
    "rare_literal": mon("box", TWO, [0.36, 1.0], 0, 0.36, 0.37, properties=["monotone"]),
    "size_dependent": mon("box", [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]],
                          [1.0, 1.0, 1.0, 1.0], 0, 1.0, 2.0, properties=["monotone"]),
    "vocab_dependent": mon("box", [[1.0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0]], [1.0, 1.0], 0,
                           1.0, 2.0, properties=["monotone:box", "monotone:l2"]),
    "python_threshold": mon("box", TWO, [2.0, 1.0], 0, 2.0, 3.0,
                            properties=["monotone:box", "monotone:tv"]),
    "squared_weights": Witness(("normalized", None), TWO, [1e160, 1.0],
                               properties=["normalized", "scale_invariant"]),
    "hellinger_pool": mon("l2", [[0.1, 0.9, 0.0], [0.0, 0.1, 0.9]], [1.0, 0.0], 1, 0.0, 0.01,
                          properties=["monotone:l2"]),
    "nondeterministic": Witness(("deterministic", None), TWO, [1.0, 2.0],
                                properties=["deterministic", "monotone:box", "normalized"]),
    "always_raises": Witness(("normalized", None), TWO, [1.0, 1.0], never_valid=True),
    "returns_scalar": Witness(("normalized", None), TWO, [1.0, 1.0], never_valid=True),
    "slate_share": Witness(("payment_at_most_bid", None), TWO, [0.3, 0.2],
                           properties=["payment_at_most_bid", "payment_nonnegative"]),
    "payment_raises": Witness(("payment_at_most_bid", None), TWO, [0.3, 0.2], never_valid=True,
                              properties=["payment_at_most_bid", "payment_nonnegative",
                                          "zero_bid_pays_zero", "payment_identity"]),
}


def witness_holds(name: str, w: Witness) -> bool:
    """The witness really is a violation (computed on the numpy reference)."""
    obj = load_spec(f"{HERE}:{name}")
    P, b = np.array(w.dists), np.array(w.bids)
    prop, order = w.key
    if prop == "monotone":
        if getattr(obj, "__code__", None) and obj.__code__.co_varnames[0] == "ops":
            from mechanism.rules import Rule
            obj = Rule(name, obj)
        b0, b1 = b.copy(), b.copy()
        b0[w.agent], b1[w.agent] = w.bid_from, w.bid_to
        with np.errstate(all="ignore"):
            q0, q1 = obj(P, b0), obj(P, b1)
        return not prefers(P[w.agent], q1, q0, order)
    if prop == "normalized":
        try:
            with np.errstate(all="ignore"):
                q = np.asarray(obj(P, b), dtype=float)
        except Exception:
            return True
        return q.shape != (P.shape[1],) or not np.isfinite(q).all() or abs(q.sum() - 1) > 1e-6
    if prop == "deterministic":
        outs = {tuple(np.asarray(obj(P, b), float)) for _ in range(40)}
        return len(outs) > 1
    if prop == "payment_at_most_bid":
        try:
            z = np.asarray(obj(None, P, b), dtype=float)
        except Exception:
            return w.never_valid
        return bool((z > b + 1e-7).any())
    raise AssertionError(prop)


def scope_of(f) -> Scope | None:
    s = getattr(f, "scope", None)
    if s is None:   # a PROVED without a scope: the prover's bounds
        return Scope(max_agents=3, max_tokens=4)
    return s


@dataclass
class Judgement:
    false_proved: list = field(default_factory=list)
    evidence_free: list = field(default_factory=list)
    missed: list = field(default_factory=list)


def judge(name: str, w: Witness, report) -> Judgement:
    out = Judgement()
    n, V = w.size
    for f in report.findings:
        if f.verdict is Verdict.PROVED and (f.property, f.order) == w.key \
                and scope_of(f).contains(n, V):
            out.false_proved.append(f"{f.property}:{f.order} {f.engine} {f.detail}")
        if f.verdict is Verdict.NOT_REFUTED:
            valid = getattr(f, "valid", None)
            if w.never_valid or valid == 0 or f.examples == 0:
                out.evidence_free.append(f"{f.property}:{f.order} {f.detail}")
    verdict = report.verdict(*w.key)
    for f in report.find(*w.key):
        if f.verdict is Verdict.REFUTED and (f.counterexample or {}).get("reproduced") is False:
            out.missed.append(f"{w.key}: the reproduction did not fail in a fresh process: "
                              f"{f.counterexample.get('repro_note')}")
    if verdict is not Verdict.REFUTED:   # the witness is a real violation: nothing else is honest
        out.missed.append(f"{w.key}: {verdict}")
    return out


def test_judge_counts_anything_but_refuted_as_a_miss():
    """The judge itself can fail: on a witnessed violation an UNKNOWN (even with a reason), a
    NOT_REFUTED without evidence and a PROVED inside its scope are each reported."""
    from properties.report import Finding, Report
    w = WITNESSES["py_branch"]
    for verdict, field_name in [(Verdict.UNKNOWN, "missed"), (Verdict.NOT_REFUTED, "missed"),
                                (Verdict.PROVED, "false_proved")]:
        f = Finding("monotone", "box", verdict, "hypothesis", "the engine gave up: a reason",
                    scope=Scope(max_agents=3, max_tokens=4) if verdict is Verdict.PROVED
                    else None)
        f.examples, f.valid = 10, 0
        j = judge("py_branch", w, Report("py_branch", "rule", [f], 0.0, {}))
        assert getattr(j, field_name), (verdict, j)
    ok = Finding("monotone", "box", Verdict.REFUTED, "hypothesis", "found", {"reproduced": True})
    assert judge("py_branch", w, Report("py_branch", "rule", [ok], 0.0, {})) == Judgement()


def run_case(name: str, w: Witness):
    return check(f"{HERE}:{name}", w.properties)


@pytest.mark.parametrize("name", list(WITNESSES))
def test_witness_is_a_real_violation(name):
    assert witness_holds(name, WITNESSES[name]), name


#: Judged on the first of the three runs of
#: test_a_nondeterministic_target_gets_the_same_verdicts_on_every_run (its properties and
#: one more), not in a fourth run of the same check.
JUDGED_ELSEWHERE = {"nondeterministic"}


def _cases():
    return [pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason=w.xfail)]
                         if w.xfail else []) for name, w in WITNESSES.items()
            if name not in JUDGED_ELSEWHERE]


@pytest.mark.slow
@pytest.mark.parametrize("name", _cases())
def test_corpus_target_gets_an_honest_verdict(name):
    w = WITNESSES[name]
    report = run_case(name, w)
    j = judge(name, w, report)
    assert not j.false_proved, (name, j.false_proved)
    assert not j.evidence_free, (name, j.evidence_free)
    assert not j.missed, (name, j.missed, str(report))


@pytest.mark.slow
def test_a_nondeterministic_target_gets_the_same_verdicts_on_every_run():
    """A random target once flipped between REFUTED and UNKNOWN from run to run. Each
    check loads the file again, so the target's random.Random() starts from a fresh OS seed."""
    w = WITNESSES["nondeterministic"]
    tables = []
    for run in range(3):
        r = check(f"{HERE}:nondeterministic", w.properties + ["anonymous"])
        tables.append([(f.property, f.order, str(f.verdict)) for f in r.findings])
        if run == 0:   # the corpus judgement of this target (test_corpus_target_gets_...)
            j = judge("nondeterministic", w, r)
            assert not j.false_proved and not j.evidence_free and not j.missed, j
    assert tables[0] == tables[1] == tables[2], tables
    assert ("deterministic", None, "REFUTED") in tables[0]
    assert all(v == "UNKNOWN" for p, _, v in tables[0] if p != "deterministic")


def tally() -> dict:
    """Counts over the corpus: targets with a false PROVED / an evidence-free NOT_REFUTED."""
    counts = {"targets": len(WITNESSES), "false_proved": 0, "evidence_free": 0, "missed": 0}
    for name, w in WITNESSES.items():
        try:
            j = judge(name, w, run_case(name, w))
        except Exception as exc:  # noqa: BLE001 - a crash of check counts as a miss
            print(f"{name}: check raised {type(exc).__name__}: {exc}")
            counts["missed"] += 1
            continue
        for k in ("false_proved", "evidence_free", "missed"):
            if getattr(j, k):
                counts[k] += 1
                print(f"{name}: {k}: {getattr(j, k)}")
    return counts


if __name__ == "__main__":
    print(tally())
