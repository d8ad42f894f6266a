# shellcheck shell=bash disable=SC2034  # (variables used by the scripts that source this)
# Shared by the bench/*.sh scripts (sourced, not run): a private work dir, cleanup of every
# process a script started (by pid, at EXIT), free loopback ports, launchers for nodeedge,
# PM2 and nginx, wrk output parsing and /proc readings.
#
# Environment: NODEEDGE  the binary to measure (default: build/nodeedge, what .ci/setup.sh builds)
#              KEEP_WORK=1  keep the work dir (configs, nginx error.log, wrk output) for a look
#              afterwards

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
NODEEDGE=${NODEEDGE:-$ROOT/build/nodeedge}
PM2_BIN=$BENCH_DIR/.pm2-install/node_modules/.bin/pm2
CLK_TCK=$(getconf CLK_TCK)
# mode 0755: nginx workers and node read files from here.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nodeedge-bench.XXXXXX")
chmod 755 "$WORK"
export NODEEDGE_HOME  # a fresh one for each nodeedge_start
export PM2_HOME=$WORK/pm2-home

# 5,000 client connections and the proxies holding them need more than the usual 1024 fds.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() { printf '== %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# ---- cleanup: each starter registers how to undo itself; undone in reverse order at exit ----

CLEANUPS=()
on_exit() { CLEANUPS+=("$*"); }
run_cleanups() {
    local i
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUPS[i]}" || true
    done
    CLEANUPS=()
    if [ -n "${KEEP_WORK:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap run_cleanups EXIT
trap 'exit 130' INT TERM

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# SIGTERM, then SIGKILL after 5 s: every process a script started ends here, by pid.
stop_pids() {
    local pid waited
    for pid in "$@"; do
        if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for pid in "$@"; do
        for ((waited = 0; waited < 50; waited++)); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
}

# ---- ports ----

# A base port P such that P .. P+N-1 are free on 127.0.0.1; below the ephemeral range, so the
# kernel does not hand them to wrk's or the proxies' outgoing connections meanwhile.
free_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(500):
    base = random.randrange(20000, 32000 - n)
    socks = []
    try:
        for port in range(base, base + n):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", port))
        print(base)
        sys.exit(0)
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
sys.exit("no free port range of %d found" % n)
PY
}

# Waits until URL answers at all (any status), for at most 20 s.
wait_http() {
    local i
    for ((i = 0; i < 200; i++)); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.1
    done
    die "nothing answers at $1 after 20 s"
}

http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true; }

# ---- /proc ----

