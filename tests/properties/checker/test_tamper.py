"""A target that replaces our own code while it loads gets no proof (properties/tamper.py).

Was (red team): a file that set ``proofs.compile.evaluate.normalized_weights`` to a function
reversing the weights, then declared ``normalized(lambda b, fn: b)``, got monotone PROVED
"every n, every V" (the checker proved its clean rebuilt copy) while the rule ran
reversed, non-monotone weights in the user's process."""

import json
import textwrap

from tests.helpers.requires import require

require("z3", "sympy")

from properties import tamper  # noqa: E402
from tests.helpers.recording import run_cli  # noqa: E402

PATCHED = """
    import numpy as np
    import proofs.compile.evaluate as E
    from proofs.unbounded.families import normalized
    _orig = E.normalized_weights
    def _reversed(L, S, log_lam=None):
        w, w0 = _orig(L, S, log_lam)
        return np.array(w)[..., ::-1], w0
    E.normalized_weights = _reversed
    rule = normalized(lambda b, fn: b)
"""
CLEAN = """
    from proofs.unbounded.families import normalized
    rule = normalized(lambda b, fn: b)
"""


def _verdicts(capsys, tmp_path, source):
    path = tmp_path / "target.py"
    path.write_text(textwrap.dedent(source))
    code, out = run_cli(capsys, "check", f"{path}:rule", "--property", "monotone:box",
                        "--json", "--max-examples", "30")
    doc = json.loads(out[out.index("{"):])
    return code, [(f["verdict"], f["engine"], f["detail"]) for f in doc["findings"]]


def test_a_target_that_patches_our_code_gets_no_proof(capsys, tmp_path):
    code, found = _verdicts(capsys, tmp_path, PATCHED)
    assert not any(v == "PROVED" for v, _, _ in found), found
    assert any("normalized_weights" in d for _, _, d in found), found
    assert code == 1 and any(v == "REFUTED" for v, _, _ in found), found


def test_the_same_rule_unpatched_is_proved(capsys, tmp_path):
    code, found = _verdicts(capsys, tmp_path, CLEAN)
    assert code == 0 and any(v == "PROVED" for v, _, _ in found), found


def _worker_description(tmp_path, monkeypatch):
    """The worker's description of the patched target, loaded in this process (the patch
    is undone after the test: ``monkeypatch`` restores the function it replaces)."""
    import proofs.compile.evaluate as E
    from properties import cage_worker
    monkeypatch.setattr(E, "normalized_weights", E.normalized_weights)
    path = tmp_path / "target_inproc.py"
    path.write_text(textwrap.dedent(PATCHED))
    return cage_worker._check_target(f"{path}:rule", "rule", None)[1]


def test_the_worker_sends_no_family_for_a_patching_target(tmp_path, monkeypatch):
    meta = _worker_description(tmp_path, monkeypatch)
    assert "family" not in meta and "normalized_weights" in meta["compile_error"]


def test_planted_blind_snapshot_sends_the_family_to_be_proved(tmp_path, monkeypatch):
    """The planted bug (nothing compared, nothing scanned): the family goes to the prover,
    the red team's false PROVED."""
    monkeypatch.setattr(tamper, "changed", lambda before: [])
    monkeypatch.setattr(tamper, "foreign", lambda: [])
    meta = _worker_description(tmp_path, monkeypatch)
    assert "family" in meta and "compile_error" not in meta


def test_a_blind_snapshot_alone_still_sends_no_family(tmp_path, monkeypatch):
    """The scan of planted code (:func:`properties.tamper.foreign`) is a second wall."""
    monkeypatch.setattr(tamper, "changed", lambda before: [])
    meta = _worker_description(tmp_path, monkeypatch)
    assert "family" not in meta and "normalized_weights" in meta["compile_error"], meta


def _check_in_process(tmp_path, monkeypatch, source):
    """``properties.check`` of the target's rule, imported in THIS process (the patch is
    undone after the test)."""
    import importlib.util
    import proofs.compile.evaluate as E
    from properties import check
    monkeypatch.setattr(E, "normalized_weights", E.normalized_weights)
    path = tmp_path / "target_in_process.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location("target_in_process", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    report = check(mod.rule, ["monotone:box"], max_examples=10)
    return [(f.verdict.name, f.engine, f.detail) for f in report.findings]


