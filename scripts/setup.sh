#!/usr/bin/env bash
# Create .venv (if needed) and install the project into it.
#   scripts/setup.sh          runtime dependencies
#   scripts/setup.sh dev      plus test dependencies and Debian's chromium for browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if [ "${1:-}" = "dev" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
    if ! command -v chromium >/dev/null 2>&1; then
        if command -v apt-get >/dev/null 2>&1; then
            SUDO=""
            [ "$(id -u)" -ne 0 ] && SUDO="sudo"
            $SUDO apt-get update -q
            DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
        else
            # No apt-get: let Playwright fetch its own browser.
            .venv/bin/python -m playwright install chromium
        fi
    fi
else
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
fi
