#!/usr/bin/env bash
# Set up, fill an empty workspace with the bundled sample history, start the dashboard.
# Extra arguments go to `milestone-lens dashboard` (e.g. --port 8600).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/milestone-lens dashboard --sample-if-empty "$@"
