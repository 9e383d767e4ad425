"""properties/audit/heap.py: the malloc thresholds are fixed where glibc is (and nowhere
else), once per process, in a fresh process as `tokenauction audit` runs; the audit's
report is the same with them fixed."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

from tests.helpers.recording import record

ROOT = Path(__file__).resolve().parents[3]

_CHILD = """
import json, sys
from properties.audit.heap import keep_heap
from properties.audit.replay import audit_run
before = audit_run(sys.argv[1]).to_json()
first, again = keep_heap(), keep_heap()
after = audit_run(sys.argv[1]).to_json()
for r in (before, after):
    r.pop("seconds", None)
print(json.dumps({"first": first, "again": again, "same": before == after,
                  "exit": after["exit_code"]}))
"""


def test_keep_heap_in_a_fresh_process(tmp_path):
    run = record(tmp_path / "run", n=3, steps=12)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(run)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    glibc = platform.libc_ver()[0] == "glibc"
    assert (r["first"], r["again"]) == (glibc, glibc)
    assert r["same"] and r["exit"] == 0
