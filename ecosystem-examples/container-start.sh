#!/bin/sh
# A container's entrypoint (Dockerfile): nodeedge's daemon becomes PID 1 through `exec`, so it
# reaps every process and turns the runtime's SIGTERM into a drain of every app. A background
# child starts the apps of $NODEEDGE_ECOSYSTEM once the daemon listens on its control socket,
# and stops the container when they cannot start, so a broken image fails its rollout instead
# of idling unready.
set -eu
file=${NODEEDGE_ECOSYSTEM:-/app/ecosystem.toml}
socket=${NODEEDGE_HOME:-$HOME/.nodeedge}/daemon.sock
# No daemon runs yet in this container: a socket left by a killed one would fool the wait.
rm -f "$socket"
(
    # Not `nodeedge status`: it exits 0 with no daemon, and `start` would launch a second one.
    tries=0
    until [ -S "$socket" ]; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ]; then
            echo "container-start: the nodeedge daemon did not open $socket within 10 s" >&2
            kill -TERM 1
            exit 1
        fi
        sleep 0.1
    done
    nodeedge start "$file" || { echo "container-start: nodeedge start $file failed" >&2; kill -TERM 1; }
) &
exec nodeedge daemon --foreground "$@"
