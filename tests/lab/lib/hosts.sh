# shellcheck shell=bash
# Lab hosts: the podman network, the SSH key, the containers, the emulator wiring and the inventory.

SSH_KEY="$STATE_DIR/ssh/id_ed25519"
INVENTORY="$STATE_DIR/inventory.yml"
SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=3)

# The network and an idle anchor container: netavark creates the bridge (and so the gateway address
# the emulator listens on) only while a container is attached.
ensure_network() {
    if ! podman network exists "$LAB_NETWORK"; then
        log "creating podman network $LAB_NETWORK"
        podman network create "$LAB_NETWORK" >/dev/null
    fi
    if [ "$(podman inspect -f '{{.State.Running}}' "$LAB_ANCHOR" 2>/dev/null)" != "true" ]; then
        build_base
        podman run -d --replace --name "$LAB_ANCHOR" --network "$LAB_NETWORK" --label "$LAB_LABEL=anchor" \
            "$(base_tag)" sleep infinity >/dev/null
    fi
    local gateway
    gateway=$(network_gateway)
    [ -n "$gateway" ] || die "podman network $LAB_NETWORK has no gateway"
    printf '%s\n' "$gateway"
}

emulator_running() {
    local pid
    pid=$(cat "$STATE_DIR/emulator/pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

ensure_ssh_key() {
    if [ ! -f "$SSH_KEY" ]; then
        mkdir -p "$(dirname "$SSH_KEY")"
        chmod 700 "$(dirname "$SSH_KEY")"
        ssh-keygen -q -t ed25519 -N '' -C hrw-lab -f "$SSH_KEY"
    fi
}

host_name() { printf '%s-%s\n' "$LAB_PREFIX" "$1"; }

host_ip() {
    podman inspect -f "{{(index .NetworkSettings.Networks \"$LAB_NETWORK\").IPAddress}}" "$1"
}

lab_hosts() {
    podman ps -a --filter "label=$LAB_LABEL=host" --filter "label=$INSTANCE_LABEL=$LAB_PREFIX" --format '{{.Names}}' | sort -V
}

# True while any lab (any instance) still has hosts or a running emulator.
lab_in_use() {
    local pid_file pid
    [ -z "$(podman ps -a --filter "label=$LAB_LABEL=host" --format '{{.Names}}')" ] || return 0
    for pid_file in "$REPO_ROOT"/.lab/emulator/pid "$REPO_ROOT"/.lab/instances/*/emulator/pid; do
        pid=$(cat "$pid_file" 2>/dev/null) || continue
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && return 0
    done
    return 1
}

start_host() {
    local name=$1 image=$2 current running
    current=$(podman inspect -f '{{.ImageName}}' "$name" 2>/dev/null || true)
    running=$(podman inspect -f '{{.State.Running}}' "$name" 2>/dev/null || true)
    if [ "$current" = "$image" ] && [ "$running" = "true" ]; then
        return 0
    fi
    [ -n "$current" ] && log "replacing $name (image ${current:-?}, running ${running:-?})"
    podman run -d --replace --name "$name" --hostname "$name" --network "$LAB_NETWORK" \
        --label "$LAB_LABEL=host" --label "$INSTANCE_LABEL=$LAB_PREFIX" "$image" >/dev/null
}

authorize_key() {
    podman exec -i "$1" sh -c 'umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys' < "$SSH_KEY.pub"
}

wait_for_ssh() {
    local name=$1 ip=$2 deadline=$((SECONDS + 60))
    until ssh "${SSH_OPTS[@]}" -i "$SSH_KEY" "root@$ip" true 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || die "$name ($ip) did not answer on SSH within 60 s"
        sleep 0.5
    done
}

# Reads the emulator's ready line and prints shell assignments for the values the hosts need
# (never the client secret).
emulator_facts() {
    python3 - "$1" <<'PY'
import json, shlex, sys, urllib.parse
with open(sys.argv[1], encoding="utf-8") as handle:
    line = next(l for l in handle if l.strip())
data = json.loads(line)
arm = urllib.parse.urlsplit(data["arm_endpoint"])
jrds = urllib.parse.urlsplit(data["hybrid_service_url"])
endpoints = {k: data[k] for k in ("arm_endpoint", "metadata_url", "agent_url", "hybrid_service_url")}
endpoints["login_endpoint"] = data["arm_endpoint"]
print("EMU_ADDRESS=" + shlex.quote(arm.hostname))
print("EMU_JRDS_HOST=" + shlex.quote(jrds.hostname))
print("EMU_CA=" + shlex.quote(data["ca_bundle"]))
print("EMU_ENDPOINTS=" + shlex.quote(json.dumps(endpoints, indent=2)))
PY
}

configure_emulator() {
    local name=$1 json=$2 gateway=$3
    local EMU_ADDRESS EMU_JRDS_HOST EMU_CA EMU_ENDPOINTS
    eval "$(emulator_facts "$json")" || die "cannot read the emulator's ready line from $json"
    if [ "$EMU_ADDRESS" != "$gateway" ]; then
        die "the emulator listens on $EMU_ADDRESS, which lab hosts cannot reach; start it on the $LAB_NETWORK gateway ($gateway), e.g. tests/lab/emulator.sh start"
    fi
    [ -r "$EMU_CA" ] || die "the emulator CA $EMU_CA is not readable"
    # The CA goes through the system trust store; update-ca-certificates (2-3 s) runs only when the bundle lacks it.
    # A container that was just (re)started can refuse the first exec; try a few times and keep podman's own message.
    local attempt output="" installed=0
    for attempt in 1 2 3 4 5; do
        if output=$(podman exec -i "$name" sh -c '
            crt=/usr/local/share/ca-certificates/hrw-emulator.crt
            cat > "$crt.new"
            if cmp -s "$crt.new" "$crt"; then rm -f "$crt.new"; else mv "$crt.new" "$crt"; fi
            # Judge by the trust bundle, not by the file: an earlier attempt may have written the file and then failed.
            key=$(sed -n 2p "$crt")
            grep -qF -- "$key" /etc/ssl/certs/ca-certificates.crt || update-ca-certificates >/dev/null 2>&1
            grep -qF -- "$key" /etc/ssl/certs/ca-certificates.crt || { echo "CA not in the trust bundle"; exit 1; }
        ' < "$EMU_CA" 2>&1); then
            installed=1
            break
        fi
        sleep "$attempt"
    done
    [ "$installed" = 1 ] || die "could not install the emulator CA on $name after 5 attempts: ${output:-no message}"
    printf '%s\n' "$EMU_ENDPOINTS" | podman exec -i "$name" sh -c 'mkdir -p /etc/hrw-lab && cat > /etc/hrw-lab/endpoints.json'
    podman exec "$name" sh -c "
        sed '/# hrw-lab emulator begin/,/# hrw-lab emulator end/d' /etc/hosts > /tmp/hosts.lab
        printf '# hrw-lab emulator begin\n%s %s hrw-emulator.azure-automation.net\n# hrw-lab emulator end\n' '$EMU_ADDRESS' '$EMU_JRDS_HOST' >> /tmp/hosts.lab
        cat /tmp/hosts.lab > /etc/hosts && rm -f /tmp/hosts.lab
    " || die "could not wire $name to the emulator"
}

write_inventory() {
    local tmp="$INVENTORY.tmp" name ip
    {
        printf '# Written by tests/lab/lab.sh up; removed by tests/lab/lab.sh down.\n'
        printf 'all:\n  children:\n    hrw_linux:\n      hosts:\n'
        for name in "$@"; do
            ip=$(host_ip "$name")
            printf '        %s:\n' "$name"
            printf '          ansible_host: %s\n' "$ip"
            printf '          ansible_user: root\n'
            printf '          ansible_ssh_private_key_file: %s\n' "$SSH_KEY"
            printf '          ansible_ssh_common_args: "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"\n'
            printf '          ansible_python_interpreter: /usr/bin/python3\n'
        done
    } > "$tmp"
    mv "$tmp" "$INVENTORY"
}

lab_up() {
    local count=$1 emulator_json=$2 image gateway i name names=() ip
    image=$(build_lab_image)
    gateway=$(ensure_network)
    ensure_ssh_key
    for ((i = 1; i <= count; i++)); do
        name=$(host_name "$i")
        names+=("$name")
        start_host "$name" "$image"
    done
    for name in $(lab_hosts); do
        case " ${names[*]} " in *" $name "*) ;; *) log "removing surplus host $name"; podman rm -f -t 5 "$name" >/dev/null ;; esac
    done
    # Each host is set up in its own background job; any failure fails `up`.
    local pids=() failed=0 pid
    for name in "${names[@]}"; do
        (
            authorize_key "$name"
            [ -z "$emulator_json" ] || configure_emulator "$name" "$emulator_json" "$gateway"
            ip=$(host_ip "$name")
            wait_for_ssh "$name" "$ip"
            log "$name is up at $ip"
        ) &
        pids+=("$!")
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=1
    done
    [ "$failed" -eq 0 ] || die "setting up the lab hosts failed (see above)"
    write_inventory "${names[@]}"
    log "inventory: $INVENTORY"
}

lab_down() {
    local names
    names=$(lab_hosts)
    if [ -n "$names" ]; then
        # shellcheck disable=SC2086
        podman rm -f -t 5 $names >/dev/null
        log "removed $(echo "$names" | wc -w) host(s)"
    fi
    if lab_in_use; then
        log "an emulator or other lab hosts still use network $LAB_NETWORK; its anchor container stays"
    else
        podman rm -f -t 0 "$LAB_ANCHOR" >/dev/null 2>&1 || true
    fi
    rm -f "$INVENTORY"
}
