#!/usr/bin/env bash
# proxy.sh — nodeedge's proxy against nginx, in one run, in front of the same two Node workers.
#
# nodeedge starts apps/hello.js with instances = 2; nginx (worker_processes auto, upstream
# keepalive 64) proxies to those same two workers' ports, so only the proxy differs. Access logs
# are off on both, and both add the same forwarded headers. For each workload
#   GET /               proxied, a small body
#   GET /static/1k.bin  a 1 KiB static file
#   GET /static/1m.bin  a 1 MiB static file
# it alternates nginx and nodeedge rounds of `wrk -t1 -c50 -d10s --latency` (3 each) and prints
# per round: requests/s, p99 latency, and the proxy processes' CPU time per request (utime+stime
# of nginx's workers / nodeedge's `__proxy-worker` processes, from /proc/<pid>/stat before and
# after the round, divided by the requests served); then the medians and nodeedge/nginx ratios.
# A side whose URL does not answer 200 (e.g. no static files yet) prints "n/a".
# Last, the proxy workers' RSS, idle and holding 5,000 idle keep-alive client connections.
#
# Not a test; loopback only; every process it starts is stopped at exit.
# Run:  bench/proxy.sh
#       NODEEDGE=build-bench/nodeedge ROUNDS=1 DURATION=3 IDLE_CONNS=500 bench/proxy.sh   (quick)

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
IDLE_CONNS=${IDLE_CONNS:-5000}
SIDES=(nginx nodeedge)

setup_files() {
    mkdir -p "$WORK/public/static"
    head -c 1024 /dev/urandom >"$WORK/public/static/1k.bin"
    head -c $((1024 * 1024)) /dev/urandom >"$WORK/public/static/1m.bin"
}

write_ecosystem() {
    {
        ecosystem_head hello.js "$1" "$2"
        cat <<EOF

[[servers.locations]]
path = "/static/"
root = "$WORK/public"

[[servers.locations]]
path = "/"
app = "app"
keepalive = 64
EOF
    } >"$WORK/ecosystem.toml"
}

