"""The Coq objects whose printed form tests/proofs/test_coq.py pins (coq_statements.txt):
the definitions the statements use and the theorems that chain steps cite. A change to
any of them must be reviewed against docs/theory.md section 10 and the pin regenerated
with ``python tests/proofs/coq_pins.py > tests/proofs/coq_statements.txt``."""

from __future__ import annotations

DEFINITIONS = ("Base.btw", "Base.sum", "Base.dist", "Base.box", "Base.seg", "Box.seg_qf",
               "Mixture.mix", "Characterization.weights", "Characterization.mon_all_reports",
               "Characterization.scaled", "Characterization.raise", "Characterization.valid",
               "Characterization.MON_box", "Characterization.MON_seg",
               "Characterization.scales", "Normalized.F", "Normalized.total", "Normalized.nw",
               "Normalized.adm", "Normalized.nondecreasing", "Theorem.grid", "Theorem.MON",
               "Theorem.CA", "Theorem.strict", "Theorem.PM", "Theorem.Znd", "Theorem.TV",
               "Theorem.G", "Theorem.Zsp", "WTA.wins", "WTA.none_positive", "WTA.wta_weights",
               "Padding.padv", "Padding.padg", "Padding.clamp")


def probe(theorems) -> str:
    """A Coq file that prints every pinned definition and theorem statement."""
    mods = sorted({n.rsplit(".", 1)[0] for n in DEFINITIONS + tuple(theorems)})
    return ("Require Import Reals.\n" + "".join(f"Require TokenAuction.{m}.\n" for m in mods)
            + "Open Scope R_scope.\nSet Printing Width 100000.\n"
            + "".join(f"Print TokenAuction.{d}.\n" for d in DEFINITIONS)
            + "".join(f"Check @TokenAuction.{t}.\n" for t in theorems))


def printed(coqc: str, where, theorems) -> str:
    """The probe's output, one object per paragraph, whitespace normalized."""
    import subprocess
    from pathlib import Path
    f = Path(where) / "Pins_probe.v"
    f.write_text(probe(theorems))
    r = subprocess.run([coqc, "-R", ".", "TokenAuction", f.name], cwd=where,
                       capture_output=True, text=True, timeout=120, check=True)
    return " ".join(r.stdout.split()).replace(" Arguments ", "\nArguments ") + "\n"


def version(coqc: str) -> str:
    import subprocess
    return "# " + subprocess.run([coqc, "--version"], capture_output=True, text=True,
                                 check=True).stdout.splitlines()[0]


if __name__ == "__main__":
    import shutil
    import sys
    import tempfile
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from proofs.mechanized import coq, theorems
    with tempfile.TemporaryDirectory() as d:
        import os
        os.environ["TOKENAUCTION_CACHE"] = d
        assert coq.check(theorems.all_theorems()).checked
        [target] = [p for p in (Path(d) / "coq").iterdir() if p.is_dir()]
        sys.stdout.write(version(shutil.which("coqc")) + "\n"
                         + printed(shutil.which("coqc"), target, theorems.all_theorems()))
