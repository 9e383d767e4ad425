"""The CI examples run as written: the hooks of .pre-commit-hooks.yaml and the CI job and
the [tool.tokenauction] table of docs/ci.md, on a sample rule in a fresh project folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

from mechanism import TokenAuction

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "ci.md").read_text()

GOOD = """
import numpy as np

def my_rule(dists, bids):
    b = np.asarray(bids, float)
    return b @ np.asarray(dists, float) / b.sum()
"""
BAD = GOOD.replace("b @ np.asarray(dists, float) / b.sum()",
                   "np.asarray(dists, float)[int(np.argmin(b))]")  # the LOWEST bidder wins


def hooks() -> dict:
    """id -> entry of .pre-commit-hooks.yaml (a flat list of mappings)."""
    out, current = {}, None
    for line in (ROOT / ".pre-commit-hooks.yaml").read_text().splitlines():
        if m := re.match(r"- id: (\S+)", line):
            current = m.group(1)
        elif (m := re.match(r"\s+entry: (.+)", line)) and current:
            out[current] = m.group(1).strip()
    return out


def project(tmp_path: Path, rule: str) -> Path:
    (tmp_path / "rules").mkdir(parents=True, exist_ok=True)
    (tmp_path / "rules" / "my_rule.py").write_text(rule)
    toml = re.search(r"```toml\n(.*?)```", DOC, re.S).group(1)
    (tmp_path / "pyproject.toml").write_text(toml)
    return tmp_path


def sh(cmd: str, cwd: Path):
    cmd = re.sub(r"(^|\s)tokenauction ", rf"\1{shlex.quote(sys.executable)} -m tokenauction ",
                 cmd)
    return subprocess.run(cmd, shell=True, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_hooks_exist_and_use_the_command():
    got = hooks()
    assert set(got) == {"tokenauction-check", "tokenauction-audit"}
    assert all(e.startswith("tokenauction ") for e in got.values())


def test_check_hook_passes_a_good_rule_and_stops_a_bad_one(tmp_path):
    entry = hooks()["tokenauction-check"]
    good = sh(f"{entry} rules/my_rule.py:my_rule", project(tmp_path / "good", GOOD))
    assert good.returncode == 0, good.stdout + good.stderr
    bad = sh(f"{entry} rules/my_rule.py:my_rule", project(tmp_path / "bad", BAD))
    assert bad.returncode == 1 and "REFUTED" in bad.stdout


def test_audit_hook_verifies_a_recorded_run(tmp_path):
    TokenAuction("linear").run(lambda prefix: (np.array([[0.6, 0.4], [0.3, 0.7]]), None),
                               [1.0, 2.0], seed=0, max_tokens=3, record_to=str(tmp_path / "run"))
    r = sh(f"{hooks()['tokenauction-audit']} run", tmp_path)
    assert r.returncode == 0 and "CLEAN" in r.stdout, r.stdout + r.stderr


def test_ci_job_commands_run_as_written(tmp_path):
    block = re.search(r"<!-- ci-commands -->\n```bash\n(.*?)```", DOC, re.S).group(1)
    commands = [c for c in block.strip().splitlines() if not c.startswith("pip install")]
    assert any("--junit-xml" in c for c in commands) and any("--sarif" in c for c in commands)
    where = project(tmp_path, GOOD)
    for cmd in commands:
        r = sh(cmd, where)
        assert r.returncode == 0, (cmd, r.stdout, r.stderr)
    doc = json.loads((where / "reports" / "check.json").read_text())
    assert doc["schema_version"] == 1 and doc["gate"]["strict"] is True
    assert [f["property"] for f in doc["findings"]] == ["normalized", "monotone", "consistent"]
    assert (where / "reports" / "check.xml").read_text().count("<testcase") == 3
    assert json.loads((where / "reports" / "check.sarif").read_text())["version"] == "2.1.0"
