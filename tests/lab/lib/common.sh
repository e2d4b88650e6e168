# shellcheck shell=bash disable=SC2034
# Shared settings and helpers for lab.sh and emulator.sh. Sourced, not run.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$LAB_DIR/../.." && pwd)
LAB_NETWORK=hrw-lab
LAB_ANCHOR=hrw-lab-net
LAB_LABEL=io.hrw-lab.role
INSTANCE_LABEL=io.hrw-lab.instance
# HRW_LAB_INSTANCE=<name> runs a separate lab (hosts hrw-lab-<name>-<i>, state in .lab/instances/<name>/)
# on the same network, so tests do not disturb a lab someone else is using.
LAB_INSTANCE=${HRW_LAB_INSTANCE:-}
if [ -n "$LAB_INSTANCE" ]; then
    [[ "$LAB_INSTANCE" =~ ^[a-z][a-z0-9]{0,15}$ ]] || { echo "lab: HRW_LAB_INSTANCE must match [a-z][a-z0-9]{0,15}" >&2; exit 2; }
    STATE_DIR="$REPO_ROOT/.lab/instances/$LAB_INSTANCE"
    LAB_PREFIX="hrw-lab-$LAB_INSTANCE"
else
    STATE_DIR="$REPO_ROOT/.lab"
    LAB_PREFIX=hrw-lab
fi
IMAGE_REPO=localhost/hrw-debian12
BASE_REPO=localhost/hrw-debian12-base
DEBIAN_SUITE=bookworm

export CONTAINERS_CONF="$LAB_DIR/containers.conf"

log() { printf '%s lab: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

require_root_podman() {
    command -v podman >/dev/null 2>&1 || die "podman is not installed"
    [ "$(id -u)" -eq 0 ] || die "the lab needs rootful podman; run as root"
}

# The machine's Debian mirror, read at run time (never stored in the repository).
debian_mirror() {
    local mirror=""
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
        mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources | awk '{print $1}' | grep -v -- '-security' | head -n1)
    fi
    if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
        mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
    fi
    [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
    printf '%s\n' "$mirror"
}

# Hash of a list of files and extra strings (sha256, first 12 hex digits).
hash_inputs() {
    local f
    {
        for f in "$@"; do
            if [ -d "$f" ]; then
                (cd "$f" && find . -name __pycache__ -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
                (cd "$f" && find . -name __pycache__ -prune -o -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %a')
            elif [ -f "$f" ]; then
                printf '%s\n' "${f#"$LAB_DIR"/}"
                cat "$f"
            else
                printf '%s\n' "$f"
            fi
        done
    } | sha256sum | cut -c1-12
}

image_exists() { podman image exists "$1"; }

network_gateway() {
    podman network inspect "$LAB_NETWORK" --format '{{range .Subnets}}{{.Gateway}}{{end}}' 2>/dev/null | awk '{print $1}'
}
