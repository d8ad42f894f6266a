#!/usr/bin/env bash
# survive.sh — requests lost and the longest wait for an answer while the supervisor itself is
# killed or replaced, under steady load, in one run:
#   nodeedge  `kill -9` of the daemon, DEAD_S (1) seconds with no daemon, then `nodeedge
#             resurrect` (the new daemon adopts the running workers)
#   nodeedge  `nodeedge upgrade --binary NEXT`, NEXT being a wrapper that runs the same binary
#             with NODEEDGE_VERSION_SUFFIX=-next, so it reports another version
#   PM2       `pm2 kill` then at once `pm2 resurrect` (after `pm2 save`): no pause, PM2's best case
#   PM2       `pm2 update` (saves, kills its daemon and every app, resurrects)
# Setup, the nearest fair one on each side: 2 apps x 2 workers of apps/hello.js. nodeedge: its
# proxy in front (/a/ to app a, / to app b), the load goes through the proxy. PM2: cluster mode
# (PM2 has no proxy; each app's 2 workers share one port), the load goes to the two ports.
# Load: answer_gaps.js, CONNS (8) keep-alive loops, half on each app, each sending its next
# request when the last is answered, from LEAD_S (2) seconds before the event until TAIL_S (2)
# seconds after the command returned. Figures: failed/total (failed = status >= 500 + socket
# errors, each failed try counted; a failure waits 5 ms before the next try), the longest gap
# in ms between two consecutive answers over all loops (the worst wait a client saw), how long
# the command took, and whether the daemon pid and the 4 worker pids were the same afterwards.
#
# Not a test; loopback only; every process it starts is stopped at exit.
# Run:  bench/survive.sh   (NODEEDGE=/path/to/nodeedge bench/survive.sh; DEAD_S=5 bench/survive.sh)

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

DEAD_S=${DEAD_S:-1}
LEAD_S=${LEAD_S:-2}
TAIL_S=${TAIL_S:-2}
export CONNS=${CONNS:-8}

write_nodeedge_config() {
    cat >"$WORK/ecosystem.toml" <<EOF
[proxy]
access_log = "off"

[[apps]]
name = "a"
script = "$BENCH_DIR/apps/hello.js"
instances = 2
port = $1

[[apps]]
name = "b"
script = "$BENCH_DIR/apps/hello.js"
instances = 2
port = $2

[[servers]]
listen = ["127.0.0.1:$3"]

[[servers.locations]]
path = "/a/"
app = "a"

[[servers.locations]]
path = "/"
app = "b"
EOF
}

write_pm2_config() {
    cat >"$WORK/pm2.config.js" <<EOF
module.exports = { apps: [
  { name: 'a', script: '$BENCH_DIR/apps/hello.js', exec_mode: 'cluster', instances: 2, env: { PORT: $1 } },
  { name: 'b', script: '$BENCH_DIR/apps/hello.js', exec_mode: 'cluster', instances: 2, env: { PORT: $2 } },
] };
EOF
}

# The pids that must survive, one line: the daemon's, then the workers' sorted.
nodeedge_pids() { echo "$(nodeedge_daemon_pid) $(nodeedge_workers 2>/dev/null | awk '{print $3}' | sort -n | paste -sd' ')"; }
pm2_pids() { echo "$(pm2_god_pid) $(pm2_worker_pids | sort -n | paste -sd' ')"; }

