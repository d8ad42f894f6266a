#!/usr/bin/env bash
# tls.sh — nodeedge's TLS and HTTP/2 termination against nginx, in one run, in front of the
# same two Node workers (apps/hello.js), with the same self-signed P-256 certificate, TLS 1.2
# and 1.3, session tickets off, access logs off and no per-connection request cap on both
# (nginx's keepalive_requests defaults to 1000 and, since 1.19.7, also caps the streams of an
# HTTP/2 connection: h2load's 2,000 requests per connection then fail; nodeedge's
# keepalive_requests caps HTTP/1.1 connections only). Workloads, alternating sides:
#   https keep-alive   wrk -t1 -c50 over TLS, connections kept          -> requests/s
#   full handshakes    wrk -t1 -c50 with "Connection: close" and tls_resume_shim.c dropping
#                      wrk's session before each connect: every request is a new connection
#                      with a full handshake                             -> handshakes/s
#   resumed handshakes the same without dropping it: wrk offers its last session, so what
#                      the server's session cache resumes (the resumed share is printed)
#   http/2             h2load -c10 -m10 (10 connections x 10 streams)   -> requests/s
# and prints requests/s, CPU time per request of the proxy processes, and nodeedge/nginx ratios.
# A ratio is printed only when every run of that workload on both sides succeeded whole (no
# non-2xx answer, socket error, failed or errored request); otherwise the line says why.
#
# Not a test; loopback only; every process it starts is stopped at exit. Needs cc and the
# OpenSSL headers (libssl-dev) for the shim.
# Run:  bench/tls.sh            NODEEDGE=build-bench/nodeedge ROUNDS=1 DURATION=3 bench/tls.sh

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-5}
H2_REQUESTS=${H2_REQUESTS:-20000}
NO_REQUEST_CAP=1000000   # keepalive_requests on both sides: more than any run sends on one connection
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
keepalive_requests = $NO_REQUEST_CAP

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
    keepalive_requests $NO_REQUEST_CAP;
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

# The shim wrk runs with in the handshake workloads (see tls_resume_shim.c).
build_shim() {
    command -v cc >/dev/null || die "cc is not installed (needed for tls_resume_shim.c)"
    cc -shared -fPIC -O2 -o "$WORK/tls_resume_shim.so" "$BENCH_DIR/tls_resume_shim.c" -ldl ||
        die "cannot build tls_resume_shim.c (needs the OpenSSL headers: libssl-dev)"
}

# wrk_shim RESUME OUT [wrk args...]: wrk with the shim; RESUME 0 drops every session.
wrk_shim() {
    local resume=$1 out=$2
    shift 2
    TLS_SHIM_RESUME=$resume TLS_SHIM_COUNTS=$out.tls LD_PRELOAD=$WORK/tls_resume_shim.so run_wrk "$out" "$@"
}

# wrk_failures OUT: why a wrk run does not count ("" when every request got a 2xx answer).
wrk_failures() { grep -E 'Non-2xx|Socket errors' "$1" | tr -s ' ' | paste -sd ';' || true; }

# h2load_failures OUT: why an h2load run does not count ("" when every request succeeded).
h2load_failures() {
    awk '/^requests:/ { if ($10 + $12 + $14 > 0 || $8 != $2) printf "h2load: %s of %s succeeded, %s failed, %s errored, %s timed out\n", $8, $2, $10, $12, $14 }' "$1"
}

# measure SIDE KIND: prints "rps cpu_us_per_request note" for one round; note is "ok", the
# resumed share of the handshakes, or (with "FAILED: " first) why the run does not count.
measure() {
    local side=$1 kind=$2 url="https://127.0.0.1:${PORT[$1]}/" out=$WORK/$1-$2.out pids before after n rps why note=ok
    local hs resumed
    pids=$(proxy_pids "$side")
    # shellcheck disable=SC2086
    before=$(cpu_ticks $pids)
    case $kind in
        keepalive) run_wrk "$out" -t1 -c50 -d"${DURATION}s" "$url" ;;
        full) wrk_shim 0 "$out" -t1 -c50 -d"${DURATION}s" -H "Connection: close" "$url" ;;
        resumed) wrk_shim 1 "$out" -t1 -c50 -d"${DURATION}s" -H "Connection: close" "$url" ;;
        h2) h2load -n "$H2_REQUESTS" -c10 -m10 -t1 "$url" >"$out" 2>&1 || die "h2load failed: $(cat "$out")" ;;
    esac
    # shellcheck disable=SC2086
    after=$(cpu_ticks $pids)
    if [ "$kind" = h2 ]; then
        why=$(h2load_failures "$out")
        n=$(awk '/^requests:/ {print $8}' "$out")
        rps=$(awk '/^finished in/ {printf "%.0f\n", $4}' "$out")
    else
        why=$(wrk_failures "$out")
        n=$(wrk_requests "$out")
        rps=$(wrk_rps "$out")
    fi
    if [ "$kind" = resumed ] || [ "$kind" = full ]; then
        read -r hs resumed <"$out.tls"
        note="resumed $(awk -v r="$resumed" -v h="$hs" 'BEGIN { printf "%.0f%%", h ? 100 * r / h : 0 }')"
    fi
    if [ -n "$why" ]; then
        log "$side $kind: $why"
        note="FAILED: $why"
    fi
    echo "$rps $(cpu_us_per_request $((after - before)) "$n") $note"
}

row() { printf '%-12s %-9s %10s %11s  %s\n' "$@"; }

bench_kind() {
    local title=$1 kind=$2 side r rps cpu note failed=""
    declare -A all_rps all_cpu med_rps med_cpu
    echo
    echo "## $title"
    row round server rps cpu_us/req note
    for ((r = 1; r <= ROUNDS; r++)); do
        for side in "${SIDES[@]}"; do
            read -r rps cpu note <<<"$(measure "$side" "$kind")"
            row "$r" "$side" "$rps" "$cpu" "$note"
            all_rps[$side]+=" $rps" all_cpu[$side]+=" $cpu"
            if [[ $note == FAILED:* ]]; then failed+="${failed:+; }$side round $r ${note#FAILED: }"; fi
        done
    done
    if [ -n "$failed" ]; then
        # Requests that failed cost the failing side little: a ratio would flatter it.
        row ratio ne/nginx n/a n/a "no ratio: not every request succeeded ($failed)"
        return
    fi
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
    build_shim
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
    bench_kind "full TLS handshakes: wrk -t1 -c50 -d${DURATION}s, Connection: close, no session offered" full
    bench_kind "resumed TLS handshakes: wrk -t1 -c50 -d${DURATION}s, Connection: close, last session offered" resumed
    bench_kind "HTTP/2: h2load -n $H2_REQUESTS -c10 -m10" h2
}

main "$@"