# Direct children of PID whose command line contains PATTERN (all children if empty).
children_of() {
    local parent=$1 pattern=${2:-} pid
    # shellcheck disable=SC2013  # the file holds space-separated pids
    for pid in $(cat /proc/"$parent"/task/*/children 2>/dev/null); do
        if [ -z "$pattern" ] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"; then
            echo "$pid"
        fi
    done
}

# PID and all its descendants.
process_tree() {
    local pid
    echo "$1"
    for pid in $(children_of "$1"); do process_tree "$pid"; done
}

# utime + stime (clock ticks) summed over the given pids; a pid that is gone counts 0.
cpu_ticks() {
    local total=0 pid stat fields
    for pid in "$@"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        # Fields after "(comm) ", which may itself hold spaces: state is [0], utime [11], stime [12].
        read -ra fields <<<"${stat##*) }"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

# VmRSS (KiB) summed over the given pids.
rss_kib() {
    local total=0 pid kib
    for pid in "$@"; do
        kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}

# ---- numbers ----

# cpu_us_per_request TICKS REQUESTS: CPU time in microseconds per request, 0 without requests.
cpu_us_per_request() {
    awk -v t="$1" -v hz="$CLK_TCK" -v n="$2" 'BEGIN { printf "%.1f\n", n ? t / hz * 1e6 / n : 0 }'
}

# A / B with 2 decimals, "n/a" when either is missing or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "n/a" || b == "n/a" || a == "" || b == "" || b + 0 == 0) print "n/a";
        else printf "%.2f\n", a / b }'
}

median() {
    printf '%s\n' "$@" | awk '$1 != "n/a"' | sort -g |
        awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : "n/a"}'
}

# ---- wrk ----

# wrk OUT_FILE [wrk args...]: one bounded run, output kept for the parsers below.
run_wrk() {
    local out=$1
    shift
    wrk "$@" >"$out" 2>&1 || die "wrk $* failed: $(cat "$out")"
}
# wrk_log_errors LABEL OUT_FILE: logs the non-2xx and socket-error counts of a wrk run, if any.
wrk_log_errors() {
    if grep -qE 'Non-2xx|Socket errors' "$2"; then
        log "$1: $(grep -E 'Non-2xx|Socket errors' "$2" | tr -s ' ' | paste -sd ';')"
    fi
}
wrk_requests() { awk '/ requests in / {print $1}' "$1"; }
wrk_rps() { awk '/^Requests\/sec:/ {printf "%.0f\n", $2}' "$1"; }
# p99 latency in ms, from the --latency distribution.
wrk_p99_ms() {
    awk '$1 == "99%" {
        v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
        f = (unit == "us") ? 0.001 : (unit == "s") ? 1000 : (unit == "m") ? 60000 : 1
        printf "%.2f\n", v * f }' "$1"
}

# ---- nodeedge ----

nodeedge() { "$NODEEDGE" "$@"; }

# Starts CONFIG under a new $NODEEDGE_HOME; returns when its workers are ready (nodeedge start
# does). A new home each time, because a daemon started on an old one brings back its apps.
nodeedge_start() {
    [ -x "$NODEEDGE" ] || die "no nodeedge binary at $NODEEDGE (build it, or set NODEEDGE=path)"
    NODEEDGE_HOME=$(mktemp -d "$WORK/nodeedge-home.XXXXXX")
    on_exit "NODEEDGE_HOME=$NODEEDGE_HOME nodeedge_stop"
    nodeedge start "$1" >"$WORK/nodeedge-start.out" 2>&1 ||
        die "nodeedge start $1 failed: $(cat "$WORK/nodeedge-start.out")"
}
nodeedge_daemon_pid() { cat "$NODEEDGE_HOME/daemon.pid" 2>/dev/null || true; }
nodeedge_proxy_pids() { children_of "$(nodeedge_daemon_pid)" __proxy-worker; }
# `nodeedge kill`, then SIGTERM/SIGKILL by pid whatever of the daemon's tree is left.
nodeedge_stop() {
    local daemon tree
    daemon=$(nodeedge_daemon_pid)
    alive "$daemon" || return 0
    tree=$(process_tree "$daemon")
    timeout 30 "$NODEEDGE" kill >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    stop_pids $tree
}
# ecosystem_head SCRIPT APP_PORT LISTEN_PORT: the start of a bench ecosystem.toml: access log off,
# app "app" running SCRIPT (under apps/) as 2 instances from APP_PORT, a server on LISTEN_PORT.
# The caller adds the server's keys and locations.
ecosystem_head() {
    cat <<EOF
[proxy]
access_log = "off"

[[apps]]
name = "app"
script = "$BENCH_DIR/apps/$1"
instances = 2
port = $2

[[servers]]
listen = ["127.0.0.1:$3"]
EOF
}
# "name port pid" for each worker, from status --json.
nodeedge_workers() {
    nodeedge status --json | python3 -c '
import json, sys
for w in json.load(sys.stdin):
    print(w["name"], w["port"], w["pid"])'
}

# ---- PM2 (installed under bench/.pm2-install, run with its own PM2_HOME) ----

pm2() {
    if [ ! -x "$PM2_BIN" ]; then
        log "installing PM2 into $BENCH_DIR/.pm2-install"
        npm install --silent --prefix "$BENCH_DIR/.pm2-install" pm2@5 >&2
    fi
    "$PM2_BIN" "$@"
}
pm2_start() {
    on_exit pm2_stop
    pm2 start "$1" >"$WORK/pm2-start.out" 2>&1 || die "pm2 start $1 failed: $(cat "$WORK/pm2-start.out")"
}
pm2_god_pid() { cat "$PM2_HOME/pm2.pid" 2>/dev/null || true; }
pm2_worker_pids() {
    pm2 jlist 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("pid"):
        print(p["pid"])'
}
# `pm2 kill`, then SIGTERM/SIGKILL by pid whatever of the God daemon's tree is left.
pm2_stop() {
    local god tree
    god=$(pm2_god_pid)
    alive "$god" || return 0
    tree=$(process_tree "$god")
    timeout 30 "$PM2_BIN" kill >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    stop_pids $tree
}
# Waits until every process in `pm2 jlist` is online, for at most 20 s.
pm2_wait_online() {
    local i
    for ((i = 0; i < 200; i++)); do
        pm2 jlist 2>/dev/null | python3 -c '
import json, sys
procs = json.load(sys.stdin)
sys.exit(0 if procs and all(p["pm2_env"]["status"] == "online" for p in procs) else 1)' && return 0
        sleep 0.1
    done
    die "PM2 processes not online after 20 s: $(pm2 ls 2>&1)"
}

# ---- nginx (Debian's nginx-light, run as the current user from a prefix in $WORK) ----

NGINX_PREFIX=$WORK/nginx
mkdir -p "$NGINX_PREFIX"

# The lines every generated nginx.conf starts with: no daemon, pid, logs and temp files in the
# prefix, and (when run as root) workers kept as the current user rather than Debian's nobody.
nginx_main_conf() {
    local p=$NGINX_PREFIX
    [ "$(id -u)" -eq 0 ] && echo "user $(id -un) $(id -gn);"
    cat <<EOF
daemon off;
worker_processes auto;
worker_rlimit_nofile 20000;
pid $p/nginx.pid;
error_log $p/error.log warn;
events { worker_connections 10240; }
EOF
}
nginx_http_temp_paths() {
    local p=$NGINX_PREFIX
    cat <<EOF
    client_body_temp_path $p/client_body;
    proxy_temp_path $p/proxy;
    fastcgi_temp_path $p/fastcgi;
    uwsgi_temp_path $p/uwsgi;
    scgi_temp_path $p/scgi;
EOF
}

# nginx_conf_head SERVER_PARAMS PORT...: a generated nginx.conf up to the inside of `http {`: the
# main lines, temp paths, upstream "app" of 127.0.0.1:PORT... (each with SERVER_PARAMS, which may be
# empty) keeping 64 idle connections, access log off. The caller adds its server block and "}".
nginx_conf_head() {
    local params=${1:+ $1} port
    shift
    nginx_main_conf
    echo "http {"
    nginx_http_temp_paths
    echo "    upstream app {"
    for port in "$@"; do echo "        server 127.0.0.1:$port$params;"; done
    echo "        keepalive 64;"
    echo "    }"
    echo "    access_log off;"
}

# The inside of a location that proxies to upstream "app" with keep-alive and the same forwarded
# headers nodeedge adds, so both sides do the same work.
nginx_proxy_to_app() {
    cat <<'EOF'
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-ID $request_id;
            add_header X-Request-ID $request_id;
EOF
}

NGINX_PID=
# nginx_start CONF URL: runs nginx in the foreground of a background job and waits for URL.
nginx_start() {
    nginx -t -q -p "$NGINX_PREFIX" -e "$NGINX_PREFIX/error.log" -c "$1" ||
        die "nginx rejected $1"
    nginx -p "$NGINX_PREFIX" -e "$NGINX_PREFIX/error.log" -c "$1" &
    NGINX_PID=$!
    on_exit stop_pids "$NGINX_PID"
    wait_http "$2"
}
nginx_stop() { stop_pids "$NGINX_PID"; }
nginx_worker_pids() { children_of "$NGINX_PID"; }

# proxy_pids SIDE: the processes that proxy for SIDE (nginx or nodeedge), to measure.
proxy_pids() {
    case $1 in
        nginx) nginx_worker_pids ;;
        nodeedge) nodeedge_proxy_pids ;;
    esac
}
