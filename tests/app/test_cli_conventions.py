"""The command line's conventions: --version, exit codes in every --help, one flag spelling,
JSON on every error with --json, schema_version in every JSON report, progress on stderr
(--quiet: none), the summary as the last line, tables within 100 columns, reproductions that
run from any folder, nothing written to the working folder; and the smaller regressions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mechanism import TokenAuction
from tokenauction.cli import SUBCOMMANDS, build_parser, main as cli

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = cli(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("tokenauction ")


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_exit_codes_in_every_help(capsys, command):
    with pytest.raises(SystemExit):
        cli(([command] if command else []) + ["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0" in out and "1 something refuted" in out and "2 usage" in out


def _options(parser, command):
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {s for a in sub._actions for s in a.option_strings}


def test_one_flag_spelling_across_subcommands():
    """Was: `check --order` repeated, `audit --orders a,b`."""
    parser = build_parser("*")
    check, audit, prove = (_options(parser, c) for c in ("check", "audit", "prove"))
    shared = {"--json", "--quiet", "--strict", "--junit-xml", "--sarif", "--timeout"}
    assert shared <= check and shared <= audit and shared <= prove
    both = {"--order", "--orders", "--max-examples", "--seed", "--budget", "--min-valid",
            "--config", "--no-config", "--valuation", "--reports", "--path"}
    assert both <= check and both <= audit
    assert "--quiet" in _options(parser, "demo")


def test_budgets_default_alike_in_check_and_audit(tmp_path, monkeypatch):
    """Was: budgets defaulted differently (check: none; audit --mechanism: 120 s)."""
    import inspect
    from properties.audit import cli as audit_cli
    from properties.audit.implementation import audit_mechanism
    from properties.checker import cli as check_cli
    from properties.checker.engine import check as check_fn
    monkeypatch.chdir(tmp_path)        # no [tool.tokenauction] of this repository
    parser = build_parser("*")
    c = parser.parse_args(["check", "linear"])
    check_cli.settle(c)
    a = parser.parse_args(["audit", "--mechanism", "m.py:M"])
    audit_cli._gate(a)
    assert c.budget is None and a.budget is None
    assert inspect.signature(audit_mechanism).parameters["budget_s"].default is None
    assert inspect.signature(check_fn).parameters["budget_s"].default is None


@pytest.mark.parametrize("argv", [
    ["check", "--json"],                                   # argparse: no target
    ["check", "linear", "--json", "--property", "nope"],   # unknown property
    ["check", "nofile.py:f", "--json"],                    # no such file
    ["check", "linear", "--json", "--max-examples", "0"],
    ["audit", "--json"],                                   # neither RUN_DIR nor --mechanism
    ["audit", "/nonexistent/record.py", "--json"],
    ["prove", "--json", "--claim", "nope"],
])
def test_json_on_every_error(capsys, argv, tmp_path, monkeypatch):
    """Was: `check --json` printed nothing on a usage error."""
    monkeypatch.chdir(tmp_path)
    try:
        code = cli(argv)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert code == 2 and doc["exit_code"] == 2 and doc["schema_version"] == 1 and doc["error"]
    assert len(out.err.strip().splitlines()) == 1


def test_audit_of_a_python_file_says_use_mechanism(capsys, tmp_path, monkeypatch):
    """Was: `audit record.py` read a Python file as a manifest."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "record.py").write_text("x = 1\n")
    code, _, err = run(capsys, "audit", "record.py")
    assert code == 2 and "is a Python file" in err and "--mechanism record.py:NAME" in err


