"""Streamed, verified reading of a run folder (format ``tokenauction-transcript/1``).

:func:`verified_steps` reads ``transcript.jsonl`` one line at a time and each step's
block of ``reports.bin`` by seek, so memory does not grow with the run. For every
line it checks the hash chain (``prev`` = the previous line's ``hash``; ``hash`` =
:func:`mechanism.transcript.chain_hash`), the step number, the side-file block
(contiguous offsets, SHA-256) and the decoded reports' shape, and records each
disagreement in the :class:`~properties.audit.tally.AuditReport` as it goes.

Unreadable input (a line that is not JSON, a truncated side file, a missing file)
raises :class:`mechanism.errors.InvalidInput` whose ``value`` is the 1-based line
number, AFTER every earlier step has been yielded; the caller reports on those.

Run-level end record (required; the writer adds it when a run ends): a final chained line
``{"end": true, "steps": N, "side_bytes": B, "stopped": ...}``. When present, the
step count and side-file length are checked against it, so truncation at a line
boundary is caught; when absent (the format-1 writer writes none), the audit warns
that such truncation cannot be ruled out.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from mechanism.errors import InvalidInput
from mechanism.transcript import FORMAT, GENESIS, JSONL, SIDE, chain_hash, decode_rows

from properties.audit.tally import AuditReport, Divergence

#: Refuse headers whose sizes cannot be a real run (a dense row must fit in memory).
MAX_AGENTS = 4096
MAX_VOCAB = 1 << 24
#: Formats read: version 1, and whatever mechanism.transcript writes now (a later
#: version only adds the optional end record and header fields this reader tolerates).
FORMATS = frozenset({"tokenauction-transcript/1", FORMAT})
STEP_FIELDS = ("step", "token", "bids", "payments", "uniforms", "reports")


@dataclass
class VerifiedStep:
    line: int
    record: dict
    rows: "np.ndarray | SparseRows | None"  #: (n [+1 reference], V) float64, None if unusable
    side_ok: bool             #: the block's SHA-256 matched the record


@dataclass
class SparseRows:
    """One step's block as read (``sparse=True``): per row its token indices and values,
    concatenated; :meth:`dense` gives exactly what :func:`decode_rows` gives."""

    blob: bytes
    n_rows: int
    V: int
    nnz: np.ndarray   #: (n_rows,) entries per row
    idx: np.ndarray   #: int32, all rows' token indices in order
    val: np.ndarray   #: float64, their values

    def dense(self) -> np.ndarray:
        return decode_rows(self.blob, self.n_rows, self.V)


def decode_sparse(blob: bytes, n_rows: int, V: int) -> SparseRows:
    """The block without densifying it; any malformed block goes through
    :func:`decode_rows`, so it fails with the same error."""
    pos, nnz, idx, val = 0, [], [], []
    for _ in range(n_rows):
        k = struct.unpack_from("<i", blob, pos)[0] if pos + 4 <= len(blob) else -1
        end = pos + 4 + 12 * k
        if k < 0 or end > len(blob):
            decode_rows(blob, n_rows, V)  # raises the canonical error
        idx.append(np.frombuffer(blob, "<i4", k, pos + 4))
        val.append(np.frombuffer(blob, "<f8", k, pos + 4 + 4 * k))
        nnz.append(k)
        pos = end
    ii = np.concatenate(idx) if idx else np.zeros(0, "<i4")
    if ii.size and (ii.min() < 0 or ii.max() >= V):
        decode_rows(blob, n_rows, V)
    return SparseRows(blob, n_rows, V, np.asarray(nnz, dtype=np.int64), ii,
                      np.concatenate(val) if val else np.zeros(0))


def _bad(message: str, line: int | None) -> InvalidInput:
    return InvalidInput(message, value=line)


def read_run_header(folder) -> dict:
    """The validated header (line 1). Raises InvalidInput (exit 2) naming what is wrong."""
    folder = Path(folder)
    path = folder / JSONL
    if not folder.is_dir():
        raise _bad(f"{folder} is not a directory; pass the run folder given to "
                   "TokenAuction.run(record_to=...)", None)
    if not path.is_file():
        raise _bad(f"{path} does not exist; pass a run folder written by tokenauction", None)
    with open(path, "rb") as fh:
        first = fh.readline()
    try:
        header = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"{path}:1 (the header) is not valid JSON ({exc}); the file is corrupted",
                   1) from exc
    if not isinstance(header, dict):
        raise _bad(f"{path}:1 (the header) is not a JSON object", 1)
    if header.get("format") not in FORMATS:
        raise _bad(f"{path}:1 has format {header.get('format')!r}; this audit reads "
                   f"{' or '.join(sorted(FORMATS))}", 1)
    missing = [k for k in ("rule", "payment", "sampler", "charge", "seed", "n", "V")
               if k not in header]
    if missing:
        raise _bad(f"{path}:1 lacks header field(s) {', '.join(missing)}", 1)
    for key, hi in (("n", MAX_AGENTS), ("V", MAX_VOCAB)):
        v = header[key]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
            raise _bad(f"{path}:1: header {key} = {v!r} must be an integer in 1..{hi}", 1)
    if isinstance(header["seed"], bool) or not isinstance(header["seed"], int):
        raise _bad(f"{path}:1: header seed = {header['seed']!r} must be an integer", 1)
    for key in ("reference_weight", "epsilon"):
        v = header.get(key, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise _bad(f"{path}:1: header {key} = {v!r} must be a finite number >= 0", 1)
    return header


def _check_chain(rec: dict, prev: str, line: int, step, report: AuditReport) -> None:
    report.count("chain")
    try:
        want = chain_hash(rec.get("prev", ""), rec)
    except ValueError:  # NaN or inf: canonical JSON refuses them, the writer never wrote one
        report.fail(Divergence("chain", step, line, "hash", "a hash over canonical JSON",
                               rec.get("hash"), message="the line holds NaN or Infinity, "
                                                        "which the writer never writes"))
        return
    if rec.get("prev") != prev:
        report.fail(Divergence("chain", step, line, "prev", prev, rec.get("prev"),
                               message="a line was dropped, duplicated, reordered or inserted "
                                       "before this one"))
    elif rec.get("hash") != want:
        report.fail(Divergence("chain", step, line, "hash", want, rec.get("hash"),
                               message="this line was edited after it was written"))


def _read_block(side, side_size: int, loc, line: int, step, report: AuditReport,
                expected_offset: int, header: dict, sparse: bool = False):
    """(rows, sha_ok) for one step's reports, recording side-file divergences."""
    n, V = int(header["n"]), int(header["V"])
    n_rows = n + (1 if header.get("has_reference") else 0)
    if not isinstance(loc, dict) or not all(isinstance(loc.get(k), int) and not
                                            isinstance(loc.get(k), bool)
                                            for k in ("offset", "length", "rows")):
        report.fail(Divergence("side_file", step, line, "reports",
                               "{offset, length, rows, sha256}", loc,
                               message="the step does not locate its reports"))
        return None, False
    report.count("side_file")
    off, length = loc["offset"], loc["length"]
    if off != expected_offset:
        report.fail(Divergence("side_file", step, line, "reports.offset", expected_offset, off,
                               message="blocks are not contiguous: a step was dropped, "
                                       "duplicated or reordered"))
    if off < 0 or length < 0 or off + length > side_size:
        raise _bad(f"{JSONL}:{line} (step {step}) locates its reports at bytes {off}..{off + length} "
                   f"but {SIDE} has {side_size} bytes: the side file is truncated", line)
    side.seek(off)
    blob = side.read(length)
    digest = hashlib.sha256(blob).hexdigest()
    sha_ok = digest == loc.get("sha256")
    if not sha_ok:
        report.fail(Divergence("side_file", step, line, "reports.sha256", digest, loc.get("sha256"),
                               message=f"the distributions in {SIDE} were edited"))
    if loc["rows"] != n_rows:
        report.fail(Divergence("inputs", step, line, "reports.rows", n_rows, loc["rows"],
                               message="wrong shape: n agents (+1 reference) rows per step"))
        return None, sha_ok
    try:
        rows = decode_sparse(blob, n_rows, V) if sparse else decode_rows(blob, n_rows, V)
    except (InvalidInput, ValueError) as exc:
        report.fail(Divergence("inputs", step, line, "reports", f"{n_rows} rows over V={V}",
                               "undecodable", message=str(exc)))
        return None, sha_ok
    return rows, sha_ok


