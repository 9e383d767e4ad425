"""Proofs for every n and V: lemma chains, rule families, weight facts (docs/theory.md section 8)."""
