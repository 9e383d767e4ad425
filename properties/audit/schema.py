"""The strict schema of a run folder (format ``tokenauction-transcript/1``), and the memory
budget its header must fit.

Every record is read by :func:`mechanism.records.parse_line` (canonical bytes, no duplicate
key) and then checked here field by field: exact types (an integer is a JSON integer,
``true`` is not ``1``, ``2.0`` is not ``2``; a float the writer writes, from a float64
value, is a JSON float: ``1`` is not ``1.0``), the values the writer can write (no ``-0.0``
payment error, ``reference_weight`` 0.0 when there is no reference), ranges, lengths that
match ``n``, no unknown field and no missing one. A violation is an :class:`~mechanism.errors.InvalidInput`
(exit 2) of one line naming the file, the line, the field and the value. A record that
passes is well-formed; whether it is *right* (the step number in sequence, the token
replayed, the payments recomputed) is the audit's divergence (exit 1).

Format 1 is the only transcript format written so far; its writer has always written
canonical lines with exactly these fields, so every transcript it wrote reads here; any
other ``format`` is refused with the reason.

:func:`steps_valid` checks a batch of step records column by column (one pass per field
over the batch, the numbers of a field in one numpy array): a sufficient test only --
True means every record passes :func:`check_step`; False means some record may not, and
the caller checks them one by one, which names the first defect.
"""

from __future__ import annotations

import math
import re
from itertools import chain

import numpy as np

from mechanism.auction import EXTRA_UNIFORMS, SAMPLERS
from mechanism.errors import InvalidInput
from mechanism.payments import PAYMENTS
from mechanism.transcript import FORMAT

MAX_AGENTS = 4096
MAX_VOCAB = 1 << 24
#: Largest working set an audit may take (bytes): see :func:`working_set`.
MEMORY_BUDGET = 2 << 30
#: Dense float64 rows the property checks hold per agent row at once (the bid grid).
GRID_ROWS = 64
HEX64 = re.compile(r"[0-9a-f]{64}\Z")
STOPPED = ("length", "stop_token")


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def field_error(where: str, field: str, value, why: str) -> InvalidInput:
    return InvalidInput(f"{where}: field {field} = {_show(value)} {why}", value=line_of(where))


def line_of(where: str):
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def is_int(x) -> bool:
    return type(x) is int


def is_number(x) -> bool:
    if type(x) is float:
        return math.isfinite(x)
    return type(x) is int and abs(x) <= 1 << 1023


def int_field(rec, key, where, lo=0, hi=None, label=None):
    v = rec[key]
    if not is_int(v) or v < lo or (hi is not None and v > hi):
        rng = (f"{lo}" if lo == hi else f"{lo}..{hi}") if hi is not None else f">= {lo}"
        raise field_error(where, label or key, v, f"must be an integer {rng}")
    return v


