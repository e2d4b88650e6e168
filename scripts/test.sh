#!/usr/bin/env bash
# Run every quality gate of the collection; exit non-zero when any gate fails.
#
#   scripts/test.sh            all gates (what CI runs through .ci/run)
#   scripts/test.sh GATE...    only the named gates (see `scripts/test.sh --list`)
#
# Each gate writes its full output to tests/output/gates/<gate>.log; the console shows a line per gate, for a failing
# gate the lines of its log that say why (tests/tools/failure_excerpt.py) and its tail, and finally one summary line
# "gates: N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

ALL_GATES=(shellcheck ps1-parse ps1-semantic ps1-spec-parity units units-2.16 emulator integration reliability lab molecule ansible-lint
           sanity sanity-2.16 docs changelog build-importer execution-environment gate-selftest fresh-clone)

if [ "${1:-}" = "--list" ]; then printf '%s\n' "${ALL_GATES[@]}"; exit 0; fi
GATES=("$@")
[ ${#GATES[@]} -gt 0 ] || GATES=("${ALL_GATES[@]}")
is_gate() { local known; for known in "${ALL_GATES[@]}"; do [ "$known" = "$1" ] && return 0; done; return 1; }
for g in "${GATES[@]}"; do
  is_gate "$g" || { echo "test: unknown gate '$g' (see --list)" >&2; exit 2; }
done

bash scripts/setup.sh || { echo "test: set-up failed"; echo "gates: 0 passed, 1 failed"; exit 1; }

export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build"
export ANSIBLE_NOCOLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
COLL="$ROOT/.build/ansible_collections/azure_automation/hybrid_worker"
LOGS="$ROOT/tests/output/gates"
mkdir -p "$LOGS"

# ---- gates ---------------------------------------------------------------------------------------------------------
# Files git knows about (tracked and untracked-but-not-ignored): what a clean clone would have.
repo_files() { git ls-files -co --exclude-standard -- "$@"; }

gate_shellcheck() {
  mapfile -t files < <(repo_files '*.sh')
  echo "shellcheck: ${#files[@]} file(s)"
  local bad=0
  [ ${#files[@]} -eq 0 ] || shellcheck -x "${files[@]}" || bad=1
  # A clean clone takes file modes from git's index: every script that is run (not sourced, as lib/*.sh are) must be
  # executable there, or the README's own commands say "Permission denied" on a fresh machine.
  local mode file
  while read -r mode _ _ file; do
    case "$file" in */lib/*) continue ;; esac
    if [ "$mode" != 100755 ]; then
      echo "not executable in git: $file (mode $mode); fix: git update-index --chmod=+x $file" >&2
      bad=1
    fi
  done < <(git ls-files -s -- '*.sh' .ci/run)
  return "$bad"
}

gate_ps1-parse() { python tests/tools/ps1_parse_check.py; }

# What validate-modules and pslint would check if pwsh could run here: commands, parameters and types against the
# Windows Server 2019 / PowerShell 5.1 inventory (fetched by setup.sh), and each module's Ansible.Basic spec against its
# .py DOCUMENTATION.
gate_ps1-semantic() { python tests/tools/ps1_semantic_check.py; }
gate_ps1-spec-parity() { python tests/tools/ps1_spec_parity.py; }

# pytest for the collection's unit tests, from the ansible_collections copy so imports resolve by FQCN.
run_units() {
  local venv=$1
  scripts/sync-build.sh
  (cd "$COLL" && PYTHONPATH="$ROOT/.build" "$ROOT/$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit)
}
gate_units() { run_units .venv; }
gate_units-2.16() { run_units .venv-2.16; }

gate_emulator() {
  [ -d tests/emulator/tests ] || { echo "no emulator tests yet"; return 1; }
  python -m pytest -q -p no:cacheprovider tests/emulator/tests
}

gate_integration() { python tests/integration/run.py; }

# Emulator killed mid-run, cut-off and lost answers, concurrent slices, a SIGKILLed controller (tests/reliability/run.py).
gate_reliability() { scripts/sync-build.sh && python tests/reliability/run.py; }

gate_lab() {
  [ -d tests/lab/tests ] || { echo "no lab tests yet"; return 1; }
  python -m pytest -q -p no:cacheprovider tests/lab/tests
}

gate_molecule() { bash extensions/molecule/run.sh; }

gate_ansible-lint() { ansible-lint --profile production --offline; }

# ansible-test sanity in --venv mode. validate-modules and pslint need pwsh for .ps1 modules, which cannot be
# installed here: run everything else on the whole collection, then validate-modules on the Python modules.
run_sanity() {
  local venv=$1 python=$2
  scripts/sync-build.sh
  (
    cd "$COLL" || exit 1
    export PATH="$ROOT/$venv/bin:$PATH"
    ansible-test --version
    ansible-test sanity --venv --python "$python" --color no --skip-test validate-modules --skip-test pslint || exit 1
    mapfile -t pymods < <(ls plugins/modules/*.py 2>/dev/null)
    if [ ${#pymods[@]} -gt 0 ]; then
      ansible-test sanity --venv --python "$python" --color no --test validate-modules "${pymods[@]}" || exit 1
    fi
  )
}
gate_sanity() { run_sanity .venv "$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"; }
gate_sanity-2.16() { run_sanity .venv-2.16 3.11; }

gate_docs() {
  scripts/sync-build.sh
  antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all --disallow-unknown-collection-refs "$COLL"
}

gate_changelog() { antsibull-changelog lint; }

# Build the tarball, check that nothing but collection content went in, then run galaxy-importer on it.
gate_build-importer() {
  local out="$ROOT/tests/output/build" tarball
  rm -rf "$out"; mkdir -p "$out"
  scripts/sync-build.sh
  (cd "$COLL" && ansible-galaxy collection build --force --output-path "$out") || return 1
  tarball=$(ls "$out"/azure_automation-hybrid_worker-*.tar.gz) || return 1
  echo "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(tar -tzf "$tarball" | wc -l) entries)"
  if tar -tzf "$tarball" | grep -E '(^|/)(\.venv[^/]*|\.build|\.lab|\.git|__pycache__|\.pytest_cache|output|emulator|lab|unit|molecule|\.ansible)(/|$)'; then
    echo "the tarball contains files that are not collection content (listed above)"; return 1
  fi
  (cd "$out" && "$ROOT/.venv-importer/bin/python" -m galaxy_importer.main "$tarball") > "$out/importer.log" 2>&1
  local rc=$?
  cat "$out/importer.log"
  [ $rc -eq 0 ] || return 1
  if grep -qE '^(ERROR|CRITICAL)' "$out/importer.log"; then echo "galaxy-importer reported errors"; return 1; fi
}

# An execution environment that installs this collection: ansible-builder must find our requirements and create a context.
gate_execution-environment() {
  local ee="$ROOT/tests/output/ee"
  rm -rf "$ee"; mkdir -p "$ee"
  ansible-builder introspect --sanitize "$ROOT/.build" > "$ee/introspect.txt" || return 1
  cat "$ee/introspect.txt"
  grep -q 'azure-mgmt-automation' "$ee/introspect.txt" || { echo "introspection did not find requirements.txt"; return 1; }
  (cd "$COLL" && ansible-galaxy collection build --force --output-path "$ee" >/dev/null) || return 1
  cat > "$ee/execution-environment.yml" <<EOF
---
version: 3
dependencies:
  ansible_core:
    package_pip: ansible-core>=2.16
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: $(basename "$(ls "$ee"/*.tar.gz)")
        type: file
EOF
  (cd "$ee" && ansible-builder create -f execution-environment.yml --context context) || return 1
  ls "$ee/context"
}

# The gates above can fail: break a scratch copy in one way each (doc reference, lint rule, .ps1 syntax, shell warning,
# a script not executable in git, a misspelled cmdlet/parameter/type, a .ps1 spec that drifts from its DOCUMENTATION)
# and see it caught.
gate_gate-selftest() {
  scripts/sync-build.sh
  python -m pytest -q -p no:cacheprovider tests/tools/test_gates_catch_breakage.py tests/tools/test_failure_excerpt.py \
    tests/tools/test_ps1_semantic_check.py tests/tools/test_ps1_spec_parity.py
}

# The README's first command on a fresh clone: clone the committed HEAD (uncommitted changes are not in it) into a
# temporary folder with no shared/ beside or above it, run scripts/demo.sh there on a lab instance of its own (the lab
# image is cached by hash, so it is reused), then tear that lab down.
gate_fresh-clone() {
  local tmp dir rc=0 instance=freshclone
  tmp=$(mktemp -d /tmp/hrw-fresh-clone.XXXXXX) || return 1
  dir=$tmp/repo
  while [ "$dir" != / ]; do
    dir=$(dirname "$dir")
    if [ -e "$dir/shared" ]; then echo "fresh-clone: $dir/shared exists, so the clone would not be fresh"; rm -rf "$tmp"; return 1; fi
  done
  HRW_LAB_INSTANCE=$instance tests/lab/lab.sh down >/dev/null 2>&1 || true  # hosts an interrupted run left behind
  git clone -q --no-local "$ROOT" "$tmp/repo" || { rm -rf "$tmp"; return 1; }
  echo "fresh-clone: $(git -C "$tmp/repo" log -1 --format='%h %s') (committed HEAD only) in $tmp/repo"
  (cd "$tmp/repo" && env -u HRW_AZURE_SPECS HRW_LAB_INSTANCE=$instance scripts/demo.sh) || rc=1
  (cd "$tmp/repo" && env -u HRW_AZURE_SPECS HRW_LAB_INSTANCE=$instance scripts/demo.sh down) || rc=1
  rm -rf "$tmp"
  [ $rc -eq 0 ] && echo "fresh-clone: checked scripts/demo.sh on a fresh clone (lab instance $instance)"
  return $rc
}

# ---- runner ----------------------------------------------------------------------------------------------------------
passed=0; failed=0; failed_names=()
start_all=$(date +%s)
for g in "${GATES[@]}"; do
  log="$LOGS/$g.log"
  t0=$(date +%s)
  printf '=== gate %-22s ' "$g"
  "gate_$g" > "$log" 2>&1
  rc=$?
  dt=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    summary=$(grep -E '([0-9]+ (passed|failed|error))|(ok=[0-9]+)|checked|Passed|built ' "$log" | tail -n 1)
    printf 'PASS (%ss) %s\n' "$dt" "$summary"
  else
    failed=$((failed + 1)); failed_names+=("$g")
    printf 'FAIL (%ss, exit %s) - why, from %s:\n' "$dt" "$rc" "${log#"$ROOT"/}"
    python3 tests/tools/failure_excerpt.py "$log" | sed 's/^/    ! /'
    echo "    last lines:"
    tail -n 40 "$log" | cut -c1-300 | sed 's/^/    | /'
  fi
done
echo "=== total time $(( $(date +%s) - start_all ))s; logs in tests/output/gates/"
[ $failed -eq 0 ] || echo "=== failed gates: ${failed_names[*]}"
echo "gates: $passed passed, $failed failed"
[ $failed -eq 0 ]
