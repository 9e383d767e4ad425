"""Streamed, verified reading of a run folder (format ``tokenauction-transcript/1``).

:func:`verified_steps` reads ``transcript.jsonl`` one line at a time and each step's
block of ``reports.bin`` by seek, so memory does not grow with the run. For every
line it checks the canonical bytes and the strict schema (:func:`mechanism.records.parse_line`,
:mod:`properties.audit.schema`; a violation is exit 2 naming file, line, field and value),
the hash chain over the line's exact bytes (``prev`` = the previous line's ``hash``;
``hash`` = :func:`mechanism.records.line_hash`), the step number (and at most
``max_tokens`` steps), the side-file block
(contiguous offsets, SHA-256) and the decoded reports' shape, and records each
disagreement in the :class:`~properties.audit.tally.AuditReport` as it goes.

Unreadable input (a line that is not canonical JSON or breaks the schema, a truncated
side file, a missing file)
raises :class:`mechanism.errors.InvalidInput` whose ``value`` is the 1-based line
number, AFTER every earlier step has been yielded; the caller reports on those.

Run-level end record (required; the writer adds it when a run ends): a final chained line
``{"end": true, "steps": N, "side_bytes": B, "stopped": ...}``. When present, the
step count, side-file length and stop reason are checked against it, so truncation at a
line boundary is caught; its absence is a divergence (the run was cut short).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from mechanism.errors import InvalidInput
from mechanism.records import (MAX_LINE, line_hash, open_binary, parse_line, parse_lines,
                               read_line, read_lines)
from mechanism.transcript import GENESIS, JSONL, SIDE, decode_rows

from properties.audit import schema as S
from properties.audit.blocks import SparseRows, decode_blocks, decode_sparse
from properties.audit.clean_batch import clean_batch
from properties.audit.tally import AuditReport, Divergence


#: Bytes of ``transcript.jsonl`` read per batch (whole lines), and the most bytes of
#: ``reports.bin`` read at once for a batch's blocks (else each block is read alone).
BATCH_BYTES = 1 << 18
REGION_BYTES = 1 << 25


@dataclass
class VerifiedStep:
    line: int
    record: dict
    rows: "np.ndarray | SparseRows | None"  #: (n [+1 reference], V) float64, None if unusable
    side_ok: bool             #: the block's SHA-256 matched the record


def _bad(message: str, line: int | None) -> InvalidInput:
    return InvalidInput(message, value=line)


def read_run_header(folder, budget: int = S.MEMORY_BUDGET) -> dict:
    """The validated header (line 1): canonical bytes (:func:`mechanism.records.parse_line`),
    the strict schema and the memory budget (:mod:`properties.audit.schema`). Raises
    InvalidInput (exit 2) naming the file, line, field and value."""
    folder = Path(folder)
    path = folder / JSONL
    if not folder.is_dir():
        raise _bad(f"{folder} is not a directory; pass the run folder given to "
                   "TokenAuction.run(record_to=...)", None)
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise _bad(f"{path} {what}; pass a run folder written by tokenauction", None)
    try:
        with open_binary(path) as fh:
            first = read_line(fh)
    except OSError as exc:
        raise _bad(f"{path}: cannot be read ({exc.strerror or exc})", None) from None
    if not first:
        raise _bad(f"{path}:1: the file is empty (no header)", 1)
    header = parse_line(first, f"{path}:1")
    return S.check_header(header, f"{path}:1", budget)


def _check_chain(raw: bytes, rec: dict, prev: str, line: int, step, report: AuditReport) -> None:
    """``prev`` links to the previous line; ``hash`` is over this line's exact bytes."""
    report.count("chain")
    if rec["prev"] != prev:
        report.fail(Divergence("chain", step, line, "prev", prev, rec["prev"],
                               message="a line was dropped, duplicated, reordered or inserted "
                                       "before this one"))
        return
    want = line_hash(prev, raw.rstrip(b"\n"), rec["hash"])
    if rec["hash"] != want:
        report.fail(Divergence("chain", step, line, "hash", want, rec["hash"],
                               message="this line was edited after it was written"))


