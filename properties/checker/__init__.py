"""The check engine behind :func:`properties.check` (``tokenauction check``).

``properties.target`` loads and wraps what the user names, ``properties.sandbox`` runs it
under a timeout,
``engine`` runs the catalogue's groups (``rule_checks``, ``payment_checks``, ``sweeps``)
with hypothesis through ``run`` (which counts the valid evaluations behind each verdict),
``proving`` asks the rule-level prover (a PROVED carries its scope), ``shrink`` rounds
counterexamples, ``reproduce`` runs each printed reproduction in a fresh process,
``determinism`` pins the draws to a seed, ``cli`` is the subcommand.
"""
