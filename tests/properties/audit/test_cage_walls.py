"""The cage's walls against a hostile third party (properties/confine.py, properties/cage.py).

Each target here attacks the auditor from inside its worker: it plants a module where the
auditor will import it later, writes to the auditor's terminal through /proc, leaves a
process behind, sends junk in place of a reply or of its description, or exits while it is
loaded. None of them may get a clean report or change our exit code into anything but the
finding (exit 1) or a usage error (exit 2); none may crash the auditor (exit 3).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from properties.confine import confine
from tests.helpers.recording import run_cli

ROOT = Path(__file__).resolve().parents[3]
LINUX_X86 = sys.platform.startswith("linux") and os.uname().machine == "x86_64"
needs_filter = pytest.mark.skipif(not LINUX_X86, reason="the system-call filter is Linux x86-64")

#: a full-bid payer (not individually rational, not truthful): REFUTED when judged
FULL_BID = textwrap.dedent('''
    import numpy as np

    class M:
        name = "full-bid"
        def aggregate(self, dists, bids):
            b = np.asarray(bids, float)
            return b @ np.asarray(dists, float) / b.sum() if b.sum() > 0 else \\
                np.full(np.shape(dists)[1], 1 / np.shape(dists)[1])
        def payments(self, dists, bids):
            return 0.95 * np.asarray(bids, float)
''')


def _write(tmp_path, name: str, prelude: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(prelude) + FULL_BID)
    return path


def _audit_in_a_process(target: Path, tmp_path):
    """``tokenauction audit --mechanism TARGET:M`` in a process of its own (a wall that fails
    may kill or signal it: never pytest)."""
    return subprocess.run([sys.executable, "-m", "tokenauction", "audit", "--mechanism",
                           f"{target}:M", "--no-suite", "--max-examples", "20"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


@needs_filter
def test_the_filter_refuses_writes_processes_and_signals_and_keeps_threads(tmp_path):
    probe = textwrap.dedent(f'''
        import ctypes, fcntl, os, resource, signal, socket, struct, sys, threading
        r, w = os.pipe()
        s0 = socket.socketpair()[0].detach()
        libc = ctypes.CDLL(None, use_errno=True)

        def _errno_call(fn):
            def call(*a):
                if fn(*a) == -1 and ctypes.get_errno() == 1:
                    raise PermissionError
            return call
        shmget = _errno_call(libc.shmget)
        mq_open = _errno_call(getattr(libc, "mq_open", None) or
                              ctypes.CDLL("librt.so.1", use_errno=True).mq_open)
        from properties.confine import confine
        assert confine() is None
        import numpy as np
        assert (np.ones((300, 300)) @ np.ones(300)).sum() == 300 * 300   # BLAS threads
        t = threading.Thread(target=lambda: None); t.start(); t.join()
        refused = []
        for name, act in [
                ("create", lambda: open({str(tmp_path / "planted.py")!r}, "w")),
                ("append", lambda: open({str(tmp_path / "existing.txt")!r}, "a")),
                ("parent's stdout", lambda: open(f"/proc/{{os.getppid()}}/fd/1", "w")),
                ("symlink", lambda: os.symlink(os.__file__, {str(tmp_path / "link.py")!r})),
                ("rename", lambda: os.rename({str(tmp_path / "existing.txt")!r}, "x")),
                ("unlink", lambda: os.unlink({str(tmp_path / "existing.txt")!r})),
                ("fork", os.fork), ("exec", lambda: os.execv("/bin/true", ["true"])),
                ("signal the parent", lambda: os.kill(os.getppid(), 0)),
                ("socket", lambda: __import__("socket").socket()),
                ("the parent's limits", lambda: resource.prlimit(
                    os.getppid(), resource.RLIMIT_CPU, (1, 2))),
                ("the parent's priority", lambda: os.setpriority(
                    os.PRIO_PROCESS, os.getppid(), 19)),
                ("the parent's CPUs", lambda: os.sched_setaffinity(os.getppid(), {{0}})),
                # a descriptor's owner receives SIGIO (or the signal F_SETSIG names) from the
                # kernel: owning the reply socket to the parent signalled the auditor
                ("F_SETOWN", lambda: fcntl.fcntl(r, fcntl.F_SETOWN, os.getppid())),
                ("F_SETSIG", lambda: fcntl.fcntl(r, 10, signal.SIGKILL)),
                ("O_ASYNC", lambda: fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC)),
                ("FIOSETOWN", lambda: fcntl.ioctl(r, 0x8901, struct.pack("i", os.getppid()))),
                ("FIOASYNC", lambda: fcntl.ioctl(r, 0x5452, struct.pack("i", 1))),
                ("TIOCSTI", lambda: fcntl.ioctl(r, 0x5412, b"x")),
                ("TCXONC", lambda: fcntl.ioctl(r, 0x540A, 0)),
                ("TCSETS", lambda: fcntl.ioctl(r, 0x5402, bytes(60))),
                ("memfd", lambda: os.memfd_create("x")),
                ("fallocate", lambda: os.posix_fallocate(r, 0, 1 << 20)),
                ("ftruncate", lambda: os.ftruncate(r, 0)),
                ("bind", lambda: __import__("socket").socket(fileno=os.dup(s0)).bind(
                    {str(tmp_path / "planted.sock")!r})),
                ("shmget", lambda: shmget(0, 1 << 26, 0o1600)),
                ("mq_open", lambda: mq_open(b"/planted", 0o100 | 2, 0o600, None))]:
            try:
                act()
            except PermissionError:
                refused.append(name)
        os.kill(os.getpid(), 0)            # itself: allowed
        fcntl.fcntl(r, fcntl.F_SETFL, os.O_NONBLOCK)                 # other flags: allowed
        assert fcntl.fcntl(r, fcntl.F_GETFL) & os.O_NONBLOCK
        fcntl.ioctl(r, 0x541B, bytes(4))                            # FIONREAD: allowed
        assert not os.isatty(r)                                        # TCGETS: allowed
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))          # its own limits
        resource.prlimit(os.getpid(), resource.RLIMIT_NOFILE, (soft, hard))
        print(open({str(tmp_path / "existing.txt")!r}).read() + "|" + ",".join(refused))
    ''')
    (tmp_path / "existing.txt").write_text("kept")
    # the probe runs under a go-between process, its "parent": a filter that let a signal
    # through kills the go-between (a failed test), never pytest
    between = ("import subprocess, sys; "
               "sys.exit(subprocess.run([sys.executable, '-c', sys.argv[1]]).returncode)")
    out = subprocess.run([sys.executable, "-c", between, probe], capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert out.returncode == 0, (out.returncode, out.stderr)
    assert out.stdout.strip() == ("kept|create,append,parent's stdout,symlink,rename,unlink,"
                                  "fork,exec,signal the parent,socket,the parent's limits,"
                                  "the parent's priority,the parent's CPUs,F_SETOWN,F_SETSIG,"
                                  "O_ASYNC,FIOSETOWN,FIOASYNC,TIOCSTI,TCXONC,TCSETS,memfd,"
                                  "fallocate,ftruncate,bind,shmget,mq_open"), out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.txt"]


def test_confine_says_why_where_it_cannot_filter(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert "Linux only" in confine()


@needs_filter
def test_a_module_planted_for_the_auditor_is_never_written(capsys, tmp_path, monkeypatch):
    """The worker tries to plant `pydoc.py` (imported by the auditor after the worker
    started) in the auditor's working directory, the first entry of its path."""
    monkeypatch.chdir(tmp_path)
    target = _write(tmp_path, "planter.py", '''
        import os, sys
        if "cage_worker" in " ".join(sys.argv):
            with open(os.path.join(os.getcwd(), "pydoc.py"), "w") as fh:
                fh.write("raise SystemExit('planted')\\n")
    ''')
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{target}:M", "--no-suite")
    assert rc in (1, 2), out
    assert "PermissionError" in out and "nothing refuted" not in out, out
    assert not (tmp_path / "pydoc.py").exists()


