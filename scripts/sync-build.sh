#!/usr/bin/env bash
# Copy the work tree to .build/ansible_collections/azure_automation/hybrid_worker, the path ansible-test and
# ANSIBLE_COLLECTIONS_PATH need. A copy, not a symlink: ansible-test resolves the working directory physically.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/.build/ansible_collections/azure_automation/hybrid_worker"
mkdir -p "$DEST"
rsync -a --delete \
  --exclude '/.venv*' --exclude '/.build' --exclude '/.lab' --exclude '/.demo' --exclude '/.cache' \
  --exclude '/.ansible' --exclude '/.git' --exclude '__pycache__' --exclude '.pytest_cache' \
  --exclude '/tests/output' --exclude '*.egg-info' --exclude '*.tar.gz' \
  "$ROOT/" "$DEST/"
