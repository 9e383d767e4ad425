"""benchmarks/audit.py runs at a small size and prints its figures (the benchmark is a
script, not a test of speed; docs/audit.md's examples run as doctests in tests/test_docs.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_benchmark_small(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "audit.py"), "--steps", "30",
                          "--agents", "3", "--vocab", "2048", "--dense-every", "10",
                          "--dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "audit: 30 steps" in out.stdout and "peak RSS" in out.stdout
