#!/usr/bin/env bash
# Copy the work tree to .build/ansible_collections/azure_automation/hybrid_worker, the path ansible-test and
# ANSIBLE_COLLECTIONS_PATH need. A copy, not a symlink to the work tree: ansible-test resolves the working directory
# physically. The copy lives outside the work tree (in the user's cache) and .build links to it, because inside the
# git work tree ansible-test would list files through git, which ignores .build, and find no targets.
# The project's test infrastructure (emulator, lab, tools, benchmarks, scripts) is not collection content and is left out,
# so ansible-test sanity judges what the collection ships plus its unit and integration tests.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/azure_automation.hybrid_worker/build-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
if [ ! -L "$ROOT/.build" ] || [ "$(readlink "$ROOT/.build")" != "$CACHE" ]; then
  rm -rf "$ROOT/.build"
  mkdir -p "$CACHE"
  ln -s "$CACHE" "$ROOT/.build"
fi
DEST="$CACHE/ansible_collections/azure_automation/hybrid_worker"
mkdir -p "$DEST"
rsync -a --delete --delete-excluded --filter 'P /tests/output/' \
  --exclude '/.venv*' --exclude '/.build' --exclude '/.lab' --exclude '/.demo' --exclude '/.cache' \
  --exclude '/.ansible' --exclude '/.git' --exclude '__pycache__' --exclude '.pytest_cache' \
  --exclude '/tests/output' --exclude '*.egg-info' --exclude '*.tar.gz' \
  --exclude '/tests/emulator' --exclude '/tests/lab' --exclude '/tests/tools' --exclude '/tests/benchmarks' --exclude '/scripts' \
  "$ROOT/" "$DEST/"