def number_field(rec, key, where, lo=None, hi=None):
    v = rec[key]
    if not is_number(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = "" if lo is None else f" >= {lo}" if hi is None else f" in [{lo}, {hi}]"
        raise field_error(where, key, v, f"must be a finite number{rng}")
    return v


def choice_field(rec, key, where, allowed):
    v = rec[key]
    if type(v) is not str or v not in allowed:
        raise field_error(where, key, v, f"must be one of {', '.join(map(str, allowed))}")
    return v


def hex_field(rec, key, where, label=None):
    v = rec[key]
    if type(v) is not str or not HEX64.match(v):
        raise field_error(where, label or key, v, "must be 64 lowercase hex digits (a SHA-256)")
    return v


def floats_field(rec, key, where, length, lo=None, hi=None, closed=True, zero_sign=True):
    """:func:`numbers_field` of JSON floats only, as the writer writes them (float64
    ``tolist()``); ``zero_sign=False``: no ``-0.0`` either (the writer writes ``0.0``)."""
    v = numbers_field(rec, key, where, length, lo, hi, closed)
    for k, x in enumerate(v):
        if type(x) is not float:
            raise field_error(where, f"{key}[{k}]", x, f"must be a float ({float(x)!r}, as "
                              "the writer writes it)")
        if not zero_sign and x == 0.0 and math.copysign(1.0, x) < 0:
            raise field_error(where, f"{key}[{k}]", x, "must be 0.0 (the writer never writes "
                              "-0.0 here)")
    return v


def float_field(rec, key, where, lo=None, hi=None):
    """:func:`number_field` of a JSON float only (see :func:`floats_field`)."""
    v = number_field(rec, key, where, lo, hi)
    if type(v) is not float:
        raise field_error(where, key, v, f"must be a float ({float(v)!r}, as the writer "
                          "writes it)")
    return v


def numbers_field(rec, key, where, length, lo=None, hi=None, closed=True):
    v = rec[key]
    if type(v) is not list or len(v) != length:
        raise field_error(where, key, v, f"must be a list of {length} numbers")
    for k, x in enumerate(v):
        if not is_number(x) or (lo is not None and x < lo) or \
                (hi is not None and (x > hi if closed else x >= hi)):
            rng = "" if lo is None else f" >= {lo}" if hi is None else \
                f" in [{lo}, {hi}{']' if closed else ')'}"
            raise field_error(where, f"{key}[{k}]", x, f"must be a finite number{rng}")
    return v


def tokens_field(rec, key, where, V, unique=False):
    v = rec[key]
    if type(v) is not list:
        raise field_error(where, key, v, f"must be a list of token ids in 0..{V - 1}")
    for k, t in enumerate(v):
        if not is_int(t) or not 0 <= t < V:
            raise field_error(where, f"{key}[{k}]", t, f"must be a token id in 0..{V - 1}")
    if unique and len(set(v)) != len(v):
        raise field_error(where, key, v, "must not repeat a token")
    return v


def exact_fields(rec: dict, where: str, want: tuple, what: str) -> None:
    keys = set(rec)
    unknown, missing = sorted(keys - set(want)), [k for k in want if k not in keys]
    if unknown:
        raise field_error(where, unknown[0], rec[unknown[0]], f"is not a field of {what} "
                   f"(fields: {', '.join(want)})")
    if missing:
        raise InvalidInput(f"{where}: {what} lacks field {missing[0]}", value=line_of(where))


HEADER = ("format", "rule", "reference_weight", "epsilon", "payment", "sampler", "charge",
          "seed", "n", "V", "max_tokens", "prefix", "stop_tokens", "has_reference",
          "prev", "hash")
STEP = ("step", "token", "bids", "payments", "payment_errors", "payment_method", "sampler",
        "uniforms", "thresholds", "reports", "prev", "hash")
REPORTS = ("offset", "length", "rows", "sha256")
END = ("end", "steps", "side_bytes", "stopped", "prev", "hash")


def check_header(rec: dict, where: str, budget: int = MEMORY_BUDGET) -> dict:
    """The header, validated (the format first, then every field, then the budget)."""
    fmt = rec.get("format")
    if fmt != FORMAT:
        raise field_error(where, "format", fmt, f"is not a transcript format this audit reads "
                   f"(it reads {FORMAT}; re-record the run with this version)")
    exact_fields(rec, where, HEADER, "a transcript header")
    if type(rec["rule"]) is not str or not rec["rule"]:
        raise field_error(where, "rule", rec["rule"], "must be a rule name")
    float_field(rec, "reference_weight", where, 0.0)
    float_field(rec, "epsilon", where, 0.0, 1.0)
    choice_field(rec, "payment", where, PAYMENTS)
    choice_field(rec, "sampler", where, SAMPLERS)
    choice_field(rec, "charge", where, ("expected", "realized"))
    int_field(rec, "seed", where, 0)
    n = int_field(rec, "n", where, 1, MAX_AGENTS)
    V = int_field(rec, "V", where, 1, MAX_VOCAB)
    int_field(rec, "max_tokens", where, 0)
    tokens_field(rec, "prefix", where, V)
    tokens_field(rec, "stop_tokens", where, V, unique=True)
    if type(rec["has_reference"]) is not bool:
        raise field_error(where, "has_reference", rec["has_reference"], "must be true or false")
    w = rec["reference_weight"]
    if not rec["has_reference"] and (w != 0.0 or math.copysign(1.0, w) < 0):
        raise field_error(where, "reference_weight", w, "must be 0.0: the run has no reference "
                          "(has_reference is false), and the writer then writes 0.0")
    hex_field(rec, "prev", where)
    hex_field(rec, "hash", where)
    need = working_set(n, V, rec["has_reference"])
    if need > budget:
        raise field_error(where, "V", V, f"with n = {n}: an audit of this run needs about "
                   f"{need / 2**30:.1f} GiB (n x V float64 rows on a {GRID_ROWS}-point bid grid), "
                   f"over the memory budget of {budget / 2**30:.1f} GiB")
    return rec


def working_set(n: int, V: int, has_reference: bool) -> int:
    """Bytes an audit of one step may hold: ``GRID_ROWS`` dense (n [+1], V) float64 blocks."""
    return GRID_ROWS * (n + int(has_reference)) * V * 8


def check_step(rec: dict, where: str, header: dict) -> dict:
    """A step record, validated against the header (``n``, ``V``, the reference row)."""
    exact_fields(rec, where, STEP, "a step")
    n, V = header["n"], header["V"]
    int_field(rec, "step", where, 0)
    int_field(rec, "token", where, 0, V - 1)
    floats_field(rec, "bids", where, n, 0.0)
    floats_field(rec, "payments", where, n)
    floats_field(rec, "payment_errors", where, n, 0.0, zero_sign=False)
    for key in ("payment_method", "sampler"):
        if type(rec[key]) is not str:
            raise field_error(where, key, rec[key], "must be a string")
    floats_field(rec, "uniforms", where, n + EXTRA_UNIFORMS, 0.0, 1.0, closed=False)
    if rec["thresholds"] is not None:
        floats_field(rec, "thresholds", where, n)
    loc = rec["reports"]
    if type(loc) is not dict:
        raise field_error(where, "reports", loc, "must be an object {offset, length, rows, sha256}")
    exact_fields(loc, where, REPORTS, "a step's reports")
    rows = n + int(header["has_reference"])
    int_field(loc, "offset", where, 0, label="reports.offset")
    int_field(loc, "length", where, 0, rows * (4 + 12 * V), label="reports.length")
    int_field(loc, "rows", where, rows, rows, label="reports.rows")
    hex_field(loc, "sha256", where, label="reports.sha256")
    hex_field(rec, "prev", where)
    hex_field(rec, "hash", where)
    return rec


def check_end(rec: dict, where: str) -> dict:
    """The end record ``{"end": true, "steps", "side_bytes", "stopped", prev, hash}``."""
    exact_fields(rec, where, END, "the end record")
    if rec["end"] is not True:
        raise field_error(where, "end", rec["end"], "must be true")
    int_field(rec, "steps", where, 0)
    int_field(rec, "side_bytes", where, 0)
    choice_field(rec, "stopped", where, STOPPED)
    hex_field(rec, "prev", where)
    hex_field(rec, "hash", where)
    return rec


STEP_KEYS = tuple(sorted(STEP))
REPORTS_KEYS = tuple(sorted(REPORTS))


def _floats(column, length: int, lo=None, hi=None, closed=True, zero_sign=True) -> bool:
    """Every entry of ``column`` a list of ``length`` floats, finite, in the range (with
    ``zero_sign=False`` and ``lo=0.0``: no ``-0.0``, the one value >= 0 with its sign set)."""
    if not all(type(v) is list and len(v) == length for v in column):
        return False
    flat = list(chain.from_iterable(column))
    if set(map(type, flat)) - {float}:  # ints are numbers too: the per-record check
        return False
    x = np.array(flat, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(x).all() and (lo is None or bool((x >= lo).all()))
        good = good and (zero_sign or not np.signbit(x).any())
        return good and (hi is None or bool((x <= hi).all() if closed else (x < hi).all()))


def _ints(column, lo: int, hi: int) -> bool:
    """Every entry an int (not a bool) in ``lo..hi``."""
    return set(map(type, column)) == {int} and lo <= min(column) and max(column) <= hi


def _hex(column) -> bool:
    return set(map(type, column)) == {str} and all(len(v) == 64 for v in column) \
        and re.fullmatch("[0-9a-f]*", "".join(column)) is not None


def steps_valid(recs: list, header: dict) -> bool:
    """True only if every record of ``recs`` passes :func:`check_step` (see the module
    doc): the same fields, types and ranges, checked by column."""
    if not recs:
        return True
    if not all(type(r) is dict and tuple(r) == STEP_KEYS for r in recs):
        return False
    n, V = header["n"], header["V"]
    rows = n + int(header["has_reference"])
    col = {key: [r[key] for r in recs] for key in STEP_KEYS}
    if not (_ints(col["step"], 0, 1 << 62) and _ints(col["token"], 0, V - 1)
            and _floats(col["bids"], n, 0.0) and _floats(col["payments"], n)
            and _floats(col["payment_errors"], n, 0.0, zero_sign=False)
            and _floats(col["uniforms"], n + EXTRA_UNIFORMS, 0.0, 1.0, closed=False)
            and set(map(type, col["payment_method"] + col["sampler"])) == {str}
            and all(v is None for v in col["thresholds"]) and _hex(col["prev"] + col["hash"])):
        return False
    locs = col["reports"]
    if not all(type(v) is dict and tuple(v) == REPORTS_KEYS for v in locs):
        return False
    return (_ints([v["offset"] for v in locs], 0, 1 << 62)
            and _ints([v["length"] for v in locs], 0, rows * (4 + 12 * V))
            and _ints([v["rows"] for v in locs], rows, rows)
            and _hex([v["sha256"] for v in locs]))
