"""Red-team findings on what the audit prints and writes (docs/audit.md, "Many runs"): a
run folder's name is shown with its control characters escaped, and an output path that
cannot be written is a usage error (exit 2), found before the audit runs."""

from __future__ import annotations

import json

import pytest

from mechanism.transcript import JSONL
from tests.helpers.recording import record, records, run_cli, write

SPOOF = "x\nCLEAN (exit 0)\n\x1b[2K"


def _forged(folder):
    run = record(folder, n=3, steps=4)
    recs = records(run)
    recs[2]["token"] = (recs[2]["token"] + 1) % 12
    write(run, recs, rechain=True)
    return run


def _no_raw_control(text):
    assert "\x1b" not in text and "\nCLEAN (exit 0)\n" not in text, text
    assert "\\x0aCLEAN (exit 0)\\x0a\\x1b[2K" in text, text


def test_a_run_folder_name_cannot_spoof_the_summary(capsys, tmp_path):
    run = _forged(tmp_path / SPOOF)
    rc, text = run_cli(capsys, "audit", run, "--quiet")
    assert rc == 1 and text.rstrip().endswith("DIVERGED (exit 1)")
    _no_raw_control(text)


def test_a_run_folder_name_cannot_spoof_the_batch_table_or_report(capsys, tmp_path):
    _forged(tmp_path / "runs" / SPOOF)
    report = tmp_path / "out"
    rc, text = run_cli(capsys, "audit", tmp_path / "runs", "--quiet", "--report", report,
                       "--junit-xml", tmp_path / "j.xml")
    assert rc == 1
    _no_raw_control(text)
    _no_raw_control((tmp_path / "out.md").read_text())
    _no_raw_control((tmp_path / "j.xml").read_text())
    assert json.loads((tmp_path / "out.json").read_text())["runs"][0]["run"].endswith(SPOOF)


def test_an_error_naming_the_run_cannot_spoof_the_output(capsys, tmp_path):
    run = record(tmp_path / SPOOF, n=3, steps=4)
    (run / JSONL).write_bytes((run / JSONL).read_bytes() + b"junk\n")
    rc, text = run_cli(capsys, "audit", run, "--quiet")
    assert rc == 2
    _no_raw_control(text)


@pytest.mark.parametrize("argv", [
    ["audit", "{run}", "--quiet", "--junit-xml", "{bad}/x.xml"],
    ["audit", "{run}", "--quiet", "--sarif", "{bad}/x.sarif"],
    ["audit", "{run}", "--quiet", "--junit-xml", "{tmp}"],
    ["audit", "{tmp}/runs", "--quiet", "--report", "{bad}/x"],
    ["check", "linear", "--junit-xml", "{bad}/x.xml"],
    ["prove", "--sarif", "{bad}/x.sarif"],
])
def test_an_unwritable_output_path_is_a_usage_error_before_the_work(capsys, tmp_path, argv):
    run = record(tmp_path / "runs" / "r", n=3, steps=4)
    names = {"run": run, "bad": tmp_path / "missing", "tmp": tmp_path}
    rc, text = run_cli(capsys, *[a.format(**names) for a in argv])
    assert rc == 2, text
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "cannot write there" in lines[0], text


@pytest.mark.parametrize("flag", ["--hmac-key", "--public-key"])
def test_a_key_file_that_never_ends_is_refused(capsys, tmp_path, flag):
    """``--hmac-key /dev/zero`` read without end (planted: ``Path.read_bytes``); a key
    file over 1 MiB is exit 2 naming it, before the audit runs."""
    import os
    run = record(tmp_path / "run", n=2, steps=3)
    assert os.path.exists("/dev/zero")
    rc, text = run_cli(capsys, "audit", run, flag, "/dev/zero", "--quiet")
    assert rc == 2 and "/dev/zero" in text and "over 1048576 bytes" in text, text


def test_a_path_too_long_for_the_system_is_a_usage_error(capsys, tmp_path):
    """ENAMETOOLONG from the file system was an internal error (exit 3)."""
    long = str(tmp_path / ("a" * 5000))
    for argv in (("audit", long), ("check", "linear", "--property", "normalized",
                                   "--max-examples", "2", "--junit-xml", long)):
        rc, text = run_cli(capsys, *argv)
        assert rc == 2 and "File name too long" in text and "internal error" not in text, text
        assert "(5000 characters)" in text or "characters)" in text


@pytest.mark.parametrize("what", ["dir", "fifo"])
def test_a_side_file_that_is_not_a_file_is_named_so(capsys, tmp_path, what):
    import os
    run = record(tmp_path / "run", n=2, steps=3)
    side = next(p for p in run.iterdir() if p.name != JSONL)
    side.unlink()
    os.mkdir(side) if what == "dir" else os.mkfifo(side)
    rc, text = run_cli(capsys, "audit", run, "--quiet")
    assert rc == 2 and "is not a regular file" in text, text