def _read_block(side: "_Side", loc, line: int, step, report: AuditReport,
                expected_offset: int):
    """(rows, sha_ok) for one step's reports, recording side-file divergences."""
    n_rows = side.n_rows
    report.count("side_file")
    off, length = loc["offset"], loc["length"]
    if off != expected_offset:
        report.fail(Divergence("side_file", step, line, "reports.offset", expected_offset, off,
                               message="blocks are not contiguous: a step was dropped, "
                                       "duplicated or reordered"))
    if off < 0 or length < 0 or off + length > side.size:
        raise _bad(f"{JSONL}:{line} (step {step}) locates its reports at bytes {off}..{off + length} "
                   f"but {SIDE} has {side.size} bytes: the side file is truncated", line)
    blob, decoded, digest = side.block(off, length)
    sha_ok = digest == loc.get("sha256")
    if not sha_ok:
        report.fail(Divergence("side_file", step, line, "reports.sha256", digest, loc.get("sha256"),
                               message=f"the distributions in {SIDE} were edited"))
    if loc["rows"] != n_rows:
        report.fail(Divergence("inputs", step, line, "reports.rows", n_rows, loc["rows"],
                               message="wrong shape: n agents (+1 reference) rows per step"))
        return None, sha_ok
    try:
        rows = side.decode(blob, decoded)
    except (InvalidInput, ValueError) as exc:
        report.fail(Divergence("inputs", step, line, "reports", f"{n_rows} rows over V={side.V}",
                               "undecodable", message=str(exc)))
        return None, sha_ok
    return rows, sha_ok


class _Side:
    """``reports.bin``: each step's block by seek and read, or, for a batch of lines read
    at once (:meth:`prefetch`), from one read of their contiguous blocks, decoded together
    (:func:`properties.audit.blocks.decode_blocks`). The bytes are the same either way."""

    def __init__(self, fh, size: int, header: dict, sparse: bool):
        self.fh, self.size, self.sparse = fh, size, sparse
        self.n_rows = int(header["n"]) + (1 if header.get("has_reference") else 0)
        self.V = int(header["V"])
        self.ahead: dict = {}  # offset -> (length, blob, decoded block)

    def prefetch(self, locs: list[dict]) -> None:
        """Read ahead the blocks at ``locs`` (validated ``reports`` objects): each run of
        contiguous blocks inside the file in one read, ``REGION_BYTES`` at most in all (the
        blocks after those are read one by one)."""
        self.ahead = {}
        group: list = []
        room = REGION_BYTES
        for loc in locs:
            if group and loc["offset"] != group[-1]["offset"] + group[-1]["length"]:
                self._read_ahead(group)
                group = []
            room -= loc["length"]
            if room < 0:
                break
            group.append(loc)
        self._read_ahead(group)

    def _read_ahead(self, group: list[dict]) -> None:
        if not group:
            return
        start = group[0]["offset"]
        stop = group[-1]["offset"] + group[-1]["length"]
        if stop > self.size or stop - start > REGION_BYTES:
            return  # read block by block (the truncation is reported there)
        self.fh.seek(start)
        region = self.fh.read(stop - start)
        spans = [(loc["offset"] - start, loc["length"]) for loc in group]
        decoded = decode_blocks(region, spans, self.n_rows, self.V) if self.sparse \
            else [None] * len(spans)
        view = memoryview(region)
        for (s, length), d in zip(spans, decoded):
            self.ahead[start + s] = (length, view[s:s + length], d)

    def block(self, off: int, length: int):
        """``(bytes at off..off + length, the decoded block read ahead or None, their
        SHA-256 hex digest)``."""
        got = self.ahead.get(off)
        if got is not None and got[0] == length:
            blob, decoded = got[1], got[2]
        else:
            self.fh.seek(off)
            blob, decoded = self.fh.read(length), None
        return blob, decoded, hashlib.sha256(blob).hexdigest()

    def decode(self, blob, decoded):
        """The rows of ``blob``: ``decoded`` if read ahead, else read here (raising the
        error of :func:`mechanism.transcript.decode_rows` for a block it refuses)."""
        if not self.sparse:
            return decode_rows(blob, self.n_rows, self.V)
        if isinstance(decoded, SparseRows):
            return decoded
        return decode_sparse(bytes(blob), self.n_rows, self.V)


