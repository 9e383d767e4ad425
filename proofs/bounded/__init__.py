"""The rule-level prover on small instances: z3 on the traced generic rule (docs/theory.md section 6)."""
