# shellcheck shell=bash
# Image build for the lab, in two cached layers:
#   base: debootstrap of Debian 12 from the machine's mirror, imported with `podman import` (~100 s cold)
#   lab:  base + the stand-ins for Microsoft's agent software (`podman build`, a few seconds)
# Each tag is a hash of that layer's build inputs, so a layer is rebuilt only when its inputs change.

# The base layer's inputs: the text of the two functions that build it, the package list, the suite,
# the mirror and the machine's release (whose apt sources are copied in).
base_tag() {
    local codename
    codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    printf '%s:%s\n' "$BASE_REPO" "$(hash_inputs "$(declare -f build_base write_apt_sources)" "$LAB_DIR/image/packages.txt" \
        "suite=$DEBIAN_SUITE" "mirror=$(debian_mirror)" "host=$codename")"
}

lab_tag() {
    printf '%s:%s\n' "$IMAGE_REPO" "$(hash_inputs "base=$(base_tag)" "$LAB_DIR/image/Containerfile" "$LAB_DIR/image/.containerignore" "$LAB_DIR/image/rootfs")"
}

# Write the apt sources of the image: the machine's own deb822 files when the machine runs the same
# suite (the keyring is in the image), otherwise one sources.list line for the mirror.
write_apt_sources() {
    local rootfs=$1 mirror=$2 codename
    codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    rm -f "$rootfs/etc/apt/sources.list" "$rootfs"/etc/apt/sources.list.d/*
    if [ "$codename" = "$DEBIAN_SUITE" ] && compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
        cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/"
    elif [ "$codename" = "$DEBIAN_SUITE" ] && [ -r /etc/apt/sources.list ]; then
        cp /etc/apt/sources.list "$rootfs/etc/apt/sources.list"
    else
        printf 'deb %s %s main\n' "$mirror" "$DEBIAN_SUITE" > "$rootfs/etc/apt/sources.list"
    fi
}

build_base() {
    local tag mirror work rootfs packages
    tag=$(base_tag)
    if image_exists "$tag"; then
        log "base image $tag is cached"
        return 0
    fi
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed"
    mirror=$(debian_mirror)
    work="$STATE_DIR/build"
    rootfs="$work/rootfs"
    rm -rf "$rootfs"
    mkdir -p "$work"
    packages=$(grep -v '^[[:space:]]*#' "$LAB_DIR/image/packages.txt" | grep -v '^[[:space:]]*$' | paste -sd, -)
    log "debootstrap $DEBIAN_SUITE (minbase + $packages); takes about 100 s"
    debootstrap --variant=minbase --include="$packages" "$DEBIAN_SUITE" "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
        || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log: $work/debootstrap.log)"; }
    write_apt_sources "$rootfs" "$mirror"
    echo hrw-debian12 > "$rootfs/etc/hostname"
    : > "$rootfs/etc/machine-id"
    chroot "$rootfs" apt-get clean
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/etc/ssh/ssh_host_*
    log "importing $tag"
    tar -C "$rootfs" --numeric-owner -cf - . \
        | podman import --quiet --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$tag" >/dev/null
    rm -rf "$rootfs"
}

build_lab_image() {
    local tag base
    build_base
    base=$(base_tag)
    tag=$(lab_tag)
    if image_exists "$tag"; then
        log "lab image $tag is cached"
    else
        log "building $tag"
        podman build --quiet --build-arg "BASE=$base" -t "$tag" -f "$LAB_DIR/image/Containerfile" "$LAB_DIR/image" \
            > "$STATE_DIR/build-lab.log" 2>&1 || { tail -n 20 "$STATE_DIR/build-lab.log" >&2; die "podman build failed"; }
        prune_images "$IMAGE_REPO" "$tag"
        prune_images "$BASE_REPO" "$base"
    fi
    printf '%s\n' "$tag"
}

# Drop older tags of a repository that no container or child image uses (podman refuses to remove those).
prune_images() {
    local repo=$1 keep=$2 old
    for old in $(podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$repo"); do
        [ "$old" = "$keep" ] || podman rmi "$old" >/dev/null 2>&1 || true
    done
}
