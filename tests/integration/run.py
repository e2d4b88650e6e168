"""Run the cloud-side integration targets against a fresh local Azure emulator.

Usage: python tests/integration/run.py [TARGET ...]     (default: every target whose aliases say cloud/azure, not hidden)

Starts `hrw-emulator serve` on 127.0.0.1 with its state in a temporary folder, passes its ready line to each target as the
`hrw_test_*` extra variables described in tests/integration/README.md, runs each target as a role with ansible-playbook
(the collection from ANSIBLE_COLLECTIONS_PATH, .build by default), stops the emulator, and prints one line per target and
a closing "integration: N passed, N failed".
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGETS = ROOT / "tests" / "integration" / "targets"
sys.path.insert(0, str(ROOT / "tests" / "tools"))
from emulator_env import write_ca_bundle  # noqa: E402  (one CA bundle recipe for the runner, Molecule and the demo)


def aliases(target):
    path = target / "aliases"
    return set(path.read_text().split()) if path.is_file() else set()


def selected_targets(names):
    if names:
        return [TARGETS / name for name in names]
    return [t for t in sorted(TARGETS.iterdir()) if t.is_dir() and "cloud/azure" in aliases(t) and "hidden" not in aliases(t)]


def start_emulator(workdir):
    command = [shutil.which("hrw-emulator") or "hrw-emulator", "serve", "--host", "127.0.0.1", "--port", "0",
               "--state", str(workdir / "state.json")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=open(workdir / "emulator.log", "wb"), text=True)
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=10)
        raise SystemExit("integration: the emulator did not start; see %s" % (workdir / "emulator.log"))
    return proc, json.loads(line)


def ca_bundle(workdir, ready):
    bundle = workdir / "ca-bundle.pem"
    write_ca_bundle(ready, bundle)
    return bundle


def run_target(target, workdir, extra_vars, env):
    play = workdir / ("play-%s.yml" % target.name)
    play.write_text("- hosts: localhost\n  gather_facts: false\n  roles: [%s]\n" % target.name)
    log = workdir / ("%s.log" % target.name)
    command = ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", "@%s" % extra_vars,
               "-e", "ansible_python_interpreter=%s" % sys.executable, str(play)]
    started = time.monotonic()
    with open(log, "wb") as handle:
        rc = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    return rc, time.monotonic() - started, log


def main(names):
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="hrw-integration-"))
    proc, ready = start_emulator(workdir)
    try:
        extra_vars = workdir / "vars.json"
        extra_vars.write_text(json.dumps({"hrw_test_" + key: str(value) for key, value in ready.items()}))
        os.chmod(extra_vars, 0o600)
        env = dict(os.environ,
                   REQUESTS_CA_BUNDLE=str(ca_bundle(workdir, ready)),
                   ANSIBLE_ROLES_PATH=str(TARGETS),
                   ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".build")),
                   ANSIBLE_NOCOLOR="1")
        for key in [k for k in env if k.startswith("AZURE_")]:
            del env[key]  # the targets pass every connection option; nothing may point elsewhere
        passed, failed = [], []
        for target in selected_targets(names):
            rc, seconds, log = run_target(target, workdir, extra_vars, env)
            recap = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("localhost ")]
            print("%-18s %s in %5.1fs  %s" % (target.name, "PASS" if rc == 0 else "FAIL", seconds, recap[-1] if recap else ""))
            if rc != 0:
                failed.append(target.name)
                print("".join("    | " + line + "\n" for line in log.read_text(errors="replace").splitlines()[-40:]))
            else:
                passed.append(target.name)
        print("integration: %d passed, %d failed" % (len(passed), len(failed)))
        return 1 if failed else 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if not os.environ.get("HRW_KEEP_INTEGRATION_DIR"):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
