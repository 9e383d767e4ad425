"""Run the ``tokenauction`` command as if some modules were not installed.

    python tests/helpers/blocked_imports.py z3,sympy -- check linear --no-prove

A meta-path finder placed first refuses the listed top-level modules (and their submodules)
with ``ModuleNotFoundError``, as a fresh venv without that extra would. Used by the install
matrix test (tests/app/test_install.py); the real fresh-venv check is done by hand.
"""

from __future__ import annotations

import importlib.abc
import sys


class Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def main(argv) -> int:
    sep = argv.index("--")
    blocked = [n for n in argv[1].split(",") if n] if sep > 1 else []
    sys.meta_path.insert(0, Blocker(blocked))
    if argv[sep + 1] == "pytest":
        import pytest
        return pytest.main(argv[sep + 2:])
    from tokenauction.cli import main as cli
    return cli(argv[sep + 1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
