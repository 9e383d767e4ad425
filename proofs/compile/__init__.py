"""Compiling a declared rule into one exact expression tree (docs/theory.md section 8)."""