# nginx_conf LISTEN_PORT UPSTREAM_PORT...: the same routes as the ecosystem.toml above.
write_nginx_conf() {
    local listen=$1
    shift
    {
        nginx_conf_head "" "$@"
        cat <<EOF
    sendfile on;
    tcp_nopush on;
    include /etc/nginx/mime.types;
    server {
        listen 127.0.0.1:$listen;
        location /static/ { root $WORK/public; }
        location / {
EOF
        nginx_proxy_to_app
        echo "        }"
        echo "    }"
        echo "}"
    } >"$NGINX_PREFIX/nginx.conf"
}

declare -A PORT

# One wrk round against SIDE's PATH; prints "rps p99_ms cpu_us_per_request".
measure_round() {
    local side=$1 path=$2 out=$WORK/wrk-$1.out pids before after requests
    pids=$(proxy_pids "$side")
    # shellcheck disable=SC2086
    before=$(cpu_ticks $pids)
    run_wrk "$out" -t1 -c50 -d"${DURATION}s" --latency "http://127.0.0.1:${PORT[$side]}$path"
    # shellcheck disable=SC2086
    after=$(cpu_ticks $pids)
    requests=$(wrk_requests "$out")
    wrk_log_errors "$side $path" "$out"
    echo "$(wrk_rps "$out") $(wrk_p99_ms "$out") $(cpu_us_per_request $((after - before)) "$requests")"
}

row() { printf '%-8s %-9s %10s %9s %11s\n' "$@"; }

# bench_workload TITLE PATH: ROUNDS alternating rounds per side, then medians and ratios.
bench_workload() {
    local title=$1 path=$2 side status r result rps p99 cpu
    declare -A ok all_rps all_p99 all_cpu med_rps med_p99 med_cpu
    echo
    echo "## $title: GET $path, wrk -t1 -c50 -d${DURATION}s, $ROUNDS rounds each"
    for side in "${SIDES[@]}"; do
        ok[$side]=0 status=$(http_status "http://127.0.0.1:${PORT[$side]}$path")
        if [ "$status" = 200 ]; then
            ok[$side]=1
            # Warm-up: keep-alive pools filled, Node's JIT done, page cache warm.
            run_wrk "$WORK/warmup.out" -t1 -c50 -d2s "http://127.0.0.1:${PORT[$side]}$path"
        else
            echo "($side answers $path with HTTP ${status:-nothing}: not measured)"
        fi
    done
    row round server rps p99_ms cpu_us/req
    for ((r = 1; r <= ROUNDS; r++)); do
        for side in "${SIDES[@]}"; do
            if [ "${ok[$side]}" = 1 ]; then
                result=$(measure_round "$side" "$path")
                read -r rps p99 cpu <<<"$result"
            else
                rps=n/a p99=n/a cpu=n/a
            fi
            row "$r" "$side" "$rps" "$p99" "$cpu"
            all_rps[$side]+=" $rps" all_p99[$side]+=" $p99" all_cpu[$side]+=" $cpu"
        done
    done
    for side in "${SIDES[@]}"; do
        # shellcheck disable=SC2086
        med_rps[$side]=$(median ${all_rps[$side]}) med_p99[$side]=$(median ${all_p99[$side]}) \
            med_cpu[$side]=$(median ${all_cpu[$side]})
        row median "$side" "${med_rps[$side]}" "${med_p99[$side]}" "${med_cpu[$side]}"
    done
    row ratio "ne/nginx" "$(ratio "${med_rps[nodeedge]}" "${med_rps[nginx]}")" \
        "$(ratio "${med_p99[nodeedge]}" "${med_p99[nginx]}")" "$(ratio "${med_cpu[nodeedge]}" "${med_cpu[nginx]}")"
}

# Starts hold_connections.py against SIDE and waits for its "ready"; its pid in HOLDER.
HOLDER=
hold_idle_connections() {
    local side=$1 out=$WORK/hold-$1.out i
    python3 "$BENCH_DIR/hold_connections.py" 127.0.0.1 "${PORT[$side]}" "$IDLE_CONNS" / >"$out" 2>&1 &
    HOLDER=$!
    on_exit stop_pids "$HOLDER"
    for ((i = 0; i < 900; i++)); do
        grep -q '^ready' "$out" && return 0
        alive "$HOLDER" || break
        sleep 0.1
    done
    log "$side: idle connections not held: $(cat "$out")"
    stop_pids "$HOLDER"
    return 1
}

bench_idle_memory() {
    local side pids idle held
    declare -A idle_kib held_kib
    echo
    echo "## proxy workers' RSS (KiB), idle and holding $IDLE_CONNS idle keep-alive connections"
    printf '%-9s %9s %9s %14s\n' server idle held bytes/conn
    for side in "${SIDES[@]}"; do
        pids=$(proxy_pids "$side")
        # shellcheck disable=SC2086
        idle=$(rss_kib $pids)
        held=n/a
        if hold_idle_connections "$side"; then
            # shellcheck disable=SC2086
            held=$(rss_kib $pids)
            stop_pids "$HOLDER"
        fi
        idle_kib[$side]=$idle held_kib[$side]=$held
        printf '%-9s %9s %9s %14s\n' "$side" "$idle" "$held" \
            "$(awk -v a="$idle" -v b="$held" -v n="$IDLE_CONNS" \
                'BEGIN { if (b == "n/a") print "n/a"; else printf "%.0f\n", (b - a) * 1024 / n }')"
    done
    printf '%-9s %9s %9s\n' ne/nginx "$(ratio "${idle_kib[nodeedge]}" "${idle_kib[nginx]}")" \
        "$(ratio "${held_kib[nodeedge]}" "${held_kib[nginx]}")"
}

main() {
    local base worker_ports side
    command -v wrk >/dev/null || die "wrk is not installed"
    command -v nginx >/dev/null || die "nginx is not installed (Debian: nginx-light)"
    setup_files
    base=$(free_ports 4)  # two app workers, nodeedge's listener, nginx's listener
    PORT[nodeedge]=$((base + 2)) PORT[nginx]=$((base + 3))

    write_ecosystem "$base" "${PORT[nodeedge]}"
    nodeedge_start "$WORK/ecosystem.toml"
    worker_ports=$(nodeedge_workers | awk '$1 == "app" {print $2}')
    [ "$(echo "$worker_ports" | wc -w)" = 2 ] || die "expected 2 app workers, status shows: $worker_ports"

    # shellcheck disable=SC2086
    write_nginx_conf "${PORT[nginx]}" $worker_ports
    nginx_start "$NGINX_PREFIX/nginx.conf" "http://127.0.0.1:${PORT[nginx]}/"
    for side in "${SIDES[@]}"; do
        [ -n "$(proxy_pids "$side")" ] || die "found no $side proxy worker processes to measure"
    done

    echo "# proxy.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# nginx $(nginx -v 2>&1 | sed 's|.*/||'), $("$NODEEDGE" version 2>/dev/null | head -1)," \
        "node $(node --version); workers on ports $(paste -sd' ' <<<"$worker_ports")"
    echo "# nginx workers: $(nginx_worker_pids | paste -sd' '); nodeedge proxy workers: $(nodeedge_proxy_pids | paste -sd' ')"
    bench_workload "proxied small body" /
    bench_workload "static 1 KiB" /static/1k.bin
    bench_workload "static 1 MiB" /static/1m.bin
    bench_idle_memory
}

main "$@"