def verified_steps(folder, header: dict, report: AuditReport,
                   sparse: bool = False) -> Iterator[VerifiedStep]:
    """Yield each step after checking chain, order and side file (see module doc);
    ``sparse``: rows as :class:`SparseRows` (the vectorized audit), else dense."""
    folder = Path(folder)
    side_path = folder / SIDE
    if not side_path.is_file():
        raise _bad(f"{side_path} does not exist; a run folder holds {JSONL} and {SIDE}", None)
    side_size = side_path.stat().st_size
    report.count("chain")
    try:
        want = chain_hash(GENESIS, header)
    except ValueError:  # NaN or inf in the header: no canonical JSON
        want = "a hash over canonical JSON (the header holds NaN or Infinity)"
    if header.get("prev") != GENESIS or header.get("hash") != want:
        report.fail(Divergence("chain", None, 1, "hash", want, header.get("hash"),
                               message="the header was edited"))
    prev = header.get("hash")
    expected_step, expected_offset, n_steps = 0, 0, 0
    end_seen, stopped_at = None, None
    stops = set(header.get("stop_tokens") or [])
    with open(folder / JSONL, "rb") as fh, open(side_path, "rb") as side:
        fh.readline()
        for line, raw in enumerate(fh, start=2):
            if not raw.strip():
                report.warn(f"{JSONL}:{line} is blank (ignored)")
                continue
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                what = "is cut off (no newline): the file is truncated" if not raw.endswith(b"\n") \
                    else "is not valid JSON: the file is corrupted"
                raise _bad(f"{JSONL}:{line} {what} ({exc}); every step before it was audited",
                           line) from exc
            if not isinstance(rec, dict):
                raise _bad(f"{JSONL}:{line} is not a JSON object; the file is corrupted", line)
            if not raw.endswith(b"\n"):
                report.warn(f"{JSONL}:{line} has no final newline (the write may have been cut)")
            step = rec.get("step")
            _check_chain(rec, prev, line, step, report)
            prev = rec.get("hash")
            report.head_hash = prev
            if end_seen is not None:
                report.count("sequence")
                report.fail(Divergence("sequence", step, line, "line", "nothing after the end "
                                       "record", "a further line"))
                continue
            if rec.get("end") is True:
                end_seen = (line, rec)
                continue
            missing = [k for k in STEP_FIELDS if k not in rec]
            if missing:
                report.fail(Divergence("inputs", step, line, "fields", list(STEP_FIELDS),
                                       sorted(rec), message=f"missing {', '.join(missing)}"))
                continue
            report.count("sequence")
            if step != expected_step:
                report.fail(Divergence("sequence", step, line, "step", expected_step, step,
                                       message="steps must be numbered 0, 1, 2, ..."))
            if stopped_at is not None:
                report.fail(Divergence("sequence", step, line, "step", "none after stop token",
                                       step, message=f"step {stopped_at} emitted a stop token"))
            expected_step = (step + 1) if isinstance(step, int) else expected_step + 1
            rows, sha_ok = _read_block(side, side_size, rec["reports"], line, step, report,
                                       expected_offset, header, sparse)
            loc = rec["reports"]
            if isinstance(loc, dict) and isinstance(loc.get("offset"), int) \
                    and isinstance(loc.get("length"), int):
                expected_offset = loc["offset"] + loc["length"]
            if rec.get("token") in stops and stopped_at is None:
                stopped_at = step
            n_steps += 1
            yield VerifiedStep(line, rec, rows, sha_ok)
    _check_end(report, end_seen, n_steps, expected_offset, side_size, stopped_at, header)


