"""z3 and sympy encodings of the theory's objects, shared by the claims and the provers."""
