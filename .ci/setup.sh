#!/usr/bin/env bash
# The project's one setup script, for a fresh Debian 12 machine (as root, or a user with sudo):
# installs the build and runtime packages, the example apps' npm dependencies, and builds
# nodeedge into ./build. A second run does only what changed, so it is fast.
#
#   bash .ci/setup.sh            install + build
#   bash .ci/setup.sh --start    ... then start ecosystem-examples/hello and print its URL
#   bash .ci/setup.sh --test     ... plus the tools only the test suite uses (slowhttptest,
#                                sqlite3, dnsmasq, nghttp2 client, testssl.sh, ...)
#   bash .ci/setup.sh --sanitize ... plus clang and its sanitizer/libFuzzer runtimes
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

START=0
TEST_TOOLS=0
SANITIZE_TOOLS=0
for arg in "$@"; do
    case "$arg" in
        --start) START=1 ;;
        --test) TEST_TOOLS=1 ;;
        --sanitize) SANITIZE_TOOLS=1 ;;
        -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

log() { printf '==> [%s] %s\n' "$(date +%T)" "$*"; }

PACKAGES=(
    build-essential cmake ninja-build pkg-config git ca-certificates curl wrk procps
    libevent-dev libssl-dev libtomlplusplus-dev libsqlite3-dev libspdlog-dev
    googletest libgtest-dev node-llhttp zlib1g-dev libnghttp2-dev libcli11-dev
    nlohmann-json3-dev libsystemd-dev libpcre2-dev
    libcurl4-openssl-dev   # the ACME client's HTTPS to the CA (runtime: libcurl4)
    node-js-yaml   # ecosystem.yaml files are read with js-yaml, as PM2 reads them
)
if [ "$TEST_TOOLS" -eq 1 ]; then
    PACKAGES+=(slowhttptest sqlite3)
    PACKAGES+=(python3-prometheus-client dnsmasq-base)
    PACKAGES+=(nghttp2-client testssl.sh)   # HTTP/2 and TLS tests: nghttp, h2load, testssl
    PACKAGES+=(nginx-light)   # import tests answer the same requests with nginx and compare
    PACKAGES+=(pebble)   # ACME tests: pebble (a test CA) and pebble-challtestsrv (its DNS)
fi
if [ "$SANITIZE_TOOLS" -eq 1 ]; then
    PACKAGES+=(clang libclang-rt-dev)
fi
# An existing Node.js (e.g. a newer one from elsewhere) is kept; Debian's only fills a gap.
if ! command -v node >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
fi

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "setup.sh: these packages are missing: ${missing[*]}" >&2
        echo "setup.sh: installing them needs root; run this script as root or install sudo." >&2
        exit 1
    fi
    log "installing ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # Packages with a service (nginx for the tests) must not start it: the tests run their
    # own instances on free ports. policy-rc.d's 101 forbids it; one left by the admin is kept.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    [ "$own_policy" -eq 0 ] || "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
else
    log "Debian packages: all installed"
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "setup.sh: 'node' is installed but 'npm' is not; install the npm that matches your Node.js" >&2
    exit 1
fi

# npm ci wipes and reinstalls node_modules, so it runs only when the lock file (or
# package.json) is newer than what npm last installed (node_modules/.package-lock.json).
npm_install() {
    local dir=$1
    [ -f "$dir/package.json" ] || return 0
    local stamp="$dir/node_modules/.package-lock.json"
    if [ -f "$stamp" ] && [ ! "$dir/package.json" -nt "$stamp" ] \
        && { [ ! -f "$dir/package-lock.json" ] || [ ! "$dir/package-lock.json" -nt "$stamp" ]; }; then
        log "npm dependencies of ${dir#"$ROOT"/}: up to date"
        return 0
    fi
    log "npm dependencies of ${dir#"$ROOT"/}"
    if [ -f "$dir/package-lock.json" ]; then
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    else
        (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    fi
}

for dir in "$ROOT"/ecosystem-examples/*/ "$ROOT/tests/integration/apps/"; do
    npm_install "${dir%/}"
done

# The Next.js example runs from its build output. `next build` runs only when a file of the
# example (or its installed packages) is newer than the last build's .next/BUILD_ID.
next_build() {
    local dir=$1 stamp="$1/.next/BUILD_ID"
    if [ -f "$stamp" ] && [ ! "$dir/node_modules/.package-lock.json" -nt "$stamp" ] \
        && [ -z "$(find "$dir" \( -path "$dir/node_modules" -o -path "$dir/.next" \) -prune \
                   -o -type f -newer "$stamp" -print -quit)" ]; then
        log "next build of ${dir#"$ROOT"/}: up to date"
        return 0
    fi
    log "next build of ${dir#"$ROOT"/}"
    (cd "$dir" && NEXT_TELEMETRY_DISABLED=1 npx --no-install next build)
}
next_build "$ROOT/ecosystem-examples/nextjs"

# Configuring again on an existing cache takes a second and repairs an interrupted one. Ninja
# starts each object as soon as it can (make waits for a whole library before the next), which
# halves the build on 2 cores; a tree configured before keeps its generator.
export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"
log "configuring build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
log "building build/ (-j$(nproc))"
cmake --build build -j"$(nproc)"

if [ "$START" -eq 1 ]; then
    example=ecosystem-examples/hello/ecosystem.toml
    if build/nodeedge status --json 2>/dev/null | grep -Eq '"name": ?"hello"'; then
        log "hello is already running (build/nodeedge status)"
    else
        log "starting $example"
        build/nodeedge start "$example"
    fi
    log "try it: curl http://127.0.0.1:8080/"
fi
