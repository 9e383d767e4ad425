"""Benchmark: audit a synthetic 10,000-step run with 8 agents and V = 49152 (issues 6, 14).

    python benchmarks/audit.py [--steps 10000] [--agents 8] [--vocab 49152]
                               [--dense-every 500] [--top 256] [--dir DIR] [--keep]
                               [--no-serial] [--compare TREE [--repeat K]]
    python benchmarks/audit.py --runs 200 --steps 500 [--workers 1,2] [--distinct 4]

In one fresh process, on the same files: the raw read throughput (the run's two files
read whole, in 1 MiB blocks), the vectorized audit (``audit_run``, the default) and the
serial one (``vectorized=False``, unless ``--no-serial``), whose steps/s are printed side
by side with their ratio and the CPU model; the two reports must agree.

With ``--compare TREE`` (another checkout, e.g. of the previous version): the vectorized
audit of the same run folder by this tree and by TREE, each in a fresh process (its
first audit, then a warm second one), taking turns ``--repeat`` times; prints the best
steps/s of each and their ratio (one machine, one run, side by side).

The main line's audit runs as ``tokenauction audit`` does, with glibc's malloc thresholds
fixed (:mod:`properties.audit.heap`; ``--plain-heap`` leaves them adaptive).

With ``--runs R``: a batch of R runs (``--distinct`` of them written, the others hard
links to those, so the disk holds only the distinct ones) audited by
``properties.audit.cluster.audit_many`` on a local Dask cluster of each ``--workers``
size, started (and its workers warmed up) before the clock starts; prints runs/s,
steps/s, the speed-up over the first size, the load average and the CPU model.

Writes the run as ``TokenAuction.run(..., record_to=DIR)`` does, from a synthetic provider
(top-p style rows of 16..``--top`` tokens, and every ``--dense-every``-th step fully
dense rows over the whole vocabulary), then audits it in a fresh process and prints
the audit's time and peak memory (the audit process's peak RSS from
``resource.getrusage``, or with ``--tracemalloc`` the peak of Python and numpy
allocations), sampled at 10% of the steps and at the end: flat = streamed, not
loaded whole.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mechanism import TokenAuction  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model  # noqa: E402


class SparseAgents:
    """Provider: each agent's row has 16..top tokens (a top-p cut); every ``dense_every``
    steps all rows are dense over the vocabulary."""

    def __init__(self, n: int, V: int, top: int, dense_every: int, seed: int = 0):
        self.n, self.V, self.top, self.dense_every = n, V, top, dense_every
        self.rng = np.random.default_rng(seed)
        self.step = 0

    def __call__(self, prefix):
        n, V, rng = self.n, self.V, self.rng
        P = np.zeros((n, V))
        if self.dense_every and self.step % self.dense_every == 0:
            P[:] = rng.dirichlet(np.full(V, 0.5), size=n) if V <= 4096 else \
                rng.gamma(0.5, size=(n, V))
        else:
            for i in range(n):
                k = int(rng.integers(16, self.top + 1))
                idx = rng.choice(V, size=k, replace=False)
                P[i, idx] = rng.gamma(0.5, size=k) + 1e-12
        P /= P.sum(axis=1, keepdims=True)
        self.step += 1
        return P


def bids_for(n: int):
    base = np.linspace(0.5, 2.0, n)

    def bids(step, _prefix):
        return base * (1.0 + 0.5 * np.sin(0.1 * step + np.arange(n)))
    return bids


def write_run(folder: Path, steps: int, n: int, V: int, top: int, dense_every: int,
              seed: int = 0) -> float:
    """``TokenAuction.run(record_to=folder)`` with bounded memory (no steps or reports kept)."""
    t0 = time.perf_counter()
    TokenAuction("linear").run(SparseAgents(n, V, top, dense_every, seed), bids_for(n), seed=1 + seed,
                               max_tokens=steps, record_to=folder, keep_steps=False,
                               keep_reports=False)
    return time.perf_counter() - t0


def _maxrss() -> int:
    """Peak RSS of this process in bytes: VmHWM (Linux; reset by exec, unlike ru_maxrss,
    which a child inherits from the process that forked it), else ru_maxrss."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def audit_child(folder: str, traced: bool, no_serial: bool = False,
                plain_heap: bool = False) -> None:
    """Run in a fresh process: audit, print one JSON line of figures. Peak memory is
    sampled at 10% of the steps and at the end: RSS always, tracemalloc if ``traced``
    (which about doubles the audit's time, so the timing is then not representative)."""
    from properties.audit.heap import keep_heap
    from properties.audit.replay import audit_run

    heap = keep_heap() if not plain_heap else None  # as `tokenauction audit` does
    samples = {}
    marks = set()

    def peak():
        return tracemalloc.get_traced_memory()[1] if traced else _maxrss()

    def progress(done, _step):
        if done in marks:
            samples[done] = peak()

    steps = sum(1 for _ in open(Path(folder) / "transcript.jsonl", "rb")) - 1
    marks.update({max(1, steps // 10), steps})
    t0 = time.perf_counter()
    nbytes = 0
    for f in Path(folder).iterdir():  # raw read throughput of the same files
        with open(f, "rb") as fh:
            while block := fh.read(1 << 20):
                nbytes += len(block)
    read_s = time.perf_counter() - t0
    if traced:
        tracemalloc.start()
    t0 = time.perf_counter()
    report = audit_run(folder, progress=progress)
    seconds = time.perf_counter() - t0
    top = peak()
    serial_s, same = None, None
    if not no_serial:
        t0 = time.perf_counter()
        old = audit_run(folder, vectorized=False)
        serial_s = time.perf_counter() - t0
        same = (old.exit_code, str(old.first_divergence), old.n_divergences) == \
            (report.exit_code, str(report.first_divergence), report.n_divergences) and all(
                (a.checked, a.failed) == (b.checked, b.failed)
                for a, b in zip(old.tallies.values(), report.tallies.values()))
    print(json.dumps({"seconds": seconds, "peak": top, "samples": samples, "traced": traced,
                      "exit_code": report.exit_code, "steps": report.steps_replayed,
                      "table": report.table(), "read_s": read_s, "bytes": nbytes,
                      "serial_s": serial_s, "same": same, "heap": heap}))


def batch(args) -> int:
    """Many runs on local Dask clusters of each size in ``--workers``; see the module doc."""
    import distributed

    from properties.audit.cluster import audit_many, find_runs, local_cluster

    root = Path(args.dir or tempfile.mkdtemp(prefix="ta-bench-batch-"))
    try:
        distinct = max(1, min(args.distinct, args.runs))
        print(f"writing {distinct} distinct runs of {args.steps} steps ({args.agents} agents, "
              f"V = {args.vocab}); {args.runs} run folders in all (hard links) ...", flush=True)
        for k in range(args.runs):
            folder = root / f"run{k:04d}"
            if k < distinct:
                write_run(folder, args.steps, args.agents, args.vocab, args.top,
                          args.dense_every, seed=k)
            else:
                folder.mkdir(parents=True, exist_ok=True)
                for f in (root / f"run{k % distinct:04d}").iterdir():
                    os.link(f, folder / f.name)
        runs = find_runs(root)
        base = None
        for w in [int(x) for x in args.workers.split(",")]:
            with local_cluster(w) as cluster, distributed.Client(cluster) as client:
                client.run(lambda: __import__("properties.audit.replay"))  # warm the workers
                load = os.getloadavg()[0]
                rep = audit_many(runs, client=client, source=str(root))
            rate = rep.steps / rep.seconds
            base = base or rate
            c = rep.counts()
            print(f"{w} worker(s): {len(rep.runs)} runs, {rep.steps} steps in {rep.seconds:.1f}s "
                  f"({len(rep.runs) / rep.seconds:.2f} runs/s, {rate:.0f} steps/s), "
                  f"speed-up {rate / base:.2f}x; {c['clean']} clean, {c['diverged']} diverged, "
                  f"{c['unreadable']} unreadable; CPU time of the audits {rep.cpu_seconds:.1f}s "
                  f"= {rep.cpu_seconds / rep.seconds:.2f} cores busy on average; load average "
                  f"before {load:.2f}", flush=True)
        print(f"CPU: {cpu_model()}")
        return 0
    finally:
        if not (args.keep or args.dir):
            shutil.rmtree(root, ignore_errors=True)


#: Run by ``--compare`` in a fresh process of either checkout: the first audit (a fresh
#: process, as the main line above; malloc thresholds left adaptive in both trees), then a
#: second, warm one; wall time and this process's CPU time (which other load on the
#: machine disturbs less).
_TIMED_AUDIT = """
import json, sys, time
from properties.audit.replay import audit_run
out = []
for _ in range(2):
    t0, c0 = time.perf_counter(), time.process_time()
    r = audit_run(sys.argv[1])
    out.append((r.steps_read / (time.perf_counter() - t0), r.steps_read / (time.process_time() - c0)))
print(json.dumps(out))
"""

KINDS = ("first audit, by wall time", "first audit, by CPU time", "warm audit, by wall time",
         "warm audit, by CPU time")


def _audit_rate(tree: Path, folder: Path) -> tuple[float, ...]:
    """Steps/s of the audit of ``folder`` by checkout ``tree``, in ``KINDS`` order."""
    out = subprocess.run([sys.executable, "-c", _TIMED_AUDIT, str(folder)], capture_output=True,
                         text=True, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)})
    if out.returncode != 0:
        raise SystemExit(f"the audit by {tree} failed:\n{out.stderr}")
    (fw, fc), (ww, wc) = json.loads(out.stdout.strip().splitlines()[-1])
    return fw, fc, ww, wc


def compare(folder: Path, other: Path, repeat: int) -> None:
    """This tree's and ``other``'s audit of the same run, taking turns; best of each."""
    mine, theirs = [], []
    for _ in range(max(1, repeat)):
        mine.append(_audit_rate(ROOT, folder))
        theirs.append(_audit_rate(other, folder))
    for k, what in enumerate(KINDS):
        a, b = max(x[k] for x in mine), max(x[k] for x in theirs)
        print(f"side by side, {what} (best of {repeat} turns each): this tree {a:.0f} steps/s, "
              f"{other} {b:.0f} steps/s; ratio {a / b:.2f}x (all: "
              f"{', '.join(f'{x[k]:.0f}' for x in mine)} vs {', '.join(f'{x[k]:.0f}' for x in theirs)})")
    print(f"load average {os.getloadavg()[0]:.2f} (other processes share the machine)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--agents", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=49_152)
    ap.add_argument("--top", type=int, default=256, help="max tokens in a sparse row")
    ap.add_argument("--dense-every", type=int, default=500, help="0: never dense")
    ap.add_argument("--dir", help="run folder (default: a temporary one, removed after)")
    ap.add_argument("--keep", action="store_true", help="keep the run folder")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="measure tracemalloc's peak instead of RSS (slows the audit ~2x)")
    ap.add_argument("--no-serial", action="store_true",
                    help="skip the serial audit (the baseline of the speed-up)")
    ap.add_argument("--plain-heap", action="store_true",
                    help="leave glibc's malloc thresholds adaptive (tokenauction audit fixes "
                         "them: properties/audit/heap.py)")
    ap.add_argument("--compare", help="another checkout: audit the same run with it, side by side")
    ap.add_argument("--repeat", type=int, default=3, help="--compare: turns each (default 3)")
    ap.add_argument("--runs", type=int, help="a batch of this many runs on local Dask clusters")
    ap.add_argument("--workers", default="1,2", help="--runs: cluster sizes (default 1,2)")
    ap.add_argument("--distinct", type=int, default=4, help="--runs: distinct runs written")
    ap.add_argument("--audit-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.runs:
        return batch(args)
    if args.audit_child:
        audit_child(args.audit_child, args.tracemalloc, args.no_serial, args.plain_heap)
        return 0
    folder = Path(args.dir or tempfile.mkdtemp(prefix="ta-bench-")) / "run"
    try:
        print(f"writing {args.steps} steps, {args.agents} agents, V = {args.vocab} ...",
              flush=True)
        wrote = write_run(folder, args.steps, args.agents, args.vocab, args.top, args.dense_every)
        size = sum(f.stat().st_size for f in folder.iterdir())
        print(f"  wrote {size / 2**20:.1f} MiB in {wrote:.1f}s", flush=True)
        print("auditing (fresh process) ...", flush=True)
        child = [sys.executable, __file__, "--audit-child", str(folder)]
        out = subprocess.run(child + (["--tracemalloc"] if args.tracemalloc else [])
                             + (["--no-serial"] if args.no_serial else [])
                             + (["--plain-heap"] if args.plain_heap else []),
                             capture_output=True, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
        mib = 2 ** 20
        print(r["table"])
        rate = r["steps"] / r["seconds"]
        read_rate = r["steps"] / r["read_s"] if r["read_s"] else float("inf")
        print(f"audit: {r['steps']} steps in {r['seconds']:.2f}s ({rate:.0f} steps/s), "
              f"exit {r['exit_code']}; raw read of the same files: {r['bytes'] / mib:.1f} MiB "
              f"in {r['read_s']:.3f}s ({r['bytes'] / mib / r['read_s']:.0f} MiB/s, "
              f"{read_rate:.0f} steps/s)")
        if r["serial_s"] is not None:
            old = r["steps"] / r["serial_s"]
            print(f"serial audit (vectorized=False): {r['serial_s']:.1f}s ({old:.0f} steps/s); "
                  f"speed-up {rate / old:.1f}x; same verdicts and divergences: {r['same']}")
        print(f"CPU: {cpu_model()}; malloc thresholds "
              + {True: "fixed, as tokenauction audit does (properties/audit/heap.py)",
                 False: "adaptive (no glibc mallopt here)",
                 None: "adaptive (--plain-heap)"}[r["heap"]])
        if args.compare:
            compare(folder, Path(args.compare).resolve(), args.repeat)
        samples = ", ".join(f"after {k} steps {v / mib:.1f} MiB" for k, v in
                            sorted(r["samples"].items(), key=lambda kv: int(kv[0])))
        what = "traced memory (tracemalloc)" if r["traced"] else "RSS"
        print(f"peak {what} of the audit process: {r['peak'] / mib:.1f} MiB "
              f"({samples}); transcript on disk {size / mib:.1f} MiB")
        return int(r["exit_code"])
    finally:
        if not (args.keep or args.dir):
            shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
