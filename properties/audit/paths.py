"""Which runs a batch target names: a run folder, a directory, a glob or a manifest.

* A path that exists is read literally, never as a pattern: ``audit 'logs/run[1]'`` audits
  the folder ``logs/run[1]`` when it exists.
* A glob (``*``, ``?``, ``[...]``; ``**`` for any depth) is expanded when asked
  (``--glob``), or when the target holds such characters and no such path exists; the
  report says which (:attr:`Runs.how`).
* Directories are walked following symbolic links once: each real directory is visited at
  most once (by device and inode), so a symlink loop ends the walk there, and a run reached
  by two paths is reported once, under the first path found (sorted order).
* A manifest is a text file whose first line is exactly ``# tokenauction-manifest/1``;
  every other line is blank, a comment (``#`` as its first non-blank character), ``RUN_DIR``
  or ``RUN_DIR HEAD`` (one space-free path, relative to the manifest's folder, and the chain
  head published for it: 64 lowercase hex digits). Anything else -- a third field, a head
  that is not 64 hex digits (``run#2 HEAD``), a run named twice -- is an error naming the
  line. Any other file (``record.py``) is not a manifest, and says so.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from pathlib import Path

from mechanism.errors import InvalidInput
from mechanism.records import open_binary
from mechanism.transcript import JSONL

from properties.cage_replies import printable

MANIFEST = "# tokenauction-manifest/1"
HEAD = re.compile(r"[0-9a-f]{64}\Z")
MAGIC = re.compile(r"[*?[]")


def shown(text) -> str:
    """A run's path or name (or a message holding one) as the audit prints it or writes it
    into a report: control characters (newlines, ANSI escapes) as ``\\xNN``, the way
    :func:`properties.cage.printable` shows user strings, never cut (docs/audit.md, "Many
    runs")."""
    return printable(text, limit=sys.maxsize)


class Runs(list):
    """``[(run folder, expected head or None), ...]`` and how the target was read."""

    def __init__(self, items, how: str):
        super().__init__(items)
        self.how = how


def is_run(path: Path) -> bool:
    return (path / JSONL).is_file()


def _walk(root: Path, seen: set) -> list[Path]:
    """Every directory at or below ``root`` (links followed, each real directory once)."""
    out = []
    for top, dirs, _ in os.walk(root, followlinks=True):
        st = os.stat(top)
        key = (st.st_dev, st.st_ino)
        if key in seen:
            dirs[:] = []
            continue
        seen.add(key)
        dirs.sort()
        out.append(Path(top))
    return out


def _runs_below(root: Path, seen: set) -> list[Path]:
    return [d for d in _walk(root, seen) if is_run(d)]


def _match(parts: list[str], pat: list[str]) -> bool:
    """Whether the path parts match the pattern parts (``**``: any number of parts), by
    dynamic programming over (part, pattern part): polynomial, where the recursion on each
    ``**`` took exponential time (7 of them on a folder chain 30 deep: 45 s)."""
    m = len(pat)
    ok = [False] * (m + 1)   # ok[j]: parts[:i] matches pat[:j], row by row over i
    ok[0] = True
    for j in range(1, m + 1):
        ok[j] = ok[j - 1] and pat[j - 1] == "**"
    for part in parts:
        new = [False] * (m + 1)
        for j in range(1, m + 1):
            if pat[j - 1] == "**":
                new[j] = new[j - 1] or ok[j] or ok[j - 1]
            else:
                new[j] = ok[j - 1] and fnmatch.fnmatchcase(part, pat[j - 1])
        ok = new
    return ok[m]


def _glob(text: str) -> list[Path]:
    """Paths matching the pattern (links followed once; no path twice)."""
    pat = Path(text).parts
    k = next(i for i, part in enumerate(pat) if MAGIC.search(part))
    root = Path(*pat[:k]) if k else Path(".")
    rest = list(pat[k:])
    found = []
    for d in _walk(root, set()) if root.is_dir() else []:
        rel = list(d.relative_to(root).parts) if d != root else []
        if _match(rel, rest):
            found.append(d)
        elif (d / JSONL).is_file() and _match(rel + [JSONL], rest):
            found.append(d)
    return found


def find_runs(target, *, glob: bool = False) -> Runs:
    """``(run folder, expected head or None)`` for every run the target names (module doc).

    Raises InvalidInput (a usage error) when it names none or is malformed."""
    text = str(target)
    path = Path(text)
    if glob or (MAGIC.search(text) and not os.path.lexists(text)):
        seen, runs = set(), []
        for m in _glob(text):
            runs += _runs_below(m, seen)
        how = "glob" + ("" if glob else f" (no path {text!r} exists, so it was read as a pattern)")
        return _named(_unique(runs), text, how)
    if path.is_file() and path.name == JSONL:
        return Runs([(str(path.parent), None)], "one transcript")
    if path.is_file():
        return _named(read_manifest(path), text, "manifest")
    if path.is_dir():
        if is_run(path):
            return Runs([(str(path), None)], "run folder")
        return _named(_unique(_runs_below(path, set())), text, "directory")
    raise InvalidInput(f"{text} is not a run folder, a directory, a glob or a manifest file "
                       "(no such path)", value=text)


def _unique(paths: list[Path]) -> list[tuple[str, None]]:
    out, real = [], set()
    for p in paths:
        r = os.path.realpath(p)
        if r not in real:
            real.add(r)
            out.append((str(p), None))
    return out


def _named(runs, text: str, how: str) -> Runs:
    if not runs:
        raise InvalidInput(f"no run folders (holding {JSONL}) found in {text} ({how})", value=text)
    return Runs(runs, how)


#: A manifest's size and one line's (a path of at most PATH_MAX, a head): past them the
#: file is refused before more is read (a 512 MiB file was read whole, then refused; under
#: a memory limit, exit 3)
MAX_MANIFEST_BYTES = 1 << 24
MAX_MANIFEST_LINE = 4096 + 80


def read_manifest(path: Path) -> list[tuple[str, str | None]]:
    """The strict manifest (module doc); InvalidInput naming the file and line."""
    from properties.config import read_small
    try:
        with open_binary(path) as fh:
            first = fh.readline(len(MANIFEST) + 3)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read as a manifest ({exc})", value=str(path)) \
            from None
    if first.strip() != MANIFEST.encode():
        raise InvalidInput(f"{path} is a file, not a run folder or a manifest (a manifest's "
                           f"first line is {MANIFEST!r})", value=str(path))
    lines = read_small(path, "manifest", MAX_MANIFEST_BYTES, text=True).splitlines()
    for k, raw in enumerate(lines, start=1):
        if len(raw) > MAX_MANIFEST_LINE:
            raise InvalidInput(f"{path}:{k}: a line of {len(raw)} characters; a manifest line "
                               "is a run folder's path and its head", value=k)
    runs, where = [], {}
    for k, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) > 2 or (len(fields) == 2 and not HEAD.match(fields[1])):
            bad = fields[1] if len(fields) == 2 else " ".join(fields[2:])
            raise InvalidInput(f"{path}:{k}: {bad!r} is not a chain head; a manifest line is "
                               "'RUN_DIR' or 'RUN_DIR HEAD' (HEAD: 64 lowercase hex digits; "
                               "'#' starts a comment only at the start of a line)", value=k)
        run = Path(fields[0]) if Path(fields[0]).is_absolute() else path.parent / fields[0]
        real = os.path.realpath(run)
        if real in where:
            raise InvalidInput(f"{path}:{k}: names the run {fields[0]} again (line "
                               f"{where[real]}); each run is listed once", value=k)
        where[real] = k
        runs.append((str(run), fields[1] if len(fields) == 2 else None))
    return runs