def test_report_outputs_are_refused_where_they_would_mislead(capsys, tmp_path):
    """Was (red team): --report on one run folder was accepted and never written; a
    dangling link passed the pre-check and, with --json, a second JSON document followed the
    report; a report two folders inside a recorded run was written there."""
    from tests.helpers.recording import record
    run = record(tmp_path / "b" / "runA", steps=2)
    record(tmp_path / "b" / "runB", steps=2)
    rc, text = run_cli(capsys, "audit", str(run), "--report", str(tmp_path / "rep"), "--quiet")
    assert rc == 2 and "for one run folder" in text, text
    (tmp_path / "dang.json").symlink_to(tmp_path / "nowhere" / "x.json")
    rc, text = run_cli(capsys, "audit", str(tmp_path / "b"), "--report", str(tmp_path / "dang"),
                       "--json", "--quiet")
    assert rc == 2 and "link to nothing" in text and text.count('"schema_version"') <= 1, text
    (run / "sub").mkdir()
    rc, text = run_cli(capsys, "audit", str(tmp_path / "b"), "--report",
                       str(run / "sub" / "rep"), "--quiet")
    assert rc == 2 and "is a recorded run" in text, text
    assert not (run / "sub" / "rep.json").exists()


def test_strict_says_why_it_fails_a_clean_run(capsys, tmp_path):
    """Was (red team): --strict on a clean run without a key printed 'CLEAN (exit 0)' and
    exited 1 (the signature SKIPPED), and --json said "ok": true beside "exit_code": 1."""
    from tests.helpers.recording import record
    run = record(tmp_path / "run", steps=2)
    rc, text = run_cli(capsys, "audit", str(run), "--strict", "--quiet")
    assert rc == 1 and "--strict: signature not verified" in text and "(exit 1)" in text, text
    rc, text = run_cli(capsys, "audit", str(run), "--strict", "--quiet", "--json")
    doc = json.loads(text)
    assert rc == 1 and doc["exit_code"] == 1 and doc["ok"] is False, text


def test_a_manifest_is_read_in_bounded_memory(capsys, tmp_path):
    """Was (red team): read_manifest read the whole file before looking at its first line
    (512 MiB of zeros took 1.1 GB; under a memory limit, exit 3), and a 16 MB path line was
    read and echoed."""
    zeros = tmp_path / "big.bin"
    with open(zeros, "wb") as fh:
        fh.truncate(2 ** 30)           # sparse: nothing of it should be read
    rc, text = run_cli(capsys, "audit", str(zeros), "--quiet")
    assert rc == 2 and "not a run folder or a manifest" in text, text
    long = tmp_path / "m.txt"
    long.write_text("# tokenauction-manifest/1\n" + "a" * 10000 + "\n")
    rc, text = run_cli(capsys, "audit", str(long), "--quiet")
    assert rc == 2 and "m.txt:2: a line of 10000 characters" in text, text


def test_glob_matching_agrees_with_its_definition():
    """_match is dynamic programming now (the recursion on each ** was exponential: seven
    of them on a folder chain 30 deep took 45 s); it answers what the recursion answers."""
    import fnmatch
    import random
    from properties.audit.paths import _match

    def definition(parts, pat):
        if not pat:
            return not parts
        if pat[0] == "**":
            return any(definition(parts[k:], pat[1:]) for k in range(len(parts) + 1))
        return bool(parts) and fnmatch.fnmatchcase(parts[0], pat[0]) and \
            definition(parts[1:], pat[1:])
    rng = random.Random(0)
    for _ in range(5000):
        parts = [rng.choice(["a", "b", "ab", "run"]) for _ in range(rng.randint(0, 5))]
        pat = [rng.choice(["**", "a", "b", "*", "a*", "?"]) for _ in range(rng.randint(0, 5))]
        assert _match(parts, pat) == definition(parts, pat), (parts, pat)
    assert _match(["d"] * 30 + ["zz"], ["**"] * 7 + ["zz"])
    assert not _match(["d"] * 30 + ["x"], ["**"] * 7 + ["zz"])


def test_strict_on_a_batch_is_refused_not_ignored(capsys, tmp_path):
    """Was (red team): `audit DIR --strict` exited 0 on runs that fail --strict one by one."""
    from tests.helpers.recording import record
    record(tmp_path / "b" / "runA", steps=2)
    record(tmp_path / "b" / "runB", steps=2)
    rc, text = run_cli(capsys, "audit", str(tmp_path / "b"), "--strict", "--quiet")
    assert rc == 2 and "--strict judges one run" in text, text
