#!/usr/bin/env bash
# tls.sh — nodeedge's TLS and HTTP/2 termination against nginx, in one run, in front of the
# same two Node workers (apps/hello.js), with the same self-signed P-256 certificate, TLS 1.2
# and 1.3, session tickets off and access logs off on both. Workloads, alternating sides:
#   https keep-alive   wrk -t1 -c50 over TLS, connections kept          -> requests/s
#   new handshakes     wrk -t1 -c50 with "Connection: close": every request is a new TLS
#                      connection (full handshake; wrk does not resume)  -> handshakes/s
#   http/2             h2load -c10 -m10 (10 connections x 10 streams)   -> requests/s
# and prints requests/s, CPU time per request of the proxy processes, and nodeedge/nginx ratios.
#
# Not a test; loopback only; every process it starts is stopped at exit.
# Run:  bench/tls.sh            NODEEDGE=build-bench/nodeedge ROUNDS=1 DURATION=3 bench/tls.sh

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-5}
H2_REQUESTS=${H2_REQUESTS:-20000}
SIDES=(nginx nodeedge)
declare -A PORT

make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null || die "openssl req failed"
    export CURL_CA_BUNDLE=$WORK/cert.pem  # lib.sh's wait_http and http_status verify with it
}

write_ecosystem() {
    {
        ecosystem_head hello.js "$1" "$2"
        cat <<EOF
tls = { cert = "$WORK/cert.pem", key = "$WORK/key.pem" }
http2 = true

[[servers.locations]]
path = "/"
app = "app"
keepalive = 64
EOF
    } >"$WORK/ecosystem.toml"
}

write_nginx_conf() {
    local listen=$1
    shift
    {
        nginx_conf_head "" "$@"
        cat <<EOF
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets off;
    server {
        listen 127.0.0.1:$listen ssl http2;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        location / {
EOF
        nginx_proxy_to_app
        echo "        }"
        echo "    }"
        echo "}"
    } >"$NGINX_PREFIX/nginx.conf"
}

# measure SIDE KIND: prints "rps cpu_us_per_request" for one round.
measure() {
    local side=$1 kind=$2 url="https://127.0.0.1:${PORT[$1]}/" out=$WORK/$1-$2.out pids before after n rps
    pids=$(proxy_pids "$side")
    # shellcheck disable=SC2086
    before=$(cpu_ticks $pids)
    case $kind in
        keepalive) run_wrk "$out" -t1 -c50 -d"${DURATION}s" "$url" ;;
        handshake) run_wrk "$out" -t1 -c50 -d"${DURATION}s" -H "Connection: close" "$url" ;;
        h2) h2load -n "$H2_REQUESTS" -c10 -m10 -t1 "$url" >"$out" 2>&1 || die "h2load failed: $(cat "$out")" ;;
    esac
    # shellcheck disable=SC2086
    after=$(cpu_ticks $pids)
    if [ "$kind" = h2 ]; then
        grep -q "$H2_REQUESTS succeeded" "$out" || log "$side h2: $(grep -E '^requests:' "$out")"
        n=$(awk '/^requests:/ {print $8}' "$out")
        rps=$(awk '/^finished in/ {printf "%.0f\n", $4}' "$out")
    else
        wrk_log_errors "$side $kind" "$out"
        n=$(wrk_requests "$out")
        rps=$(wrk_rps "$out")
    fi
    echo "$rps $(cpu_us_per_request $((after - before)) "$n")"
}

row() { printf '%-12s %-9s %10s %11s\n' "$@"; }

bench_kind() {
    local title=$1 kind=$2 side r rps cpu
    declare -A all_rps all_cpu med_rps med_cpu
    echo
    echo "## $title"
    row round server rps cpu_us/req
    for ((r = 1; r <= ROUNDS; r++)); do
        for side in "${SIDES[@]}"; do
            read -r rps cpu <<<"$(measure "$side" "$kind")"
            row "$r" "$side" "$rps" "$cpu"
            all_rps[$side]+=" $rps" all_cpu[$side]+=" $cpu"
        done
    done
    for side in "${SIDES[@]}"; do
        # shellcheck disable=SC2086
        med_rps[$side]=$(median ${all_rps[$side]}) med_cpu[$side]=$(median ${all_cpu[$side]})
    done
    row ratio ne/nginx "$(ratio "${med_rps[nodeedge]}" "${med_rps[nginx]}")" \
        "$(ratio "${med_cpu[nodeedge]}" "${med_cpu[nginx]}")"
}

main() {
    local base worker_ports side
    command -v wrk >/dev/null || die "wrk is not installed"
    command -v h2load >/dev/null || die "h2load is not installed (Debian: nghttp2-client)"
    command -v nginx >/dev/null || die "nginx is not installed (Debian: nginx-light)"
    make_cert
    base=$(free_ports 4)
    PORT[nodeedge]=$((base + 2)) PORT[nginx]=$((base + 3))
    write_ecosystem "$base" "${PORT[nodeedge]}"
    nodeedge_start "$WORK/ecosystem.toml"
    worker_ports=$(nodeedge_workers | awk '$1 == "app" {print $2}')
    # shellcheck disable=SC2086
    write_nginx_conf "${PORT[nginx]}" $worker_ports
    nginx_start "$NGINX_PREFIX/nginx.conf" "https://127.0.0.1:${PORT[nginx]}/"
    wait_http "https://127.0.0.1:${PORT[nodeedge]}/"

    echo "# tls.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# nginx $(nginx -v 2>&1 | sed 's|.*/||'), $("$NODEEDGE" version 2>/dev/null | head -1), $(openssl version)"
    for side in "${SIDES[@]}"; do  # warm-up: pools filled, JIT done
        run_wrk "$WORK/warmup.out" -t1 -c20 -d2s "https://127.0.0.1:${PORT[$side]}/"
    done
    bench_kind "HTTPS keep-alive: wrk -t1 -c50 -d${DURATION}s" keepalive
    bench_kind "new TLS handshakes: wrk -t1 -c50 -d${DURATION}s, Connection: close" handshake
    bench_kind "HTTP/2: h2load -n $H2_REQUESTS -c10 -m10" h2
}

main "$@"
