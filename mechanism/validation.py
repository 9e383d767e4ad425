"""Validation of reports and bids at the public boundary (theory §1).

Defined behaviour for bad input (every case raises :class:`InvalidInput` naming the
agent, the token and the value, and how to fix it):

* NaN or infinite probability                      -> InvalidInput
* negative probability (any value < 0)             -> InvalidInput
* a row whose sum differs from 1 by more than ``SUM_TOL`` -> InvalidInput;
  within ``SUM_TOL`` the row is renormalized (float round-off only), unless it is already
  within ``EXACT_TOL`` of 1, where it is used as given (so validation is idempotent:
  re-validating stored rows changes nothing)
* rows of different lengths / wrong ndim / empty   -> InvalidInput (mismatched vocabularies)
* bid NaN, infinite or negative                    -> InvalidInput
* wrong number of bids                             -> InvalidInput
* a step's uniforms not in [0, 1) or too few       -> InvalidInput
* a seed, token count or token id that is not an integer >= 0 (a token id < V)
                                                   -> InvalidInput
* all weights zero (all bids 0 and no reference)   -> InvalidInput, raised by the rules
  (theory §2: every rule is undefined there), never a guess.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import Float64Range, InvalidInput

#: Tolerance on ``|sum(p) - 1|`` for a distribution to be accepted (then renormalized).
SUM_TOL = 1e-6
#: Rows this close to summing to 1 are used as given (validation is idempotent).
EXACT_TOL = 1e-12


def _who(agent: int | None) -> str:
    return "the reference distribution" if agent is None else f"agent {agent}"


def as_distribution(p, *, agent: int | None = None, vocab: int | None = None) -> np.ndarray:
    """Validate one distribution over ``T = {0..V-1}`` and return it as float64 (theory §1)."""
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"{_who(agent)}: distribution is not numeric ({exc}); pass a "
                           "1-D sequence of probabilities", value=p, agent=agent) from exc
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidInput(f"{_who(agent)}: distribution must be a non-empty 1-D vector, got "
                           f"shape {arr.shape}", value=p, agent=agent)
    if vocab is not None and arr.size != vocab:
        raise InvalidInput(f"{_who(agent)}: vocabulary size {arr.size} does not match {vocab}; "
                           "all reports must be over the same vocabulary", value=arr.size,
                           agent=agent)
    return _check_rows(arr[None, :], agents=[agent])[0]


def as_distributions(dists) -> np.ndarray:
    """Validate the agents' reports ``P`` as an (n, V) float64 array (theory §1)."""
    if type(dists) is np.ndarray and dists.dtype == np.float64 and dists.ndim == 2 \
            and dists.size:                     # already float64: nothing to convert
        return _check_rows(dists, agents=range(dists.shape[0]))
    if isinstance(dists, np.ndarray):
        arr = dists
    else:
        try:
            rows = list(dists) if not isinstance(dists, (str, bytes)) else None
        except TypeError:   # None, a number: not a sequence of rows
            raise InvalidInput(f"distributions must be an (n, V) array, one row per agent; "
                               f"got {type(dists).__name__} {dists!r}", value=dists) from None
        if not rows:
            raise InvalidInput("no distributions given; pass an (n, V) array, one row per agent",
                               value=dists)
        lengths = [np.size(r) for r in rows]
        if len(set(lengths)) > 1:
            bad = next(i for i, n_ in enumerate(lengths) if n_ != lengths[0])
            raise InvalidInput(f"agent {bad}: vocabulary size {lengths[bad]} does not match agent 0's "
                               f"{lengths[0]}; all reports must be over the same vocabulary",
                               value=lengths, agent=bad)
        arr = rows
    _not_complex(arr, "distributions", "pass an (n, V) array of real probabilities")
    try:
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"distributions are not numeric ({exc}); pass an (n, V) array",
                           value=dists) from exc
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInput(f"distributions must have shape (n, V) with n, V >= 1, got {arr.shape}",
                           value=arr.shape)
    return _check_rows(arr, agents=range(arr.shape[0]))


