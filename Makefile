# Two commands do everything on a fresh machine (see README):
#   make demo   set up .venv, run the demo auction and verify it
#   make test   set up .venv, run the test suite
.PHONY: setup demo test bench
PY := .venv/bin/python

setup:
	bash scripts/setup.sh

# PYTHONDONTWRITEBYTECODE= (empty: off) lets every process write the bytecode of this tree's
# modules, so the many Python processes a run starts (cage workers, reproductions, CLIs) do
# not each compile the tree from source again when the environment sets it.
demo: setup
	PYTHONDONTWRITEBYTECODE= $(PY) -m tokenauction demo

test: setup
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n auto --dist worksteal

bench: setup
	$(PY) benchmarks/step.py
