"""Load what a user names on the command line or in Python: one loader for ``check`` and ``audit``.

A *spec* is ``path/to/file.py:NAME`` (loaded by path) or ``package.module:NAME`` (imported);
``NAME`` may be dotted and may index dicts (``mechanism.payments:PAYMENT_RULES.pay_your_bid``).
Every failure -- no such file, an exception while the user's module runs (a SyntaxError, a
failing import, anything else), no such attribute -- is :class:`mechanism.InvalidInput`
naming the spec, which the CLI turns into a one-line usage error (exit 2).

Files inside packages: a file whose folder holds an ``__init__.py`` is imported
under its dotted package name (so its relative imports work), with the folder above the
top package on ``sys.path``; the nearest folder above the file that holds a
``pyproject.toml`` is put on ``sys.path`` too (its sibling packages import), and
:func:`add_search_path` adds the folders a user names (``--path DIR``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys

from mechanism.errors import InvalidInput


def module_name_for(path: str) -> str:
    """The ``sys.modules`` name a file is loaded under (stable, so reproductions can find it)."""
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    return f"_tokenauction_user_{stem}"


#: folders the cage's worker searches before this process's ``sys.path``: ``--path``
#: folders (:func:`check_search_path`) and the working directory (:func:`shield_path`)
WORKER_PATHS: list[str] = []


def shield_path(home: str) -> None:
    """Take the working directory off ``sys.path`` (``''`` or its absolute name), as
    ``python -P`` does, unless ``home`` (the folder holding this distribution's packages)
    is that directory: a third party's ``hypothesis.py``, ``scipy/`` or ``pydoc.py`` in the
    folder a command runs from would otherwise be imported by the auditor itself at its next
    lazy import. The cage's worker, which loads the user's code, still searches there
    (:data:`WORKER_PATHS`). Called by the ``tokenauction`` command before each subcommand."""
    WORKER_PATHS.clear()  # one command's folders (the CLI may run in-process, many times)
    cwd = os.path.realpath(os.getcwd())
    if os.path.realpath(home) == cwd:
        return
    for entry in list(sys.path):
        if entry == "" or os.path.realpath(entry) == cwd:
            sys.path.remove(entry)
            WORKER_PATHS.append(os.path.abspath(entry))


def check_search_path(dirs, what: str = "--path") -> None:
    """InvalidInput unless each of ``dirs`` is a folder; the cage's workers search them
    first (:data:`WORKER_PATHS`), this process never does."""
    for d in reversed(list(dirs or ())):
        if not os.path.isdir(d):
            raise InvalidInput(f"{what} {d!r}: no such folder", value=d)
        if os.path.abspath(d) not in WORKER_PATHS:
            WORKER_PATHS.insert(0, os.path.abspath(d))


def add_search_path(dirs, what: str = "--path") -> None:
    """Put each folder of ``dirs`` first on ``sys.path`` (InvalidInput if not a folder)."""
    for d in reversed(list(dirs or ())):
        if not os.path.isdir(d):
            raise InvalidInput(f"{what} {d!r}: no such folder", value=d)
        d = os.path.abspath(d)
        if d not in sys.path:
            sys.path.insert(0, d)


def project_root(path: str) -> str | None:
    """The nearest folder above ``path`` holding a ``pyproject.toml``, or None."""
    d = os.path.dirname(os.path.abspath(path))
    while True:
        if os.path.isfile(os.path.join(d, "pyproject.toml")):
            return d
        up = os.path.dirname(d)
        if up == d:
            return None
        d = up


def package_name(path: str) -> tuple[str, str] | None:
    """``(dotted module name, folder above its top package)`` when ``path`` sits inside a
    package (its folder holds ``__init__.py``), else None."""
    d = os.path.dirname(os.path.abspath(path))
    parts = [os.path.splitext(os.path.basename(path))[0]]
    while os.path.isfile(os.path.join(d, "__init__.py")):
        parts.insert(0, os.path.basename(d))
        d = os.path.dirname(d)
    if len(parts) == 1 or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts), d


def load_file(path: str, what: str = "target"):
    """Execute ``path`` as a module; any exception it raises becomes :class:`InvalidInput`."""
    if not os.path.isfile(path):
        raise InvalidInput(f"{what}: no such file: {path!r}", value=path)
    root = project_root(path)
    if root is not None:
        add_search_path([root])
    pkg = package_name(path)
    if pkg is not None:
        add_search_path([pkg[1]])
        return import_module(pkg[0], what)
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"{what}: cannot load {path!r} as a Python file", value=path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - user code: every failure is a usage error
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise InvalidInput(f"{what}: loading {path!r} failed: {type(exc).__name__}: {exc}",
                           value=path) from exc
    return module


def import_module(where: str, what: str = "target"):
    """Import ``where``; any exception while importing becomes :class:`InvalidInput`."""
    try:
        return importlib.import_module(where)
    except BaseException as exc:  # noqa: BLE001 - user code: every failure is a usage error
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise InvalidInput(f"{what}: cannot import {where!r}: {type(exc).__name__}: {exc}",
                           value=where) from exc


def resolve(obj, dotted: str, spec: str, what: str = "target"):
    """Follow ``a.b.c`` through attributes and dict keys."""
    for part in dotted.split("."):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif hasattr(obj, part):
            obj = getattr(obj, part)
        else:
            raise InvalidInput(f"{what} {spec!r}: no attribute or key {part!r}", value=spec)
    return obj


def is_file_spec(where: str) -> bool:
    return where.endswith(".py") or os.sep in where


def load_spec(spec: str, what: str = "target"):
    """The object named by ``file.py:NAME`` or ``pkg.mod:NAME``."""
    if not isinstance(spec, str) or ":" not in spec:
        raise InvalidInput(f"{what} {spec!r}: expected path/to/file.py:NAME or "
                           "package.module:NAME", value=spec)
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise InvalidInput(f"{what} {spec!r}: expected path/to/file.py:NAME or "
                           "package.module:NAME", value=spec)
    module = load_file(where, what) if is_file_spec(where) else import_module(where, what)
    return resolve(module, name, spec, what)


def load_object(spec: str):
    """The object named by ``file.py:NAME``, ``pkg.mod:NAME`` or a bare registry name (a rule
    or a payment rule: what ``check`` judges)."""
    from mechanism import payments as PAY
    from mechanism import rules as R
    if not isinstance(spec, str) or not spec:
        raise InvalidInput(f"target must be a non-empty string, got {spec!r}", value=spec)
    if ":" not in spec:
        if spec in R.RULES:
            return R.get_rule(spec)
        if spec in PAY.PAYMENT_RULES:
            return PAY.PAYMENT_RULES[spec]
        raise InvalidInput(f"target {spec!r}: use path/to/file.py:NAME or package.module:NAME "
                           f"(or a built-in: {', '.join([*R.RULES, *PAY.PAYMENT_RULES])})",
                           value=spec)
    return load_spec(spec)


def load_mechanism(spec: str, kwargs: dict | None = None):
    """``package.module:NAME`` or ``path/to/file.py:NAME``; a class is instantiated with
    ``kwargs`` (``--arg key=value``); a constructor that rejects them is a usage error."""
    if ":" not in spec:
        raise InvalidInput(f"--mechanism {spec!r}: expected package.module:NAME or file.py:NAME",
                           value=spec)
    obj = load_spec(spec, "--mechanism")
    if not isinstance(obj, type):
        if kwargs:
            raise InvalidInput(f"--arg is for a class; {spec} is not one", value=sorted(kwargs))
        return obj
    try:
        return obj(**(kwargs or {}))
    except Exception as exc:  # user code: a usage error naming the arguments
        raise InvalidInput(f"--mechanism {spec}: {obj.__name__}(**{kwargs or {}}) raised "
                           f"{type(exc).__name__}: {exc}", value=spec) from exc


def parse_args(pairs) -> dict:
    """``["k=v", ...]`` -> constructor kwargs (``--arg``); each value is read as JSON when it
    parses (numbers, lists, true/false, null, quoted strings), else kept as a string."""
    import json
    out = {}
    for pair in pairs or ():
        key, sep, val = str(pair).partition("=")
        if not sep or not key.isidentifier():
            raise InvalidInput(f"--arg {pair!r}: expected key=value", value=pair)
        try:
            out[key] = json.loads(val)
        except ValueError:
            out[key] = val
    return out


def load_valuation(spec):
    """A ``--valuation`` value: a built-in model name, or ``file.py:NAME`` / ``pkg.mod:NAME``
    of a callable ``a(p_i, q)``, loaded and run in the cage
    (:func:`properties.cage.caged_valuation`); a :class:`mechanism.valuations.ValueModel`
    object as given."""
    from mechanism.valuations import as_value_model, get_value_model
    if spec is None or not isinstance(spec, str) or ":" not in spec:
        return get_value_model(spec)
    from properties.cage import caged_valuation  # user code: it runs in the cage, never here
    return as_value_model(caged_valuation(spec), source=absolute_spec(spec))


def add_loading_arguments(parser) -> None:
    """The flags ``check`` and ``audit`` share for loading user code: ``--valuation`` (read by
    :func:`load_valuation`), ``--reports`` (a report restriction) and ``--path`` (read by
    :func:`add_search_path`)."""
    parser.add_argument("--valuation", default=None, metavar="MODEL",
                        help="value model of payment_identity, truthful and individually_rational: "
                             "tv (default), kl, kl_forward, kl_reverse, win, inner, or "
                             "file.py:NAME / pkg.mod:NAME of a callable a(p_i, q)")
    parser.add_argument("--reports", default=None, metavar="KIND",
                        help="restrict the drawn reports: one_hot or top_k:K (win implies one_hot)")
    parser.add_argument("--path", action="append", default=[], metavar="DIR",
                        help="a folder to import from (repeatable; the nearest pyproject.toml "
                             "folder above a target file is added automatically)")


def absolute_spec(spec: str | None) -> str | None:
    """``file.py:NAME`` with the file's absolute path (a reproduction then runs from any
    folder); a module spec or a built-in name as given."""
    if not isinstance(spec, str) or ":" not in spec:
        return spec
    where, _, name = spec.rpartition(":")
    return f"{os.path.abspath(where)}:{name}" if where and is_file_spec(where) else spec


def _defined_at(path: str, name: str) -> int | None:
    import ast
    try:
        tree = ast.parse(open(path, encoding="utf-8").read())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.name == name:
            return node.lineno
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name
                                                for t in node.targets):
            return node.lineno
    return None


def source_location(spec: str) -> tuple[str, int | None] | None:
    """(absolute file, line of NAME's definition or None) of a ``file.py:NAME`` or
    ``pkg.mod:NAME`` spec, read without running it; a built-in name is looked up in
    :mod:`mechanism.rules` and :mod:`mechanism.payments`. None when unknown."""
    if not isinstance(spec, str):
        return None
    if ":" not in spec:
        from mechanism import payments, rules
        for mod in (rules, payments):
            line = _defined_at(mod.__file__, spec)
            if line is not None:
                return os.path.abspath(mod.__file__), line
        return None
    where, _, name = spec.rpartition(":")
    path = os.path.abspath(where) if is_file_spec(where) else None
    if path is None:
        try:
            found = importlib.util.find_spec(where)
        except (ImportError, ValueError):
            return None
        path = found.origin if found is not None and found.origin not in (None, "built-in") \
            else None
    if path is None or not os.path.isfile(path):
        return None
    return path, _defined_at(path, name.split(".")[0])
