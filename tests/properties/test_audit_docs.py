"""docs/audit.md's Python example runs (STYLE.md: docs that run), and the benchmark
script works at a small size."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_audit_example_runs():
    text = (ROOT / "docs" / "audit.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    runnable = [b for b in blocks if "import" in b]
    assert runnable
    for block in runnable:
        exec(compile(block, "docs/audit.md", "exec"), {})


def test_benchmark_small(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "audit.py"), "--steps", "30",
                          "--agents", "3", "--vocab", "2048", "--dense-every", "10",
                          "--dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "audit: 30 steps" in out.stdout and "peak RSS" in out.stdout
