"""Calling untrusted code: per-call timeout and output checks.

User code named by a spec runs in a worker process (:mod:`properties.cage`, the one isolation
policy of ``check`` and ``audit --mechanism``); a caged callable's failures (``CageFailure``:
raised, exited, timeout, not numeric) map here to the same :class:`RuleFailure` kinds.

A user's rule or payment rule may raise, hang, or return garbage. Every call the
checker makes goes through :func:`guarded_call`, which

* runs it under a per-call timeout: ``signal.setitimer`` (SIGALRM) in the main
  thread, a worker thread elsewhere (a thread that hangs is abandoned, not killed);
* turns every failure into :class:`RuleFailure` with a ``kind``:
  ``raised``, ``timeout``, ``not_numeric``, ``shape``, ``nan``, ``negative``, ``sum``.

``InvalidInput`` raised by the callee means "undefined at this input" (theory §2: e.g.
W = 0, or log-linear without a common support): it becomes :class:`Undefined`,
which the search treats as outside the domain, never as a violation.
"""

from __future__ import annotations

import _signal
import contextlib
import queue
import signal
import threading
import warnings

import numpy as np

from mechanism import rules as R
from mechanism.errors import InvalidInput, InvalidRule
from mechanism.validation import SUM_TOL, output_defect

from properties.cage import CageFailure

#: Up to this many entries :func:`plainly_distribution` sums a row as Python floats (cheaper
#: than numpy's reductions on a few entries; the rows of a bid grid are checked hundreds of
#: thousands of times); longer rows with numpy.
PLAIN_ROW = 32


class RuleFailure(Exception):
    """The target misbehaved on a valid input (raised, hung, bad output)."""

    def __init__(self, kind: str, message: str, exception: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.exception = exception   #: the exception's type name (kind ``raised``)


class Undefined(Exception):
    """The target declared itself undefined at this input (it raised InvalidInput)."""


class _Timeout(BaseException):
    """Raised inside the user's code by SIGALRM (BaseException: survives ``except Exception``)."""


class _Worker:
    """One daemon thread running calls from a queue (daemon: a hung call never blocks
    interpreter exit; concurrent.futures would join it at exit)."""

    current: "_Worker | None" = None

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="tokenauction-check",
                                       daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            fn, args, box, done = self.jobs.get()
            try:
                box.append((True, fn(*args)))
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                box.append((False, exc))
            done.set()


def _alarm(signum, frame):
    raise _Timeout()


def by_signal(timeout: float | None) -> bool:
    """A timer of ``timeout`` s by SIGALRM (``signal.setitimer``: the main thread only);
    False without a timeout, or off the main thread (a worker thread times the call)."""
    return bool(timeout) and timeout > 0 and hasattr(signal, "setitimer") and \
        threading.current_thread() is threading.main_thread()


def _run_signal(fn, args, timeout):
    # the low-level module: the same calls as ``signal`` without its enum conversions
    # (measurable: the checker calls user code hundreds of thousands of times); the handler
    # is installed on every call (a call may have replaced it), restored by the caller
    _signal.signal(_signal.SIGALRM, _alarm)
    _signal.setitimer(_signal.ITIMER_REAL, timeout)
    try:
        return fn(*args)
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)


def _run_thread(fn, args, timeout):
    if _Worker.current is None:
        _Worker.current = _Worker()
    box: list = []
    done = threading.Event()
    _Worker.current.jobs.put((fn, args, box, done))
    if not done.wait(timeout):
        _Worker.current = None   # abandon the hung worker (a daemon thread)
        raise _Timeout()
    ok, value = box[0]
    if ok:
        return value
    raise value


def _timed(fn, args, timeout, signal_timer: bool):
    """``fn(*args)`` under ``timeout`` s (``signal_timer``: :func:`by_signal`); past it,
    :class:`RuleFailure` of kind ``timeout``. The one timed call: every call of user code."""
    try:
        if signal_timer:
            return _run_signal(fn, args, timeout)
        if not timeout or timeout <= 0:
            return fn(*args)
        return _run_thread(fn, args, timeout)
    except _Timeout:
        raise RuleFailure("timeout", f"did not return within {timeout:g} s (per-call timeout; "
                                     "raise it with --timeout)") from None


@contextlib.contextmanager
def _alarm_handler(signal_timer: bool):
    """The SIGALRM handler in place before a run of timed calls, restored after it."""
    if not signal_timer:
        yield
        return
    old = _signal.getsignal(_signal.SIGALRM)
    try:
        yield
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        _signal.signal(_signal.SIGALRM, old)


def call_with_timeout(fn, args, timeout: float | None):
    """``fn(*args)``; raises :class:`RuleFailure` (kind ``timeout``) past ``timeout`` s."""
    signal_timer = by_signal(timeout)
    with _alarm_handler(signal_timer):
        return _timed(fn, args, timeout, signal_timer)


def _guarded(label: str, fn, args, timeout, signal_timer: bool):
    """One call of user code in its own numpy error state (a rule's ``np.seterr`` ends with
    its call), timed; a failure (raised, exited, hung, junk from the cage) becomes
    :class:`RuleFailure` naming ``label``; ``InvalidInput`` passes through."""
    try:
        with np.errstate(all="ignore"):
            return _timed(fn, args, timeout, signal_timer)
    except InvalidInput:
        raise
    except (RuleFailure, CageFailure, SystemExit, Exception) as exc:
        failure, cause = _failure(label, exc)
        raise failure from cause


