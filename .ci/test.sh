#!/usr/bin/env bash
# The test command: set up (install, build) and run every test, unit and integration.
# Exits non-zero on any failure; ctest prints the summary line.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash .ci/setup.sh --test
# --no-tests=error: a suite that found no test must not pass.
ctest --test-dir build --output-on-failure --no-tests=error -j2
