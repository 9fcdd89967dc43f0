#!/usr/bin/env bash
# The deploy recipe, runnable on one machine: N app servers (`streamlit run`) behind nginx, on one PostgreSQL.
#   bash deploy/run-local.sh [SERVERS] [PORT]           start (2 servers, proxy on 8500), in the foreground: Ctrl-C stops all
#   bash deploy/run-local.sh --start DIR [SERVERS] [PORT]   start in the background (files, logs in DIR); prints the URL
#   bash deploy/run-local.sh --stop DIR                 stop what --start started
# The app servers listen on PORT+1 ... PORT+SERVERS of the loopback address, each with a folder of its own for
# trained models (as separate machines would), all on the database of $DIGITLIB_STORE when it is a URL, else on a
# throw-away PostgreSQL started in DIR (.ci/postgres: local test use only).  Debian's nginx is installed when missing.
# $PYTHON is the Python with the app's requirements (default: the repository's .venv, else python3).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    PYTHON="$([[ -x "$repo/.venv/bin/python" ]] && echo "$repo/.venv/bin/python" || command -v python3)"
fi

stop() {
    local dir="$1"
    [[ -f "$dir/nginx.pid" ]] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
    if [[ -f "$dir/servers.pid" ]]; then
        while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$dir/servers.pid"
        while read -r pid; do
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        done <"$dir/servers.pid"
        rm -f "$dir/servers.pid"
    fi
    if [[ -d "$dir/postgres/data" ]]; then
        bash "$repo/.ci/postgres" --stop "$dir/postgres" || true
        rm -rf "$dir/postgres"
    fi
}

wait_for() {  # until the URL answers 200, or fail after a minute with the log
    "$PYTHON" - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, log = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(f"{url} did not answer within 60 s; see {log}")
PY
}

start() {
    local dir servers port store
    dir="$(mkdir -p "$1" && cd "$1" && pwd)" servers="${2:-2}" port="${3:-8500}"
    if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; } </dev/null >&2
    fi
    store="${DIGITLIB_STORE:-}"
    if [[ "$store" != *://* ]]; then
        store="$(bash "$repo/.ci/postgres" "$dir/postgres")"
    fi
    : >"$dir/servers.pid"
    local upstreams="" known="" i
    cd "$repo"
    # Each server in a session of its own, as a service manager starts them: the kernel shares the cores between
    # sessions (autogroup), so servers started inside one shell's session would share one session's part.
    for i in $(seq "$servers"); do
        mkdir -p "$dir/server-$i"
        DIGITLIB_STORE="$store" DIGITLIB_TRAINED_MODELS_DIR="$dir/server-$i/trained" \
            setsid nohup "$PYTHON" -m streamlit run streamlit_app.py --server.port "$((port + i))" \
            --server.address 127.0.0.1 --server.headless true --browser.gatherUsageStats false \
            >"$dir/server-$i/streamlit.log" 2>&1 </dev/null &
        echo $! >>"$dir/servers.pid"
        upstreams+="    server 127.0.0.1:$((port + i));"$'\n'
        known+="    127.0.0.1:$((port + i)) 127.0.0.1:$((port + i));"$'\n'
    done
    for i in $(seq "$servers"); do
        wait_for "http://127.0.0.1:$((port + i))/_stcore/health" "$dir/server-$i/streamlit.log" >&2
    done
    mkdir -p "$dir/tmp"
    chmod 1777 "$dir/tmp"  # nginx's workers (nobody, when started by root) buffer large uploads here
    local site
    site="$(<"$repo/deploy/digitlib-site.conf")"
    site="${site//@LISTEN@/127.0.0.1:$port}"
    site="${site//@SERVERS@/${upstreams%$'\n'}}"
    printf '%s\n' "${site//@KNOWN@/${known%$'\n'}}" >"$dir/site.conf"
    cat >"$dir/nginx.conf" <<CONF
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
worker_processes 1;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/site.conf;
}
CONF
    "$(command -v nginx || echo /usr/sbin/nginx)" -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log"
    wait_for "http://127.0.0.1:$port/_stcore/health" "$dir/nginx-error.log" >&2
    echo "http://127.0.0.1:$port"
}

case "${1:-}" in
    --start) start "$2" "${3:-2}" "${4:-8500}" ;;
    --stop) stop "$2" ;;
    *)
        dir="$(mktemp -d /tmp/digitlib-deploy.XXXXXX)"
        trap 'stop "$dir"; rm -rf "$dir"' EXIT
        trap 'exit 0' INT TERM
        url="$(start "$dir" "${1:-2}" "${2:-8500}")"
        echo "The app is at $url (${1:-2} servers behind nginx); logs in $dir. Ctrl-C stops everything." >&2
        while sleep 3600; do :; done
        ;;
esac
