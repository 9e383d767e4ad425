"""The Coq development proofs/coq/ (docs/theory.md section 10): it builds with no admitted
proof and only the axioms of Coq's Reals; dropping a needed hypothesis makes coqc fail;
ARGUED steps become COQ-CHECKED only when the build checked them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from proofs.mechanized import coq, theorems
from proofs.mechanized.theorems import COQ_CHECKED

COQC = shutil.which("coqc")
needs_coqc = pytest.mark.skipif(COQC is None, reason="coqc not installed (scripts/setup.sh "
                                "installs Coq with apt-get as root; else apt-get install coq)")


def test_sources_have_no_admitted_or_axiom():
    assert coq.sources(), "empty _CoqProject"
    assert coq.forbidden_words(coq.sources()) == []


def test_forbidden_words_found_outside_comments_only(tmp_path):
    f = tmp_path / "X.v"
    f.write_text("(* we never admit (* nested Admitted *) anything *)\n"
                 "Lemma a : True. Proof. Admitted.\nAxiom cheat : False.\n")
    assert coq.forbidden_words([f]) == ["X.v: Admitted", "X.v: Axiom"]


def test_every_argued_step_is_mapped_or_declared_code():
    """No ARGUED step of a chain is silently left without a Coq theorem."""
    from proofs.unbounded.chains import all_lemmas
    argued = {i for i, lem in all_lemmas().items() if lem.engine == "argument"}
    assert argued <= set(theorems.STEPS) | set(theorems.NOT_MATHEMATICS), \
        argued - set(theorems.STEPS) - set(theorems.NOT_MATHEMATICS)


def test_mapped_claims_exist():
    from proofs.cli import load_claims
    from proofs.registry import CLAIMS
    load_claims()
    assert set(theorems.CLAIMS) <= set(CLAIMS), set(theorems.CLAIMS) - set(CLAIMS)
    unbounded_holds = {c.id for c in CLAIMS.values() if c.id.startswith("unbounded.")
                       and c.expected == "holds" and "log_linear" not in c.id}
    assert unbounded_holds <= set(theorems.CLAIMS), unbounded_holds - set(theorems.CLAIMS)


@needs_coqc
def test_build_from_clean_then_verify_cached_copy(coq_build, tmp_path, monkeypatch):
    """The session's build (``coq_build``: coq.check from an empty cache folder) compiled
    every cited theorem on Reals' axioms only; a second check reuses the compiled copy; a
    tampered copy is not reused (check rebuilds it: the build itself is the one above)."""
    cache, first = coq_build
    names = theorems.all_theorems()
    assert first["checked"], first["reason"]
    assert first["reason"].startswith("built by coqc")
    assert set(first["theorems"]) == set(names)
    assert set(first["axioms"]) <= coq.REALS_AXIOMS and first["axioms"], first["axioms"]
    [built] = [p for p in (cache / "coq").iterdir() if p.is_dir()]
    assert str(built) == first["directory"] and list(built.rglob("Assumptions_probe.v"))
    # a copy of the build, so that tampering here leaves the session's build intact
    shutil.copytree(built, tmp_path / "coq" / built.name)
    monkeypatch.setenv("TOKENAUCTION_CACHE", str(tmp_path))
    again = coq.check(names)
    assert again.checked and again.reason.startswith("compiled copy verified"), again.reason
    assert again.files == first["files"]
    vo = tmp_path / "coq" / built.name / "Theorem.vo"
    vo.write_bytes(vo.read_bytes() + b"\0")
    builds = []
    monkeypatch.setattr(coq, "_build", lambda *a: builds.append(a[3]) or
                        coq.CoqStatus(True, "built by coqc (stub)"))
    rebuilt = coq.check(names)
    assert rebuilt.reason == "built by coqc (stub)" and builds == [vo.parent], builds
    assert not vo.parent.exists()  # the tampered copy was removed before the rebuild


@needs_coqc
def test_print_assumptions_reports_an_extra_axiom(tmp_path):
    (tmp_path / "X.v").write_text("Axiom cheat : 1 = 2.\nTheorem t : 1 = 2. Proof. exact cheat. Qed.\n")
    subprocess.run([COQC, "-R", ".", coq.LOGICAL, "X.v"], cwd=tmp_path, check=True)
    axioms, err = coq.assumptions(COQC, tmp_path, ["X.t"])
    assert err == "" and axioms == {"X.cheat"}, (axioms, err)
    assert not axioms <= coq.REALS_AXIOMS


def test_no_coqc_keeps_steps_argued_and_says_why(monkeypatch):
    from proofs.unbounded.chains import ARGUED, run_chain
    monkeypatch.setattr(coq.shutil, "which", lambda name: None)
    coq.status.cache_clear()
    try:
        chain = run_chain(["pairs_to_grid", "mon_ca"], 10.0)
        summary = chain.summary()   # reads coq.status(): still without coqc here
    finally:   # Coq back, then no status without it is left cached for the next test
        monkeypatch.undo()
        coq.status.cache_clear()
    step = chain.steps[0]
    assert step.verdict == ARGUED and "coqc not found" in step.statement
    assert "Coq not checked: coqc not found" in summary
    assert chain.proved  # the chain's verdict does not depend on Coq


@needs_coqc
def test_coq_checked_steps_name_their_theorems():
    from proofs.unbounded.chains import run_chain
    # coq.status(): verified once per process (a test that patches Coq away clears it after)
    chain = run_chain(["pairs_to_grid", "tokens_sum", "mixture_form", "mon_ca", "between"], 10.0)
    by_id = {s.id: s for s in chain.steps}
    assert by_id["between"].verdict == "PROVED"  # a solver lemma keeps its verdict
    assert by_id["between"].statement.endswith("[also Coq: TokenAuction.Box.between_scale]")
    assert by_id["pairs_to_grid"].verdict == COQ_CHECKED
    assert "TokenAuction.Theorem.box_converse" in by_id["pairs_to_grid"].statement
    assert by_id["tokens_sum"].engine == "coq"
    assert by_id["mixture_form"].verdict == "ARGUED"  # about the code: never mechanized
    assert chain.proved


# -- planted bugs: a needed hypothesis dropped from a copy, and coqc fails there ----------

PLANTS = {
    "c <= 1 in between_scale": ("Box.v", "between_scale", "0 <= c -> c <= 1 -> q' - a",
                                "0 <= c -> q' - a"),
    "s_k > 0 in z_step": ("Theorem.v", "z_step", "(0 < A <-> 0 < D) -> 0 < sl -> 0 <= d",
                          "(0 < A <-> 0 < D) -> 0 <= d"),
    "PM in converse_pair": ("Theorem.v", "converse_pair",
                            "(A \\/ B) -> (B /\\ ~ A <-> zk < zj) -> zj <= zk -> A",
                            "(A \\/ B) -> zj <= zk -> A"),
    "PM in the converse": ("Theorem.v", "converse",
                           "CA pref K Q -> PM pref K Q Z -> Znd K Z -> MON pref K Q",
                           "CA pref K Q -> Znd K Z -> MON pref K Q"),
}


def _compile_until(work: Path, target: str, built: Path) -> subprocess.CompletedProcess:
    """Compile ``target`` in ``work``, the files before it taken compiled from ``built``
    (the session's build of the unchanged sources)."""
    for f in coq.sources():
        if f.name == target:
            return subprocess.run([COQC, "-R", ".", coq.LOGICAL, f.name], cwd=work,
                                  capture_output=True, text=True, timeout=300)
        for out in built.glob(f.stem + ".*"):
            if out.suffix != ".v":
                shutil.copy(out, work)
    raise AssertionError(f"{target} is not in _CoqProject")


def _span(text: str, name: str) -> tuple[int, int]:
    """Lines of the statement and proof of ``name`` (1-based, inclusive)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines, 1)
                 if re.match(rf"\s*(Lemma|Theorem) {re.escape(name)}\b", ln))
    end = next(i for i, ln in enumerate(lines, 1) if i > start and ln.strip().endswith("Qed."))
    return start, end


@needs_coqc
@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_dropping_a_needed_hypothesis_breaks_the_proof(plant, tmp_path, coq_build):
    fname, lemma, old, new = PLANTS[plant]
    _, first = coq_build
    assert first["checked"], first["reason"]
    for f in coq.sources():
        shutil.copy(f, tmp_path)
    path = tmp_path / fname
    text = path.read_text()
    assert text.count(old) == 1, f"the hypothesis text of {plant!r} moved"
    path.write_text(text.replace(old, new))
    r = _compile_until(tmp_path, fname, Path(first["directory"]))
    assert r.returncode != 0, f"coqc accepted {fname} with {plant} dropped"
    out = r.stdout + r.stderr
    m = re.search(r'File "\./' + re.escape(fname) + r'", line (\d+)', out)
    assert m, out
    lo, hi = _span(path.read_text(), lemma)
    assert lo <= int(m.group(1)) <= hi, (plant, m.group(1), (lo, hi), out)
    assert "was not found" not in out, out  # the proof failed, not a missing name


@needs_coqc
def test_prove_json_lists_unbounded_claims_with_their_coq_theorems(capsys):
    import json
    from tokenauction.cli import main as cli_main
    # coq.status(): verified once per process (a test that patches Coq away clears it after)
    rc = cli_main(["prove", "--json", "--no-cvc5", "--claim", "unbounded.theorem.box.converse",
                   "--claim", "unbounded.characterization", "--claim", "unbounded.linear.mon_box"])
    rows = {r["claim"]: r for r in json.loads(capsys.readouterr().out)["claims"]}
    assert rc == 0
    for cid, thm in (("unbounded.theorem.box.converse", "TokenAuction.Theorem.box_converse"),
                     ("unbounded.characterization",
                      "TokenAuction.Characterization.characterization"),
                     ("unbounded.linear.mon_box", "TokenAuction.Normalized.normalized_mon_if")):
        assert rows[cid]["verdict"] == "PROVED"
        assert rows[cid]["coq"]["checked"] and thm in rows[cid]["coq"]["theorems"]
    steps = {s["id"]: s for s in rows["unbounded.theorem.box.converse"]["lemmas"]}
    assert steps["pairs_to_grid"]["verdict"] == COQ_CHECKED
    assert "Coq-checked" in rows["unbounded.theorem.box.converse"]["detail"]


@needs_coqc
def test_statements_are_the_reviewed_ones():
    """The definitions and cited theorems print exactly as pinned (and as docs/theory.md
    section 10 states them): a bent statement cannot turn a step COQ-CHECKED unnoticed."""
    from tests.proofs import coq_pins
    pin = (Path(__file__).parent / "coq_statements.txt").read_text()
    head, _, body = pin.partition("\n")
    if head != coq_pins.version(COQC):
        pytest.skip(f"pinned with {head[2:]}, this is {coq_pins.version(COQC)[2:]}")
    # coq.status(): verified once per process (a test that patches Coq away clears it after)
    st = coq.status()  # the user's cache: built once per machine
    assert st.checked and Path(st.directory).is_dir(), st.reason
    now = coq_pins.printed(COQC, st.directory, theorems.all_theorems())
    assert now == body, "a Coq statement changed: review it against docs/theory.md " \
        "section 10, then regenerate tests/proofs/coq_statements.txt (tests/proofs/coq_pins.py)"


def test_the_build_compiles_each_file_after_the_files_it_requires(monkeypatch, tmp_path):
    """The parallel build (a stub coqc, no Coq needed): every file starts only after each
    file it requires has compiled; a failure is reported by name and nothing that
    requires the failed file is compiled (planted: scheduling every file at once fails
    the order check)."""
    import threading
    needs = coq._imports(coq.sources())
    assert needs[coq.COQ_DIR / "Base.v"] == set()
    assert coq.COQ_DIR / "Characterization.v" in needs[coq.COQ_DIR / "WTA.v"]
    started, finished, lock = [], set(), threading.Lock()

    def fake_run(cmd, cwd, timeout=None, fail=None):
        name = cmd[-1]
        with lock:
            started.append((name, {f.name for f in needs[coq.COQ_DIR / name]} <= finished))
        ok = name != fail
        with lock:
            finished.add(name)
        return subprocess.CompletedProcess(cmd, 0 if ok else 1, "", "" if ok else "planted")

    monkeypatch.setattr(coq, "_run", fake_run)
    assert coq._compile_all("coqc", coq.sources(), tmp_path) is None
    assert sorted(n for n, _ in started) == sorted(f.name for f in coq.sources())
    assert all(ok for _, ok in started), started
    started.clear(), finished.clear()
    monkeypatch.setattr(coq, "_run", lambda *a, **k: fake_run(*a, fail="Mixture.v"))
    assert coq._compile_all("coqc", coq.sources(), tmp_path) == \
        "coqc failed on Mixture.v: planted"
    names = {n for n, _ in started}
    assert "Mixture.v" in names and not names & {"Characterization.v", "Normalized.v",
                                                   "WTA.v"}, names


def test_the_coq_cache_shares_the_model_s_tokenauction_folder(monkeypatch, tmp_path):
    """``$TOKENAUCTION_CACHE`` names the tokenauction cache folder itself, for the Coq build
    as for the model (one variable, one meaning); without it both sit under XDG's folder."""
    from tokenauction.llm.model import cache_dir
    monkeypatch.setenv("TOKENAUCTION_CACHE", str(tmp_path / "ta"))
    assert coq.cache_root() == tmp_path / "ta" / "coq"
    assert cache_dir().parent == coq.cache_root().parent
    monkeypatch.delenv("TOKENAUCTION_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert coq.cache_root() == tmp_path / "xdg" / "tokenauction" / "coq"
    assert cache_dir().parent == coq.cache_root().parent


def test_requirements_are_read_in_every_form_the_load_path_accepts(tmp_path):
    """A file is compiled only after every file it requires: ``TokenAuction.X``,
    ``From TokenAuction Require X`` and a bare ``Require Import X`` all name ``X``
    (planted: only the first form read, B and C start before A is compiled)."""
    (tmp_path / "A.v").write_text("Require Import Reals.\n")
    (tmp_path / "B.v").write_text("From TokenAuction Require Import A.\n")
    (tmp_path / "C.v").write_text("(* Require Import D. *)\nRequire Import A\n  B.\n")
    (tmp_path / "D.v").write_text("Require Export TokenAuction.C.\n")
    files = [tmp_path / f"{x}.v" for x in "ABCD"]
    needs = {f.stem: sorted(g.stem for g in v) for f, v in coq._imports(files).items()}
    assert needs == {"A": [], "B": ["A"], "C": ["A", "B"], "D": ["C"]}
