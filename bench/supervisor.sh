#!/usr/bin/env bash
# supervisor.sh — nodeedge's supervisor against PM2's, in one run, on two figures:
#
# 1. Memory-limit reaction: one worker (apps/leak.js) leaks ~10 MB/s under
#    max_memory_restart = 100M (both read it as 100 MiB). The app logs its own RSS every 100 ms,
#    the signal it gets and its start, so the log shows when the limit was crossed, when the
#    supervisor signalled the old worker and when the new worker started. Both supervisors run
#    with their defaults (PM2 checks memory every 30 s: PM2_WORKER_INTERVAL).
# 2. The supervisor daemon's own RSS with 4 idle workers (apps/hello.js): nodeedge's daemon
#    (the pid in $NODEEDGE_HOME/daemon.pid; its proxy workers in front of the 4 are shown apart)
#    against PM2's God daemon ($PM2_HOME/pm2.pid) running the 4 in cluster mode (where it also
#    spreads connections over them), after SETTLE_S seconds idle.
#
# Not a test; loopback only; every process it starts is stopped at exit.
# Run:  bench/supervisor.sh        (NODEEDGE=build-bench/nodeedge bench/supervisor.sh)

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

LIMIT_BYTES=$((100 * 1024 * 1024))
SETTLE_S=${SETTLE_S:-5}
# The longest a supervisor gets to react: leak.js needs ~10 s to reach the limit, PM2 may then
# wait up to its 30 s check interval.
REACT_TIMEOUT_S=90

write_nodeedge_config() {  # FILE SCRIPT INSTANCES PORT EXTRA_TOML_LINES
    cat >"$1" <<EOF
[[apps]]
name = "app"
script = "$2"
instances = $3
port = $4
$5
EOF
}

write_pm2_config() {  # FILE SCRIPT INSTANCES MODE ENV_ENTRIES EXTRA_PROPERTIES
    cat >"$1" <<EOF
module.exports = { apps: [{
  name: 'app',
  script: '$2',
  instances: $3,
  exec_mode: '$4',
  env: { $5 },
  $6
}] };
EOF
}

# Waits until the log at $1 shows a second worker's "start", for at most REACT_TIMEOUT_S.
wait_for_replacement() {
    local i
    for ((i = 0; i < REACT_TIMEOUT_S * 10; i++)); do
        [ "$(awk '$3 == "start"' "$1" | wc -l)" -ge 2 ] && return 0
        sleep 0.1
    done
    return 1
}

# Reads leak.js's log; prints "crossed_s signal_after_s new_worker_after_s peak_MiB" for the
# first worker, times in seconds from its start ("n/a" where the log has no such line).
reaction_figures() {
    python3 - "$1" "$LIMIT_BYTES" <<'PY'
import sys
path, limit = sys.argv[1], int(sys.argv[2])
lines = [l.split() for l in open(path) if len(l.split()) == 3]
first = lines[0][0]
start = next(int(t) for p, t, w in lines if p == first and w == "start")
rss = [(int(t), int(w)) for p, t, w in lines if p == first and w.isdigit()]
crossed = next((t for t, r in rss if r > limit), None)
signal = next((int(t) for p, t, w in lines if p == first and w.startswith("SIG")), None)
new = next((int(t) for p, t, w in lines if p != first and w == "start"), None)
def after(t):
    return "n/a" if t is None or crossed is None else "%.1f" % ((t - crossed) / 1000)
print("n/a" if crossed is None else "%.1f" % ((crossed - start) / 1000),
      after(signal), after(new), max(r for t, r in rss) >> 20)
PY
}

leak_columns() { printf '%-9s %8s %8s %11s %9s %s\n' "$@" | sed 's/ *$//'; }

leak_row() {  # SIDE LOG
    local note=""
    wait_for_replacement "$2" || note="(no restart within ${REACT_TIMEOUT_S} s)"
    # shellcheck disable=SC2046
    leak_columns "$1" $(reaction_figures "$2") "$note"
}

bench_memory_limit() {
    local port log
    port=$(free_ports 1)
    echo
    echo "## memory-limit reaction: a worker leaking ~10 MB/s, max_memory_restart = 100M"
    echo "## columns: limit crossed (s after start), then seconds after crossing until the old"
    echo "## worker got its stop signal and until the new worker started, then the old worker's peak RSS (MiB)"
    leak_columns server crossed signal new_worker peak_MiB

    if [ -x "$NODEEDGE" ]; then
        log=$WORK/rss-nodeedge.log
        : >"$log"
        write_nodeedge_config "$WORK/leak.toml" "$BENCH_DIR/apps/leak.js" 1 "$port" "$(cat <<EOF
max_memory_restart = "100M"
env = { BENCH_RSS_LOG = "$log" }
EOF
)"
        nodeedge_start "$WORK/leak.toml"
        leak_row nodeedge "$log"
        nodeedge_stop
    else
        leak_columns nodeedge n/a n/a n/a n/a "(no binary at $NODEEDGE)"
    fi

    log=$WORK/rss-pm2.log
    : >"$log"
    write_pm2_config "$WORK/leak.config.js" "$BENCH_DIR/apps/leak.js" 1 fork \
        "PORT: $port, BENCH_RSS_LOG: '$log'" "max_memory_restart: '100M',"
    pm2_start "$WORK/leak.config.js"
    leak_row pm2 "$log"
    pm2_stop
}

bench_daemon_rss() {
    local base ne_daemon=n/a ne_proxy=n/a god
    base=$(free_ports 5)  # 4 workers and nodeedge's listener
    echo
    echo "## supervisor RSS (KiB) with 4 idle workers, after ${SETTLE_S} s (the Node workers not counted)"
    if [ -x "$NODEEDGE" ]; then
        write_nodeedge_config "$WORK/idle.toml" "$BENCH_DIR/apps/hello.js" 4 "$base" "$(cat <<EOF
[[servers]]
listen = ["127.0.0.1:$((base + 4))"]
[[servers.locations]]
path = "/"
app = "app"
EOF
)"
        nodeedge_start "$WORK/idle.toml"
        sleep "$SETTLE_S"
        ne_daemon=$(rss_kib "$(nodeedge_daemon_pid)")
        # shellcheck disable=SC2046
        ne_proxy=$(rss_kib $(nodeedge_proxy_pids))
        nodeedge_stop
    fi

    write_pm2_config "$WORK/idle.config.js" "$BENCH_DIR/apps/hello.js" 4 cluster "PORT: $base" ""
    pm2_start "$WORK/idle.config.js"
    pm2_wait_online
    sleep "$SETTLE_S"
    god=$(rss_kib "$(pm2_god_pid)")
    pm2_stop

    printf '%-44s %9s\n' \
        "nodeedge daemon" "$ne_daemon" \
        "nodeedge proxy workers" "$ne_proxy" \
        "PM2 God daemon (cluster mode: it balances)" "$god" \
        "ratio daemon nodeedge/PM2" "$(ratio "$ne_daemon" "$god")" \
        "ratio daemon+proxy nodeedge/PM2" "$(ratio "$(add "$ne_daemon" "$ne_proxy")" "$god")"
}

add() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "n/a" || b == "n/a") ? "n/a" : a + b }'; }

main() {
    echo "# supervisor.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    bench_memory_limit
    bench_daemon_rss
}

main "$@"
