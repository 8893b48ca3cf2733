#!/usr/bin/env bash
# One command on a fresh machine: installs memlyze into .venv and profiles the
# bundled example, printing a summary.   Usage: bash scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_common.sh

python=$(find_python)
ensure_build_packages "$python"
ensure_venv "$python"

step "Installing memlyze into .venv (pip install .)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check .

step "Profiling examples/image_cache.py"
.venv/bin/memlyze run -f -o example.mlyze examples/image_cache.py

step "memlyze summary example.mlyze"
.venv/bin/memlyze summary example.mlyze

cat <<'TEXT'

Done. To go on:
  source .venv/bin/activate
  memlyze stats example.mlyze          # everything about the run
  memlyze stats --json example.mlyze   # the same as JSON
  memlyze run -o app.mlyze your_script.py
TEXT