@needs_filter
def test_a_worker_cannot_write_the_auditors_terminal_or_leave_a_process(tmp_path):
    target = _write(tmp_path, "writer.py", '''
        import os, sys
        if "cage_worker" in " ".join(sys.argv):
            for fd in (1, 2):
                try:
                    with open(f"/proc/{os.getppid()}/fd/{fd}", "w") as fh:
                        fh.write("FORGED: nothing refuted (exit 0)\\n")
                except OSError:
                    pass
            try:
                if os.fork() == 0:
                    os._exit(0)
            except OSError:
                pass
    ''')
    out = _audit_in_a_process(target, tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FORGED" not in out.stdout + out.stderr
    assert "REFUTED" in out.stdout


@needs_filter
def test_a_worker_cannot_have_the_kernel_signal_the_auditor(tmp_path):
    """Was (red team): the worker owned its reply socket to the auditor (``F_SETOWN``,
    ``F_SETSIG``, ``O_ASYNC``), and its next reply sent the auditor SIGTERM (or SIGKILL,
    SIGSTOP): no report, the exit code the mechanism chose."""
    target = _write(tmp_path, "owner.py", '''
        import fcntl, os, signal, sys
        if "cage_worker" in " ".join(sys.argv):
            fd = int(sys.argv[1])
            for cmd, arg in ((fcntl.F_SETOWN, os.getppid()), (10, signal.SIGTERM),
                             (fcntl.F_SETFL, os.O_ASYNC | fcntl.fcntl(fd, fcntl.F_GETFL))):
                try:
                    fcntl.fcntl(fd, cmd, arg)
                except OSError:
                    pass
    ''')
    out = _audit_in_a_process(target, tmp_path)
    assert out.returncode == 1, (out.returncode, out.stdout + out.stderr)
    assert "REFUTED" in out.stdout


JUNK = {
    "payments": '''
        import sys
        W = sys.modules["__main__"]
        if hasattr(W, "_data"):
            old = W._data
            W._data = lambda m, out: "not a number" if m == "payments" else old(m, out)
    ''',
    "grid": '''
        import sys
        W = sys.modules["__main__"]
        if hasattr(W, "_reply"):
            old = W._reply
            W._reply = lambda conn, *msg: old(conn, "ok", "junk") if msg[0] == "ok" and \\
                getattr(msg[1], "ndim", 0) == 2 else old(conn, *msg)
    ''',
    "reply": '''
        import sys
        W = sys.modules["__main__"]
        if hasattr(W, "_reply"):
            old = W._reply
            W._reply = lambda conn, *msg: old(conn, "fail", 7) if msg[0] == "ok" and \\
                getattr(msg[1], "ndim", 0) == 1 and len(msg[1]) == 2 else old(conn, *msg)
    ''',
}


@pytest.mark.parametrize("what", sorted(JUNK))
def test_junk_in_place_of_a_reply_is_a_failed_call_not_a_crash(capsys, tmp_path, what):
    target = _write(tmp_path, f"junk_{what}.py", JUNK[what])
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{target}:M", "--no-suite",
                      "--max-examples", "20")
    assert rc == 1, out                              # was exit 3: an internal error
    assert "REFUTED" in out and "internal error" not in out, out


