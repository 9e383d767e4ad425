"""The code's shape: docs/architecture.md's layout lists exactly the modules of the tree; no
function over 80 lines, no module over 400, no import cycle and no private name imported
across modules in mechanism/, proofs/, properties/ and tokenauction/ (measured by
scripts/code_shape.py); tests/mechanism/ imports nothing above mechanism."""

from __future__ import annotations

import ast
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("mechanism", "proofs", "properties", "tokenauction")

_spec = importlib.util.spec_from_file_location("code_shape", ROOT / "scripts" / "code_shape.py")
shape = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shape)


def documented_modules(text: str) -> set[str]:
    """The modules the Layout block of docs/architecture.md names, as ``pkg/sub/mod`` paths
    (``pkg/sub/`` for a subpackage; ``__init__`` rows are not counted)."""
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    out, stack, listing = set(), [], None
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if listing is not None and indent >= 16:   # "claims/ ...:" then module names
            out.update(f"{listing}{name}" for name in line.split())
            continue
        if indent >= 16 or indent % 2:
            continue                                # a wrapped description
        listing = None
        depth = indent // 2
        head, _, desc = line.strip().partition("  ")
        stack = stack[:depth]
        if head.endswith("/"):
            stack.append(head)
            out.add("".join(stack))
            if desc.rstrip().endswith(":"):
                listing = "".join(stack)
            continue
        for name in head.split(", "):
            if name != "__init__":
                out.add("".join(stack) + name)
    return {m for m in out if m.split("/")[0] in PACKAGES}


def tree_modules() -> set[str]:
    out = set()
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if path.name == "__init__.py":
                out.add("/".join(rel.parts[:-1]) + "/")
            else:
                out.add("/".join(rel.with_suffix("").parts))
    return out


def test_architecture_layout_lists_the_tree():
    documented = documented_modules((ROOT / "docs" / "architecture.md").read_text())
    tree = tree_modules()
    assert not tree - documented, f"modules without a row in docs/architecture.md: " \
                                  f"{sorted(tree - documented)}"
    assert not documented - tree, f"rows of docs/architecture.md with no module: " \
                                  f"{sorted(documented - tree)}"


def test_layout_parser_sees_a_missing_row():
    """The comparison above can fail: a row dropped from the text is noticed."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert "properties/checks" in documented_modules(text)
    dropped = text.replace("  checks            per-instance", "  (gone)", 1)
    assert "properties/checks" not in documented_modules(dropped)


RULES = ("functions over 80 lines", "modules over 400 lines", "import cycles",
         "private names imported across modules")


@pytest.fixture(scope="module")
def measured() -> dict:
    """One measurement of the tree, read by each rule's test (none of them changes it)."""
    return shape.measure(PACKAGES)


@pytest.mark.parametrize("rule", RULES)
def test_shape_rules_hold(rule, measured):
    found = measured[rule]
    assert found == [], f"{rule}: {found}"


def test_shape_measure_sees_breaches(tmp_path, monkeypatch):
    """The measurement is not vacuous: a long function, a long module, a cycle and a private
    import planted in a scratch package are all reported."""
    pkg = tmp_path / "scratch"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    body = "\n".join(f"    x{i} = {i}" for i in range(90))
    (pkg / "a.py").write_text("from scratch.b import _hidden\n\n\ndef long():\n" + body + "\n")
    (pkg / "b.py").write_text("from scratch import a\n_hidden = 1\n" + "y = 1\n" * 400)
    monkeypatch.setattr(shape, "ROOT", tmp_path)
    found = shape.measure(("scratch",))
    assert found["functions over 80 lines"] == ["scratch/a.py:long 91 lines"]
    assert found["modules over 400 lines"] == ["scratch/b.py 402 lines"]
    assert found["import cycles"] == ["scratch.a -> scratch.b"]
    assert found["private names imported across modules"] == ["scratch/a.py imports scratch.b._hidden"]
    assert found["private attributes of other modules used"] == []


def test_mechanism_tests_import_nothing_above_mechanism():
    """tests/mechanism/ tests the numpy reference alone (no app, no properties, no proofs)."""
    offenders = []
    for path in sorted((ROOT / "tests" / "mechanism").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names
                          if n.split(".")[0] in ("tokenauction", "properties", "proofs")]
    assert offenders == [], offenders
