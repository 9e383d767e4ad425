"""The ``tokenauction`` command line: one dispatcher, one module per subcommand.

Each subcommand module exposes ``add_arguments(parser)`` and ``main(args) -> int``. Only the
subcommand that runs is imported (``tokenauction --help`` imports none), so a command whose
engine this install lacks says which extra brings it, in one line with exit 2, and the others
work. Every error ends in one line on stderr (one JSON object on stdout with ``--json``),
never a traceback; exit codes are :data:`EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from tokenauction import environment

#: subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "demo": ("tokenauction.demo.cli", "run the demo auction and verify it (the main job)"),
    "check": ("properties.checker.cli", "check a rule or payment rule against the property catalogue"),
    "prove": ("proofs.cli", "print the theorem table (sympy and z3)"),
    "audit": ("properties.audit.cli", "replay and verify a recorded auction or a mechanism"),
}
#: The version of every JSON document the commands print or write (docs/ci.md).
SCHEMA_VERSION = 1
#: Exit codes, shared by every subcommand (and printed by every ``--help``).
EXIT_CODES = ("exit codes: 0 all good (nothing refuted, every claim as expected, audit clean); "
              "1 something refuted, diverged or failed a --strict gate; 2 usage, input or "
              "installation error (one line says which); 3 internal error (a PROVED "
              "contradicted inside its scope, or a bug: please report it)")


def version() -> str:
    from importlib import metadata
    try:
        return metadata.version("tokenauction")
    except metadata.PackageNotFoundError:
        return "unknown (not installed as a distribution)"


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors follow the conventions: exit 2, JSON with ``--json``."""

    as_json = False  #: set by :func:`main` for the invocation being parsed

    def error(self, message):
        report_error(self.prog, message, Parser.as_json)
        self.exit(2)


def wants_json(argv) -> bool:
    return "--json" in argv


def report_error(prog: str, message: str, as_json: bool, code: int = 2) -> int:
    """One error: a line on stderr, and with ``--json`` one JSON object on stdout. Control
    characters (an escape sequence in a path named by the message) are shown as ``\\xNN``
    (docs/audit.md, "Many runs")."""
    from properties.cage_replies import printable
    line = printable(" ".join(str(message).split()), limit=sys.maxsize)
    print(f"{prog}: error: {line}", file=sys.stderr)
    if as_json:
        print(json.dumps({"schema_version": SCHEMA_VERSION, "command": prog, "error": line,
                          "exit_code": code}))
    return code


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (its options are added), or every
    subcommand's with ``command="*"``. Raises ImportError when that module cannot load."""
    parser = Parser(prog="tokenauction", description=__doc__.splitlines()[0], epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"tokenauction {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_, epilog=EXIT_CODES)
        if command in (name, "*"):
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_main=mod.main)
    return parser


def import_problem(exc: ImportError) -> str:
    """One line for an import that failed: a module an extra brings is not installed, or
    (a name missing from a module that is there) the installation is inconsistent."""
    if isinstance(exc, ModuleNotFoundError):
        return environment.missing_line("this command", exc)
    return (f"the installation is inconsistent ({exc}); reinstall: "
            "pip install --force-reinstall tokenauction")


def _command(argv) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _private_hypothesis_storage() -> None:
    """hypothesis caches constants in ``./.hypothesis``; a command writes nothing to the
    user's folder, so (unless the user chose a folder) that cache goes to a private
    temporary folder removed at exit."""
    if "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ:
        import atexit
        import shutil
        import tempfile
        where = tempfile.mkdtemp(prefix="tokenauction-hypothesis-")
        os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = where
        atexit.register(shutil.rmtree, where, True)


def main(argv=None) -> int:
    """Run one command; its exit code. A reader of the output that goes away (``tokenauction
    audit RUN | head``) does not change the outcome: the rest of the output is dropped and
    the exit code is still the verdict's (:class:`PipeGuard`)."""
    stdout = sys.stdout
    sys.stdout = guard = PipeGuard(stdout)
    try:
        code = _main(argv)
        guard.flush()
    finally:
        sys.stdout = stdout
    if guard.failed is not None:   # the output is lost: the verdict cannot be trusted to CI
        print(f"tokenauction: error: cannot write the output ({guard.failed})",
              file=sys.stderr)
        return 2
    return code


class PipeGuard:
    """Standard output whose reader may close the pipe: from the first write that finds it
    closed (BrokenPipeError), the stream's descriptor points at the null device, so the
    command finishes its work and returns its own exit code instead of an internal error.
    Any other failed write (a full disk: ``--json > /dev/full``) is kept in ``failed``: the
    output is lost, so :func:`main` says so in one line and exits 2."""

    def __init__(self, stream):
        self._stream = stream
        self.failed: str | None = None

    def write(self, text):
        try:
            return self._stream.write(text)
        except OSError as exc:
            self._drop(exc)
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except OSError as exc:
            self._drop(exc)

    def _drop(self, exc: OSError) -> None:
        if not isinstance(exc, BrokenPipeError) and self.failed is None:
            self.failed = exc.strerror or str(exc)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, self._stream.fileno())
        finally:
            os.close(null)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _main(argv) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json, command = wants_json(argv), _command(argv)
    Parser.as_json = as_json
    prog = f"tokenauction {command}" if command in SUBCOMMANDS else "tokenauction"
    if command in SUBCOMMANDS:
        problems = environment.shadowed()
        if problems:
            return report_error(prog, problems[0], as_json)
        from properties.loading import shield_path
        shield_path(str(environment.home()))  # no import from the working directory here
    try:
        parser = build_parser(command)
    except ImportError as exc:
        return report_error(prog, import_problem(exc), as_json)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _private_hypothesis_storage()
    return run(args, prog, as_json)


def run(args, prog: str, as_json: bool) -> int:
    """The subcommand's ``main``; every error it raises becomes one line and an exit code."""
    from mechanism.errors import MissingDependency, TokenAuctionError
    try:
        return int(args._main(args) or 0)
    except MissingDependency as exc:
        return report_error(prog, str(exc), as_json)
    except ImportError as exc:
        return report_error(prog, import_problem(exc), as_json)
    except TokenAuctionError as exc:
        return report_error(prog, str(exc), as_json)
    except KeyboardInterrupt:
        return report_error(prog, "interrupted", as_json, 130)
    except OSError as exc:
        if exc.filename is None:  # not about a path the user gave: handled as a bug below
            return _internal(prog, exc, as_json)
        name = str(exc.filename)
        name = name if len(name) <= 200 else name[:120] + f"...({len(name)} characters)"
        return report_error(prog, f"cannot use {name!r}: {exc.strerror or exc}", as_json)
    except Exception as exc:  # a bug of ours
        return _internal(prog, exc, as_json)


def _internal(prog: str, exc: Exception, as_json: bool) -> int:
    """A bug of ours: one line, exit 3; the traceback on request."""
    if os.environ.get("TOKENAUCTION_TRACEBACK"):
        raise exc
    return report_error(prog, f"internal error {type(exc).__name__}: {exc} (a bug: please "
                              "report it; TOKENAUCTION_TRACEBACK=1 shows the traceback)",
                        as_json, 3)


if __name__ == "__main__":
    sys.exit(main())