class _Walk:
    """The state of one pass over the lines: what the next line must continue."""

    def __init__(self, header: dict):
        self.prev = header["hash"]
        self.step, self.offset, self.n_steps = 0, 0, 0
        self.end_seen, self.stopped_at = None, None
        self.stops = set(header["stop_tokens"])


def _header_chain(fh, header: dict, report: AuditReport) -> None:
    raw = read_line(fh)
    report.count("chain")
    want = line_hash(GENESIS, raw.rstrip(b"\n"), header["hash"])
    if header["prev"] != GENESIS or header["hash"] != want:
        report.fail(Divergence("chain", None, 1, "hash", want, header["hash"],
                               message="the header was edited"))


def _record(raw: bytes, line: int, path: Path, header: dict) -> dict:
    """One line parsed and validated (InvalidInput, exit 2, naming file, line, field)."""
    where = f"{path}:{line}"
    if not raw.endswith(b"\n") and len(raw) <= MAX_LINE:  # longer: parse_line names it
        try:
            parse_line(raw, where)
        except InvalidInput as exc:
            raise _bad(f"{where} is cut off (no newline): the file is truncated ({exc}); "
                       "every step before it was audited", line) from None
        raise _bad(f"{where} has no final newline: a line is its record's canonical JSON "
                   "and one \\n, so these are not its bytes (the write may have been cut "
                   "before it); every step before it was audited", line)
    rec = parse_line(raw, where)
    return S.check_end(rec, where) if "end" in rec else S.check_step(rec, where, header)


def _batch(lines: list[bytes], line: int, path: Path, header: dict) -> list[dict] | None:
    """The validated records of a batch of lines when every line reads plainly
    (:func:`mechanism.records.parse_lines`, :func:`properties.audit.schema.steps_valid`),
    else None: then each line is read alone by :func:`_record`, which names the defect
    after every earlier line has been yielded. The nesting depth is not checked by
    ``parse_lines`` here: a step or end record that passes the schema is 2 deep at most."""
    recs = parse_lines(lines, max_depth=None)
    if recs is None:
        return None
    steps = recs[:-1] if "end" in recs[-1] else recs
    if any("end" in r for r in steps) or not S.steps_valid(steps, header):
        return None
    if len(steps) < len(recs):
        try:
            S.check_end(recs[-1], f"{path}:{line + len(lines) - 1}")
        except InvalidInput:
            return None
    return recs


