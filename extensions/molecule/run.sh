#!/usr/bin/env bash
# Run every Molecule scenario on a lab of its own (lab instance HRW_MOLECULE_INSTANCE, default mol): start the local Azure emulator on the lab
# network, export what the cloud-side modules read (AZURE_* variables, REQUESTS_CA_BUNDLE with the emulator's CA added to
# the system bundle), run `molecule test --all`, and stop the emulator whatever happens.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# Another instance name (HRW_MOLECULE_INSTANCE=<name>, [a-z][a-z0-9]{0,15}) runs beside a run on "mol": hosts
# hrw-lab-<name>-1..2, emulator and state in .lab/instances/<name>/.
export HRW_LAB_INSTANCE=${HRW_MOLECULE_INSTANCE:-mol}
[[ "$HRW_LAB_INSTANCE" =~ ^[a-z][a-z0-9]{0,15}$ ]] || { echo "molecule: HRW_MOLECULE_INSTANCE must match [a-z][a-z0-9]{0,15}" >&2; exit 2; }
export PATH="$ROOT/.venv/bin:$PATH"
STATE="$ROOT/.lab/instances/$HRW_LAB_INSTANCE"

cleanup() { tests/lab/emulator.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

# A fresh emulator state for every run.
tests/lab/emulator.sh stop >/dev/null 2>&1 || true
rm -rf "$STATE/emulator"
# An awkward client secret on purpose: one that starts with "-" (a random URL-safe secret does, 1 time in 64, and a
# command-line parser may take it for an option) and holds shell and JSON characters.
HRW_EMULATOR_CLIENT_SECRET=$(python3 -c 'import secrets; print("-" + secrets.token_urlsafe(18) + "~.$\x27\"x")')
export HRW_EMULATOR_CLIENT_SECRET
tests/lab/emulator.sh start
unset HRW_EMULATOR_CLIENT_SECRET
# shellcheck source=/dev/null
. <(python3 tests/tools/emulator_env.py "$STATE/emulator.json" "$STATE/ca-bundle.pem")

# Molecule keeps its state (instances created, scenarios converged) in an ephemeral directory that by default is named
# after the project folder's base name under ~/.ansible/tmp, so every clone called "main" would share it, and an
# interrupted run would make the next one skip `create`. Keep it with this lab instance and start it empty, like the
# emulator.
export MOLECULE_EPHEMERAL_DIRECTORY="$STATE/molecule"
rm -rf "$MOLECULE_EPHEMERAL_DIRECTORY"

scripts/sync-build.sh
# Verbose on purpose: the run must not show the service principal secret (used by azcmagent connect) even then.
LOG="$STATE/molecule.log"
ANSIBLE_VERBOSITY=3 molecule test --all 2>&1 | tee "$LOG"
# Look for the secret's random core (after the leading "-"): any copy of the secret holds it, even one whose quote
# characters were escaped (JSON, repr).
if grep -qF -- "${AZURE_SECRET:1:24}" "$LOG"; then
  echo "SECRET LEAK: the client secret appears in the Molecule output ($LOG)" >&2
  exit 1
fi
echo "secret check: the client secret does not appear in $(wc -l < "$LOG") lines of Molecule output (verbosity 3)"
