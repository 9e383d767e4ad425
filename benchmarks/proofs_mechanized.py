"""Time of the independent checks (docs/theory.md section 10): the Coq build of
proofs/coq from clean and the cached verification, side by side in one run, with the CPU
model. Usage: python benchmarks/proofs_mechanized.py"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proofs.mechanized import coq, theorems  # noqa: E402


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    names = theorems.all_theorems()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TOKENAUCTION_CACHE"] = cache
        t0 = time.perf_counter()
        built = coq.check(names)
        t1 = time.perf_counter()
        again = coq.check(names)
        t2 = time.perf_counter()
    print(f"CPU: {cpu()} ({os.cpu_count()} cores)")
    print(f"coq build from clean: {t1 - t0:.1f} s ({built.reason.splitlines()[0]})")
    print(f"coq cached verify:    {t2 - t1:.1f} s ({again.reason.splitlines()[0][:60]})")
    print(f"ratio clean/cached:   {(t1 - t0) / max(t2 - t1, 1e-9):.1f}x; "
          f"{len(names)} theorems, axioms {', '.join(built.axioms)}")


if __name__ == "__main__":
    main()
