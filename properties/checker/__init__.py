"""The check engine behind :func:`properties.check` (``tokenauction check``).

``targets`` loads and wraps what the user names, ``sandbox`` runs it under a timeout,
``engine`` runs the catalogue's groups (``rule_checks``, ``payment_checks``, ``sweeps``)
with hypothesis, ``shrink`` rounds counterexamples, ``determinism`` pins the draws to a seed,
``cli`` is the subcommand.
"""
