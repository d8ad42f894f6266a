#!/usr/bin/env bash
# The test command: set up (install, build) and run every test, unit and integration, in build/
# (the optimised build users run). CI runs exactly this (.ci/run). With --sanitize it then runs
# the whole suite again in build-asan/ (clang with ASan+UBSan; the same tree holds the libFuzzer
# targets, each then run briefly over its corpus). Exits non-zero on any failed test or any
# sanitizer report.
#
#   bash .ci/test.sh              the suite (CI: about 8 minutes on 2 cores from a fresh clone)
#   bash .ci/test.sh --sanitize   ... plus the ASan+UBSan suite and the fuzz runs (about 13 more
#                                 minutes: the sanitized build alone takes 8; too long for CI yet)
#   FUZZ_SECONDS=N                seconds per fuzz target (default 10)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
JOBS=$(nproc)

log() { printf '==> %s\n' "$*"; }

SANITIZE=0
case "${1:-}" in
    --sanitize) SANITIZE=1 ;;
    "") ;;
    *) echo "test.sh: unknown argument '$1' (--sanitize or nothing)" >&2; exit 2 ;;
esac
if [ "$SANITIZE" -eq 1 ]; then bash .ci/setup.sh --test --sanitize; else bash .ci/setup.sh --test; fi
# --no-tests=error: a suite that found no test must not pass.
log "tests in build/"
ctest --test-dir build --output-on-failure --no-tests=error -j2

[ "$SANITIZE" -eq 1 ] || exit 0

# One sanitizer tree serves both the suite and the fuzz targets: two trees, not three. -O1
# keeps ASan's run time near a release build's; line tables (not full debug info) are all a
# sanitizer report needs and cost a fraction of -g to compile and link.
log "configuring build-asan/ (clang, ASan+UBSan, fuzz targets)"
CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS=-O1 -DCMAKE_CXX_FLAGS=-O1 \
    -DCMAKE_C_FLAGS_DEBUG=-gline-tables-only -DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only \
    -DNODEEDGE_SANITIZE=ON -DNODEEDGE_FUZZ=ON >/dev/null
log "building build-asan/ (-j$JOBS)"
cmake --build build-asan -j"$JOBS"

# Reports of every process (the daemon and proxy workers the tests start, too) go to files,
# because a daemon's stderr is its log and a proxy worker's death is only a re-fork to a test.
REPORTS="$ROOT/build-asan/sanitizer-reports"
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
# A small quarantine (freed memory held back to catch use-after-free; 256 MiB by default) so
# the tests that bound a proxy worker's memory measure the proxy, not the quarantine.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:quarantine_size_mb=8:log_path=$REPORTS/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$REPORTS/ubsan"
# Known non-leaks would go in .ci/lsan.supp (none today).
export LSAN_OPTIONS="suppressions=$ROOT/.ci/lsan.supp:print_suppressions=0"

status=0
log "tests under ASan+UBSan"
ctest --test-dir build-asan --output-on-failure --no-tests=error -j2 || status=1

log "fuzz targets, ${FUZZ_SECONDS:-10} s each over tests/fuzz/corpus/"
for fuzzer in build-asan/*_fuzz; do
    name=$(basename "$fuzzer")
    # New inputs go to a scratch folder; the corpus in the tree only grows by hand.
    scratch="build-asan/fuzz-work/$name"
    mkdir -p "$scratch"
    "$fuzzer" -max_total_time="${FUZZ_SECONDS:-10}" -max_len=8192 -print_final_stats=1 \
        -artifact_prefix="$scratch/" "$scratch" "tests/fuzz/corpus/$name" >"$scratch.log" 2>&1 \
        || { echo "fuzz target $name failed:"; tail -n 60 "$scratch.log"; status=1; }
    grep -h 'stat::number_of_executed_units' "$scratch.log" | sed "s/^/$name: /" || true
done

if compgen -G "$REPORTS/*" >/dev/null; then
    echo "sanitizer reports:"
    for r in "$REPORTS"/*; do echo "--- $r"; head -n 80 "$r"; done
    status=1
fi
exit $status
