"""Independent checks of the proofs (docs/theory.md section 10): the Coq development
``proofs/coq/`` that mechanizes the ARGUED steps of the unbounded chains, and the
SMT-LIB2 copies of every z3 query, re-checked by cvc5."""
