#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The podman lab for azure_automation.hybrid_worker: Debian 12 systemd containers reachable over SSH,
# with stand-ins for Microsoft's agent software, wired to the local Azure emulator. See tests/lab/README.md.
#
#   tests/lab/lab.sh image                          build (or reuse) the cached image, print its tag
#   tests/lab/lab.sh up N [--emulator-json FILE]    N hosts hrw-lab-1..N, inventory in .lab/inventory.yml
#   tests/lab/lab.sh down                           remove the hosts
#   tests/lab/lab.sh network                        make sure the network exists, print its gateway
set -euo pipefail

. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/image.sh"
. "$(dirname "$0")/lib/hosts.sh"

usage() {
    sed -n 's/^#   \(tests\/lab\/\)/  \1/p' "$0" >&2
    exit 2
}

main() {
    [ $# -ge 1 ] || usage
    local command=$1
    shift
    require_root_podman
    mkdir -p "$STATE_DIR"
    case "$command" in
        image)
            [ $# -eq 0 ] || usage
            build_lab_image
            ;;
        up)
            local count="" emulator_json=""
            while [ $# -gt 0 ]; do
                case "$1" in
                    --emulator-json) [ $# -ge 2 ] || usage; emulator_json=$(realpath "$2"); shift 2 ;;
                    --emulator-json=*) emulator_json=$(realpath "${1#*=}"); shift ;;
                    [0-9]*) count=$1; shift ;;
                    *) usage ;;
                esac
            done
            [[ "$count" =~ ^[1-9][0-9]*$ ]] || usage
            [ -z "$emulator_json" ] || [ -r "$emulator_json" ] || die "cannot read $emulator_json"
            lab_up "$count" "$emulator_json"
            ;;
        down)
            [ $# -eq 0 ] || usage
            lab_down
            ;;
        network)
            [ $# -eq 0 ] || usage
            ensure_network
            ;;
        *) usage ;;
    esac
}

main "$@"
