#!/usr/bin/env bash
# edge.sh — gzip and the response cache, nodeedge against nginx, in one run, in front of the
# same two Node workers (apps/json.js: an 8 KiB JSON answer).
#   GET /gz/     proxied, gzip level 6, with Accept-Encoding: gzip (compressed every time)
#   GET /cached/ proxied with a response cache (valid 200 for 10m): after the first request,
#                every answer is a cache HIT served from the cache file
# For each, alternating rounds of `wrk -t1 -c50 -d10s` per side; medians and nodeedge/nginx
# ratios of requests/s. Not a test; loopback only; every process it starts is stopped at exit.
# Run:  bench/edge.sh        NODEEDGE=build-bench/nodeedge ROUNDS=1 DURATION=3 bench/edge.sh  (quick)

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
SIDES=(nginx nodeedge)
declare -A PORT

write_ecosystem() {
    {
        ecosystem_head json.js "$1" "$2"
        cat <<EOF
gzip = { level = 6, min_length = 256, types = ["application/json"] }

[[servers.locations]]
path = "/gz/"
app = "app"

[[servers.locations]]
path = "/cached/"
app = "app"
cache = { valid = { "200" = "10m" }, lock = true }
EOF
    } >"$WORK/ecosystem.toml"
}

write_nginx_conf() {
    local listen=$1
    shift
    {
        nginx_conf_head "" "$@"
        cat <<EOF
    proxy_cache_path $WORK/nginx-cache levels=1:2 keys_zone=edge:10m max_size=256m;
    gzip on;
    gzip_comp_level 6;
    gzip_min_length 256;
    gzip_types application/json;
    gzip_proxied any;
    gzip_vary on;
    server {
        listen 127.0.0.1:$listen;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$host;
        location /gz/ { proxy_pass http://app; }
        location /cached/ {
            proxy_pass http://app;
            proxy_cache edge;
            proxy_cache_valid 200 10m;
            proxy_cache_lock on;
            add_header X-Cache-Status \$upstream_cache_status;
        }
    }
}
EOF
    } >"$NGINX_PREFIX/nginx.conf"
}

# bench_one TITLE PATH [wrk header args...]: rounds per side, medians, ratio.
bench_one() {
    local title=$1 path=$2 side r rps
    shift 2
    declare -A all med
    echo
    echo "## $title: GET $path $*, wrk -t1 -c50 -d${DURATION}s, $ROUNDS rounds each"
    for side in "${SIDES[@]}"; do
        run_wrk "$WORK/warmup.out" -t1 -c50 -d2s "$@" "http://127.0.0.1:${PORT[$side]}$path"
    done
    for ((r = 1; r <= ROUNDS; r++)); do
        for side in "${SIDES[@]}"; do
            run_wrk "$WORK/wrk.out" -t1 -c50 -d"${DURATION}s" "$@" "http://127.0.0.1:${PORT[$side]}$path"
            if grep -qE 'Non-2xx|Socket errors' "$WORK/wrk.out"; then
                log "$side: $(grep -E 'Non-2xx|Socket errors' "$WORK/wrk.out")"
            fi
            rps=$(wrk_rps "$WORK/wrk.out")
            printf '%-6s %-9s %10s\n' "$r" "$side" "$rps"
            all[$side]+=" $rps"
        done
    done
    for side in "${SIDES[@]}"; do
        # shellcheck disable=SC2086
        med[$side]=$(median ${all[$side]})
        printf '%-6s %-9s %10s\n' median "$side" "${med[$side]}"
    done
    printf '%-6s %-9s %10s\n' ratio ne/nginx "$(ratio "${med[nodeedge]}" "${med[nginx]}")"
}

# Each side answers as the workload claims: compressed, and a cache HIT.
check_side() {
    local side=$1 url="http://127.0.0.1:${PORT[$1]}"
    curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' "$url/gz/" | grep -qi '^content-encoding: gzip' ||
        die "$side does not compress /gz/"
    curl -s -o /dev/null "$url/cached/"
    curl -s -D - -o /dev/null "$url/cached/" | grep -qi '^x-cache-status: HIT' || die "$side does not cache /cached/"
}

main() {
    local base worker_ports side
    command -v wrk >/dev/null || die "wrk is not installed"
    command -v nginx >/dev/null || die "nginx is not installed (Debian: nginx-light)"
    base=$(free_ports 4)
    PORT[nodeedge]=$((base + 2)) PORT[nginx]=$((base + 3))
    write_ecosystem "$base" "${PORT[nodeedge]}"
    nodeedge_start "$WORK/ecosystem.toml"
    worker_ports=$(nodeedge_workers | awk '$1 == "app" {print $2}')
    # shellcheck disable=SC2086
    write_nginx_conf "${PORT[nginx]}" $worker_ports
    nginx_start "$NGINX_PREFIX/nginx.conf" "http://127.0.0.1:${PORT[nginx]}/gz/"
    for side in "${SIDES[@]}"; do check_side "$side"; done
    echo "# edge.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    bench_one "gzip'd JSON" /gz/ -H 'Accept-Encoding: gzip'
    bench_one "cache HIT" /cached/
}

main "$@"
