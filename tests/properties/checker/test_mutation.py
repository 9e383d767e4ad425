"""Smoke run of the mutation score (the full run: scripts/mutation.py, ~1.5 min)."""

from __future__ import annotations

import contextlib
import importlib.util
import pathlib

import pytest

from mechanism import rules as R

pytestmark = pytest.mark.slow  # the mutation smoke run takes tens of seconds

_path = pathlib.Path(__file__).resolve().parents[3] / "scripts" / "mutation.py"
_spec = importlib.util.spec_from_file_location("mutation_script", _path)
mutation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutation)


def test_at_least_20_mutants_and_quick_ones_exist():
    assert len(mutation.MUTANTS) >= 20
    names = {m[0] for m in mutation.MUTANTS}
    assert mutation.QUICK <= names


def test_quick_mutation_run_catches_everything(capsys):
    assert mutation.main(["--quick", "--max-examples", "20"]) == 0
    out = capsys.readouterr().out
    assert "mutation score: 4/4 = 100%" in out
    assert "missed" not in out


def test_patches_are_undone():
    before = R._linear_batch
    name, patches, battery = mutation.MUTANTS[0]
    with mutation.patched(*patches[0]):
        assert R._linear_batch is not before
    assert R._linear_batch is before


@pytest.mark.parametrize("name", ["log-linear: zero weights not dropped",
                                  "wta: with no positive bid, agent 0 instead of the reference"])
def test_mutants_that_needed_a_sharper_suite(name):
    (m,) = [m for m in mutation.MUTANTS if m[0] == name]
    with contextlib.ExitStack() as stack:
        for patch in m[1]:
            stack.enter_context(mutation.patched(*patch))
        rep = mutation.run_battery(m[2], 30, 0)
    assert rep.refuted, str(rep)
