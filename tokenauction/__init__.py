"""tokenauction: token auctions for LLM-generated content -- implemented, proved and tested.

This package is the application layer (the ``tokenauction`` command, the demo, the LLM adapter,
the pytest plugin). The library lives in three packages, each importable on its own:

* :mod:`mechanism` -- the numpy-only reference mechanism: rules, preference orders, stable
  sampling, payments, the token-by-token auction and its transcripts
  (``from mechanism import TokenAuction, get_rule, expected_payments``);
* :mod:`proofs` -- sympy derivations and z3 queries behind ``tokenauction prove``;
* :mod:`properties` -- the property suite and the audit
  (``from properties import check``; ``tokenauction check``, ``tokenauction audit``).

The names of :mod:`mechanism`'s public API are re-exported here for convenience
(``from tokenauction import TokenAuction`` is ``mechanism.TokenAuction``), loaded on first
use: importing ``tokenauction`` itself (the command line, the pytest plugin) imports nothing
but the standard library.
"""


def __getattr__(name):
    from pathlib import Path
    here = Path(__file__).parent
    if (name.startswith("__") and name not in ("__all__", "__version__")) or \
            (here / f"{name}.py").exists() or (here / name).is_dir():
        raise AttributeError(name)  # a dunder, or a submodule not imported yet
    import mechanism
    if name == "__all__" or name in mechanism.__all__ or name == "__version__":
        return getattr(mechanism, name)
    raise AttributeError(f"module 'tokenauction' has no attribute {name!r}")