DESCRIPTIONS = {
    "no name": 'meta.pop("name")',
    "huge uniforms": 'meta.update(uniforms=10**9, sample=True)',
    "nan reserve": 'meta.update(reserve=float("nan"))',
    "claims not a dict": 'meta.update(claims=[1, 2])',
}


@pytest.mark.parametrize("lie", sorted(DESCRIPTIONS))
def test_a_description_that_is_not_one_is_refuted_at_load(capsys, tmp_path, lie):
    target = _write(tmp_path, "lies.py", f'''
        import sys
        W = sys.modules["__main__"]
        if hasattr(W, "_reply"):
            old = W._reply
            def _reply(conn, *msg):
                if msg[0] == "ready":
                    meta = msg[1]
                    {DESCRIPTIONS[lie]}
                old(conn, *msg)
            W._reply = _reply
    ''')
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{target}:M", "--no-suite")
    assert rc == 1, out                              # was exit 3 (KeyError, MemoryError)
    assert "REFUTED" in out and "malformed fields" in out, out


def test_exiting_while_loaded_is_a_finding_under_audit_as_under_check(capsys, tmp_path):
    target = _write(tmp_path, "exits.py", '''
        import os, sys
        if "cage_worker" in " ".join(sys.argv):
            os._exit(0)
    ''')
    junit = tmp_path / "j.xml"
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{target}:M", "--junit-xml", str(junit))
    assert rc == 1, out                              # was exit 2, a usage error
    assert "REFUTED" in out and 'failures="1"' in junit.read_text()
    rc, out = run_cli(capsys, "check", f"{target}:M", "--kind", "mechanism")
    assert rc == 1 and "REFUTED" in out, out


