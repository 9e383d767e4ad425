"""Audit many recorded runs at once, in-process or on Dask.

:func:`find_runs` (:mod:`properties.audit.paths`) turns a target into run folders: a run
folder itself; a directory (every folder below it holding ``transcript.jsonl``, links
followed once); an explicit glob (``logs/2026-*/run-*``); or a strict manifest.

:func:`audit_many` audits each run with :func:`properties.audit.replay.audit_run` and
gathers one :class:`~properties.audit.tally.BatchReport`:

* in-process (the default): one run after another;
* ``workers=N``: a local Dask cluster of N worker processes, one thread each,
  listening on loopback only, started and closed here;
* ``scheduler="tcp://HOST:PORT"``: an existing Dask cluster (its workers must import
  this package and read the run folders at the same paths).

Faults: one Dask task per run; a worker that dies mid-run loses its task, which the
scheduler runs again on another worker (up to ``distributed.scheduler.allowed-failures``
times, default 3). Dask also counts that death against the other tasks the dead worker
held, so each task Dask gives up on is run once more, alone. Each run is reported
exactly once, keyed by its position: its audit's result, or -- if that last attempt
killed its worker too -- a run with status ``unreadable`` whose error says so
(``KilledWorker``; exit 2 for that run).
An unreadable or truncated run is an ordinary result (exit 2 per run, its error naming
the line) and never stops the others.
"""

from __future__ import annotations

import uuid
import time
from typing import Callable

from mechanism.errors import InvalidInput

from properties.audit.paths import find_runs, is_run  # noqa: F401 - the batch's targets
from properties.audit.tally import BatchReport, run_summary
from properties.audit.replay import audit_run


def audit_one(run: str, options: dict) -> dict:
    """Audit one run and summarize it (the task a worker runs)."""
    opts = dict(options)
    head = opts.pop("expect_head", None)
    cpu = time.process_time()
    try:
        report = audit_run(run, expect_head=head, **opts)
    except Exception as exc:  # a bug in the audit on this run: reported, never lost
        return {"run": run, "status": "unreadable", "exit_code": 2, "steps": 0,
                "n_divergences": 0, "first_divergence": None, "first_divergence_text": None,
                "error": f"the audit itself failed: {type(exc).__name__}: {exc}",
                "head_hash": None, "seconds": 0.0}
    return {**run_summary(report), "cpu_seconds": time.process_time() - cpu}


def _lost(run: str, why: str) -> dict:
    return {"run": run, "status": "unreadable", "exit_code": 2, "steps": 0, "n_divergences": 0,
            "first_divergence": None, "first_divergence_text": None,
            "error": f"not audited: {why}", "head_hash": None, "seconds": 0.0}


def local_cluster(workers: int):
    """A Dask LocalCluster of ``workers`` processes, one thread each, loopback only, with no
    dashboard; its scheduler's HTTP server (health routes) on a free port: with
    ``dashboard_address=None`` it still took 8787 and warned "Port 8787 is already in use"
    when another cluster held it (two checks at once, parallel tests)."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=":0",
                        scheduler_kwargs={"dashboard": False}, silence_logs=40)


def run_tasks(task: Callable, items: list, *, workers: int | None = None,
              scheduler: str | None = None, client=None, lost: Callable = None,
              progress: Callable[[int, int, object], None] | None = None,
              name: str = "task") -> tuple[list, str]:
    """``[task(*item) for item in items]`` in-process, or one Dask task per item (a local
    cluster of ``workers`` processes, the cluster at ``scheduler``, or ``client``);
    results in the order of ``items``, each exactly once. A task whose worker died more
    often than Dask allows (or that raised) gives ``lost(item, why)``. Returns
    ``(results, engine description)``. Also serves ``tokenauction check`` over many
    targets."""
    results: list = [None] * len(items)
    filled = [False] * len(items)
    if client is None and workers is None and scheduler is None:
        for k, item in enumerate(items):
            results[k], filled[k] = task(*item), True
            if progress is not None:
                progress(k + 1, len(items), results[k])
        return results, "in-process"
    from distributed import Client

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
        failed = _gather(client, task, items, range(len(items)), results, filled, progress, name)
        # A task on a worker that another task killed counts that death too; run each
        # task that Dask gave up on once more, alone, so only a task that kills every
        # worker it lands on is reported lost.
        for k in failed:
            for why in _gather(client, task, items, [k], results, filled, progress,
                               name).values():
                results[k], filled[k] = lost(items[k], why), True
                if progress is not None:
                    progress(sum(filled), len(items), results[k])
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
    return results, engine


def _gather(client, task, items, ks, results, filled, progress, name) -> dict:
    """Submit ``items[k]`` for k in ``ks``; fill ``results`` as they complete (each once).
    Returns ``{k: why}`` for the tasks that failed (KilledWorker, an exception)."""
    from distributed import as_completed

    futures = {client.submit(task, *items[k], key=f"{name}-{k}-{uuid.uuid4().hex[:8]}",
                             pure=False): k for k in ks}
    failed = {}
    for fut in as_completed(list(futures)):
        k = futures[fut]
        try:
            result = fut.result()
        except Exception as exc:  # KilledWorker after the allowed retries, ...
            failed[k] = f"{type(exc).__name__}: {exc}"
            continue
        if not filled[k]:
            results[k], filled[k] = result, True
            if progress is not None:
                progress(sum(filled), len(items), result)
    return failed


def audit_many(runs, *, workers: int | None = None, scheduler: str | None = None,
               client=None, source: str = "", task: Callable = audit_one,
               progress: Callable[[int, int, dict], None] | None = None,
               **options) -> BatchReport:
    """Audit every ``(run, head)`` in ``runs``; see the module docstring. ``options`` go to
    :func:`audit_run` (tol, identity_tol, check_properties, vectorized). ``client``: an
    existing ``distributed.Client`` (tests share one). ``task(run, options)`` is the
    per-run function (tests wrap it to kill a worker). The clock starts once the
    cluster is up."""
    runs = list(runs)
    items = [(run, {**options, "expect_head": head}) for run, head in runs]
    if client is None and (workers is not None or scheduler is not None):
        from distributed import Client

        if workers is not None and workers < 1:
            raise InvalidInput(f"--workers must be >= 1, got {workers}", value=workers)
        cluster = local_cluster(workers) if scheduler is None else None
        try:
            with Client(cluster if cluster is not None else scheduler, timeout="30s") as c:
                return audit_many(runs, client=c, source=source, task=task,
                                  progress=progress, **options)
        finally:
            if cluster is not None:
                cluster.close()
    t0 = time.perf_counter()
    results, engine = run_tasks(task, items, client=client, progress=progress, name="audit",
                                lost=lambda item, why: _lost(item[0], why))
    report = BatchReport(source, engine, results)
    report.seconds = time.perf_counter() - t0
    return report
