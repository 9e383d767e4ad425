"""The one plain-text table formatter of the project (``tokenauction check``, ``prove``
and ``audit`` print their verdict tables with it). Standard library only.
"""

from __future__ import annotations

from typing import Sequence


#: The widest line a table prints (longer last cells wrap onto indented lines).
WIDTH = 100


def text_table(rows: Sequence[Sequence[object]], *, rule: bool = False,
               right: Sequence[int] = (), width: int | None = WIDTH) -> str:
    """``rows[0]`` is the header. Every column but the last is left-aligned to its widest
    cell (right-aligned for the column indices in ``right``: numbers), columns are
    separated by two spaces, the last column is not padded and trailing spaces are
    dropped. ``rule``: a dashed line under the header (the last column's dashes as long as
    its header). ``width``: a last cell that would pass that many columns wraps at spaces
    onto lines indented to the last column (at least 30 characters of it per line).

    >>> print(text_table([("claim", "verdict", "note"), ("a.b", "PROVED", "")], rule=True))
    claim  verdict  note
    -----  -------  ----
    a.b    PROVED
    """
    cells = [[str(c) for c in row] for row in rows]
    if not cells:
        return ""
    ncol = max(len(r) for r in cells)
    cells = [r + [""] * (ncol - len(r)) for r in cells]
    widths = [max(len(r[k]) for r in cells) for k in range(ncol - 1)]

    def line(r):
        return "  ".join([c.rjust(w) if k in right else c.ljust(w)
                          for k, (c, w) in enumerate(zip(r, widths))] + [r[-1]]).rstrip()

    indent = sum(widths) + 2 * len(widths)
    room = max(30, width - indent) if width else None

    def wrapped(r):
        if room is None or len(r[-1]) <= room:
            return line(r)
        import textwrap
        parts = textwrap.wrap(r[-1], room, break_on_hyphens=False) or [""]
        return "\n".join([line(r[:-1] + [parts[0]])] + [" " * indent + p for p in parts[1:]])

    out = [line(cells[0])]
    if rule:
        out.append(line(["-" * w for w in widths] + ["-" * len(cells[0][-1])]))
    out += [wrapped(r) for r in cells[1:]]
    return "\n".join(out)
