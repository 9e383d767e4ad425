"""The strict schema of an imported auction log (``tokenauction audit --log``).

Lines are parsed strictly (:func:`mechanism.records.parse_line` without the canonical-bytes
rule, since a third party writes them: still no duplicate key, no NaN, no deep nesting, no
blank line) and checked field by field as the run schema is (:mod:`properties.audit.schema`):
exact types, ranges, one agent count for the whole log, reports of ``n`` rows of one length
``V`` each summing to 1 within ``SUM_TOL``, an outcome of length ``V`` that is a
distribution too, one ``V`` for the whole log, a token in ``0..V-1``, no unknown field. Every violation is an
:class:`~mechanism.errors.InvalidInput` (exit 2) naming the file, the line, the field and
the value. A log with no step is refused ("nothing to audit").
"""

from __future__ import annotations

import math

from mechanism.errors import InvalidInput
from mechanism.records import open_binary, parse_line, read_line
from mechanism.validation import SUM_TOL

from properties.audit import schema as S

HEADER = ("format", "version", "mechanism", "payments", "rule", "epsilon", "sampler",
          "value_model")
HEADER_REQUIRED = ("format",)
STEP = ("step", "bids", "reports", "reports_digest", "outcome", "token", "payments",
        "uniforms")
STEP_REQUIRED = ("bids", "payments")


def _keys(rec, where, allowed, required, what):
    unknown = sorted(set(rec) - set(allowed))
    if unknown:
        raise S.field_error(where, unknown[0], rec[unknown[0]],
                            f"is not a field of {what} (fields: {', '.join(allowed)})")
    for key in required:
        if key not in rec:
            raise InvalidInput(f"{where}: {what} lacks field {key}", value=S.line_of(where))


def check_log_header(rec: dict, where: str, samplers) -> dict:
    if rec.get("format") != "tokenauction-log":
        raise S.field_error(where, "format", rec.get("format"),
                            'must be "tokenauction-log" (the first line is the header)')
    _keys(rec, where, HEADER, HEADER_REQUIRED, "a log header")
    if "version" in rec:  # optional; 1 is the only version
        S.int_field(rec, "version", where, 1, 1)
    for key in ("mechanism", "rule", "value_model"):
        if key in rec and type(rec[key]) is not str:
            raise S.field_error(where, key, rec[key], "must be a string")
    if "payments" in rec:
        S.choice_field(rec, "payments", where, ("expected", "realized"))
    if "epsilon" in rec:
        S.number_field(rec, "epsilon", where, 0.0, 1.0)
    if "sampler" in rec:
        S.choice_field(rec, "sampler", where, tuple(samplers))
    return rec


def check_log_step(rec: dict, where: str, shape: dict) -> dict:
    """A step; ``shape`` holds the log's ``n`` (set by the first step) and is checked."""
    _keys(rec, where, STEP, STEP_REQUIRED, "a log step")
    if "step" in rec:
        S.int_field(rec, "step", where, 0)
    bids = rec["bids"]
    n = shape.setdefault("n", len(bids) if type(bids) is list and bids else 1)
    S.numbers_field(rec, "bids", where, n, 0.0)
    S.numbers_field(rec, "payments", where, n)
    V = None
    if "reports" in rec and "reports_digest" in rec:
        raise S.field_error(where, "reports_digest", rec["reports_digest"],
                            "given with reports: log one or the other")
    if "reports" in rec:
        V = _reports(rec, where, n)
        _vocabulary(V, where, "reports", rec["reports"], shape)
    if "reports_digest" in rec:
        S.hex_field(rec, "reports_digest", where)
    if "outcome" in rec:
        out = rec["outcome"]
        if V is None:
            V = len(out) if type(out) is list and out else 1
            _vocabulary(V, where, "outcome", out, shape)
        if type(out) is not list or len(out) != V:
            raise S.field_error(where, "outcome", out, f"must be a list of {V} probabilities")
        _distribution(out, where, "outcome", "an outcome")
    V = V if V is not None else shape.get("V")
    if "token" in rec:
        S.int_field(rec, "token", where, 0, None if V is None else V - 1)
    if "uniforms" in rec:
        u = rec["uniforms"]
        S.numbers_field(rec, "uniforms", where, len(u) if type(u) is list and u else 1,
                        0.0, 1.0, closed=False)
    return rec


def _reports(rec, where, n) -> int:
    P = rec["reports"]
    if type(P) is not list or len(P) != n:
        raise S.field_error(where, "reports", P, f"must be {n} rows (one per agent)")
    V = len(P[0]) if type(P[0]) is list and P[0] else 1
    for i, row in enumerate(P):
        if type(row) is not list or len(row) != V:
            raise S.field_error(where, f"reports[{i}]", row,
                                f"must be a list of {V} probabilities (as reports[0])")
        _distribution(row, where, f"reports[{i}]", "a report")
    return V


def _distribution(row, where, key, what) -> None:
    """Entries in [0, 1 + SUM_TOL] (so that their sum is finite: integers of 2**1023 made
    ``fsum`` overflow, exit 3), summing to 1 within ``SUM_TOL``."""
    for t, x in enumerate(row):
        if not S.is_number(x) or not 0 <= x <= 1 + SUM_TOL:
            raise S.field_error(where, f"{key}[{t}]", x, "must be a probability in [0, 1]")
    total = math.fsum(row)
    if not abs(total - 1.0) <= SUM_TOL:   # a row of 2**1023 was judged as it was
        raise S.field_error(where, key, row,
                            f"sums to {total!r}: {what} is a distribution (its sum "
                            f"within {SUM_TOL} of 1, as the mechanism's validation asks)")


def _vocabulary(V, where, key, value, shape) -> None:
    """One vocabulary size for the whole log (the first step that shows one sets it)."""
    if shape.setdefault("V", V) != V:
        raise S.field_error(where, key, value, f"has {V} tokens where the log's earlier "
                            f"steps have {shape['V']} (one vocabulary for the whole log)")


#: the most bytes of log read: its records held parsed take a few times their text
MAX_LOG_BYTES = S.MEMORY_BUDGET // 4


def read_log_lines(path: str, samplers) -> tuple[dict, list[dict]]:
    """``(header, steps)`` of a log file, every line validated (module doc) as it is read:
    memory is bounded whatever the file holds (a line over ``MAX_LINE`` is refused when its
    first ``MAX_LINE + 2`` bytes are read, a log over :data:`MAX_LOG_BYTES` when that many
    are; ``--log /dev/zero`` read without end)."""
    try:
        with open_binary(path) as fh:
            first = read_line(fh)
            if not first:
                raise InvalidInput(f"--log {path}: the file is empty (no header)", value=path)
            header = check_log_header(parse_line(first, f"{path}:1", canonical_only=False),
                                      f"{path}:1", samplers)
            shape: dict = {}
            steps, total = [], len(first)
            for k, raw in enumerate(iter(lambda: read_line(fh), b""), start=2):
                total += len(raw)
                if total > MAX_LOG_BYTES:
                    raise InvalidInput(f"--log {path}: more than {MAX_LOG_BYTES} bytes (the "
                                       "memory budget of an imported log); split the log",
                                       value=path)
                steps.append(check_log_step(parse_line(raw, f"{path}:{k}",
                                                       canonical_only=False),
                                            f"{path}:{k}", shape))
    except OSError as exc:
        raise InvalidInput(f"--log {path}: cannot be read ({exc.strerror or exc})",
                           value=path) from None
    if not steps:
        raise InvalidInput(f"--log {path}: nothing to audit (the log has a header and no step)",
                           value=path)
    return header, steps
