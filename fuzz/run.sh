#!/usr/bin/env bash
# Run every atheris target for N seconds each (default 600), one after another; see fuzz/run.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" fuzz/run.py --seconds "${1:-600}" "${@:2}"
