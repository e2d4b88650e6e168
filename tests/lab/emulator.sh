#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Run the local Azure emulator (tests/emulator) beside the lab hosts, on the lab network's gateway
# address, so the containers can reach it. Its ready line (with the client secret) goes to
# .lab/emulator.json (mode 0600); feed that file to `tests/lab/lab.sh up N --emulator-json .lab/emulator.json`.
#
#   tests/lab/emulator.sh start [-- EXTRA SERVE ARGS]   start in the background (no-op if running)
#   tests/lab/emulator.sh stop                          stop it (state stays in .lab/emulator/)
#   tests/lab/emulator.sh status                        exit 0 if it runs
#
# The command is $HRW_EMULATOR, else <repo>/.venv/bin/hrw-emulator, else hrw-emulator from PATH.
set -euo pipefail

. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/image.sh"
. "$(dirname "$0")/lib/hosts.sh"

EMU_DIR="$STATE_DIR/emulator"
EMU_JSON="$STATE_DIR/emulator.json"
PID_FILE="$EMU_DIR/pid"

usage() {
    sed -n 's/^#   \(tests\/lab\/\)/  \1/p' "$0" >&2
    exit 2
}

emulator_command() {
    if [ -n "${HRW_EMULATOR:-}" ]; then
        printf '%s\n' "$HRW_EMULATOR"
    elif [ -x "$REPO_ROOT/.venv/bin/hrw-emulator" ]; then
        printf '%s\n' "$REPO_ROOT/.venv/bin/hrw-emulator"
    elif command -v hrw-emulator >/dev/null 2>&1; then
        command -v hrw-emulator
    else
        die "hrw-emulator not found: pip install -e tests/emulator (or set HRW_EMULATOR)"
    fi
}

start() {
    if emulator_running; then
        log "emulator already running (pid $(cat "$PID_FILE")); ready line in $EMU_JSON"
        return 0
    fi
    local command gateway pid deadline
    command=$(emulator_command)
    gateway=$(ensure_network)
    mkdir -p "$EMU_DIR"
    rm -f "$EMU_JSON"
    : > "$EMU_DIR/stdout.log"
    # setsid: the emulator outlives this shell and is not in its process group.
    setsid "$command" serve --host "$gateway" --port 0 --state "$EMU_DIR/state.json" "$@" \
        > "$EMU_DIR/stdout.log" 2> "$EMU_DIR/stderr.log" < /dev/null &
    pid=$!
    echo "$pid" > "$PID_FILE"
    deadline=$((SECONDS + 30))
    until head -n1 "$EMU_DIR/stdout.log" | python3 -c 'import json,sys; json.loads(sys.stdin.readline())' 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$EMU_DIR/stderr.log" >&2
            rm -f "$PID_FILE"
            die "the emulator exited before it was ready (log: $EMU_DIR/stderr.log)"
        fi
        [ "$SECONDS" -lt "$deadline" ] || { kill "$pid"; rm -f "$PID_FILE"; die "the emulator was not ready within 30 s"; }
        sleep 0.2
    done
    (umask 077 && head -n1 "$EMU_DIR/stdout.log" > "$EMU_JSON")
    log "emulator running on $gateway (pid $pid); ready line in $EMU_JSON"
}

stop() {
    local pid
    if ! emulator_running; then
        rm -f "$PID_FILE"
        log "emulator not running"
        return 0
    fi
    pid=$(cat "$PID_FILE")
    kill "$pid"
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE" "$EMU_JSON"
    log "emulator stopped (pid $pid)"
}

main() {
    [ $# -ge 1 ] || usage
    local command=$1
    shift
    case "$command" in
        start)
            require_root_podman
            [ "${1:-}" != "--" ] || shift
            start "$@"
            ;;
        stop) [ $# -eq 0 ] || usage; stop ;;
        status) [ $# -eq 0 ] || usage; emulator_running ;;
        *) usage ;;
    esac
}

main "$@"
