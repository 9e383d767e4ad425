"""The vectorized (chunked) audit agrees with the serial one: same verdicts,
same divergences in the same order, on clean, tampered and truncated runs spanning
several chunks; and it really replays most steps itself."""

from __future__ import annotations

import pytest

from mechanism.transcript import JSONL
from properties.audit import chunked
from properties.audit import replay as run_module

from tests.helpers.audit_compare import same_reports
from tests.helpers.recording import record, tamper
from tests.properties.audit.test_replay import CONFIGS


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(chunked, "CHUNK_STEPS", 7)


@pytest.fixture
def serial_calls(monkeypatch):
    """How many steps went through the serial ``_audit_step`` (the rest: chunked)."""
    calls = []
    real = run_module._audit_step
    monkeypatch.setattr(run_module, "_audit_step",
                        lambda item, *a: (calls.append(item.record.get("step")), real(item, *a)))
    return calls


def both(run_dir, **kw):
    new = run_module.audit_run(run_dir, **kw)
    old = run_module.audit_run(run_dir, vectorized=False, **kw)
    same_reports(new, old)
    return new


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_clean_runs_agree(tmp_path, small_chunks, cfg):
    report = both(record(tmp_path / "run", steps=30, **cfg))
    assert report.exit_code == 0 and report.steps_replayed == 30


@pytest.mark.parametrize("reference", [False, True])
def test_linear_runs_are_replayed_in_chunks(tmp_path, small_chunks, serial_calls, reference):
    run = record(tmp_path / "run", n=3, steps=30, reference=reference, reference_weight=0.5)
    report = run_module.audit_run(run)
    assert report.exit_code == 0
    # one step per chunk of 7 (the library's own checks), none other
    assert len(serial_calls) == 5, serial_calls


def test_tampered_steps_in_later_chunks(tmp_path, small_chunks, serial_calls):
    run = record(tmp_path / "run", n=3, steps=30)

    def edit(recs):
        recs[1 + 17]["payments"][2] += 1e-6   # step 17, chunk 3
        recs[1 + 25]["token"] = (recs[1 + 25]["token"] + 1) % 12
    tamper(run, edit, rechain=True)
    report = both(run)
    d = report.first_divergence
    assert (d.check, d.step, d.agent, d.field) == ("replay_payments", 17, 2, "payments[2]")
    assert {(x.check, x.step) for x in report.divergences} >= {("replay_payments", 17),
                                                                ("replay_token", 25)}
    assert 17 in serial_calls and 25 in serial_calls


@pytest.mark.parametrize("cut", [0.3, 0.55])
def test_truncated_inside_a_chunk(tmp_path, small_chunks, cut):
    run = record(tmp_path / "run", n=3, steps=30)
    path = run / JSONL
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    report = both(run)
    assert report.exit_code == 2 and report.steps_read > 0 and report.error_line is not None


def test_a_filter_that_passes_everything_is_caught(tmp_path, small_chunks, monkeypatch):
    """Planted bug: a chunked path that passes every eligible step would hide a
    rechained payment edit; the comparison with the serial path catches it."""
    run = record(tmp_path / "run", n=3, steps=30)
    tamper(run, lambda recs: recs[1 + 17]["payments"].__setitem__(2, 0.123), rechain=True)
    monkeypatch.setattr(chunked.ChunkAuditor, "_check",
                        lambda self, items: __import__("numpy").ones(len(items), dtype=bool))
    with pytest.raises(AssertionError):
        both(run)
