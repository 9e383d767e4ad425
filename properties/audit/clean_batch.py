"""A batch of transcript lines checked at once, for a batch with nothing to report.

:func:`clean_batch` runs, over a whole batch of parsed and validated lines
(:func:`properties.audit.stream.verified_steps`), the checks the stream makes one line at
a time -- the hash chain over each line's exact bytes, the step numbers, the stop token
and ``max_tokens``, the side-file blocks (contiguous, inside the file, the row count,
SHA-256, decodable) -- and answers only when EVERY check of every line passes: then the
stream counts them in one call per check and yields the steps; else None, and the
stream reads the batch one line at a time, which records each divergence in order
(nothing here has changed any state). So the report is the same either way.
"""

from __future__ import annotations

from mechanism.records import line_hash



def _chain_ok(lines: list[bytes], recs: list[dict], prev: str) -> bool:
    """Every line links to the one before and its ``hash`` is over its exact bytes."""
    for raw, rec in zip(lines, recs):
        h = rec["hash"]
        if rec["prev"] != prev or line_hash(prev, raw[:-1], h) != h:
            return False
        prev = h
    return True


def _blocks(side, locs: list[dict], offset: int):
    """The decoded rows of each block at ``locs`` (validated ``reports`` objects), or None
    if any block is out of order, outside the file, of another row count, edited
    (SHA-256) or undecodable."""
    out = []
    for loc in locs:
        off, length = loc["offset"], loc["length"]
        if off != offset or off + length > side.size or loc["rows"] != side.n_rows:
            return None
        blob, decoded, digest = side.block(off, length)
        if digest != loc["sha256"]:
            return None
        try:
            out.append(side.decode(blob, decoded))
        except ValueError:  # InvalidInput is a ValueError
            return None
        offset = off + length
    return out


def clean_batch(lines: list[bytes], recs: list[dict], walk, side, max_tokens: int):
    """The rows of each step of the batch (the end record, if last, has none) when every
    stream check of every line passes (see the module doc), else None. ``walk``: the
    stream's state before the batch (``prev``, ``step``, ``offset``, ``n_steps``,
    ``end_seen``, ``stopped_at``, ``stops``); it is not changed here."""
    if walk.end_seen is not None or walk.stopped_at is not None:
        return None
    steps = recs[:-1] if "end" in recs[-1] else recs
    m = len(steps)
    if walk.n_steps + m > max_tokens:
        return None
    if [r["step"] for r in steps] != list(range(walk.step, walk.step + m)):
        return None
    if walk.stops and any(r["token"] in walk.stops for r in steps[:-1]):
        return None
    if not _chain_ok(lines, recs, walk.prev):
        return None
    return _blocks(side, [r["reports"] for r in steps], walk.offset)
