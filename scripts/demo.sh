#!/usr/bin/env bash
# The README's first command: set up, then run `rtloop demo` (no audio/MIDI hardware, no downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/rtloop demo "$@"
