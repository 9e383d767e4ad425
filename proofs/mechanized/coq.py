"""Build (or verify) the Coq development ``proofs/coq/`` (docs/theory.md section 10).

:func:`status` compiles every file of ``proofs/coq/_CoqProject`` with ``coqc`` (each as
soon as the files it requires are compiled, several at once) in a fresh directory of the
user's cache (``$TOKENAUCTION_CACHE/coq``, else ``tokenauction/coq`` under
``$XDG_CACHE_HOME`` or ``~/.cache``; the temp directory if that is not writable;
never the working directory), refuses ``Admitted``, ``admit``, ``Axiom`` and kin in the
sources, and runs ``Print Assumptions`` on every theorem that a chain step cites
(:mod:`proofs.mechanized.theorems`): only the standard axioms of Coq's ``Reals`` may
appear. The result is kept under the hash of the sources and the coqc version; a later
run reuses it only when the hashes of the compiled ``.vo`` files still match and
``Print Assumptions`` succeeds again on them. Without ``coqc`` nothing is built and the
steps stay ARGUED (the status says why).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

COQ_DIR = Path(__file__).resolve().parent.parent / "coq"
LOGICAL = "TokenAuction"
#: the axioms of Coq's standard real numbers (Reals); nothing else may be assumed
REALS_AXIOMS = frozenset({"ClassicalDedekindReals.sig_forall_dec",
                          "ClassicalDedekindReals.sig_not_dec",
                          "FunctionalExtensionality.functional_extensionality_dep"})
FORBIDDEN = re.compile(r"\b(Admitted|admit|Axiom|Axioms|Parameter|Parameters|Conjecture|"
                       r"Abort)\b")
INSTALL = "apt-get install -y coq (Debian/Ubuntu), or opam install coq"
BUILD_TIMEOUT_S = 300


@dataclass
class CoqStatus:
    checked: bool                 #: every cited theorem compiled, with Reals' axioms only
    reason: str                   #: why not, or how (built / verified from cache)
    theorems: tuple = ()          #: the fully qualified theorems that were checked
    axioms: tuple = ()
    seconds: float = 0.0
    source_hash: str = ""
    files: dict = field(default_factory=dict)
    directory: str = ""           #: where the compiled files are (the cache)


def sources() -> list[Path]:
    names = [ln.strip() for ln in (COQ_DIR / "_CoqProject").read_text().splitlines()
             if ln.strip().endswith(".v")]
    return [COQ_DIR / n for n in names]


def strip_comments(text: str) -> str:
    """Coq source without its (nested) comments."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith("(*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*)", i) and depth:
            depth, i = depth - 1, i + 2
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def forbidden_words(files) -> list[str]:
    """``file: word`` for every Admitted/admit/Axiom/... outside comments."""
    hits = []
    for f in files:
        for m in FORBIDDEN.finditer(strip_comments(Path(f).read_text())):
            hits.append(f"{Path(f).name}: {m.group()}")
    return hits


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_root() -> Path:
    """``$TOKENAUCTION_CACHE/coq``, else ``${XDG_CACHE_HOME:-~/.cache}/tokenauction/coq`` (the
    same tokenauction folder as the model's cache, tokenauction.llm.model.cache_dir)."""
    mine = os.environ.get("TOKENAUCTION_CACHE")
    base = Path(mine).expanduser() if mine else Path(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    ) / "tokenauction"
    root = base / "coq"
    try:
        root.mkdir(parents=True, exist_ok=True)
        if os.access(root, os.W_OK):
            return root
    except OSError:
        pass
    root = Path(tempfile.gettempdir()) / f"tokenauction-coq-{os.getuid()}"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _run(cmd, cwd, timeout=BUILD_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def assumptions(coqc: str, where: Path, theorems) -> tuple[set, str]:
    """The axioms ``Print Assumptions`` reports for ``theorems`` (compiled in ``where``)."""
    mods = sorted({t.rsplit(".", 1)[0] for t in theorems})
    # one tuple of every theorem: a single Print Assumptions walks the dependencies once
    cited = ", ".join(f"@{LOGICAL}.{t}" for t in theorems)
    text = "".join(f"Require {LOGICAL}.{m}.\n" for m in mods) + \
        f"Definition cited_theorems := ({cited}{', I' if len(theorems) == 1 else ''}).\n" \
        "Print Assumptions cited_theorems.\n"
    probe = where / "Assumptions_probe.v"
    probe.write_text(text)
    r = _run([coqc, "-R", ".", LOGICAL, probe.name], where, 120)
    if r.returncode != 0:
        return set(), (r.stdout + r.stderr).strip()[-2000:]
    names = {ln.split(" : ")[0].strip() for ln in r.stdout.splitlines()
             if ln and not ln[0].isspace() and ln.strip() not in
             ("Axioms:", "Closed under the global context")}
    return names, ""


def _imports(files) -> dict:
    """file -> the files of the development it requires: every file named in one of its
    ``Require`` sentences, in any form ``-R . TokenAuction`` accepts (``TokenAuction.X``,
    ``From TokenAuction Require X``, a bare ``Require Import X``), and any
    ``TokenAuction.X`` in its code."""
    stems = {f.stem: f for f in files}

    def named(f):
        text = strip_comments(f.read_text())
        words = set(re.findall(rf"\b{LOGICAL}\.(\w+)", text))
        for sentence in re.findall(r"\bRequire\b(.*?)\.(?=\s|$)", text, re.S):
            words.update(re.findall(r"\w+", sentence))
        return {stems[m] for m in words if m in stems and stems[m] != f}
    return {f: named(f) for f in files}


def _compile_all(coqc: str, files, work: Path) -> str | None:
    """``coqc`` every file in ``work``, each as soon as the files it requires are compiled,
    as many at once as there are cores; the first failure in ``_CoqProject`` order, or
    None. A file whose requirements never compile (a cycle, an unknown order) is compiled
    after the others, in order, so coqc says what is wrong with it."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
    needs, done, failures, running = _imports(files), set(), {}, {}
    todo = list(files)
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        while todo or running:
            ready = [f for f in todo if needs[f] <= done] if not failures else []
            for f in ready:
                todo.remove(f)
                running[pool.submit(_run, [coqc, "-R", ".", LOGICAL, f.name], work)] = f
            if not running:
                if failures or not todo:
                    break
                running[pool.submit(_run, [coqc, "-R", ".", LOGICAL, todo[0].name],
                                    work)] = todo.pop(0)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                f, r = running.pop(fut), fut.result()
                if r.returncode != 0:
                    failures[f] = (r.stdout + r.stderr).strip()[-1500:]
                done.add(f)
    for f in files:
        if f in failures:
            return f"coqc failed on {f.name}: " + failures[f]
    return None


def _build(coqc: str, files, theorems, target: Path, version: str) -> CoqStatus:
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    try:
        shutil.copy(COQ_DIR / "_CoqProject", work)
        for f in files:
            shutil.copy(f, work)
        failed = _compile_all(coqc, files, work)
        if failed:
            return CoqStatus(False, failed)
        axioms, err = assumptions(coqc, work, theorems)
        if err:
            return CoqStatus(False, "Print Assumptions failed: " + err)
        extra = sorted(axioms - REALS_AXIOMS)
        if extra:
            return CoqStatus(False, "theorems rest on axioms beyond Reals': " + ", ".join(extra))
        vo = {f.stem + ".vo": _sha((work / (f.stem + ".vo")).read_bytes()) for f in files}
        secs = time.perf_counter() - t0
        (work / "result.json").write_text(json.dumps(
            {"coqc": version, "vo": vo, "axioms": sorted(axioms), "seconds": secs}))
        try:
            os.replace(work, target)
        except OSError:  # another process finished first: keep its copy
            pass
        return CoqStatus(True, f"built by coqc ({version}) in {secs:.1f} s", tuple(theorems),
                         tuple(sorted(axioms)), secs, files=vo, directory=str(target))
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _verify(coqc: str, target: Path, theorems) -> CoqStatus | None:
    """Reuse a compiled copy: its .vo hashes and Print Assumptions must check again."""
    try:
        rec = json.loads((target / "result.json").read_text())
        if any(_sha((target / n).read_bytes()) != h for n, h in rec["vo"].items()):
            return None
    except (OSError, ValueError, KeyError):
        return None
    t0 = time.perf_counter()
    axioms, err = assumptions(coqc, target, theorems)
    if err or axioms - REALS_AXIOMS:
        return None
    return CoqStatus(True, f"compiled copy verified by hash and Print Assumptions "
                     f"({rec['coqc']}; {target})", tuple(theorems), tuple(sorted(axioms)),
                     time.perf_counter() - t0, files=rec["vo"], directory=str(target))


def check(theorems, coqc: str | None = None) -> CoqStatus:
    """Compile ``proofs/coq`` (or verify the cached copy) and check ``theorems``."""
    coqc = coqc or shutil.which("coqc")
    if coqc is None:
        return CoqStatus(False, f"coqc not found on PATH; install Coq ({INSTALL})")
    files = sources()
    bad = forbidden_words(files)
    if bad:
        return CoqStatus(False, "the Coq sources contain " + ", ".join(bad))
    try:
        version = _run([coqc, "--version"], COQ_DIR, 30).stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError) as exc:
        return CoqStatus(False, f"coqc does not run: {exc}")
    digest = hashlib.sha256(version.encode())
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    target = cache_root() / digest.hexdigest()[:32]
    try:
        st = _verify(coqc, target, theorems) if target.exists() else None
        if st is None:
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            st = _build(coqc, files, theorems, target, version)
    except subprocess.TimeoutExpired as exc:
        st = CoqStatus(False, f"coqc timed out after {exc.timeout} s")
    st.source_hash = digest.hexdigest()
    return st


@functools.lru_cache(maxsize=1)
def status() -> CoqStatus:
    """:func:`check` of every theorem a step or claim cites, once per process."""
    from proofs.mechanized.theorems import all_theorems
    return check(all_theorems())
