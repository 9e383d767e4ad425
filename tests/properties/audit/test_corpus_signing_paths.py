"""Signed heads and batch targets (docs/audit.md, "Threat model" and "Many runs"): each
claim of the threat model table is a test named after it."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from mechanism.transcript import JSONL, SIDE
from properties.audit.signing import SIG_FILE, generate_key, load_key, sign_run
from tests.helpers.recording import record, records, run_cli, write
from tokenauction.cli import main as cli


@pytest.fixture
def keys(tmp_path):
    generate_key(tmp_path / "ed")
    generate_key(tmp_path / "mac", "hmac-sha256")
    return {"ed25519": (tmp_path / "ed", "--public-key", tmp_path / "ed.pub"),
            "hmac-sha256": (tmp_path / "mac", "--hmac-key", tmp_path / "mac")}


def signed(tmp_path, keys, alg, name="run", **kw):
    run = record(tmp_path / name, n=3, steps=6, **kw)
    sign_run(run, load_key(keys[alg][0], alg))
    return run


def _rechain_edit(run, edit):
    recs = records(run)
    edit(recs)
    write(run, recs, rechain=True)


@pytest.mark.parametrize("alg", ["ed25519", "hmac-sha256"])
def test_signature_verifies_a_genuine_run(capsys, tmp_path, keys, alg):
    run = signed(tmp_path, keys, alg)
    rc, text = run_cli(capsys, "audit", str(run), "--quiet", keys[alg][1], str(keys[alg][2]))
    assert rc == 0 and "signature         PROVED" in text


@pytest.mark.parametrize("alg", ["ed25519", "hmac-sha256"])
def test_whole_run_rewrite_caught_by_signature_alone(capsys, tmp_path, keys, alg):
    run = signed(tmp_path, keys, alg)
    other = record(tmp_path / "other", n=3, steps=6, bids=[2.0, 1.0, 1.0])  # consistent, unsigned
    for name in (JSONL, SIDE):
        shutil.copy(other / name, run / name)
    rc, _ = run_cli(capsys, "audit", str(run), "--quiet")
    assert rc == 0  # without a key the rewritten run is self-consistent
    rc, text = run_cli(capsys, "audit", str(run), "--quiet", keys[alg][1], str(keys[alg][2]))
    assert rc == 1 and "[signature]" in text and "signed" in text


def test_tail_rewrite_caught_by_signature_alone(capsys, tmp_path, keys):
    run = signed(tmp_path, keys, "ed25519")

    def edit(recs):  # the last step and the end record rewritten, the chain recomputed
        recs[-2]["payments"][0] *= 0.5
        recs[-1]["stopped"] = "length"
    _rechain_edit(run, edit)
    rc, text = run_cli(capsys, "audit", str(run), "--quiet", "--public-key",
                       str(keys["ed25519"][2]))
    assert rc == 1 and "signature         REFUTED" in text


def test_byte_edit_caught_by_signature_alone(capsys, tmp_path, keys):
    run = signed(tmp_path, keys, "ed25519")
    data = (run / JSONL).read_bytes()
    (run / JSONL).write_bytes(data.replace(b'"bids":[1.0,', b'"bids":[1.5,', 1))
    rc, text = run_cli(capsys, "audit", str(run), "--quiet", "--public-key",
                       str(keys["ed25519"][2]))
    assert rc == 1 and "[chain]" in text


def test_missing_or_foreign_signature_is_a_divergence(capsys, tmp_path, keys):
    run = signed(tmp_path, keys, "ed25519")
    rc, text = run_cli(capsys, "audit", str(run), "--quiet", "--hmac-key",
                       str(keys["hmac-sha256"][2]))
    assert rc == 1 and "signed with 'ed25519'" in text
    (run / SIG_FILE).unlink()
    rc, text = run_cli(capsys, "audit", str(run), "--quiet", "--public-key",
                       str(keys["ed25519"][2]))
    assert rc == 1 and "not signed" in text


def test_forged_signature_is_a_divergence(capsys, tmp_path, keys):
    for alg in ("ed25519", "hmac-sha256"):
        run = signed(tmp_path, keys, alg, name=f"run-{alg}")
        sig = json.loads((run / SIG_FILE).read_text())
        sig["signature"] = ("0" if sig["signature"][0] != "0" else "1") + sig["signature"][1:]
        (run / SIG_FILE).write_text(json.dumps(sig, sort_keys=True, separators=(",", ":")) + "\n")
        rc, text = run_cli(capsys, "audit", str(run), "--quiet", keys[alg][1], str(keys[alg][2]))
        assert rc == 1 and "does not verify" in text, text


def test_keygen_writes_keys_and_never_overwrites(capsys, tmp_path):
    rc, text = run_cli(capsys, "audit", "--keygen", str(tmp_path / "k"))
    assert rc == 0 and (tmp_path / "k.pub").is_file()
    assert oct(os.stat(tmp_path / "k").st_mode & 0o777) == "0o600"
    rc, text = run_cli(capsys, "audit", "--keygen", str(tmp_path / "k"))
    assert rc == 2 and "never overwritten" in text


def test_demo_sign_key_signs_every_run(capsys, tmp_path):
    generate_key(tmp_path / "k")
    cli(["demo", "--synthetic", "--shares", "2", "--seeds", "0", "--max-tokens", "3",
         "--out", str(tmp_path / "out"), "--sign-key", str(tmp_path / "k"), "--no-plots"])
    capsys.readouterr()
    runs = sorted((tmp_path / "out" / "runs").iterdir())
    assert runs and all((r / SIG_FILE).is_file() for r in runs)
    rc, text = run_cli(capsys, "audit", str(tmp_path / "out" / "runs"), "--quiet",
                       "--public-key", str(tmp_path / "k.pub"))
    assert rc == 0, text


# -- batch targets ------------------------------------------------------------------------

def _tampered(run):
    recs = records(run)
    recs[2]["payments"][0] += 0.01
    write(run, recs, rechain=True)
    return run


def test_literal_path_is_never_a_glob(capsys, tmp_path):
    record(tmp_path / "run[1]", n=3, steps=3)
    _tampered(record(tmp_path / "run1", n=3, steps=3))
    record(tmp_path / "logs[1]" / "a", n=3, steps=3)               # a batch: a directory
    _tampered(record(tmp_path / "logs1" / "b", n=3, steps=3))
    for target in ("run[1]", "logs[1]"):
        rc, text = run_cli(capsys, "audit", str(tmp_path / target), "--quiet")
        assert rc == 0, text
    rc, text = run_cli(capsys, "audit", str(tmp_path / "run[1]"), "--glob", "--quiet")
    assert rc == 1 and "read as glob" in text


def test_pattern_only_when_no_such_path_and_said_so(capsys, tmp_path):
    record(tmp_path / "run1", n=3, steps=3)
    rc, text = run_cli(capsys, "audit", str(tmp_path / "run?"), "--quiet")
    assert rc == 0 and "read as a pattern" in text and "1 clean" in text


def test_symlinks_followed_once_with_loop_detection(capsys, tmp_path):
    logs = tmp_path / "logs"
    record(logs / "a", n=3, steps=3)
    record(tmp_path / "elsewhere", n=3, steps=3)
    os.symlink(tmp_path / "elsewhere", logs / "linked")       # a symlinked run folder
    os.symlink(logs, logs / "loop")                           # two loops
    os.symlink(tmp_path, logs / "up")
    for target, extra in ((str(logs), ()), (str(logs / "**"), ("--glob",))):
        rc, text = run_cli(capsys, "audit", target, "--quiet", *extra, "--json")
        report = json.loads(text[text.index("{"):])
        real = {os.path.realpath(r["run"]) for r in report["runs"]}
        assert rc == 0 and len(report["runs"]) == len(real) == 2, report["runs"]


def test_manifest_is_strict(capsys, tmp_path):
    run = record(tmp_path / "run#2", n=3, steps=3)
    head = records(run)[-1]["hash"]
    m = tmp_path / "runs.txt"
    m.write_text(f"# tokenauction-manifest/1\nrun#2 HEAD\n")
    rc, text = run_cli(capsys, "audit", str(m), "--quiet")
    assert rc == 2 and "runs.txt:2" in text and "'HEAD' is not a chain head" in text
    m.write_text(f"# tokenauction-manifest/1\n# a comment\nrun#2 {head}\n")
    rc, text = run_cli(capsys, "audit", str(m), "--quiet")
    assert rc == 0, text
    m.write_text(f"# tokenauction-manifest/1\nrun#2\n./run#2 {head}\n")
    rc, text = run_cli(capsys, "audit", str(m), "--quiet")
    assert rc == 2 and "again" in text


def test_a_python_file_is_not_read_as_a_manifest(capsys, tmp_path):
    (tmp_path / "record.py").write_text("import os\nprint(os.getcwd())\n")
    rc, text = run_cli(capsys, "audit", str(tmp_path / "record.py"), "--quiet")
    assert rc == 2 and "not a run folder or a manifest" in text
