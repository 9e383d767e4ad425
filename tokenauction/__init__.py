"""tokenauction: token auctions for LLM-generated content -- implemented, proved and tested.

This package is the application layer (the ``tokenauction`` command, the demo, the LLM adapter).
The library lives in three packages, each importable on its own:

* :mod:`mechanism` -- the numpy-only reference mechanism: rules, preference orders, stable
  sampling, payments, the token-by-token auction and its transcripts
  (``from mechanism import TokenAuction, get_rule, expected_payments``);
* :mod:`proofs` -- sympy derivations and z3 queries behind ``tokenauction prove``;
* :mod:`properties` -- the property suite and the audit
  (``from properties import check``; ``tokenauction check``, ``tokenauction audit``).

The names of :mod:`mechanism`'s public API are re-exported here for convenience
(``from tokenauction import TokenAuction`` is ``mechanism.TokenAuction``).
"""

from mechanism import *  # noqa: F401,F403  (the public facade; see mechanism.__all__)
from mechanism import __all__, __version__  # noqa: F401
