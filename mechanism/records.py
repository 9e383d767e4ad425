"""Byte-exact JSON records: the one canonical form, the strict reader, the line hash.

A transcript line is the record's **canonical JSON** (theory §9, item 10):
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
allow_nan=False)`` -- keys sorted, no spaces, strings ASCII with JSON escapes, numbers as
Python writes them (integers in decimal, floats by the shortest repr that round-trips:
``0.1``, ``1e-300``, ``-0.0``), no NaN or Infinity -- followed by one ``\\n``.

:func:`parse_line` accepts a line only if it is exactly that form: re-encoding the parsed
record must give back the very bytes read. So two byte strings never parse to one record,
and a hash over the record's canonical body is a hash over the line's bytes: a duplicate
key (a reader keeping the first value would see another record), ``1.0e0`` for ``1.0``,
``2.0`` written ``2``, an extra space, a reordered key or a blank line are each an
:class:`~mechanism.errors.InvalidInput` naming the line and what is wrong.

:func:`parse_lines` reads many lines in one call (one decoding of their joined bytes,
one scanner and one encoder built once): it returns their records only when every line
is plainly canonical, else None, and the caller reads that batch with :func:`parse_line`
(which names the defect and its line). So a batch read gives exactly what line-by-line
reading gives, faster.

:func:`read_line` and :func:`read_lines` read a file's lines with memory bounded whatever
the file holds: a line longer than ``MAX_LINE`` comes back cut (no newline) and ends the
read, so :func:`parse_line` names it before a larger one is ever held in memory.

:func:`line_hash` is the chain: ``sha256(prev + line bytes without the "hash" member)``
(the member ``"hash":"<64 hex>"`` removed with its comma), identical to hashing the
canonical body of the record.
"""

from __future__ import annotations

import hashlib
import json
import os

from .errors import InvalidInput

#: Deepest nesting a record may have (header lists, the step's ``reports`` object).
MAX_DEPTH = 4
#: Longest line read (a step of n = 4096 agents with realized thresholds fits).
MAX_LINE = 1 << 24


