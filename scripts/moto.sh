#!/usr/bin/env bash
# Starts or stops a background moto server on 127.0.0.1 for the local stack.
#
#   scripts/moto.sh up PORT      start (idempotent: a running one is kept), wait until ready
#   scripts/moto.sh down PORT    stop the one this script started (idempotent)
#   scripts/moto.sh status PORT
#
# State lives in .run/: moto-PORT.pid and moto-PORT.log. MOTO_SERVER names the binary
# (default .venv/bin/moto_server). Tests do not use this: they start their own moto on a free
# port through SPSYNC_MOTO_SERVER.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
port=${2:-4566}
server=${MOTO_SERVER:-.venv/bin/moto_server}
run_dir=.run
pid_file=$run_dir/moto-$port.pid
log_file=$run_dir/moto-$port.log
url=http://127.0.0.1:$port

die() { echo "moto.sh: $*" >&2; exit 1; }

# True when the pid file names a live moto_server process (not a recycled pid).
running_pid() {
    [ -f "$pid_file" ] || return 1
    local pid
    pid=$(cat "$pid_file")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_server || return 1
    echo "$pid"
}

answers() { curl -fsS -o /dev/null --max-time 1 "$url/moto-api/" 2>/dev/null; }

up() {
    local pid
    if pid=$(running_pid) && answers; then
        echo "moto: already running on $url (pid $pid)"
        return
    fi
    [ -x "$server" ] || die "$server not found (run make venv)"
    if answers; then
        die "something else already answers on $url; stop it or pick another MOTO_PORT"
    fi
    mkdir -p "$run_dir"
    # setsid: the server outlives this shell and make, and a Ctrl-C in the terminal that
    # started it does not reach it; moto-down stops it.
    setsid "$server" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 </dev/null &
    echo $! >"$pid_file"
    pid=$!
    # Readiness: poll the admin endpoint (about 0.5 s on a warm machine), give up after 30 s.
    local tries=0
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pid_file"
            die "moto_server exited at start; see $log_file: $(tail -n 3 "$log_file")"
        fi
        tries=$((tries + 1))
        [ "$tries" -lt 300 ] || die "moto_server did not answer on $url within 30 s; see $log_file"
        sleep 0.1
    done
    echo "moto: running on $url (pid $pid, log $log_file)"
}

down() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$pid_file"
        echo "moto: not running on port $port"
        return
    fi
    kill "$pid"
    local tries=0
    while kill -0 "$pid" 2>/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -ge 50 ]; then kill -9 "$pid" 2>/dev/null || true; break; fi
        sleep 0.1
    done
    rm -f "$pid_file"
    echo "moto: stopped (pid $pid)"
}

status() {
    local pid
    if pid=$(running_pid) && answers; then
        echo "moto: running on $url (pid $pid)"
    else
        echo "moto: not running on port $port"
        return 1
    fi
}

case "$cmd" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) die "usage: moto.sh up|down|status [PORT]" ;;
esac