def _check_rows(arr: np.ndarray, agents: Sequence[int | None]) -> np.ndarray:
    """``arr`` itself when valid as given, renormalized within ``SUM_TOL``, else
    InvalidInput naming the agent, the token and the value."""
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf, overflow: errors below
        sums = row_sums(arr)
    # fast path: sums within EXACT_TOL of 1 are finite, so no row holds NaN or infinity
    # (either makes its sum non-finite); with no negative entry either (the minimum of all
    # rows at once, one read), nothing to do. NaN fails every comparison.
    if all(abs(s - 1.0) <= EXACT_TOL for s in sums.tolist()) and arr.min() >= 0:
        return arr
    if not np.isfinite(arr).all():
        i, t = np.argwhere(~np.isfinite(arr))[0]
        raise InvalidInput(f"{_who(agents[i])}: probability of token {t} is {arr[i, t]!r}; "
                           "every probability must be a finite number in [0, 1]",
                           value=float(arr[i, t]), agent=agents[i], token=int(t))
    if (arr < 0).any():
        i, t = np.argwhere(arr < 0)[0]
        raise InvalidInput(f"{_who(agents[i])}: probability of token {t} is negative "
                           f"({arr[i, t]!r}); clip negatives to 0 and renormalize",
                           value=float(arr[i, t]), agent=agents[i], token=int(t))
    bad = np.abs(sums - 1.0) > SUM_TOL
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidInput(f"{_who(agents[i])}: probabilities sum to {sums[i]!r}, not 1 (tolerance "
                           f"{SUM_TOL}); divide the row by its sum", value=float(sums[i]),
                           agent=agents[i])
    if np.any(np.abs(sums - 1.0) > EXACT_TOL):
        arr = arr / sums[:, None]
    return arr


def _not_complex(values, what: str, fix: str) -> None:
    """Complex numbers would be cast to float64 by dropping their imaginary part (a silent
    wrong answer): refuse them by name."""
    try:
        is_complex = np.iscomplexobj(values)
    except Exception:  # noqa: BLE001 - an object numpy cannot inspect: the cast judges it
        return
    if is_complex:
        shown = np.asarray(values, dtype=object).ravel()[:4].tolist()
        raise InvalidInput(f"{what} are complex numbers ({shown}...); {fix}", value=values)


def row_sums(A: np.ndarray) -> np.ndarray:
    """The sum of each row of a 2-D float64 array: numpy's own sum-of-products loop (one
    read, no BLAS call: faster than a product with a vector of ones and never waiting
    for a BLAS thread on a busy machine)."""
    return np.einsum("ij->i", A)


#: Bids up to this are finite and sum without overflow (for fewer than 1e7 agents).
_FAST_BID_MAX = 1e300


