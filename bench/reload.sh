#!/usr/bin/env bash
# reload.sh — requests lost while an app is reloaded 5 times under load, in one run:
#   nodeedge              `nodeedge reload app`  (its proxy in front of 2 workers)
#   PM2 cluster mode      `pm2 reload app`       (2 workers sharing one port)
#   nginx + PM2 fork mode `pm2 reload all`       (2 workers on their own ports, nginx upstream
#                                                 keepalive 64, default proxy_next_upstream):
#                         once with the defaults: nginx's max_fails=1 fail_timeout=10s takes a
#                         restarting worker out for 10 s, and PM2 restarts both workers at once
#                         (PM2_CONCURRENT_ACTIONS=2) and counts one online when it is spawned;
#                         once tuned, the best this pair can do: max_fails=0 (never take a
#                         worker out, retry the other one), PM2_CONCURRENT_ACTIONS=1 (one worker
#                         at a time) and wait_ready (online once it has sent 'ready')
# The app is apps/hello.js, which finishes in-flight requests on SIGINT/SIGTERM. While
# `wrk -t1 -c50` runs with count_failures.lua, the script does 5 reloads one after another
# (each command returns when its reload is done, then 1 s pause), stops wrk with SIGINT 1 s after
# the last one, and prints failed/total: failed = responses >= 500 + socket errors (connect,
# read, write, timeout), total = responses + socket errors; and how long each reload took.
#
# Not a test; loopback only; every process it starts is stopped at exit.
# Run:  bench/reload.sh            (NODEEDGE=build-bench/nodeedge bench/reload.sh)
#       RELOADS=2 bench/reload.sh  (quick)

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

RELOADS=${RELOADS:-5}
# wrk needs a duration; it is stopped by SIGINT long before this unless a reload hangs.
WRK_MAX_S=300

write_nodeedge_config() {
    {
        ecosystem_head hello.js "$1" "$2"
        cat <<EOF

[[servers.locations]]
path = "/"
app = "app"
EOF
    } >"$WORK/ecosystem.toml"
}

# write_pm2_config NAME MODE PORT [PROPERTIES]: 2 instances of hello.js in $WORK/pm2-NAME.config.js;
# in fork mode on PORT and PORT+1, in cluster mode sharing PORT.
write_pm2_config() {
    local increment="increment_var: 'PORT',"
    [ "$2" = fork ] || increment=""
    cat >"$WORK/pm2-$1.config.js" <<EOF
module.exports = { apps: [{
  name: 'app',
  script: '$BENCH_DIR/apps/hello.js',
  exec_mode: '$2',
  instances: 2,
  env: { PORT: $3 },
  $increment
  ${4:-}
}] };
EOF
}

# write_nginx_conf LISTEN_PORT APP_PORT SERVER_PARAMS
write_nginx_conf() {
    {
        nginx_conf_head "$3" "$2" $(($2 + 1))
        cat <<EOF
    server {
        listen 127.0.0.1:$1;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
    }
}
EOF
    } >"$NGINX_PREFIX/nginx.conf"
}

pm2_reload_one_at_a_time() { PM2_CONCURRENT_ACTIONS=1 pm2 reload all; }

# under_reloads LABEL URL RELOAD_CMD...: wrk on URL while RELOAD_CMD runs RELOADS times.
under_reloads() {
    local label=$1 url=$2 out=$WORK/wrk-reload.out wrk_pid i t0 t1 took=() result
    shift 2
    wrk -t1 -c50 -d"${WRK_MAX_S}s" -s "$BENCH_DIR/count_failures.lua" "$url" >"$out" 2>&1 &
    wrk_pid=$!
    on_exit stop_pids "$wrk_pid"
    sleep 2
    for ((i = 1; i <= RELOADS; i++)); do
        t0=$(date +%s.%N)
        "$@" >"$WORK/reload.out" 2>&1 || log "$label: reload $i failed: $(tail -3 "$WORK/reload.out")"
        t1=$(date +%s.%N)
        took+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')")
        sleep 1
    done
    # wrk prints its summary and runs done() on SIGINT.
    kill -INT "$wrk_pid"
    wait "$wrk_pid" || true
    result=$(grep '^RESULT' "$out") || die "$label: wrk printed no RESULT: $(cat "$out")"
    # shellcheck disable=SC2086
    set -- ${result#RESULT }
    local total=${1#total=} failed=${2#failed=} s5xx=${3#5xx=} socket=${4#socket=}
    printf '%-25s %13s %9s %7s %7s   %s\n' "$label" "$failed/$total" \
        "$(awk -v f="$failed" -v t="$total" 'BEGIN { printf "%.4f%%", t ? 100 * f / t : 0 }')" \
        "$s5xx" "$socket" "${took[*]}"
}

main() {
    local base
    command -v wrk >/dev/null || die "wrk is not installed"
    command -v nginx >/dev/null || die "nginx is not installed (Debian: nginx-light)"
    # app workers (2), nodeedge's listener, nginx's listener
    base=$(free_ports 4)
    echo "# reload.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# $RELOADS reloads under wrk -t1 -c50; failed = status >= 500 + socket errors"
    printf '%-25s %13s %9s %7s %7s   %s\n' setup failed/total failed% 5xx socket "seconds per reload"

    if [ -x "$NODEEDGE" ]; then
        write_nodeedge_config "$base" $((base + 2))
        nodeedge_start "$WORK/ecosystem.toml"
        wait_http "http://127.0.0.1:$((base + 2))/"
        under_reloads "nodeedge" "http://127.0.0.1:$((base + 2))/" nodeedge reload app
        nodeedge_stop
    else
        printf '%-25s %13s   (no binary at %s)\n' nodeedge n/a "$NODEEDGE"
    fi

    write_pm2_config cluster cluster "$base"
    pm2_start "$WORK/pm2-cluster.config.js"
    pm2_wait_online
    wait_http "http://127.0.0.1:$base/"
    under_reloads "pm2 cluster" "http://127.0.0.1:$base/" pm2 reload app
    pm2_stop

    write_pm2_config fork fork "$base"
    pm2_start "$WORK/pm2-fork.config.js"
    pm2_wait_online
    write_nginx_conf $((base + 3)) "$base" ""
    nginx_start "$NGINX_PREFIX/nginx.conf" "http://127.0.0.1:$((base + 3))/"
    under_reloads "nginx + pm2 fork" "http://127.0.0.1:$((base + 3))/" pm2 reload all
    nginx_stop
    pm2_stop

    write_pm2_config tuned fork "$base" "wait_ready: true,"
    pm2_start "$WORK/pm2-tuned.config.js"
    pm2_wait_online
    write_nginx_conf $((base + 3)) "$base" max_fails=0
    nginx_start "$NGINX_PREFIX/nginx.conf" "http://127.0.0.1:$((base + 3))/"
    under_reloads "nginx + pm2 fork, tuned" "http://127.0.0.1:$((base + 3))/" pm2_reload_one_at_a_time
}

main "$@"