def test_a_mechanism_wrong_only_with_five_agents_or_more_is_refuted(capsys, tmp_path):
    path = tmp_path / "five.py"
    path.write_text(textwrap.dedent('''
        import numpy as np
        from mechanism import expected_payments, get_rule
        LINEAR = get_rule("linear")

        class M:
            def aggregate(self, dists, bids):
                return LINEAR(dists, bids)
            def payments(self, dists, bids):
                b = np.asarray(bids, float)
                if b.size >= 5:
                    return 0.99 * b
                return expected_payments(LINEAR, dists, bids).values
    '''))
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{path}:M", "--no-suite")
    assert rc == 1, out                              # was exit 0: no instance had 5 agents
    assert "individually_rational" in out.split("REFUTED:")[-1], out


COMPLEX = textwrap.dedent('''
    import numpy as np

    def rule(dists, bids):
        b = np.asarray(bids, float)
        return (b @ np.asarray(dists, float) / b.sum()).astype(complex) + 0.25j

    class M:
        def aggregate(self, dists, bids):
            return rule(dists, bids)
''')


def test_complex_answers_are_not_distributions(capsys, tmp_path, monkeypatch):
    """float64 conversion drops an imaginary part without a word: caged, in-process and in
    the reproduction, a complex answer is REFUTED (it was NOT_REFUTED or UNKNOWN, exit 0)."""
    path = tmp_path / "cplx.py"
    path.write_text(COMPLEX)
    rc, out = run_cli(capsys, "check", f"{path}:rule", "--order", "box", "--no-prove",
                      "--max-examples", "20")
    assert rc == 1 and "complex" in out, out
    monkeypatch.syspath_prepend(str(tmp_path))
    from properties import check
    from cplx import rule
    assert check(rule, max_examples=20, prove=False).exit_code == 1
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{path}:M", "--max-examples", "20")
    assert rc == 1, out
    assert "aggregate_valid" in out.split("REFUTED:")[-1], out