def as_bids(bids, n: int) -> np.ndarray:
    """Validate one bid per agent: finite and non-negative (theory §1). Returns float64 (n,)."""
    if type(bids) is np.ndarray and bids.dtype == np.float64:
        arr = bids                              # already float64: nothing to convert
    else:
        _not_complex(bids, "bids", "pass one real non-negative number per agent")
        try:
            arr = np.asarray(bids, dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidInput(f"bids are not numeric ({exc}); pass one non-negative number "
                               "per agent", value=bids) from exc
    if arr.ndim != 1 or arr.size != n:
        raise InvalidInput(f"expected {n} bids (one per agent), got shape {arr.shape}",
                           value=bids)
    if n and arr.min() >= 0 and arr.max() <= _FAST_BID_MAX:  # fast path (NaN fails both)
        return arr
    if not np.isfinite(arr).all():
        i = int(np.argmax(~np.isfinite(arr)))
        raise InvalidInput(f"agent {i}: bid is {arr[i]!r}; bids must be finite and non-negative",
                           value=float(arr[i]), agent=i)
    with np.errstate(over="ignore"):
        total = arr.sum()
    if not np.isfinite(total):
        raise Float64Range(f"bids {arr.tolist()} overflow: their total is not finite; scale "
                           "all bids down by a common factor (only ratios matter to the rules)",
                           value=arr.tolist())
    if (arr < 0).any():
        i = int(np.argmax(arr < 0))
        raise InvalidInput(f"agent {i}: bid is negative ({arr[i]!r}); bids must be >= 0 "
                           "(a bid of 0 means no influence)", value=float(arr[i]), agent=i)
    return arr


def as_uniforms(uniforms, count: int) -> np.ndarray:
    """Validate a step's uniforms (theory §6): at least ``count`` numbers, each in
    ``[0, 1)``, as ``mechanism.auction.step_uniforms`` draws them. Returns float64. A NaN
    uniform would draw a token by no law (the inverse CDF searches past every threshold)."""
    _not_complex(uniforms, "uniforms", "pass real numbers in [0, 1)")
    try:
        u = np.asarray(uniforms, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"uniforms are not numeric ({exc}); pass real numbers in [0, 1) "
                           "(mechanism.step_uniforms)", value=uniforms) from exc
    if u.size < count:
        raise InvalidInput(f"need {count} uniforms per step, got {u.size}", value=u.size)
    if not (u.min() >= 0.0 and u.max() < 1.0):   # NaN fails both
        k = int(np.argmax(~((u >= 0.0) & (u < 1.0))))
        raise InvalidInput(f"uniform {k} is {u[k]!r}; every uniform must be in [0, 1) "
                           "(mechanism.step_uniforms draws them)", value=float(u[k]))
    return u


def as_count(name: str, value) -> int:
    """An integer ``>= 0`` (a Python or numpy integer; not a bool, not a float such as
    ``1.5`` that would be truncated silently), else InvalidInput naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 0:
        raise InvalidInput(f"{name} must be an integer >= 0, got {value!r}", value=value)
    return int(value)


def as_tokens(name: str, tokens, vocab: int | None = None) -> list[int]:
    """Token ids: integers ``>= 0`` (and ``< vocab`` when it is known)."""
    out = [as_count(f"{name}[{k}]", t) for k, t in enumerate(tokens)]
    bad = [t for t in out if vocab is not None and t >= vocab]
    if bad:
        raise InvalidInput(f"{name} holds token {bad[0]}, outside the vocabulary 0..{vocab - 1}",
                           value=bad[0])
    return out


def as_weight(weight) -> float:
    """Validate the reference weight lambda >= 0 (theory §1)."""
    try:
        w = float(weight)
    except (TypeError, ValueError, OverflowError) as exc:
        shown = repr(weight) if len(repr(weight)) <= 60 else repr(weight)[:57] + "..."
        raise InvalidInput(f"reference weight {shown} is not a number ({exc}); pass a "
                           "finite lambda >= 0", value=weight) from exc
    if not np.isfinite(w) or w < 0:
        raise InvalidInput(f"reference weight is {w!r}; it must be finite and >= 0", value=w)
    return w


def output_defect(out, length: int, label: str, what: str = "probability"):
    """``(vector, None)`` when a rule's (``what="probability"``) or payment rule's
    (``what="payment"``) output is a finite float vector of ``length`` entries -- for a
    probability also non-negative and summing to 1 within ``SUM_TOL`` -- else
    ``(None, (kind, message))`` with kind ``not_numeric | shape | nan | negative | sum``.
    The one output check: :func:`mechanism.rules.check_output` raises ``InvalidRule`` with
    it, the property suite's sandbox a ``RuleFailure`` of the same kind."""
    try:
        a = np.asarray(out)   # converted once: its kind first, then float64
        if a.dtype.kind == "c":
            return None, ("not_numeric", f"{label} returned complex numbers, not real "
                                         f"{what}s (float64 would drop their imaginary parts)")
        v = a.astype(np.float64, copy=False)
    except (TypeError, ValueError):
        return None, ("not_numeric", f"{label} returned {type(out).__name__}, "
                                     "not a numeric vector")
    if v.shape != (length,):
        unit = "" if what == "probability" else " (one payment per agent)"
        return None, ("shape", f"{label} returned shape {v.shape}, expected ({length},){unit}")
    with np.errstate(over="ignore", invalid="ignore"):
        total = v.sum()  # fast path: a finite sum means every entry is finite
    if np.isfinite(total) and (what != "probability"
                               or (v.min() >= 0 and abs(float(total) - 1.0) <= SUM_TOL)):
        return v, None
    if not np.isfinite(v).all():
        k = int(np.argmax(~np.isfinite(v)))
        where = f"token {k}" if what == "probability" else f"agent {k}"
        return None, ("nan", f"{label} returned a non-finite {what} {float(v[k])!r} for {where}")
    if what != "probability":
        return v, None
    if (v < 0).any():
        t = int(np.argmax(v < 0))
        return None, ("negative", f"{label} returned a negative probability {float(v[t])!r} for "
                                  f"token {t}")
    s = float(total)  # the sum taken above, under its errstate (finite entries may overflow)
    if abs(s - 1.0) > SUM_TOL:
        return None, ("sum", f"{label} returned a vector summing to {s!r}, not 1 "
                             f"(tolerance {SUM_TOL})")
    return v, None
