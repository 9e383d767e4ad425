"""Docs that run: every Python example in README.md, docs/*.md and properties/README.md is
a doctest whose printed output is compared; the public API table of docs/architecture.md
is ``mechanism.__all__``; package docstrings' doctests pass; docs point only inside the
repository."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", ROOT / "properties" / "README.md",
               *(ROOT / "docs").glob("*.md")])
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
PACKAGES = ("mechanism", "proofs", "properties", "tokenauction")
#: Every module whose source holds a ``>>>`` example (doctest-run here).
DOCTEST_MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for pkg in PACKAGES for path in (ROOT / pkg).rglob("*.py") if ">>>" in path.read_text())


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_examples_are_doctests(path):
    """A ``python`` block is either a doctest (run, output compared) or an interface sketch
    that only declares (it must compile and call nothing at top level)."""
    for block in _python_blocks(path.read_text()):
        if ">>>" in block:
            continue
        code = compile(block, str(path), "exec", flags=0, dont_inherit=True)
        top = [line for line in block.splitlines() if line and not line[0].isspace()
               and not line.startswith(("class ", "def ", "@", "#", "import ", "from "))]
        assert not top, f"{path.name}: a python block runs code without showing its output " \
                        f"(write it as >>> lines): {top[0]!r}"
        assert code is not None
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS,
                              verbose=False, raise_on_error=False, encoding="utf-8")
    assert result.failed == 0, f"{path.name}: {result.failed} doctest failures (see stdout)"


def test_doctest_modules_found():
    assert {"properties", "mechanism.tables"} <= set(DOCTEST_MODULES)


def test_docs_have_examples():
    """The doctests above cannot pass vacuously: the examples are there."""
    counts = {str(p.relative_to(ROOT)): _python_blocks(p.read_text()) for p in DOCS}
    assert any(">>>" in b for b in counts["README.md"])
    assert sum(">>>" in b for blocks in counts.values() for b in blocks) >= 4


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_module_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.attempted > 0 and result.failed == 0


def _api_table(text: str) -> set[str]:
    section = text.split("## Public API of `mechanism`", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            first = row.split("|")[1]
            names |= {re.sub(r"\(.*", "", n) for n in re.findall(r"`([^`]+)`", first)}
    return names


def test_api_table_is_mechanism_all():
    import mechanism
    table = _api_table((ROOT / "docs" / "architecture.md").read_text())
    assert table == set(mechanism.__all__), (
        f"in the table, not importable: {sorted(table - set(mechanism.__all__))}; "
        f"exported, not in the table: {sorted(set(mechanism.__all__) - table)}")
    for name in table:
        assert hasattr(mechanism, name), name


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_point_inside_the_repository(path):
    text = path.read_text()
    assert "shared/" not in text and "../" not in text, path.name


_OUTSIDE = re.compile(r"\bissue[ -]\d+|\b(?:SPEC|STYLE|LLM)\.md\b|\.\./shared", re.I)
_SOURCES = sorted(p for pkg in ("mechanism", "proofs", "properties", "tokenauction", "tests",
                                "benchmarks", "scripts", "docs")
                  for p in (ROOT / pkg).rglob("*") if p.suffix in (".py", ".md", ".v", ".toml")
                  and p.name != "test_docs.py")


def test_code_and_docs_cite_nothing_outside_the_repository():
    """No "issue N", no formalization or style file, no sibling folder: a reader of the
    repository has none of them (docs/theory.md is the project's own account)."""
    bad = [f"{p.relative_to(ROOT)}:{i}: {m.group()}"
           for p in _SOURCES + [ROOT / "README.md"]
           for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
           for m in [_OUTSIDE.search(line)] if m]
    assert not bad, "\n".join(bad[:20])
