"""Helpers for the audit tests: record small synthetic runs and tamper with them."""

from __future__ import annotations

import json
from pathlib import Path

from mechanism import TokenAuction
from tokenauction.demo.synthetic import SyntheticAgents
from mechanism.transcript import GENESIS, JSONL, SIDE, canonical, chain_hash


def record(folder, n=3, steps=8, rule="linear", bids=None, reference=False, **kw) -> Path:
    """A synthetic run recorded to ``folder`` (no stop token, so exactly ``steps`` steps)."""
    folder = Path(folder)
    bids = bids or [1.0, 2.0, 0.5, 1.5][:n]
    TokenAuction(rule, **kw).run(SyntheticAgents(n, with_reference=reference), bids, seed=7,
                                 max_tokens=steps, record_to=folder)
    return folder


def records(folder) -> list[dict]:
    return [json.loads(x) for x in (Path(folder) / JSONL).read_text().splitlines()]


def write(folder, recs, *, rechain: bool) -> None:
    """Rewrite transcript.jsonl from records; ``rechain`` recomputes the hash chain as a
    tamperer who knows the format would."""
    lines, prev = [], GENESIS
    for rec in recs:
        rec = dict(rec)
        if rechain:
            rec["prev"] = prev
            try:
                rec["hash"] = chain_hash(prev, rec)
            except ValueError:  # NaN: no canonical JSON, so no valid hash either
                rec["hash"] = "f" * 64
            prev = rec["hash"]
        try:
            lines.append(canonical(rec).decode())
        except ValueError:  # NaN: written the way a careless tool would
            lines.append(json.dumps(rec, sort_keys=True, separators=(",", ":")))
    (Path(folder) / JSONL).write_text("\n".join(lines) + "\n")


def tamper(folder, edit, *, rechain: bool) -> None:
    recs = records(folder)
    edit(recs)
    write(folder, recs, rechain=rechain)


def side_path(folder) -> Path:
    return Path(folder) / SIDE


def run_cli(capsys, *argv) -> tuple[int, str]:
    """``tokenauction ARGV`` in-process: (exit code, stdout + stderr), never a traceback."""
    from tokenauction.cli import main as cli
    rc = cli([str(a) for a in argv])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    return rc, text