# under_load LABEL PIDS_FN URL... -- EVENT_CMD...: the load client from LEAD_S before EVENT_CMD
# until TAIL_S after it returned; prints the table row.
under_load() {
    local label=$1 pids_fn=$2 urls=() out=$WORK/load.out load_pid before after t0 t1 result kept
    shift 2
    while [ "$1" != -- ]; do urls+=("$1"); shift; done
    shift
    before=$($pids_fn)
    node "$BENCH_DIR/answer_gaps.js" "${urls[@]}" >"$out" 2>&1 &
    load_pid=$!
    on_exit stop_pids "$load_pid"
    sleep "$LEAD_S"
    t0=$(date +%s.%N)
    "$@" >"$WORK/event.out" 2>&1 || log "$label: $* failed: $(tail -3 "$WORK/event.out")"
    t1=$(date +%s.%N)
    sleep "$TAIL_S"
    kill -INT "$load_pid"
    wait "$load_pid" || true
    result=$(grep '^RESULT' "$out") || die "$label: the load client printed no RESULT: $(cat "$out")"
    after=$($pids_fn)
    # shellcheck disable=SC2086
    set -- ${result#RESULT }
    local total=${1#total=} failed=${2#failed=} gap=${3#gap_ms=}
    if [ "${before%% *}" = "${after%% *}" ]; then kept="daemon same"; else kept="daemon new"; fi
    if [ "${before#* }" = "${after#* }" ]; then kept="$kept, workers same"; else kept="$kept, workers new"; fi
    printf '%-30s %15s %7s %6s   %s\n' "$label" "$failed/$total" "$gap" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" "$kept"
}

# kill -9 of the daemon, DEAD_S seconds with none, then resurrect.
nodeedge_crash_and_resurrect() {
    kill -KILL "$(nodeedge_daemon_pid)"
    sleep "$DEAD_S"
    if nodeedge status >/dev/null 2>&1; then log "status still finds a daemon after kill -9"; fi
    nodeedge resurrect
}
pm2_kill_and_resurrect() { pm2 kill && pm2 resurrect; }

main() {
    local base next workers
    command -v node >/dev/null || die "node is not installed"
    # app a (2), app b (2), nodeedge's listener
    base=$(free_ports 5)
    echo "# survive.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# 2 apps x 2 workers, $CONNS keep-alive loops (answer_gaps.js); failed = status >= 500 + socket errors"
    printf '%-30s %15s %7s %6s   %s\n' event failed/total "gap ms" "cmd s" "pids after"

    next=$WORK/nodeedge-next
    printf '#!/bin/sh\nNODEEDGE_VERSION_SUFFIX=-next exec %s "$@"\n' "$NODEEDGE" >"$next"
    chmod 755 "$next"
    write_nodeedge_config "$base" $((base + 2)) $((base + 4))
    nodeedge_start "$WORK/ecosystem.toml"
    wait_http "http://127.0.0.1:$((base + 4))/a/"
    # Adopted workers are no longer the daemon's children after the crash: stop them by pid at
    # exit too, should `nodeedge kill` miss one.
    workers=$(nodeedge_workers | awk '{print $3}' | paste -sd' ')
    on_exit stop_pids "$workers"
    nodeedge save >/dev/null
    local urls=("http://127.0.0.1:$((base + 4))/a/" "http://127.0.0.1:$((base + 4))/b/")
    under_load "nodeedge kill -9 + resurrect" nodeedge_pids "${urls[@]}" -- nodeedge_crash_and_resurrect
    under_load "nodeedge upgrade --binary" nodeedge_pids "${urls[@]}" -- nodeedge upgrade --binary "$next"
    # After the upgrade this CLI (the old version) is the odd one out, and says so on stderr.
    log "after the upgrade: $(nodeedge status 2>&1 >/dev/null | head -1)"
    nodeedge_stop

    write_pm2_config "$base" $((base + 2))
    pm2_start "$WORK/pm2.config.js"
    pm2_wait_online
    wait_http "http://127.0.0.1:$base/"
    wait_http "http://127.0.0.1:$((base + 2))/"
    pm2 save >/dev/null 2>&1
    urls=("http://127.0.0.1:$base/a/" "http://127.0.0.1:$((base + 2))/b/")
    under_load "pm2 kill + pm2 resurrect" pm2_pids "${urls[@]}" -- pm2_kill_and_resurrect
    pm2_wait_online
    under_load "pm2 update" pm2_pids "${urls[@]}" -- pm2 update
}

main "$@"
