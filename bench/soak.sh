#!/usr/bin/env bash
# Soak test (not in CI): mixed load for a long time while the apps are reloaded and workers
# killed, watching for leaks. Three wrk streams run side by side, restarted each minute so
# failures are counted per minute: GET through the proxy to Node, GET of a static file, and
# POST with a 1 KiB body. Every minute `nodeedge reload` rolls the app, and half a minute later
# a random Node worker gets SIGKILL. Every SAMPLE_SECONDS the fd count and RSS of each
# nodeedge process (the daemon and every proxy worker) are sampled. At the end: the table, the
# failed requests, and a verdict comparing the last samples with the first ones after warm-up.
#
#   bench/soak.sh                   30 minutes
#   SOAK_MINUTES=10 bench/soak.sh   shorter
#   SAMPLE_SECONDS=10  CONNECTIONS=8 (per wrk stream)  NICE=10 (for the load generators)
# Exit status: 0 no growth, 1 growth (or a broken run).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOAK_MINUTES=${SOAK_MINUTES:-30}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-10}
CONNECTIONS=${CONNECTIONS:-8}
NICE=${NICE:-10}
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"

base=$(free_ports 3)
app_port=$base
listen=$((base + 2))
mkdir -p "$WORK/public"
head -c 4096 /dev/urandom | base64 >"$WORK/public/file.txt"
cat >"$WORK/ecosystem.toml" <<EOF
[proxy]
workers = 2
access_log = "off"

[[apps]]
name = "soak"
script = "$BENCH_DIR/apps/hello.js"
instances = 2
port = $app_port
kill_timeout = "3s"

[[servers]]
listen = ["127.0.0.1:$listen"]
client_max_body_size = "64k"

[[servers.locations]]
path = "/"
app = "soak"

[[servers.locations]]
path = "/static/"
alias = "$WORK/public"
EOF
{
    printf 'wrk.method = "POST"\nwrk.body = string.rep("x", 1024)\nwrk.headers["Content-Type"] = "text/plain"\n'
    cat "$BENCH_DIR/count_failures.lua"
} >"$WORK/post.lua"

nodeedge_start "$WORK/ecosystem.toml"
url=http://127.0.0.1:$listen
wait_http "$url/"
[ "$(http_status "$url/static/file.txt")" = 200 ] || die "the static file is not served"
log "soak: $SOAK_MINUTES min, samples every $SAMPLE_SECONDS s, work dir $WORK"

# One minute of the three load streams, in the background; RESULT lines go to $WORK/wrk-<minute>-*.
load_minute() {
    local m=$1
    nice -n "$NICE" wrk -t1 -c"$CONNECTIONS" -d60s -s "$BENCH_DIR/count_failures.lua" "$url/" >"$WORK/wrk-$m-proxy" 2>&1 &
    nice -n "$NICE" wrk -t1 -c"$CONNECTIONS" -d60s -s "$BENCH_DIR/count_failures.lua" "$url/static/file.txt" >"$WORK/wrk-$m-static" 2>&1 &
    nice -n "$NICE" wrk -t1 -c"$CONNECTIONS" -d60s -s "$WORK/post.lua" "$url/post" >"$WORK/wrk-$m-post" 2>&1 &
}

fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

samples=$WORK/samples.tsv
printf 't_s\tdaemon_fds\tdaemon_rss_kib\tproxy_fds\tproxy_rss_kib\tproxy_pids\n' >"$samples"
sample() {
    local t=$1 daemon pfds=0 prss=0 pid pids
    daemon=$(nodeedge_daemon_pid)
    pids=$(nodeedge_proxy_pids | sort -n | tr '\n' ' ')
    for pid in $pids; do
        pfds=$((pfds + $(fd_count "$pid")))
        prss=$((prss + $(rss_kib "$pid")))
    done
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$(fd_count "$daemon")" "$(rss_kib "$daemon")" "$pfds" "$prss" "${pids% }" >>"$samples"
}

start=$SECONDS
kills=0
reloads=0
reload_failures=0
for ((m = 0; m < SOAK_MINUTES; m++)); do
    load_minute "$m"
    for ((s = 0; s < 60; s += SAMPLE_SECONDS)); do
        if [ "$s" -eq 0 ] && [ "$m" -gt 0 ]; then
            reloads=$((reloads + 1))
            nodeedge reload soak >"$WORK/reload-$m.out" 2>&1 || reload_failures=$((reload_failures + 1))
        fi
        if [ "$s" -ge 30 ] && [ "$s" -lt $((30 + SAMPLE_SECONDS)) ]; then
            victim=$(nodeedge_workers | awk '$1 == "soak" && $3 > 0 {print $3}' | shuf -n1)
            if [ -n "$victim" ]; then kill -KILL "$victim" && kills=$((kills + 1)); fi
        fi
        sample $((SECONDS - start))
        sleep "$SAMPLE_SECONDS"
    done
    wait  # the minute's wrk runs
done

python3 - "$samples" "$WORK" "$SOAK_MINUTES" "$kills" "$reloads" "$reload_failures" <<'PY'
import glob, re, statistics, sys
samples, work, minutes, kills, reloads, reload_failures = sys.argv[1], sys.argv[2], int(sys.argv[3]), *map(int, sys.argv[4:])
rows = [l.rstrip("\n").split("\t") for l in open(samples)][1:]
print(f"{'t(s)':>6} {'daemon fds':>10} {'daemon RSS':>11} {'proxy fds':>9} {'proxy RSS':>10}  proxy pids")
for t, dfd, drss, pfd, prss, pids in rows:
    print(f"{t:>6} {dfd:>10} {int(drss)/1024:>9.1f}Mi {pfd:>9} {int(prss)/1024:>8.1f}Mi  {pids}")

total = failed = 0
per_kind = {}
for f in sorted(glob.glob(f"{work}/wrk-*")):
    kind = f.rsplit("-", 1)[1]
    m = re.search(r"RESULT total=(\d+) failed=(\d+)", open(f).read())
    if not m:
        print(f"no RESULT in {f}")
        continue
    t, fl = int(m[1]), int(m[2])
    total += t; failed += fl
    k = per_kind.setdefault(kind, [0, 0]); k[0] += t; k[1] += fl
print(f"\nrequests: {total} in {minutes} min, failed: {failed} ({100.0 * failed / max(total, 1):.4f} %); "
      + ", ".join(f"{k} {v[0]} ({v[1]} failed)" for k, v in sorted(per_kind.items())))
print(f"reloads: {reloads} ({reload_failures} failed), Node workers killed: {kills}")

# Growth: the median of the last three samples against that of the first three after one
# minute of warm-up (buffers, pools and the allocator settle first). Slack: 20 % plus a floor.
per_min = max(1, len(rows) // max(minutes, 1))
body = rows[per_min:] if len(rows) > per_min + 6 else rows
def med(col, part):
    return statistics.median(float(r[col]) for r in part)
grew = []
for col, name, floor in ((1, "daemon fds", 8), (2, "daemon RSS KiB", 4096), (3, "proxy fds", 8), (4, "proxy RSS KiB", 8192)):
    first, last = med(col, body[:3]), med(col, body[-3:])
    verdict = "grew" if last > first * 1.2 + floor else "flat"
    print(f"{name:>15}: {first:>9.0f} -> {last:>9.0f}  {verdict}")
    if verdict == "grew":
        grew.append(name)
print("verdict: " + ("GROWTH in " + ", ".join(grew) if grew else "no growth"))
sys.exit(1 if grew or reload_failures else 0)
PY
