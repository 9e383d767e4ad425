"""One hypothesis run over a group's examples, and the evidence it leaves.

:class:`SearchRun` counts, per (property, order) key, the examples on which the target
answered validly (``valid``): an example where the target declined the input
(``InvalidInput``), failed (raised, hung, bad output), or where the property does not apply
(the group says why, e.g. an infinite loss on both sides) is no evidence for that key. The
declines are counted per key (``declined``): a key whose examples are mostly declines
(more declined than valid) is UNKNOWN with thin evidence, never NOT_REFUTED (theory §8,
"Declined inputs and reproductions"). An error of the engine itself (not of the target)
is kept and makes the verdict UNKNOWN.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hseed

from mechanism.errors import Float64Range, InvalidValueModel
from mechanism.verdicts import Verdict

from properties.checker.determinism import pinned_constants
from properties.checker.groups import cex as make_cex
from properties.checker.reproduce import failure_fields
from properties.sandbox import RuleFailure, Undefined
from properties.checker.shrink import fmt
from properties.report import Finding


#: Examples still drawn after a key's first violation, keeping the smallest violating one.
MORE_AFTER_FOUND = 10


def _size(c: dict) -> tuple:
    D = c.get("dists")
    return (len(D), len(D[0])) if D is not None and len(D) else (0, 0)


class _Stop(Exception):
    """Ends a hypothesis run early (everything found, time up, or the target hung)."""


class SearchRun:
    def __init__(self, t, group, t_start, deadline, normalized_wanted):
        self.t, self.g, self.t_start, self.deadline = t, group, t_start, deadline
        self.found: dict = {}
        self.found_at: dict = {}
        self.first_s: dict = {}
        self.examples = 0
        self.valid = {k: 0 for k in group.keys}
        self.declined = {k: 0 for k in group.keys}   #: examples the target declined, per key
        self.failed = 0
        self.first_failure = ""
        self.skip_reasons: dict = {}
        self.engine_error = ""
        self.failures: dict = {}
        self.normalized_wanted = normalized_wanted
        self.stopped = ""
        self.seconds = 0.0

    def body(self, x):
        if self.t.hung:
            self.stopped = "the target timed out on an earlier call"
            raise _Stop()
        if time.perf_counter() > self.deadline:
            self.stopped = "time budget used up"
            raise _Stop()
        self.examples += 1
        self.g.begin()
        try:
            got = self.g.search(x)
        except Undefined as exc:
            if exc.__cause__ is not None:   # the rule's own InvalidInput (not W = 0)
                for k in self.g.keys:
                    self.declined[k] += 1
            return
        except Float64Range:   # the checker's own arithmetic (a total weight) beyond float64
            return             # no evidence, and not the target's decline
        except RuleFailure as exc:
            self.failed += 1
            self.first_failure = self.first_failure or str(exc)
            self._failure(exc)
            return
        except (_Stop, InvalidValueModel):   # InvalidValueModel: a usage error, exit 2
            raise
        except Exception as exc:  # noqa: BLE001 - the engine's own error: never NOT_REFUTED
            self.engine_error = self.engine_error or f"{type(exc).__name__}: {exc}"
            return
        except BaseException:     # hypothesis abandons the example (its StopTest): none
            self.examples -= 1
            raise
        for k in self.g.keys:
            if k in self.g.skipped:
                self.skip_reasons.setdefault(k, self.g.skipped[k])
            elif k in self.g.undefined:
                self.declined[k] += 1
            else:
                self.valid[k] += 1
        for k, c in got.items():
            if k not in self.found:
                self.found[k] = c
                self.found_at[k] = self.examples
                self.first_s[k] = time.perf_counter() - self.t_start
            elif _size(c) < _size(self.found[k]):
                self.found[k] = c      # a smaller instance violates too: shrink from it
        if all(k in self.found for k in self.g.keys) and \
                all(self.examples - self.found_at[k] >= MORE_AFTER_FOUND for k in self.g.keys):
            raise _Stop()

    def _failure(self, exc):
        P, b = self.t.last_call
        c = make_cex(P, b, **failure_fields(exc))
        if self.t.kind == "rule" and self.normalized_wanted:
            keys = [("normalized", None)]
        else:
            keys = self.g.keys
        for k in keys:
            if k not in self.failures and k not in self.found:
                self.failures[k] = c
                self.first_s.setdefault(k, time.perf_counter() - self.t_start)
        if exc.kind == "timeout":
            self.t.hung = True
            raise _Stop()

    def run(self, n, seed):
        self.asked = getattr(self, "asked", 0) + max(1, n)
        @hseed(seed)
        @settings(max_examples=max(1, n), deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], verbosity=Verbosity.quiet,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        @given(self.g.strategy())
        def go(x):
            self.body(x)

        try:
            with pinned_constants(self.t.obj, self.t.judge_obj):
                go()
        except _Stop:
            pass
        except InvalidValueModel:  # the user's yardstick is broken: a usage error (exit 2)
            raise
        except Exception as exc:   # hypothesis itself failed (health check, ...)
            self.engine_error = self.engine_error or \
                f"search engine error: {type(exc).__name__}: {exc}"

    def no_violation(self, key) -> Finding:
        """The finding on ``key`` when nothing was found: NOT_REFUTED only with evidence,
        and only where the valid examples outnumber the declined ones."""
        valid, declined = self.valid.get(key, 0), self.declined.get(key, 0)
        if self.engine_error:
            return Finding(key[0], key[1], Verdict.UNKNOWN, "hypothesis",
                           f"the checker itself failed, so the search is not evidence: "
                           f"{self.engine_error}")
        if valid == 0:
            if key in self.skip_reasons:
                return Finding(key[0], key[1], Verdict.SKIPPED, "hypothesis",
                               f"does not apply to any instance tried: {self.skip_reasons[key]}")
            return Finding(key[0], key[1], Verdict.UNKNOWN, "hypothesis",
                           "no valid evaluation, so no evidence: " + self._why_none(declined))
        if declined > valid:
            return Finding(key[0], key[1], Verdict.UNKNOWN, "hypothesis",
                           f"thin evidence: the target declined (InvalidInput) {declined} of "
                           f"{self.examples} examples and answered validly on only {valid}; a "
                           "declined input is no evidence either way, so no violation among "
                           f"{valid} is not a verdict{self._note(key)}")
        return Finding(key[0], key[1], Verdict.NOT_REFUTED, "hypothesis",
                       f"{valid} valid examples of {self.examples}"
                       + (f" ({declined} declined: no evidence)" if declined else "")
                       + f", no violation{self._note(key)}")

    def _why_none(self, declined: int) -> str:
        why = []
        if self.failed:
            why.append(f"the target failed on {self.failed} of {self.examples} examples "
                       f"(first: {self.first_failure})")
        if declined:
            why.append(f"it declined (InvalidInput) {declined} of {self.examples}")
        if self.stopped:
            why.append(f"stopped: {self.stopped}")
        return "; ".join(why) or "nothing was evaluated"

    def _note(self, key) -> str:
        note = f"; stopped early: {self.stopped}" if self.stopped else ""
        asked = getattr(self, "asked", 0)
        if self.stopped and self.examples < asked:  # say what the budget cut
            note += (f" after {self.examples} of {asked} examples (thin evidence: raise --budget "
                     "or --max-examples to run more)")
        if key in self.skip_reasons:
            note += f"; skipped where it does not apply ({self.skip_reasons[key]})"
        return note


def determinism_finding(t, key) -> Finding:
    """``deterministic``: REFUTED with the two answers when the target gave different
    answers for one input anywhere in the check; else NOT_REFUTED on the repeated inputs."""
    ev = t.nondeterministic
    if ev is None:
        n = t.repeats
        if n == 0:
            return Finding(key[0], key[1], Verdict.UNKNOWN, "hypothesis",
                           "no input could be evaluated twice (every call failed)", valid=0)
        return Finding(key[0], key[1], Verdict.NOT_REFUTED, "hypothesis",
                       f"the same answer on {n} repeated evaluations", valid=n)
    call = "rule(dists, bids)" if t.kind == "rule" else "payment(rule, dists, bids)"
    c = make_cex(ev["dists"], ev["bids"], first=ev["first"], second=ev["second"])
    c["repro"] = "\n".join(t.repro_header() + [
        f"dists = np.array({fmt(c['dists'])})", f"bids = np.array({fmt(c['bids'])})",
        f"outs = [np.asarray({call}, dtype=float) for _ in range(200)]",
        "assert all(np.allclose(o, outs[0], rtol=1e-12, atol=1e-12) for o in outs), outs[:2]"
        "  # fails: a different answer for the same input"])
    diff = float(abs(ev["first"] - ev["second"]).max()) if ev["first"].shape == \
        ev["second"].shape else float("nan")
    return Finding(key[0], key[1], Verdict.REFUTED, "hypothesis",
                   f"{ev['label']} gave two different answers for the same input (max "
                   f"difference {diff:.3g})", c, valid=t.repeats)
