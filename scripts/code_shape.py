"""Measure the shape rules of the code: functions over 80 lines, modules over 400 lines,
import cycles between modules, private names (``_name``) imported across modules, and (a
looser measure) ``module._name`` attributes of another module used; and, for information,
the functions taking 8 or more parameters.

    python scripts/code_shape.py [PACKAGE ...]      (default: mechanism properties tokenauction)

Prints every breach and a one-line tally per package; exits 1 when there is any breach.
``tests/test_code_shape.py`` runs the same measurement.
"""

from __future__ import annotations

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("mechanism", "properties", "tokenauction")
MAX_FUNCTION, MAX_MODULE = 80, 400


def modules(package: str) -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every ``.py`` under ``package``."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` in module ``name`` refers to."""
    if not node.level:
        return node.module or ""
    base = name.split(".")  # ``pkg.__init__`` for a package: level 1 is ``pkg``
    base = base[: len(base) - node.level]
    return ".".join(base + ([node.module] if node.module else []))


def long_functions(nodes: list) -> list[tuple[str, int]]:
    """``nodes``: every node of a module (``list(ast.walk(tree))``, walked once)."""
    return [(f.name, f.end_lineno - f.lineno + 1) for f in nodes
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            and f.end_lineno - f.lineno + 1 > MAX_FUNCTION]


def many_parameters(nodes: list, limit: int = 8) -> list[tuple[str, int]]:
    """Functions taking ``limit`` or more parameters (``self`` not counted)."""
    out = []
    for f in nodes:
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = f.args
            names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
            n = len([x for x in names if x not in ("self", "cls")])
            if n >= limit:
                out.append((f.name, n))
    return out


def imports(name: str, path: pathlib.Path, known: set[str], tree: ast.Module, nodes: list):
    """(imported module, names, at module level) for each import of ``name`` inside ``known``;
    an import inside a function is deferred and cannot form a cycle at import time."""
    top = set(map(id, tree.body))
    init = path.name == "__init__.py"
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            target = _resolve(name + (".__init__" if init else ""), node)
            names = [a.name for a in node.names]
            submodules = [n for n in names if f"{target}.{n}" in known]
            for n in submodules:  # ``from pkg import module`` loads pkg.module, not pkg
                yield f"{target}.{n}", [], id(node) in top
            if target in known and len(submodules) < len(names):
                yield target, [n for n in names if n not in submodules], id(node) in top
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name in known:
                    yield a.name, [], id(node) in top


def private_attributes(name: str, path: pathlib.Path, known: set[str],
                       nodes: list) -> list[str]:
    """``alias._name`` where ``alias`` is another module of ``known`` imported by this one:
    a private name reached across modules without an import line."""
    init = path.name == "__init__.py"
    aliases = {}
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            target = _resolve(name + (".__init__" if init else ""), node)
            for a in node.names:
                if f"{target}.{a.name}" in known:
                    aliases[a.asname or a.name] = f"{target}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name in known and a.asname:
                    aliases[a.asname] = a.name
    return sorted({f"{aliases[n.value.id]}.{n.attr}" for n in nodes
                   if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                   and n.value.id in aliases and aliases[n.value.id] != name
                   and n.attr.startswith("_") and not n.attr.startswith("__")})


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def measure(packages=PACKAGES) -> dict:
    """Breaches of each rule over ``packages``: lists of printable strings."""
    mods = {}
    for p in packages:
        mods.update(modules(p))
    known = set(mods)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    private, private_attrs, long_fns, long_mods, wide = [], [], [], [], []
    for name, path in mods.items():   # each file read and parsed once, for every rule
        text = path.read_text()
        tree = ast.parse(text)
        nodes = list(ast.walk(tree))
        n_lines = len(text.splitlines())
        if n_lines > MAX_MODULE:
            long_mods.append(f"{path.relative_to(ROOT)} {n_lines} lines")
        long_fns += [f"{path.relative_to(ROOT)}:{fn} {n} lines" for fn, n in long_functions(nodes)]
        wide += [f"{path.relative_to(ROOT)}:{fn} {n} parameters"
                 for fn, n in many_parameters(nodes)]
        for target, names, top in imports(name, path, known, tree, nodes):
            if target != name and top:
                graph[name].add(target)
            private += [f"{path.relative_to(ROOT)} imports {target}.{n}" for n in names
                        if n.startswith("_") and not n.startswith("__") and target != name]
        private_attrs += [f"{path.relative_to(ROOT)} uses {attr}"
                          for attr in private_attributes(name, path, known, nodes)]
    return {"functions over 80 lines": long_fns, "modules over 400 lines": long_mods,
            "import cycles": [" -> ".join(c) for c in cycles(graph)],
            "private names imported across modules": private,
            "private attributes of other modules used": private_attrs,
            "functions with 8 or more parameters": wide}


def main(argv) -> int:
    packages = tuple(argv) or PACKAGES
    found = measure(packages)
    for rule, items in found.items():
        print(f"{rule}: {len(items)}")
        for item in items:
            print(f"  {item}")
    rules = [k for k in found if k != "functions with 8 or more parameters"]
    return 1 if any(found[k] for k in rules) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
