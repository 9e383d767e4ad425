"""Machine-readable outputs of ``check``, ``prove`` and ``audit`` for CI: JUnit XML and
SARIF 2.1.0 (docs/ci.md). Standard library only, like :mod:`mechanism.tables`.

Every command turns its verdicts into :class:`Case` rows (one per property and order, per
claim, per audit check); the writers here know nothing else. A case's ``status`` is one of
``passed``, ``failed`` (refuted, diverged, or failing a ``--strict`` gate), ``skipped``
(nothing judged: not applicable, an engine missing, no evidence without ``--strict``) and
``error`` (an internal error).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from mechanism.errors import InvalidInput
from mechanism.transcript import JSONL

STATUSES = ("passed", "failed", "skipped", "error")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: SARIF level of a case that is reported (passed cases are not results)
LEVEL = {"failed": "error", "error": "error", "skipped": "none"}


@dataclass
class Case:
    name: str                  #: "monotone:box", a claim id, an audit check
    status: str                #: one of :data:`STATUSES`
    message: str = ""          #: one line: why it failed or was skipped
    text: str = ""             #: more: the reproduction, the counterexample
    rule_id: str = ""          #: SARIF ruleId (the property or claim id); default: name
    location: tuple | None = None  #: (file path, line or None) of the judged code, if known
    seconds: float = 0.0

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown case status {self.status!r}; known: {STATUSES}")


def junit_xml(suite: str, cases: list[Case]) -> str:
    """One ``<testsuite>`` named ``suite``, one ``<testcase>`` per case."""
    counts = {s: sum(c.status == s for c in cases) for s in STATUSES}
    root = ET.Element("testsuites")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)),
                       failures=str(counts["failed"]), errors=str(counts["error"]),
                       skipped=str(counts["skipped"]),
                       time=f"{sum(c.seconds for c in cases):.3f}")
    for c in cases:
        tc = ET.SubElement(ts, "testcase", name=c.name, classname=suite,
                           time=f"{c.seconds:.3f}")
        if c.location:
            tc.set("file", str(c.location[0]))
            if c.location[1] is not None:
                tc.set("line", str(c.location[1]))
        tag = {"failed": "failure", "error": "error", "skipped": "skipped"}.get(c.status)
        if tag:
            el = ET.SubElement(tc, tag, message=c.message)
            el.text = c.text or c.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def _location(c: Case) -> list[dict]:
    if not c.location:
        return []
    path, line = c.location
    phys = {"artifactLocation": {"uri": Path(path).as_uri() if Path(path).is_absolute()
                                 else str(path)}}
    if line is not None:
        phys["region"] = {"startLine": int(line)}
    return [{"physicalLocation": phys}]


def sarif(tool: str, version: str, cases: list[Case]) -> dict:
    """A SARIF 2.1.0 log: one run of ``tool``; a result per failed, errored or skipped case
    (passed cases are not results), with the judged code's location where known."""
    rules, results = {}, []
    for c in cases:
        if c.status == "passed":
            continue
        rid = c.rule_id or c.name
        rules.setdefault(rid, {"id": rid, "shortDescription": {"text": rid}})
        results.append({"ruleId": rid, "level": LEVEL[c.status],
                        "kind": "fail" if c.status in ("failed", "error") else "notApplicable",
                        "message": {"text": f"{c.name}: {c.message}" if c.message else c.name},
                        "locations": _location(c),
                        "properties": {"status": c.status, "case": c.name}})
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": tool, "version": version,
                                          "rules": list(rules.values())}},
                      "results": results}]}


def add_output_arguments(p, case: str) -> None:
    """``--junit-xml`` and ``--sarif``, spelled alike by check, audit and prove (``case``:
    what one testcase stands for)."""
    p.add_argument("--junit-xml", metavar="PATH",
                   help=f"write a JUnit XML file (one testcase per {case})")
    p.add_argument("--sarif", metavar="PATH",
                   help=f"write a SARIF 2.1.0 file (a result per {case} not passed)")


def unwritable(path) -> str | None:
    """Why ``path`` cannot be written as an output file (None when it can): its folder is
    missing or not writable, or it is a folder itself. Nothing is created."""
    p = Path(path)
    if p.is_symlink() and not p.exists():   # the write would follow it and fail late
        return "is a link to nothing"
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        return "is a folder"
    if not folder.is_dir():
        return f"its folder {folder} does not exist"
    if not os.access(p if p.exists() else folder, os.W_OK):
        return "is not writable" if p.exists() else f"its folder {folder} is not writable"
    return None


def check_output_paths(args, *more: tuple[str, str], inputs=()) -> None:
    """Before any work: InvalidInput (exit 2, one line) when ``--junit-xml``, ``--sarif`` or
    one of ``more`` (``(option, path)`` pairs) cannot be written (docs/ci.md), or would
    overwrite what the command reads: one of ``inputs`` (files, folders, globs) or a file
    inside a run folder at any depth (one holding a transcript; an audit never writes to a
    run), or a link to nothing."""
    paths = [("--junit-xml", getattr(args, "junit_xml", None)),
             ("--sarif", getattr(args, "sarif", None)), *more]
    for option, path in paths:
        why = None if path is None else (unwritable(path) or _read_here(path, inputs))
        if why is not None:
            raise InvalidInput(f"{option} {path}: cannot write there ({why})", value=str(path))


def _read_here(path, inputs) -> str | None:
    """Why writing ``path`` would overwrite an input, or None."""
    import glob
    out = Path(path).resolve()
    for folder in out.parents:   # any folder above it, not only its own (was: run/sub/x)
        if (folder / JSONL).exists():
            return f"{folder} is a recorded run, which the output would change"
    for given in inputs:
        if given is None:
            continue
        given = str(given)
        for inp in (glob.glob(given) if glob.has_magic(given) else [given]):
            inp = Path(inp).resolve()
            if out == inp or inp in out.parents:
                return f"it is {'inside ' if out != inp else ''}the input {inp}"
    return None


def write_text(option: str, path, text: str) -> None:
    """Write an output file; an OSError is InvalidInput naming the option (exit 2)."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{option} {path}: cannot write there ({exc.strerror or exc})",
                           value=str(path)) from None


def write_outputs(suite: str, cases: list[Case], *, junit: str | None = None,
                  sarif_path: str | None = None, version: str = "") -> None:
    """Write the JUnit file and / or the SARIF file asked for (parent folders must exist;
    :func:`check_output_paths` says so before the work)."""
    if junit:
        write_text("--junit-xml", junit, junit_xml(suite, cases) + "\n")
    if sarif_path:
        write_text("--sarif", sarif_path,
                   json.dumps(sarif("tokenauction", version, cases), indent=1) + "\n")