def test_in_process_a_target_that_patched_our_code_before_check_gets_no_proof(
        tmp_path, monkeypatch):
    """Was (red team): ``properties.check`` of a family rule whose module had replaced
    ``normalized_weights`` (weights 1/b once a bid passes 1000) said PROVED "for every n
    and every V" in the very process running the patched code: no snapshot from before
    the import exists there, so the scan looks for code from outside in our namespaces."""
    found = _check_in_process(tmp_path, monkeypatch, PATCHED)
    assert not any(v == "PROVED" for v, _, _ in found), found
    assert any(v == "UNKNOWN" and "normalized_weights" in d for v, _, d in found), found


def test_planted_blind_scan_proves_the_patched_rule_in_process(tmp_path, monkeypatch):
    monkeypatch.setattr(tamper, "foreign", lambda: [])
    found = _check_in_process(tmp_path, monkeypatch, PATCHED)
    assert any(v == "PROVED" for v, _, _ in found), found


def test_in_process_the_clean_rule_is_proved(tmp_path, monkeypatch):
    found = _check_in_process(tmp_path, monkeypatch, CLEAN)
    assert any(v == "PROVED" for v, _, _ in found), found


def test_the_scan_sees_planted_code_in_every_wrapper(monkeypatch):
    """A function, a bound method, a callable instance, a partial, ``numpy.vectorize``,
    ``numpy.frompyfunc``, ``functools.wraps`` and a replaced builtin: each is named; a rule
    registered under a new name is not a replacement, one under a built-in name is."""
    import builtins
    import functools
    import numpy as np
    import proofs.compile.evaluate as E
    from mechanism import rules as R
    orig = E.normalized_weights

    class C:
        def m(self, *a):
            return orig(*a)

        def __call__(self, *a):
            return orig(*a)

    def f(*a):
        return orig(*a)

    assert tamper.foreign() == []
    for planted in (f, C().m, C(), functools.partial(f), np.vectorize(f),
                    np.frompyfunc(f, 1, 1), functools.wraps(orig)(f)):
        monkeypatch.setattr(E, "normalized_weights", planted)
        assert tamper.foreign() == ["proofs.compile.evaluate.normalized_weights"], planted
    monkeypatch.setattr(E, "normalized_weights", orig)
    real_sum = builtins.sum
    monkeypatch.setattr(builtins, "sum", lambda *a: 0)
    assert "mechanism.rules.__builtins__.'sum'" in tamper.foreign()
    monkeypatch.setattr(builtins, "sum", real_sum)
    monkeypatch.setitem(R.RULES, "mine", lambda **k: None)
    assert tamper.foreign() == []
    monkeypatch.setitem(R.RULES, "linear", lambda **k: None)
    assert "mechanism.rules.RULES.'linear'" in tamper.foreign()


def test_the_snapshot_sees_a_replaced_function_and_a_class_member():
    import proofs.compile.evaluate as E
    from proofs.compile.rule import FamilyRule
    before = tamper.snapshot()
    old_fn, old_member = E.normalized_weights, FamilyRule._pool
    try:
        E.normalized_weights = lambda *a: None
        FamilyRule._pool = lambda *a: None
        assert {"proofs.compile.evaluate.normalized_weights",
                "proofs.compile.rule.FamilyRule._pool"} <= set(tamper.changed(before))
    finally:
        E.normalized_weights, FamilyRule._pool = old_fn, old_member
    assert tamper.changed(before) == []


def test_the_snapshot_sees_a_table_entry_and_the_math_module(monkeypatch):
    """Was (red team): evaluate._NP["sqrt"] replaced in place (the dict keeps its id) and
    math.log = math.log10 (used by the exact fallback) both left the family PROVED."""
    import math
    import proofs.compile.evaluate as E
    before = tamper.snapshot()
    monkeypatch.setitem(E._NP, "sqrt", lambda x: x)
    monkeypatch.setattr(math, "log", math.log10)
    found = set(tamper.changed(before))
    assert {"proofs.compile.evaluate._NP.'sqrt'", "math.log"} <= found, found
    monkeypatch.undo()
    assert tamper.changed(before) == []


def test_a_package_installed_beside_the_standard_library_is_not_ours(monkeypatch):
    """A system Python keeps pip's packages under the standard library's folder
    (``.../python3.11/site-packages``): code from there is foreign, as from anywhere else."""
    import sysconfig
    stdlib = sysconfig.get_paths()["stdlib"]
    assert tamper._ours(f"{stdlib}/json/decoder.py")
    assert not tamper._ours(f"{stdlib}/site-packages/evil/__init__.py")
    assert not tamper._ours(f"{stdlib}/dist-packages/evil.py")
    assert not tamper._ours("/tmp/evil.py")
    import numpy
    assert tamper._ours(numpy.__file__)
