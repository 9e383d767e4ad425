"""Red-team findings on the signature check and on imported logs (docs/audit.md, "Signing
runs" and "Imported logs"): each was an internal error (exit 3) or a silent default."""

from __future__ import annotations

import json

import pytest

from mechanism.records import canonical
from properties.audit.signing import SIG_FILE, generate_key, load_key, sign_run
from tests.helpers.recording import record, run_cli


@pytest.mark.parametrize("alg", ["hmac-sha256", "ed25519"])
@pytest.mark.parametrize("field,value", [("signature", "\u00e9"), ("signature", "\ud800"),
                                         ("head", "\ud800"), ("head", "\u00e9")])
def test_a_non_ascii_signature_or_head_is_a_divergence(capsys, tmp_path, alg, field, value):
    generate_key(tmp_path / "k", alg)
    run = record(tmp_path / "run", n=3, steps=4)
    sign_run(run, load_key(tmp_path / "k", alg))
    rec = json.loads((run / SIG_FILE).read_text())
    rec[field] = value
    (run / SIG_FILE).write_bytes(canonical(rec) + b"\n")
    flag, key = ("--hmac-key", "k") if alg == "hmac-sha256" else ("--public-key", "k.pub")
    rc, text = run_cli(capsys, "audit", run, "--quiet", flag, tmp_path / key)
    assert rc == 1 and "does not verify" in text, text