def test_a_module_in_the_working_directory_is_not_imported_by_the_auditor(tmp_path):
    """`python -m tokenauction` puts the working directory first on sys.path: a third
    party's folder holding a `hypothesis.py` ran it in the auditor (here: exit 0, no
    report). The command takes that directory off its own path (the worker keeps it)."""
    (tmp_path / "hypothesis.py").write_text("raise SystemExit(0)\n")
    (tmp_path / "m.py").write_text(FULL_BID)
    for argv in (["check", "linear", "--property", "monotone:box", "--no-prove",
                  "--max-examples", "10"],
                 ["audit", "--mechanism", "m.py:M", "--no-suite", "--max-examples", "10"]):
        out = subprocess.run([sys.executable, "-m", "tokenauction", *argv], cwd=tmp_path,
                             capture_output=True, text=True, timeout=600,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert "REFUTED" in out.stdout or "monotone" in out.stdout, (argv, out)
        if argv[0] == "audit":   # the worker searches the folder: its load fails there
            assert out.returncode == 1, out


def test_a_budget_bounds_the_whole_mechanism_audit_and_says_what_it_cut(capsys, tmp_path):
    """Was (red team): --budget bounded the suite only; a mechanism at 4.9 s a call under
    the 5 s --timeout kept its own checks running for hours."""
    import time
    target = _write(tmp_path, "slow.py", '''
        import time
    ''')
    text = target.read_text().replace("        return 0.95 * np.asarray(bids, float)",
                                      "        time.sleep(0.2)\n"
                                      "        return 0.0 * np.asarray(bids, float)")
    target.write_text(text)
    start = time.monotonic()
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{target}:M", "--no-suite",
                      "--budget", "3", "--max-examples", "120")
    assert time.monotonic() - start < 40, out
    flat = " ".join(out.split())
    assert "the --budget of 3 s cut the audit after" in flat and "of 1" in flat, out
    start = time.monotonic()   # with the suite: it gets what is left, at least a second
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{target}:M", "--budget", "3",
                      "--max-examples", "120")
    assert rc == 1 and "REFUTED" in out, out   # it pays 0: not Myerson's payment
    assert time.monotonic() - start < 60, out


FRAMES = {
    # complex([]): the allowed constructor raising TypeError while read (exit 3)
    "typeerror": b"cbuiltins\ncomplex\n]\x85R.",
    # numpy's _reconstruct asked for 2**42 bytes by a reply of a few (MemoryError, exit 3)
    "memory": None,
}


@pytest.mark.parametrize("what", sorted(FRAMES))
def test_a_forged_frame_while_loading_is_a_finding(capsys, tmp_path, what):
    """The worker writes its own frame on its reply socket while it loads: read as data
    only, whatever it holds, and the target is REFUTED (was: exit 3, internal error)."""
    import pickle
    import numpy as np

    class _Huge:
        def __reduce__(self):
            return (np.core.multiarray._reconstruct, (np.ndarray, (2 ** 42,), b"b"))
    junk = FRAMES[what] or pickle.dumps(_Huge(), protocol=5)
    target = _write(tmp_path, f"frame_{what}.py", f'''
        import os, struct, sys, time
        J = {junk!r}
        if "cage_worker" in " ".join(sys.argv):
            os.write(int(sys.argv[1]), struct.pack("!i", len(J)) + J)
            time.sleep(60)
    ''')
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{target}:M", "--no-suite",
                      "--max-examples", "5")
    flat = " ".join(out.split())
    assert rc == 1 and "internal error" not in flat and "not data" in flat, out


def test_a_reply_that_stops_halfway_is_a_timeout(capsys, tmp_path):
    """A header announcing 100 bytes, one byte, then silence: the auditor waited for the
    other 99 for ever, whatever --timeout said (poll() waits for the first byte only)."""
    import time
    target = tmp_path / "halfway.py"
    target.write_text(textwrap.dedent('''
        import os, struct, sys, time

        class M:
            def aggregate(self, dists, bids):
                os.write(int(sys.argv[1]), struct.pack("!i", 100) + b"x")
                time.sleep(60)
    '''))
    start = time.monotonic()
    rc, out = run_cli(capsys, "audit", "--mechanism", f"{target}:M", "--no-suite",
                      "--timeout", "2", "--max-examples", "5")
    assert time.monotonic() - start < 30, out
    flat = " ".join(out.split())
    assert rc == 1 and "did not return within 2 s" in flat, out