def test_schema_version_in_every_json_report(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    docs = {}
    _, out, _ = run(capsys, "check", "linear", "--property", "normalized", "--max-examples",
                    "5", "--json", "--quiet")
    docs["check"] = json.loads(out)
    _, out, _ = run(capsys, "check", "linear", "second_price", "--property", "normalized",
                    "--max-examples", "5", "--json", "--quiet", "--no-prove")
    docs["zoo"] = json.loads(out)
    _, out, _ = run(capsys, "prove", "--claim", "blog_example", "--json", "--quiet")
    docs["prove"] = json.loads(out)
    TokenAuction("linear").run(lambda prefix: (np.array([[0.6, 0.4], [0.3, 0.7]]), None),
                               [1.0, 2.0], seed=0, max_tokens=2, record_to=str(tmp_path / "r"))
    _, out, _ = run(capsys, "audit", str(tmp_path / "r"), "--json", "--quiet")
    docs["audit"] = json.loads(out)
    _, out, _ = run(capsys, "audit", "--mechanism", "mechanism:TokenAuction", "--json",
                    "--no-suite", "--max-examples", "5")
    docs["audit_mechanism"] = json.loads(out)
    assert {k: d.get("schema_version") for k, d in docs.items()} == dict.fromkeys(docs, 1)


def test_progress_on_stderr_and_quiet(capsys, tmp_path, monkeypatch):
    """Was: `--thorough` silent for 130 s, `prove` for 36 s."""
    monkeypatch.chdir(tmp_path)
    for argv in (["check", "linear", "--property", "monotone:box", "--max-examples", "5",
                  "--thorough", "--no-prove"],
                 ["prove", "--claim", "blog_example", "--claim", "linear_derivative"]):
        _, out, err = run(capsys, *argv)
        assert err.strip() and all(line.startswith(("check ", "prove: "))
                                   for line in err.strip().splitlines()), err
        assert err.strip() not in out
        _, _, err = run(capsys, *argv, "--quiet")
        assert err == ""


def test_summary_last_and_tables_within_100_columns(capsys, tmp_path, monkeypatch):
    """Was: the summary of `prove` at line 91 of 191, lines of 855 characters."""
    monkeypatch.chdir(tmp_path)
    # --no-cvc5: the re-check's line ("no z3 queries re-checked") still comes before the
    # summary; the re-check's own line: tests/proofs/test_cvc5.py (40 cvc5 runs, ~5 s, saved)
    _, out, _ = run(capsys, "prove", "--claim", "z3.box*", "--claim", "loglinear_mon_box_v3",
                    "--no-cvc5", "--quiet")
    lines = out.strip().splitlines()
    assert "claims in" in lines[-1] and lines[-1].endswith("(exit 0)")
    assert max(map(len, lines)) <= 100, max(lines, key=len)
    _, out, _ = run(capsys, "check", "linear", "--max-examples", "5", "--quiet")
    lines = out.strip().splitlines()
    assert lines[-1].startswith("result:")
    assert max(map(len, lines)) <= 100, max(lines, key=len)


def test_nothing_written_to_the_working_folder(tmp_path):
    """Was: `check` left a `.hypothesis/` folder in the user's folder."""
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-m", "tokenauction", "check", "linear", "--property",
                        "normalized", "--property", "monotone:box", "--max-examples", "10",
                        "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


_RULE = """
import numpy as np
def greedy(dists, bids):
    b = np.asarray(bids, float)
    w = np.where(b == b.max(), 1.0, 0.0) + 0.2 * (b < b.max()) * b
    return w @ np.asarray(dists, float) / w.sum()
"""


def test_reproduction_runs_from_another_folder(capsys, tmp_path, monkeypatch):
    """Was: reproductions named the target by the relative path given."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "greedy.py").write_text(_RULE)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "check", "rules/greedy.py:greedy", "--property", "monotone:box",
                       "--max-examples", "30", "--json", "--quiet", "--no-prove")
    assert code == 1
    repro = next(f for f in json.loads(out)["findings"]
                 if f["verdict"] == "REFUTED")["counterexample"]["repro"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([sys.executable, "-c", repro], cwd=elsewhere, capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert r.returncode != 0 and "AssertionError" in r.stderr, r.stderr


def test_three_argument_rule_gets_the_kind_hint(capsys, tmp_path, monkeypatch):
    """Was: judged as a payment rule, every row "not 'Rule'", no hint."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.py").write_text("import numpy as np\ndef mix(dists, bids, weight):\n"
                                   "    b = np.asarray(bids, float)\n"
                                   "    return b @ np.asarray(dists, float) / b.sum()\n")
    code, out, err = run(capsys, "check", "r.py:mix", "--max-examples", "5", "--quiet")
    assert code == 2 and "--kind rule" in err and "payment(rule, dists, bids)" in err