def _check_end(report, end_seen, n_steps, side_used, side_size, stopped_at, header) -> None:
    """The writer ends every normal run with a chained end record (mechanism/transcript.py):
    its counts must match, a run must stop at a stop token or at ``max_tokens``, and a
    missing end record means the run was cut short (a crash, or truncation at a line
    boundary)."""
    report.count("sequence")
    max_tokens = header.get("max_tokens")
    if isinstance(max_tokens, int) and stopped_at is None and n_steps < max_tokens:
        report.fail(Divergence("sequence", None, None, "steps", max_tokens, n_steps,
                               message="fewer steps than max_tokens and no stop token: "
                                       "the transcript is truncated"))
    if end_seen is not None:
        line, rec = end_seen
        for key, have in (("steps", n_steps), ("side_bytes", side_used)):
            if key in rec and rec[key] != have:
                report.fail(Divergence("sequence", None, line, f"end.{key}", rec[key], have,
                                       message="the run is truncated or padded"))
        want = "stop_token" if stopped_at is not None else "length"
        if rec.get("stopped") not in (None, want):
            report.fail(Divergence("sequence", None, line, "end.stopped", want, rec.get("stopped"),
                                   message="the end record contradicts the steps"))
    else:
        report.fail(Divergence("sequence", None, None, "end", "an end record", None,
                               message="no end record: the run was cut short (a crash, or "
                                       "truncation at a line boundary)"))
    if end_seen is not None and side_size != side_used:
        report.fail(Divergence("sequence", None, end_seen[0], f"{SIDE} length", side_used,
                               side_size, message="bytes after the last step's block"))
    elif side_size > side_used:
        report.warn(f"{SIDE} has {side_size - side_used} bytes after the last step's block "
                    "(an interrupted write, or data appended later)")