def open_binary(path):
    """``path`` opened for binary reading without waiting on a FIFO that has no writer
    (``open()`` blocks until one comes: ``--log FIFO`` hung the auditor). Opened with
    ``O_NONBLOCK``, which is then cleared: such a FIFO reads as empty, a pipe with a writer
    and ``/dev/zero`` read as before. OSError as ``open()`` raises it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_line(fh) -> bytes:
    """The next line of binary file ``fh`` (b"" at its end), at most ``MAX_LINE + 2`` bytes:
    longer, it comes back cut there, without its newline (:func:`parse_line` refuses it)."""
    return fh.readline(MAX_LINE + 2)


def read_lines(fh, hint: int) -> list[bytes]:
    """Lines of ``fh`` (each by :func:`read_line`) until they hold ``hint`` bytes or the file
    ends; a line without its newline (cut, or the file's last) ends the batch. Unlike
    ``fh.readlines(hint)``, which holds a whole line however long, this reads at most
    ``hint + MAX_LINE + 2`` bytes."""
    lines, total = [], 0
    while total < hint:
        raw = read_line(fh)
        if not raw:
            break
        lines.append(raw)
        total += len(raw)
        if raw[-1] != 10:  # no b"\n": cut at MAX_LINE + 2, or the end of the file
            break
    return lines


def canonical(obj) -> bytes:
    """The canonical JSON bytes of ``obj`` (no trailing newline)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode()


def body_hash(prev: str, record: dict) -> str:
    """The chain hash of a record: ``sha256(prev + canonical(record without "hash"))``."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(prev.encode() + canonical(body)).hexdigest()


def line_hash(prev: str, line: bytes, hash_value) -> str:
    """The chain hash of a canonical ``line`` (no newline) whose ``"hash"`` member is
    ``hash_value`` (None: the line has none)."""
    if isinstance(hash_value, str):
        member = b'"hash":' + (b'"' + hash_value.encode() + b'"' if hash_value.isalnum()
                               and hash_value.isascii() else canonical(hash_value))
        for cut in (member + b",", b"," + member):
            at = line.find(cut)
            if at >= 0:
                line = line[:at] + line[at + len(cut):]
                break
        else:
            line = line.replace(b"{" + member + b"}", b"{}", 1)
    return hashlib.sha256(prev.encode() + line).hexdigest()


def _no_default(obj):
    raise TypeError(f"{type(obj).__name__} is not JSON")


#: The canonical encoder and the strict scanner, built once (``json.dumps`` and
#: ``json.loads`` build theirs per call). The encoder writes what :func:`canonical` writes.
_ENCODE = json.encoder.c_make_encoder and json.encoder.c_make_encoder(
    None, _no_default, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, False)


def parse_lines(lines: list[bytes], max_depth: int | None = MAX_DEPTH) -> list[dict] | None:
    """The records of ``lines`` (each ending with its ``\n``) if EVERY line is a plainly
    canonical record, else None: then read them one by one with :func:`parse_line`, which
    names the defect and its line. One ``json.loads`` of the lines joined as a JSON list,
    then each record re-encoded and compared with ITS line: equal bytes make the line the
    canonical JSON of that record (so a line holding two records, or half of one, or a
    duplicate key, never compares equal). A record returned here is exactly what
    :func:`parse_line` returns for its line. ``max_depth=None``: no depth check, for a
    caller whose schema check of every record bounds its nesting anyway."""
    if not _ENCODE:  # pragma: no cover - CPython has the C encoder
        return None
    data = b"".join(lines)
    if not data.isascii() or any(len(raw) > MAX_LINE or raw[-1:] != b"\n" for raw in lines):
        return None
    texts = data.decode("ascii").split("\n")[:-1]
    try:
        recs = _SCANNER.decode("[" + ",".join(texts) + "]")
    except (ValueError, RecursionError):  # not JSON, NaN or Infinity (_Defect)
        return None
    if type(recs) is not list or len(recs) != len(texts):
        return None
    encode = _ENCODE
    try:
        for rec, text in zip(recs, texts):
            if type(rec) is not dict or "".join(encode(rec, 0)) != text \
                    or max_depth is not None and _depth(rec, max_depth) > max_depth:
                return None
    except (ValueError, TypeError):  # a number read as infinity (allow_nan=False)
        return None
    return recs


class _Pairs:
    """``object_pairs_hook`` refusing duplicate keys (the first one is named)."""

    def __call__(self, pairs):
        out = {}
        for key, value in pairs:
            if key in out:
                raise _Defect(f"duplicate key {key!r}", key)
            out[key] = value
        return out


class _Defect(ValueError):
    def __init__(self, message: str, field):
        super().__init__(message)
        self.field = field


def _refuse_constant(name):
    raise _Defect(f"{name} is not JSON (the writer never writes NaN or Infinity)", name)


#: The scanner :func:`_load` uses without duplicate-key detection (a duplicate key reads
#: as a record with one key less, whose re-encoding differs from the bytes).
_SCANNER = json.JSONDecoder(parse_constant=_refuse_constant)


def _depth(obj, limit: int) -> int:
    """Nesting depth of a parsed record (JSON gives only dicts and lists as containers),
    level by level; stops at the first level deeper than ``limit``. A container holding
    no container (most of a record: lists of numbers) is passed over by one ``map`` of
    ``type``."""
    level, depth = [obj], 0
    while level:
        depth += 1
        if depth > limit:
            return depth
        inner = []
        for x in level:
            values = x.values() if type(x) is dict else x
            kinds = set(map(type, values))
            if dict in kinds or list in kinds:
                inner += [v for v in values if type(v) is dict or type(v) is list]
        level = inner
    return depth


def parse_line(raw: bytes, where: str, max_depth: int = MAX_DEPTH,
               canonical_only: bool = True) -> dict:
    """The record of one transcript line (``raw`` with its ``\\n``, if any).

    Raises :class:`InvalidInput` (``value`` = the line number ending ``where``, else the
    line's first 80 characters) naming ``where`` (``file:line``) and the defect: not UTF-8, not JSON, not an object,
    a duplicate key, NaN/Infinity, nested deeper than ``max_depth``, or (``canonical_only``)
    bytes that are not the record's canonical form (spacing, key order, number or string
    spelling).
    """
    text = raw[:-1] if raw.endswith(b"\n") else raw
    tail = where.rsplit(":", 1)[-1]
    shown = int(tail) if tail.isdigit() else text[:80].decode("utf-8", "replace")
    if not text.strip():
        raise InvalidInput(f"{where}: blank line (a transcript has none)", value=shown)
    if len(text) > MAX_LINE:
        raise InvalidInput(f"{where}: a line longer than {MAX_LINE} bytes (the longest a "
                           "record's line may be)", value=shown)
    rec = _load(text, where, shown, pairs=not canonical_only)
    if canonical_only:
        if isinstance(rec, dict) and _depth(rec, max_depth) <= max_depth \
                and _canonical_or_none(rec) == text:
            return rec  # the common case: one plain parse, one re-encoding
        # a duplicate key reads as a record with one key less: parse again to name it
        rec = _load(text, where, shown, pairs=True)
    if not isinstance(rec, dict):
        raise InvalidInput(f"{where}: not a JSON object", value=shown)
    if _depth(rec, max_depth) > max_depth:
        raise InvalidInput(f"{where}: JSON nested deeper than {max_depth} levels", value=shown)
    if canonical_only:
        if _canonical_or_none(rec) is None:
            raise InvalidInput(f"{where}: a number is out of float64 range (it reads as "
                               "infinity); records hold finite numbers only", value=shown)
        raise InvalidInput(f"{where}: not in canonical JSON form ({_first_noncanonical(rec, text)}); "
                           "records are written by mechanism.records.canonical", value=shown)
    return rec


def _load(text: bytes, where: str, shown, pairs: bool):
    """``json.loads`` refusing NaN and Infinity, and with ``pairs`` duplicate keys."""
    try:
        return json.loads(text.decode("utf-8"), object_pairs_hook=_Pairs() if pairs else None,
                          parse_constant=_refuse_constant)
    except _Defect as exc:
        raise InvalidInput(f"{where}: {exc} (field {exc.field!r})", value=shown) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"{where}: not valid JSON ({exc})", value=shown) from None


def _canonical_or_none(rec: dict) -> bytes | None:
    """``canonical(rec)``, or None when a number overflowed to infinity (``1e400``)."""
    try:
        return canonical(rec)
    except ValueError:
        return None


def _first_noncanonical(rec: dict, text: bytes) -> str:
    want = canonical(rec)
    k = next((i for i, (a, b) in enumerate(zip(want, text)) if a != b), min(len(want), len(text)))
    return (f"at byte {k}: read {text[k:k + 16].decode('utf-8', 'replace')!r}, canonical "
            f"{want[k:k + 16].decode('utf-8', 'replace')!r}")
