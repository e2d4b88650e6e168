"""Run the cloud-side integration targets against a fresh local Azure emulator.

Usage: python tests/integration/run.py [--jobs N] [TARGET ...]
       (default: every target whose aliases say cloud/azure, not hidden; N targets at a time, default 4)

Each target gets an emulator of its own (`hrw-emulator serve` on 127.0.0.1, state in a temporary folder), so targets can
run side by side and a target's request-log checks see only its own requests. The emulator's ready line reaches the
target as the `hrw_test_*` extra variables described in tests/integration/README.md; the target runs as a role with
ansible-playbook (the collection from ANSIBLE_COLLECTIONS_PATH, .build by default). Prints one line per target as it
ends and a closing "integration: N passed, N failed".
"""

import argparse
import concurrent.futures
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
        unknown = [name for name in names if not (TARGETS / name).is_dir()]
        if unknown:
            raise SystemExit("integration: no such target: %s (see %s)" % (", ".join(unknown), TARGETS))
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


def stop_emulator(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_isolated(target, workdir):
    """Start an emulator for ``target``, run it, stop the emulator: (rc, seconds, log text)."""
    workdir.mkdir()
    proc, ready = start_emulator(workdir)
    try:
        extra_vars = workdir / "vars.json"
        extra_vars.write_text(json.dumps({"hrw_test_" + key: str(value) for key, value in ready.items()}))
        os.chmod(extra_vars, 0o600)
        env = dict(os.environ,
                   REQUESTS_CA_BUNDLE=str(ca_bundle(workdir, ready)),
                   ANSIBLE_ROLES_PATH=str(TARGETS),
                   ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".build")),
                   ANSIBLE_LOCAL_TEMP=str(workdir / "ansible-tmp"),
                   ANSIBLE_NOCOLOR="1")
        for key in [k for k in env if k.startswith("AZURE_")]:
            del env[key]  # the targets pass every connection option; nothing may point elsewhere
        rc, seconds, log = run_target(target, workdir, extra_vars, env)
        return rc, seconds, log.read_text(errors="replace")
    finally:
        stop_emulator(proc)


def main(argv):
    parser = argparse.ArgumentParser(description="Run the integration targets against local Azure emulators.")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("HRW_INTEGRATION_JOBS", "4")),
                        help="targets run at the same time, each with its own emulator (default 4)")
    parser.add_argument("targets", nargs="*")
    args = parser.parse_args(argv)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="hrw-integration-"))
    started = time.monotonic()
    passed, failed = [], []
    try:
        targets = selected_targets(args.targets)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(run_isolated, target, workdir / target.name): target for target in targets}
            for future in concurrent.futures.as_completed(futures):
                target = futures[future]
                try:
                    rc, seconds, text = future.result()
                except (OSError, SystemExit, ValueError) as exc:
                    rc, seconds, text = 1, 0.0, "the target could not start: %s" % exc
                recap = [line for line in text.splitlines() if line.startswith("localhost ")]
                verdict = "PASS" if rc == 0 else "FAIL"
                print("%-18s %s in %5.1fs  %s" % (target.name, verdict, seconds, recap[-1] if recap else ""), flush=True)
                if rc != 0:
                    failed.append(target.name)
                    print("".join("    | " + line + "\n" for line in text.splitlines()[-40:]), flush=True)
                else:
                    passed.append(target.name)
        print("integration: %d passed, %d failed in %.0fs (%d at a time)"
              % (len(passed), len(failed), time.monotonic() - started, max(1, args.jobs)))
        return 1 if failed or not targets else 0
    finally:
        if not os.environ.get("HRW_KEEP_INTEGRATION_DIR"):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
