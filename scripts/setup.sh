#!/usr/bin/env bash
# Create .venv and install rtloop into it. Usage: scripts/setup.sh [--test]
#   (no flag)  runtime + training extras: enough for `rtloop demo`, train, score, run
#   --test     also pytest, the explore and ray extras, Playwright, the laion-clap reference, and (Linux,
#              as root or with sudo) the Debian packages of the JACK end-to-end tests and Chromium (the
#              explorer's browser tests drive the system browser: Playwright downloads no browser)
set -euo pipefail
cd "$(dirname "$0")/.."
want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

# torch first and pinned, so nothing below pulls a (multi-GB) CUDA build of a newer torch
.venv/bin/python -c "import torch" 2>/dev/null || "${pip[@]}" "torch==2.13.0"
if [ "$want_tests" = 1 ]; then
  "${pip[@]}" -e ".[train,test,link,explore,ray]"
  "${pip[@]}" torchlibrosa h5py
  # laion-clap is only the reference of the parity test. It goes into a folder of its own, without its
  # requirements (wandb, transformers, numpy<2 ... unused by the audio branch the test imports), so
  # that pip's resolver never sees it and has no conflict to report (export/laion_reference.py).
  [ -f .venv/reference/laion_clap/clap_module/htsat.py ] ||
    "${pip[@]}" --no-deps --target .venv/reference "laion-clap==1.1.7"
else
  "${pip[@]}" -e ".[train]"
fi

if [ "$want_tests" = 1 ] && [ "$(uname -s)" = Linux ] && command -v apt-get >/dev/null; then
  packages=(jackd2 jack-tools jack-midi-clock liblo-tools libportaudio2 puredata-core iproute2 chromium)
  missing=()
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing Debian packages for the JACK and browser tests: ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
