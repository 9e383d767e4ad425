"""Transcripts: everything needed to replay an auction exactly (theory §9, item 10).

On disk a run folder holds (format ``tokenauction-transcript/1``):

* ``transcript.jsonl`` -- line 1 is the header (format, rule, payment, sampler, seed,
  n, V, ...); every further line is one step: token, bids, uniforms, payments, ...,
  the location and SHA-256 of that step's reports in the side file, and a hash chain
  (``prev`` = the previous line's ``hash``; ``hash`` = SHA-256 of ``prev`` and the
  line's bytes without its ``hash`` member). Each line is the record's canonical JSON
  (:mod:`mechanism.records`), so the hash covers the exact bytes. Any edited, dropped,
  duplicated or reordered line breaks the chain.
* the last line, written when the run ends normally, is a chained end record
  ``{"end": true, "steps": N, "side_bytes": B, "stopped": "length"|"stop_token"}``; a
  run folder without it was cut short (a crash, or a truncation at a line boundary).
* ``reports.bin`` -- per step, the agents' distributions then the reference (if any),
  each row stored sparsely as ``nnz:int32, indices:int32[nnz], values:float64[nnz]``.
  Exact: replay sees the very float64 values the auction saw. After top-p truncation
  rows are short, so LLM runs stay compact.

Writing is streamed (:class:`TranscriptWriter`); reading is streamed
(:func:`iter_steps`), so long runs are never loaded whole.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import InvalidInput
from .records import body_hash, canonical, open_binary, parse_line, read_line

FORMAT = "tokenauction-transcript/1"
JSONL = "transcript.jsonl"
SIDE = "reports.bin"
GENESIS = "0" * 64


chain_hash = body_hash  #: the hash of a record (:func:`mechanism.records.body_hash`)


def encode_rows(rows: np.ndarray) -> bytes:
    out = []
    for row in rows:
        idx = np.flatnonzero(row).astype("<i4")
        out += [struct.pack("<i", idx.size), idx.tobytes(), row[idx].astype("<f8").tobytes()]
    return b"".join(out)


def decode_rows(data: bytes, n_rows: int, V: int) -> np.ndarray:
    rows = np.zeros((n_rows, V))
    pos = 0
    for r in range(n_rows):
        if pos + 4 > len(data):
            raise InvalidInput(f"report row {r} is truncated in the side file", value=pos)
        (nnz,) = struct.unpack_from("<i", data, pos)
        pos += 4
        end = pos + 12 * nnz
        if nnz < 0 or end > len(data):
            raise InvalidInput(f"report row {r} declares {nnz} entries past the end of its block",
                               value=nnz)
        idx = np.frombuffer(data, "<i4", nnz, pos)
        vals = np.frombuffer(data, "<f8", nnz, pos + 4 * nnz)
        if nnz and (idx.min() < 0 or idx.max() >= V):
            raise InvalidInput(f"report row {r} has a token index outside 0..{V - 1}", value=None)
        if nnz > 1 and not (idx[1:] > idx[:-1]).all():
            raise InvalidInput(f"report row {r}: token indices not strictly increasing (the "
                               "writer stores each nonzero entry once, in order)", value=None)
        if nnz and not vals.all():
            raise InvalidInput(f"report row {r} stores a zero entry (the writer stores nonzero "
                               "entries only)", value=None)
        rows[r, idx] = vals
        pos = end
    if pos != len(data):  # one spelling of the side file (docs/audit.md, "Recorded auctions")
        raise InvalidInput(f"the block holds {len(data) - pos} bytes after its {n_rows} rows "
                           "(the writer writes the rows only)", value=len(data) - pos)
    return rows


class TranscriptWriter:
    """Append steps to a run folder as they happen (context manager)."""

    def __init__(self, folder, header: dict):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidInput(f"record_to={str(folder)!r} is a file, not a folder; pass a "
                               "folder for the run (it is created)", value=str(folder)) from None
        self._jsonl = open(self.folder / JSONL, "w", encoding="utf-8")
        self._side = open(self.folder / SIDE, "wb")
        self._offset = 0
        self._steps = 0
        self.prev = GENESIS
        self.write_line({"format": FORMAT, **header})

    def write_line(self, record: dict) -> dict:
        record = dict(record, prev=self.prev)
        record["hash"] = chain_hash(self.prev, record)
        self.prev = record["hash"]
        self._jsonl.write(canonical(record).decode() + "\n")
        return record

    def write_step(self, record: dict, rows: np.ndarray) -> dict:
        blob = encode_rows(rows)
        self._side.write(blob)
        loc = {"offset": self._offset, "length": len(blob), "rows": int(rows.shape[0]),
               "sha256": hashlib.sha256(blob).hexdigest()}
        self._offset += len(blob)
        self._steps += 1
        return self.write_line({**record, "reports": loc})

    def finish(self, stopped: str) -> None:
        """Write the chained end record (call once, when the run ends normally)."""
        self.write_line({"end": True, "steps": self._steps, "side_bytes": self._offset,
                         "stopped": stopped})

    def close(self):
        self._jsonl.close()
        self._side.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class StoredStep:
    line: int
    record: dict
    rows: np.ndarray | None  #: (n [+1 reference], V), None when the side file is unreadable


def read_header(folder) -> dict:
    path = Path(folder) / JSONL
    if not path.exists():
        raise InvalidInput(f"{path} does not exist; pass a run folder written by tokenauction",
                           value=str(path))
    with open_binary(path) as fh:
        header = parse_line(read_line(fh), f"{path}:1")
    if header.get("format") != FORMAT:
        raise InvalidInput(f"{path}:1 has format {header.get('format')!r}; expected {FORMAT!r}",
                           value=header.get("format"))
    return header


def iter_steps(folder) -> Iterator[StoredStep]:
    """Stream the steps of a run folder (line numbers are 1-based, the header is line 1).

    Steps are yielded as stored; the hash chain and the side file's SHA-256 are verified
    by ``properties.audit.replay`` (``rows`` is None here when a step's block does not match its
    SHA-256). A line that is not JSON raises :class:`InvalidInput` naming the line, after every
    earlier step has been yielded.
    """
    folder = Path(folder)
    header = read_header(folder)
    V = int(header["V"])
    with open(folder / JSONL, "rb") as fh, open(folder / SIDE, "rb") as side:
        read_line(fh)
        for lineno, line in enumerate(iter(lambda: read_line(fh), b""), start=2):
            rec = parse_line(line, f"{folder / JSONL}:{lineno}")
            if rec.get("end"):
                continue  # the end record (checked by the audit), not a step
            loc = rec.get("reports") or {}
            rows = None
            try:
                side.seek(int(loc["offset"]))
                blob = side.read(int(loc["length"]))
                if len(blob) == int(loc["length"]) and \
                        hashlib.sha256(blob).hexdigest() == loc.get("sha256"):
                    rows = decode_rows(blob, int(loc["rows"]), V)
            except (KeyError, TypeError, ValueError, OSError):
                rows = None
            yield StoredStep(lineno, rec, rows)


def folder_digest(folder) -> dict[str, str]:
    """SHA-256 of every file in a run folder (to show that an audit modified nothing)."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            p = Path(root) / name
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
