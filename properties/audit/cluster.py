"""Audit many recorded runs at once, in-process or on Dask (issue 14).

:func:`find_runs` turns a target into run folders: a run folder itself; a directory
(every folder below it holding ``transcript.jsonl``); a glob (``logs/2026-*/run-*``);
or a manifest, a text file with one run folder per line (relative to the manifest's
folder), optionally followed by the chain head published for it, ``#`` comments.

:func:`audit_many` audits each run with :func:`properties.audit.run.audit_run` and
gathers one :class:`~properties.audit.report.BatchReport`:

* in-process (the default): one run after another;
* ``workers=N``: a local Dask cluster of N worker processes, one thread each,
  listening on loopback only, started and closed here;
* ``scheduler="tcp://HOST:PORT"``: an existing Dask cluster (its workers must import
  this package and read the run folders at the same paths).

Faults: one Dask task per run; a worker that dies mid-run loses its task, which the
scheduler runs again on another worker (up to ``distributed.scheduler.allowed-failures``
times, default 3). Each run is reported exactly once, keyed by its position: its
audit's result, or -- if every attempt killed its worker, or the audit code itself
raised -- a run with status ``unreadable`` whose error says so (exit 2 for that run).
An unreadable or truncated run is an ordinary result (exit 2 per run, its error naming
the line) and never stops the others.
"""

from __future__ import annotations

import glob
import time
from pathlib import Path
from typing import Callable

from mechanism.errors import InvalidInput
from mechanism.transcript import JSONL

from properties.audit.report import BatchReport, run_summary
from properties.audit.run import audit_run


def _is_run(path: Path) -> bool:
    return (path / JSONL).is_file()


def _below(folder: Path) -> list[Path]:
    return sorted(p.parent for p in folder.rglob(JSONL))


def find_runs(target) -> list[tuple[str, str | None]]:
    """``(run folder, expected chain head or None)`` for every run the target names.

    Raises InvalidInput (a usage error) when it names none."""
    text = str(target)
    path = Path(text)
    if any(ch in text for ch in "*?["):
        found = []
        for match in sorted(glob.glob(text, recursive=True)):
            m = Path(match)
            found += [m] if _is_run(m) else (_below(m) if m.is_dir() else [])
        runs = [(str(p), None) for p in dict.fromkeys(found)]
    elif path.is_file():
        runs = []
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = raw.split("#", 1)[0].strip()
            if line:
                name, *rest = line.split()
                run = Path(name) if Path(name).is_absolute() else path.parent / name
                runs.append((str(run), rest[0] if rest else None))
    elif path.is_dir():
        runs = [(str(path), None)] if _is_run(path) else [(str(p), None) for p in _below(path)]
    else:
        raise InvalidInput(f"{text} is not a run folder, a directory, a glob or a manifest "
                           "file", value=text)
    if not runs:
        raise InvalidInput(f"no run folders (holding {JSONL}) found in {text}", value=text)
    return runs


def audit_one(run: str, options: dict) -> dict:
    """Audit one run and summarize it (the task a worker runs)."""
    opts = dict(options)
    head = opts.pop("expect_head", None)
    try:
        report = audit_run(run, expect_head=head, **opts)
    except Exception as exc:  # a bug in the audit on this run: reported, never lost
        return {"run": run, "status": "unreadable", "exit_code": 2, "steps": 0,
                "n_divergences": 0, "first_divergence": None, "first_divergence_text": None,
                "error": f"the audit itself failed: {type(exc).__name__}: {exc}",
                "head_hash": None, "seconds": 0.0}
    return run_summary(report)


def _lost(run: str, why: str) -> dict:
    return {"run": run, "status": "unreadable", "exit_code": 2, "steps": 0, "n_divergences": 0,
            "first_divergence": None, "first_divergence_text": None,
            "error": f"not audited: {why}", "head_hash": None, "seconds": 0.0}


def local_cluster(workers: int):
    """A Dask LocalCluster of ``workers`` processes, one thread each, loopback only."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None, silence_logs=40)


def audit_many(runs, *, workers: int | None = None, scheduler: str | None = None,
               client=None, source: str = "", task: Callable = audit_one,
               progress: Callable[[int, int, dict], None] | None = None,
               **options) -> BatchReport:
    """Audit every ``(run, head)`` in ``runs``; see the module docstring. ``options`` go to
    :func:`audit_run` (tol, identity_tol, check_properties, vectorized). ``client``: an
    existing ``distributed.Client`` (tests share one). ``task(run, options)`` is the
    per-run function (tests wrap it to kill a worker)."""
    runs = list(runs)
    results: list[dict | None] = [None] * len(runs)
    t0 = time.perf_counter()
    if client is None and workers is None and scheduler is None:
        engine = "in-process"
        for k, (run, head) in enumerate(runs):
            results[k] = task(run, {**options, "expect_head": head})
            if progress is not None:
                progress(k + 1, len(runs), results[k])
    else:
        from distributed import Client, as_completed

        own_cluster = own_client = None
        try:
            if client is None:
                if scheduler is not None:
                    own_client = client = Client(scheduler, timeout="30s")
                else:
                    if workers < 1:
                        raise InvalidInput(f"--workers must be >= 1, got {workers}", value=workers)
                    own_cluster = local_cluster(workers)
                    own_client = client = Client(own_cluster)
            n_workers = len(client.scheduler_info().get("workers", {}))
            engine = f"dask ({n_workers} workers at {client.scheduler.address})"
            t0 = time.perf_counter()
            futures = {client.submit(task, run, {**options, "expect_head": head},
                                     key=f"audit-run-{k}-{Path(run).name}", pure=False): k
                       for k, (run, head) in enumerate(runs)}
            done = 0
            for fut in as_completed(list(futures)):
                k = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # KilledWorker after the allowed retries, ...
                    result = _lost(runs[k][0], f"{type(exc).__name__}: {exc}")
                if results[k] is None:
                    done += 1
                    results[k] = result
                    if progress is not None:
                        progress(done, len(runs), result)
        finally:
            if own_client is not None:
                own_client.close()
            if own_cluster is not None:
                own_cluster.close()
    report = BatchReport(source, engine, [r if r is not None else _lost(run, "no result")
                                          for r, (run, _) in zip(results, runs)])
    report.seconds = time.perf_counter() - t0
    return report
