#!/usr/bin/env bash
# The main job on the embedded default: start the local Azure emulator and a lab of 3 Debian 12 hosts (podman), then run
# azure_automation.hybrid_worker.deploy_hrw on them, ending with each host's health summary. Idempotent: a second run
# reuses the emulator's state and the hosts, and the playbook reports no changes.
#
#   scripts/demo.sh          deploy (set-up included)
#   scripts/demo.sh down     remove the lab hosts and stop the emulator
#   extra arguments after "--" go to ansible-playbook, e.g.  scripts/demo.sh -- --check --diff
#
# HRW_LAB_INSTANCE=<name> uses a separate lab, as tests/lab does: hosts hrw-lab-<name>-1..3, emulator and state in
# .lab/instances/<name>/ (default: hosts hrw-lab-1..3, state in .lab/).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [ -n "${HRW_LAB_INSTANCE:-}" ]; then
  [[ "$HRW_LAB_INSTANCE" =~ ^[a-z][a-z0-9]{0,15}$ ]] || { echo "demo: HRW_LAB_INSTANCE must match [a-z][a-z0-9]{0,15}" >&2; exit 2; }
  STATE=.lab/instances/$HRW_LAB_INSTANCE
else
  STATE=.lab
fi

if [ "${1:-}" = down ]; then
  tests/lab/lab.sh down
  tests/lab/emulator.sh stop
  exit 0
fi
[ "${1:-}" = "--" ] && shift
[ $# -eq 0 ] || [ "${1:0:1}" = "-" ] || { echo "usage: scripts/demo.sh [down | -- ANSIBLE-PLAYBOOK-ARGS]" >&2; exit 2; }

bash scripts/setup.sh --only main
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build"
export ANSIBLE_DISPLAY_SKIPPED_HOSTS=false

tests/lab/emulator.sh start
# shellcheck source=/dev/null
. <(python3 tests/tools/emulator_env.py "$ROOT/$STATE/emulator.json" "$ROOT/$STATE/ca-bundle.pem")
tests/lab/lab.sh up 3 --emulator-json "$STATE/emulator.json"

echo "demo: running azure_automation.hybrid_worker.deploy_hrw against the emulator (${HRW_ARM_ENDPOINT})"
ansible-playbook -i "$STATE/inventory.yml" -i scripts/demo/inventory.yml azure_automation.hybrid_worker.deploy_hrw "$@"
