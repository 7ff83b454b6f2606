#!/usr/bin/env bash
# The README's second command: set up everything the tests need, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
