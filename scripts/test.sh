#!/usr/bin/env bash
# The README's test command: install exactly what package-lock.json pins, then run the suite
# (typecheck, buf lint, generated-code check, vitest). Installs what tests need from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
npm test