def test_audit_mechanism_blames_the_all_zero_bids(capsys, tmp_path, monkeypatch):
    """Was: bids [0, 1] blamed for what happens at all-zero bids; np.float64(nan) shown."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(
        "import numpy as np\nclass M:\n    def aggregate(self, dists, bids):\n"
        "        d, b = np.asarray(dists, float), np.asarray(bids, float)\n"
        "        return np.full(d.shape[1], np.nan) if b.sum() == 0 else b @ d / b.sum()\n")
    code, out, _ = run(capsys, "audit", "--mechanism", "m.py:M", "--no-suite", "--json",
                       "--max-examples", "10")
    cex = next(f for f in json.loads(out)["findings"]
               if f["property"] == "aggregate_valid")["counterexample"]
    assert code == 1 and all(b == 0 for b in cex["bids"]) and any(cex["instance_bids"])
    assert "np.float64" not in cex["error"] and "nan" in cex["error"]


def test_demo_with_too_little_data_says_insufficient(capsys, tmp_path):
    """Was: `demo --max-tokens 2 --seeds 0 --shares 2` said FAILED."""
    code, out, _ = run(capsys, "demo", "--synthetic", "--max-tokens", "2", "--seeds", "0",
                       "--shares", "2", "--out", str(tmp_path / "d"), "--quiet", "--no-plots")
    last = out.strip().splitlines()[-1]
    assert code == 2 and "INSUFFICIENT DATA" in last and "FAILED" not in out.split("replay")[-1]


def test_dask_zoo_prints_no_hypothesis_warnings(tmp_path):
    """Was: ~25 HypothesisDeprecationWarning lines on the Dask path."""
    r = subprocess.run([sys.executable, "-m", "tokenauction", "check", "linear", "second_price",
                        "--workers", "2", "--max-examples", "5", "--no-prove", "--quiet"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Warning" not in r.stderr, r.stderr


def _audit_into_closed_pipe(run_folder) -> subprocess.CompletedProcess:
    """``tokenauction audit RUN | true``: the reader is gone before the first write."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "tokenauction", "audit", str(run_folder)],
                              stdout=write, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              timeout=120)
    finally:
        os.close(write)


def test_a_reader_that_goes_away_does_not_change_the_exit_code(tmp_path):
    """Was: ``tokenauction audit RUN | head`` exited 3 (internal error BrokenPipeError)."""
    from tests.helpers.recording import record, tamper
    clean = record(tmp_path / "clean", steps=4)
    r = _audit_into_closed_pipe(clean)
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
    forged = record(tmp_path / "forged", steps=4)

    def edit(recs):
        recs[2]["token"] = (recs[2]["token"] + 1) % 4
    tamper(forged, edit, rechain=True)
    r = _audit_into_closed_pipe(forged)
    assert r.returncode == 1 and "internal error" not in r.stderr, r.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_output_is_one_line_and_exit_2(tmp_path):
    """Was: ``audit RUN --json > /dev/full`` printed two tracebacks and exited 1 (the code of
    a divergence) on a clean run."""
    from tests.helpers.recording import record
    run_folder = record(tmp_path / "run", steps=3)
    for extra in ([], ["--json"]):
        with open("/dev/full", "w") as full:
            r = subprocess.run([sys.executable, "-m", "tokenauction", "audit", str(run_folder),
                                *extra], stdout=full, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT, timeout=120)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and "cannot write the output" in r.stderr


@pytest.mark.parametrize("option", ["--junit-xml", "--sarif"])
def test_a_report_is_never_written_into_the_audited_run(tmp_path, capsys, option):
    """Was: ``audit RUN --junit-xml RUN/transcript.jsonl`` replaced the transcript by the
    JUnit file and said CLEAN."""
    from tests.helpers.recording import record
    run_folder = record(tmp_path / "run", steps=3)
    before = {p.name: p.read_bytes() for p in run_folder.iterdir()}
    for target in (run_folder / "transcript.jsonl", run_folder / "new.xml"):
        code, out, err = run(capsys, "audit", str(run_folder), option, str(target))
        assert code == 2 and "recorded run" in err, err
    code, out, err = run(capsys, "audit", str(tmp_path / "r*"), option, str(run_folder))
    assert code == 2
    assert {p.name: p.read_bytes() for p in run_folder.iterdir()} == before
    code, out, err = run(capsys, "audit", str(run_folder), option, str(tmp_path / "ok.out"))
    assert code == 0 and (tmp_path / "ok.out").exists()
