"""The demo auction (``tokenauction demo``): the paper's "Vacations in Hawaii" example on a
real LLM (or the synthetic provider), swept over bid shares, verified step by step and reported.

``run`` runs and verifies the sweep, ``report`` writes report.md and the figures, ``cli`` is the
subcommand, ``synthetic`` the seconds-fast provider without the LLM, ``config.toml`` the prompts.
"""
