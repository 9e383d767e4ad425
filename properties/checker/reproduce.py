"""Reproductions that run: every printed reproduction is executed, exactly as printed, in a
fresh Python process before its finding is marked ``reproduced`` .

All reproductions of one report run in ONE subprocess (each in its own namespace, with the
checker's working directory and environment, so ``load_target('my_rule.py:f')`` finds the
same file the user named). A reproduction is confirmed when it fails as it says it will:
an ``AssertionError``, or, for a target that raised, the same error: the same exception type
AND the same message (:func:`failure_fields` records both when the finding is made; a
different error is "it failed differently", not confirmed). A reproduction that cannot run
as printed (the target has no importable name) is marked so, with the reason. A target's
failure (raised, NaN, unnormalized, ...) is re-run here (:func:`verify_failure`) and gets
its reproduction lines here too (:func:`failure_repro`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from properties.cage import printable
from properties.checker.repro_imports import NOT_RUNNABLE
from properties.checker.shrink import fmt
from properties.sandbox import RuleFailure, Undefined

#: ``repro_note`` of a reproduction that ran without failing (``check`` then says UNKNOWN).
PASSED = "it ran without failing"

#: Wall-clock limit for the one subprocess running every reproduction of a report (seconds).
REPRO_TIMEOUT_S = 120.0

_RUNNER = r"""
import json, sys, warnings
from properties.confine import confine
confine()  # the target runs here too: it may not write, fork or signal (properties.confine)
warnings.simplefilter("ignore")
out = []
for src in json.load(sys.stdin):
    try:
        exec(compile(src, "<reproduction>", "exec"), {"__name__": "__reproduction__"})
        out.append(["passed", ""])
    except BaseException as exc:
        out.append([type(exc).__name__, str(exc)[:1000]])
print("@@REPRO@@" + json.dumps(out))
"""


#: Characters of an exception's message compared (as :func:`properties.cage.printable`
#: shows them: the cage sends a message cut and escaped this way).
MESSAGE_CHARS = 200


def error_message(text) -> str:
    """An exception's message as it is compared: escaped and cut like the cage's."""
    return printable(text, MESSAGE_CHARS)


def raised_message(exc) -> str:
    """The message of the exception the target raised, behind a RuleFailure of kind
    ``raised``: its cause (a direct call) or the text after ``raised NAME:`` (a caged call,
    whose exception stays in the worker)."""
    if exc.__cause__ is not None:
        return error_message(str(exc.__cause__))
    marker = f"raised {exc.exception}: "
    text = str(exc)
    at = text.find(marker)
    return error_message(text[at + len(marker):]) if at >= 0 else ""


def failure_fields(exc) -> dict:
    """What a counterexample records of a target's failure (a RuleFailure): its kind, the
    report's message, and for kind ``raised`` the exception's type and own message, which a
    reproduction must raise again to be confirmed."""
    out = {"error": exc.kind, "message": str(exc), "exception": exc.exception}
    if exc.kind == "raised":
        out["exception_message"] = raised_message(exc)
    return out


def _expected(cex: dict, got: str, message: str) -> bool:
    """Did the reproduction fail as its finding says? A target that raised must raise the
    same exception type with the same message; any other finding fails an assert."""
    if cex.get("error") == "raised":
        return got == cex.get("exception") and \
            error_message(message) == cex.get("exception_message")
    return got == "AssertionError"


def value_model_lines(model) -> list[str]:
    """A reproduction's ``model = ...``: a built-in value model by name, a user's by the
    ``file.py:NAME`` it was loaded from (by its name alone it is unknown in a fresh
    process, and the reproduction was NOT confirmed)."""
    if model.source is not None:
        return ["from mechanism.valuations import as_value_model",
                "from properties.loading import load_spec",
                f"model = as_value_model(load_spec({model.source!r}, '--valuation'))"]
    return ["from mechanism.valuations import get_value_model",
            f"model = get_value_model({model.name!r})"]


def confirm(findings, timeout_per_call: float | None = None) -> None:
    """Run the reproduction of every REFUTED finding in ``findings`` (in place: sets
    ``reproduced`` and, when not confirmed, ``repro_note`` on each counterexample)."""
    todo = []
    for f in findings:
        c = f.counterexample
        if not c or not c.get("repro"):
            continue
        if NOT_RUNNABLE in c["repro"]:
            c["reproduced"] = False
            c["repro_note"] = ("the target has no importable name; pass it as 'file.py:NAME' or "
                               "'package.module:NAME' to get a runnable reproduction")
        elif c.get("error") == "timeout":
            c["reproduced"] = False
            c["repro_note"] = "a call that hangs is not re-run"
        else:
            todo.append(c)
    if not todo:
        return
    limit = REPRO_TIMEOUT_S + len(todo) * float(timeout_per_call or 0)
    try:
        proc = subprocess.run([sys.executable, "-c", _RUNNER], input=json.dumps(
            [c["repro"] for c in todo]), capture_output=True, text=True, timeout=limit,
            cwd=os.getcwd(), env=dict(os.environ), start_new_session=True)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("@@REPRO@@")), None)
        results = json.loads(line[len("@@REPRO@@"):]) if line else None
        why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    except subprocess.TimeoutExpired:
        results, why = None, f"the reproductions did not finish within {limit:g} s"
    for k, c in enumerate(todo):
        if results is None:
            c["reproduced"] = False
            c["repro_note"] = f"the fresh process failed: {why}"
            continue
        got, message = results[k]
        c["reproduced"] = _expected(c, got, message)
        if not c["reproduced"]:
            c["repro_note"] = (PASSED if got == "passed"
                               else f"it failed differently: {got}: {error_message(message)}")


def verify_failure(t, c):
    """The failure of counterexample ``c`` re-run on the target: the refreshed dict when it
    fails the same way again (a raised one: the same exception type), else None."""
    try:
        if t.kind == "rule":
            t.evaluate(np.asarray(c["dists"]), np.asarray(c["bids"]))
        else:
            t.pay(np.asarray(c["dists"]), np.asarray(c["bids"]))
    except RuleFailure as exc:   # the same failure (a raised one: the same exception type)
        if exc.kind == c["error"] and (exc.kind != "raised" or exc.exception == c["exception"]):
            return {**c, **failure_fields(exc)}
    except Undefined:
        return None
    return None


def failure_repro(t, c):
    """The lines of a failure's reproduction after the target's import lines."""
    call = "rule(dists, bids)" if t.kind == "rule" else "payment(rule, dists, bids)"
    lines = [f"dists = np.array({fmt(c['dists'])})", f"bids = np.array({fmt(c['bids'])})"]
    msg = " ".join(c["message"].split())[:160]
    if c["error"] == "raised":
        return lines + [f"out = {call}  # fails: {msg}"]
    if t.kind == "rule":
        check = ("assert not np.iscomplexobj(out), out\n"
                 "out = np.asarray(out, dtype=float)\nassert out.shape == (dists.shape[1],) and "
                 "np.isfinite(out).all() and (out >= 0).all() and abs(out.sum() - 1) <= 1e-6, "
                 "out")
    else:
        check = ("assert not np.iscomplexobj(out), out\n"
                 "out = np.asarray(out, dtype=float)\nassert out.shape == bids.shape and "
                 "np.isfinite(out).all(), out")
    return lines + [f"out = {call}", f"{check}  # fails: {msg}"]