def call_user(label: str, fn, args, timeout: float | None = None):
    """The one policy for calling user code (``check`` and the audits): ``fn(*args)`` under
    ``timeout`` with numpy warnings silenced; a failure (raised, exited, hung, junk from the
    cage) becomes :class:`RuleFailure` naming ``label``; ``InvalidInput`` passes through."""
    signal_timer = by_signal(timeout)
    old = _signal.getsignal(_signal.SIGALRM) if signal_timer else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _guarded(label, fn, args, timeout, signal_timer)
    finally:
        if signal_timer:   # the handler in place before the call (its timer is off)
            _signal.signal(_signal.SIGALRM, old)


def _failure(label: str, exc: BaseException):
    """The :class:`RuleFailure` naming ``label`` that a failed call of user code is, and the
    exception it is raised from (None: none)."""
    if isinstance(exc, (RuleFailure, CageFailure)):  # the cage's failures: the same kinds
        return RuleFailure(exc.kind, f"{label} {exc}", exc.exception), None
    if isinstance(exc, SystemExit):  # sys.exit() in user code ends nothing of ours: a finding
        return RuleFailure("raised", f"{label} raised SystemExit({exc.code!r}): a rule that "
                                     "ends the process it runs in", exception="SystemExit"), None
    # untrusted code: report, never crash
    return RuleFailure("raised", f"{label} raised {type(exc).__name__}: {exc} (to decline an "
                                 "input outside its domain, raise mechanism.InvalidInput)",
                       exception=type(exc).__name__), exc


@contextlib.contextmanager
def guarded_calls(label: str, timeout: float | None):
    """:func:`call_user` for many calls in a row (the rows of a bid grid): the warnings
    filter and the alarm handler are set up once around them; each call still runs in its
    own numpy error state, under its own timer of ``timeout`` s, with its failures mapped
    as one call's. Yields ``call(fn, args)``; the callee's ``InvalidInput`` becomes
    :class:`Undefined` (outside the domain, for the search), as in :func:`guarded_call`."""
    signal_timer = by_signal(timeout)

    def call(fn, args):
        try:
            return _guarded(label, fn, args, timeout, signal_timer)
        except InvalidInput as exc:
            raise Undefined(str(exc)) from exc

    with _alarm_handler(signal_timer), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield call


def guarded_call(label: str, fn, args, timeout: float | None):
    """:func:`call_user` for the search: InvalidInput -> Undefined (outside the domain)."""
    try:
        return call_user(label, fn, args, timeout)
    except InvalidInput as exc:
        raise Undefined(str(exc)) from exc


def call_as_rule(label: str, fn, args, rule: str | None = None, value=None):
    """:func:`call_user` where a failure is :class:`mechanism.InvalidRule` naming ``rule``
    and ``value`` (the rules the checks evaluate directly: a judge rule, an audited
    ``aggregate``)."""
    try:
        return call_user(label, fn, args)
    except RuleFailure as exc:
        raise InvalidRule(str(exc), rule=rule or label, value=value) from exc.__cause__


def judge_rule(fn, label: str, claims: dict) -> R.Rule:
    """A user's judge rule (the rule a payment rule is judged under) as a
    :class:`mechanism.Rule` calling it by :func:`call_as_rule`, which passes ``InvalidInput``
    through (the rule declines the input: the same as in rule checks); its output checked."""
    def numpy_fn(P, b, ref, lam):
        out = call_as_rule(f"rule {label!r}", fn, (P.copy(), b.copy()), label)
        return R.check_output(out, P.shape[1], label)
    return R.Rule(label, None, numpy_fn=numpy_fn, claims=claims or None)


def check_distribution(out, V: int, label: str) -> np.ndarray:
    """The output of a rule must be a finite, non-negative vector of length V summing to 1
    (:func:`mechanism.validation.output_defect`; a RuleFailure of its kind otherwise)."""
    return _checked(out, V, label, "probability")


def check_payments(out, n: int, label: str) -> np.ndarray:
    """The output of a payment rule must be a finite vector with one entry per agent."""
    return _checked(out, n, label, "payment")


def plainly_distribution(v, V: int) -> bool:
    """The one quick output check, a sufficient test, never a necessary one: ``v`` is a
    float64 array of ``V`` entries (one row) or of rows of ``V`` entries (K, V), each
    non-negative and summing to 1 within ``SUM_TOL / 2`` (so :func:`check_distribution`
    would return it unchanged; a NaN or inf entry makes a sum NaN or inf: no sum within the
    bound). False on any doubt, and then :func:`check_distribution` decides."""
    try:
        if type(v) is not np.ndarray or v.dtype != np.float64:
            return False
        if V <= PLAIN_ROW and v.shape == (V,):   # Python floats: cheaper on a few entries
            x = v.tolist()
            return abs(sum(x) - 1.0) <= SUM_TOL / 2 and min(x) >= 0
        if v.ndim not in (1, 2) or v.shape[-1] != V:
            return False
        with np.errstate(over="ignore", invalid="ignore"):
            sums = v.sum(axis=-1)
            return v.size == 0 or (bool((np.abs(sums - 1.0) <= SUM_TOL / 2).all())
                                   and bool(v.min() >= 0))
    except Exception:  # noqa: BLE001 - the user changed numpy's error state: the full check
        return False


def check_distributions(Q, V: int, label: str) -> np.ndarray:
    """:func:`check_distribution` of every row of ``Q`` (K, V) at once: rows that are
    :func:`plainly_distribution` pass together; otherwise each row is checked in order,
    and the first bad one raises its RuleFailure."""
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim == 2 and plainly_distribution(Q, V):
        return Q
    return np.stack([check_distribution(row, V, label) for row in Q]) if len(Q) else Q


def _checked(out, length: int, label: str, what: str) -> np.ndarray:
    v, defect = output_defect(out, length, label, what)
    if defect is not None:
        raise RuleFailure(*defect)
    return v
