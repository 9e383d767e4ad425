# Two commands do everything on a fresh machine (see README):
#   make demo   set up .venv, run the demo auction and verify it
#   make test   set up .venv, run the test suite
.PHONY: setup demo test bench
PY := .venv/bin/python

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m tokenauction demo

test: setup
	$(PY) -m pytest -q -n auto --dist worksteal

bench: setup
	$(PY) benchmarks/step.py
