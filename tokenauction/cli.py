"""The ``tokenauction`` command line: one dispatcher, one module per subcommand.

Each subcommand module exposes ``add_arguments(parser)`` and ``main(args) -> int``.
Exit codes (STYLE.md, CrossHair): 0 all good, 1 something refuted or diverged,
2 usage or input error; ``check`` also 3, an internal error (a PROVED contradicted by a
counterexample inside its scope).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mechanism.errors import TokenAuctionError

#: subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "demo": ("tokenauction.demo.cli", "run the demo auction and verify it (the main job)"),
    "check": ("properties.checker.cli", "check a rule or payment rule against the property catalogue"),
    "prove": ("proofs.cli", "print the theorem table (sympy and z3)"),
    "audit": ("properties.audit.cli", "replay and verify a recorded auction or a mechanism"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenauction", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            p.set_defaults(_missing=module)
            continue
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "_missing", None):
        print(f"tokenauction {args.command}: not available in this build ({args._missing})",
              file=sys.stderr)
        return 2
    try:
        return int(args._main(args) or 0)
    except TokenAuctionError as exc:
        if isinstance(exc, ValueError) or isinstance(exc, ImportError):
            print(f"tokenauction {args.command}: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
