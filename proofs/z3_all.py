"""Import every z3 claim module, so that their claims are in ``proofs.registry.CLAIMS``
(the ``prove`` command imports this one module)."""

from . import z3_orders, z3_sampling, z3_scale, z3_theorem, z3_theorem_loss  # noqa: F401

MODULES = ("z3_orders", "z3_theorem", "z3_theorem_loss", "z3_scale", "z3_sampling")