def verified_steps(folder, header: dict, report: AuditReport,
                   sparse: bool = False) -> Iterator[VerifiedStep]:
    """Yield each step after checking chain, order and side file (see module doc);
    ``sparse``: rows as :class:`SparseRows` (the vectorized audit), else dense. Lines are
    read ``BATCH_BYTES`` at a time and, when the batch reads plainly, parsed, validated
    and their blocks read and decoded together; the checks and their order are those of
    one line at a time."""
    folder = Path(folder)
    side_path = folder / SIDE
    if not side_path.is_file():
        what = "is not a regular file" if side_path.exists() else "does not exist"
        raise _bad(f"{side_path} {what}; a run folder holds {JSONL} and {SIDE}", None)
    side_size = side_path.stat().st_size
    w = _Walk(header)
    max_tokens = header["max_tokens"]
    path = folder / JSONL
    with open_binary(path) as fh, open_binary(side_path) as side_fh:
        _header_chain(fh, header, report)
        side = _Side(side_fh, side_size, header, sparse)
        first = 2
        while lines := read_lines(fh, BATCH_BYTES):
            recs = _batch(lines, first, path, header)
            side.prefetch([r["reports"] for r in recs if "end" not in r] if recs else [])
            rows = recs and clean_batch(lines, recs, w, side, max_tokens)
            if rows is not None:  # nothing to report: counted at once
                yield from _commit(lines, recs, rows, first, w, report)
                first += len(lines)
                continue
            for k, raw in enumerate(lines):
                line = first + k
                rec = recs[k] if recs is not None else _record(raw, line, path, header)
                step = rec.get("step")
                _check_chain(raw, rec, w.prev, line, step, report)
                w.prev = report.head_hash = rec["hash"]
                if w.end_seen is not None:
                    report.count("sequence")
                    report.fail(Divergence("sequence", step, line, "line", "nothing after the "
                                           "end record", "a further line"))
                    continue
                if "end" in rec:
                    w.end_seen = (line, rec)
                    continue
                _check_sequence(rec, line, w, max_tokens, report)
                rows, sha_ok = _read_block(side, rec["reports"], line, step, report, w.offset)
                w.offset = rec["reports"]["offset"] + rec["reports"]["length"]
                if rec["token"] in w.stops and w.stopped_at is None:
                    w.stopped_at = step
                w.n_steps += 1
                yield VerifiedStep(line, rec, rows, sha_ok)
            first += len(lines)
    _check_end(report, w.end_seen, w.n_steps, w.offset, side_size, w.stopped_at, header)


def _commit(lines, recs, rows, first: int, w: _Walk, report) -> Iterator[VerifiedStep]:
    """A batch :func:`properties.audit.clean_batch.clean_batch` passed: its checks counted
    in one call each, the walk moved past it, its steps yielded."""
    m = len(rows)
    report.count("chain", len(lines))
    report.count("sequence", m)
    report.count("side_file", m)
    w.prev = report.head_hash = recs[-1]["hash"]
    if m < len(recs):
        w.end_seen = (first + m, recs[-1])
    if m:
        last = recs[m - 1]
        w.step, w.n_steps = last["step"] + 1, w.n_steps + m
        w.offset = last["reports"]["offset"] + last["reports"]["length"]
        if last["token"] in w.stops:
            w.stopped_at = last["step"]
    for k in range(m):
        yield VerifiedStep(first + k, recs[k], rows[k], True)


def _check_sequence(rec: dict, line: int, w: _Walk, max_tokens: int, report) -> None:
    step = rec["step"]
    report.count("sequence")
    if step != w.step:
        report.fail(Divergence("sequence", step, line, "step", w.step, step,
                               message="steps must be numbered 0, 1, 2, ..."))
    if w.stopped_at is not None:
        report.fail(Divergence("sequence", step, line, "step", "none after stop token",
                               step, message=f"step {w.stopped_at} emitted a stop token"))
    if w.n_steps >= max_tokens:
        report.fail(Divergence("sequence", step, line, "step", f"at most max_tokens = "
                               f"{max_tokens} steps", w.n_steps + 1,
                               message="a step beyond the header's max_tokens"))
    w.step = step + 1


def _check_end(report, end_seen, n_steps, side_used, side_size, stopped_at, header) -> None:
    """The writer ends every normal run with a chained end record (mechanism/transcript.py):
    its counts must match, a run must stop at a stop token or at ``max_tokens``, and a
    missing end record means the run was cut short (a crash, or truncation at a line
    boundary)."""
    report.count("sequence")
    max_tokens = header["max_tokens"]
    if stopped_at is None and n_steps < max_tokens:
        report.fail(Divergence("sequence", None, None, "steps", max_tokens, n_steps,
                               message="fewer steps than max_tokens and no stop token: "
                                       "the transcript is truncated"))
    if end_seen is not None:
        line, rec = end_seen
        for key, have in (("steps", n_steps), ("side_bytes", side_used)):
            if rec[key] != have:
                report.fail(Divergence("sequence", None, line, f"end.{key}", rec[key], have,
                                       message="the run is truncated or padded"))
        want = "stop_token" if stopped_at is not None else "length"
        if rec["stopped"] != want:
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
