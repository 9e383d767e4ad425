"""Many runs at once on a local Dask cluster (loopback only): every run reported exactly
once, a worker killed mid-run has its run retried elsewhere, unreadable and truncated runs
reported as such without stopping the others. One cluster for the module."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers.requires import require

require("distributed")  # (imported by the cluster fixture, not at collection)

from mechanism.transcript import JSONL  # noqa: E402
from properties.audit.cluster import audit_many, find_runs, local_cluster  # noqa: E402
from tokenauction.cli import main as cli  # noqa: E402

from tests.helpers.crash_task import always_crash, crash_once  # noqa: E402
from tests.helpers.recording import record, tamper  # noqa: E402


@pytest.fixture(scope="module")
def client():
    import dask
    import distributed

    # one retry (not Dask's default 3): a run that kills every worker costs two restarts
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = local_cluster(2)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Ten runs: seven clean, one tampered (rechained), one truncated, one not a run."""
    root = tmp_path_factory.mktemp("runs")
    for k in range(8):
        record(root / f"run{k:02d}", n=3, steps=12)
    tamper(root / "run03", lambda recs: recs[5]["payments"].__setitem__(1, 9.0), rechain=True)
    path = root / "run05" / JSONL
    path.write_bytes(path.read_bytes()[:-300])          # cut mid-line
    (root / "run08").mkdir()
    (root / "run08" / JSONL).write_text("not json\n")  # unreadable header
    return root


EXPECTED = {"run03": "diverged", "run05": "unreadable", "run08": "unreadable"}


def statuses(report):
    names = [os.path.basename(r["run"]) for r in report.runs]
    assert len(names) == len(set(names)) == 9  # every run exactly once
    return {n: r["status"] for n, r in zip(names, report.runs)}


def check(report):
    got = statuses(report)
    assert got == {f"run{k:02d}": EXPECTED.get(f"run{k:02d}", "clean") for k in range(9)}
    d = next(r for r in report.runs if r["run"].endswith("run03"))["first_divergence"]
    assert (d["check"], d["step"], d["agent"], d["field"]) == \
        ("replay_payments", 4, 1, "payments[1]")
    truncated = next(r for r in report.runs if r["run"].endswith("run05"))
    assert truncated["exit_code"] == 2 and "truncated" in truncated["error"]
    assert report.exit_code == 2
    assert report.counts() == {"clean": 6, "diverged": 1, "unreadable": 2}


def test_in_process_and_on_the_cluster_agree(runs, client):
    found = find_runs(runs)
    local = audit_many(found)
    check(local)
    remote = audit_many(found, client=client)
    check(remote)
    assert "dask (2 workers" in remote.engine
    strip = [{k: v for k, v in r.items() if k not in ("seconds", "cpu_seconds")} for r in local.runs]
    assert strip == [{k: v for k, v in r.items() if k not in ("seconds", "cpu_seconds")} for r in remote.runs]


def test_a_worker_killed_mid_run_has_its_run_retried(runs, client, tmp_path):
    marker = tmp_path / "crashed"
    seen = []
    report = audit_many(find_runs(runs), client=client, task=crash_once,
                        crash_marker=str(marker), crash_run="run02",
                        progress=lambda done, total, r: seen.append(r["run"]))
    assert marker.exists()                 # the worker really died once
    check(report)                          # ...and run02 was audited, clean, once
    assert sorted(seen) == sorted(r["run"] for r in report.runs)  # reported once each
    client.wait_for_workers(2, timeout=30)  # the nanny restarted it


def test_a_run_that_kills_every_worker_is_reported_not_lost(runs, client):
    report = audit_many(find_runs(runs), client=client, task=always_crash,
                        crash_run="run01", crash_marker="")
    got = statuses(report)
    lost = next(r for r in report.runs if r["run"].endswith("run01"))
    assert got["run01"] == "unreadable" and "KilledWorker" in lost["error"]
    # the runs that shared a dying worker with it were run again: none lost
    assert got == {f"run{k:02d}": EXPECTED.get(f"run{k:02d}", "clean") if k != 1
                   else "unreadable" for k in range(9)}
    client.wait_for_workers(2, timeout=60)


def test_manifest_glob_and_cli(runs, tmp_path, capsys):
    manifest = tmp_path / "runs.txt"
    head = json.loads((runs / "run00" / JSONL).read_text().splitlines()[-1])["hash"]
    manifest.write_text(f"# tokenauction-manifest/1\n# two runs\n{runs / 'run00'} {head}\n{runs / 'run01'} {'0' * 64}\n")
    assert [h for _, h in find_runs(manifest)] == [head, "0" * 64]
    assert len(find_runs(str(runs / "run0[0-2]"))) == 3
    assert [r for r, _ in find_runs(str(runs / "run0[01]" / JSONL))] == \
        [str(runs / "run00"), str(runs / "run01")]
    assert cli(["audit", str(manifest), "--json", "--quiet"]) == 1  # run01's head differs
    out = json.loads(capsys.readouterr().out)
    assert (out["runs_clean"], out["runs_diverged"]) == (1, 1)
    assert cli(["audit", str(runs), "--quiet", "--report", str(tmp_path / "rep")]) == 2
    md = capsys.readouterr().out
    assert "6 clean, 1 diverged, 2 unreadable" in md and "run05" in md
    assert json.loads((tmp_path / "rep.json").read_text())["runs_total"] == 9
    assert (tmp_path / "rep.md").read_text().startswith("# Audit of 9 runs")
    assert cli(["audit", str(tmp_path / "empty*"), "--quiet"]) == 2      # finds nothing
    assert cli(["audit", str(runs / "run00"), "--quiet"]) == 0          # one run: as before
    assert cli(["audit", str(runs), "--workers", "0"]) == 2


def test_check_over_a_rule_zoo(client, capsys):
    """``tokenauction check`` over many targets: one report per target, in order, the
    worst exit code; the same on the cluster."""
    from properties.audit.cluster import run_tasks
    from properties.checker.cli import check_one

    argv = ["check", "linear", "log_linear", "no/such/file.py:x", "--property", "monotone:box",
            "--max-examples", "15", "--no-prove", "--json"]
    assert cli(argv) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["engine"] == "in-process" and len(out["reports"]) == 3
    assert "error" in out["reports"][2]
    opts = dict(properties=["monotone:box"], max_examples=15, prove=False)
    local, _ = run_tasks(check_one, [(t, opts) for t in ("linear", "log_linear")])
    remote, engine = run_tasks(check_one, [(t, opts) for t in ("linear", "log_linear")],
                               client=client, name="check")
    assert [c for _, _, c in local] == [c for _, _, c in remote] == [0, 1]  # log-linear: not MON
    assert "dask" in engine


def test_a_cluster_starts_quietly_beside_another_on_the_dashboard_port():
    """With port 8787 taken (another cluster, a parallel test) the scheduler's HTTP server
    takes a free port without the "Port 8787 is already in use" warning that failed
    test_dask_zoo_prints_no_hypothesis_warnings (dashboard_address=None still took 8787)."""
    import socket
    import warnings
    held = socket.socket()
    try:
        held.bind(("127.0.0.1", 8787))
        held.listen()
    except OSError:
        pass   # already held by something else: the case under test all the same
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cluster = local_cluster(1)
    try:
        assert cluster.scheduler.http_server.port != 8787
    finally:
        cluster.close()
        held.close()
