"""Reliability scenarios: the collection against real emulators that are killed, cut off and raced.

Usage: python tests/reliability/run.py [--keep] [--jobs N] [SCENARIO ...]
       (default: all, two at a time; names: restart, faults, slices, sigkill)

Every scenario starts its own ``hrw-emulator`` (state in a temporary folder), runs ``hrw_register`` in its fleet form
through ``ansible-playbook`` (the collection from ANSIBLE_COLLECTIONS_PATH, .build by default; run scripts/sync-build.sh
first) and then reads the truth from the emulator's admin API. It prints per scenario:

* duplicates: worker records beyond the first for one machine (anywhere in the account);
* orphans: a HybridWorker extension on a machine that has no worker record, or a record whose machine has no extension;
* missing: machines that should be workers of the scenario's group and are not;
* errors: runs that failed (task failures, failed machines), extensions of wanted workers that did not end Succeeded,
  and machines that were to be removed but still have a record or an extension.

All four must be 0 after the first run (once ARM is back). Scenarios:

* restart: the emulator is killed (SIGKILL) mid fleet-run and restarted on the same port with the same --state, and
  forgets the operations that were running (their status URLs answer 404, as ARM's may);
* faults: 20% of ARM answers cut off half-way and 20% of write answers lost (the write applied, the connection dropped);
* slices: four concurrent slices of one sliced job, two deploying into a group while two remove their workers and then
  the emptied group (the remove_hrw.yml sequence: hrw_register absent, then hrw_group absent with only_if_empty;
  the deployers follow deploy_hrw.yml: hrw_group, then hrw_register with recreate_group);
* sigkill: the controller's process group is SIGKILLed mid-run (the module goes on in its own session); a re-run
  started at once converges, also while the orphaned module is still writing.

Closing line: "reliability: N passed, N failed". Exit status 1 when a scenario failed.
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "tools"))
from emulator_env import write_ca_bundle  # noqa: E402

PUBLISHER = "microsoft.azure.automation.hybridworker"
PLAY_TIMEOUT = 240


# ---- emulator ------------------------------------------------------------------------------------------------------
class Emulator(object):
    def __init__(self, workdir, *args):
        self.workdir = workdir
        self.args = list(args)
        self.port = 0
        self.proc = None
        self.ready = None
        self.start()

    def start(self):
        command = [sys.executable, "-m", "hrw_emulator.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--state", str(self.workdir / "state.json"), "--lro-seconds", "1"] + self.args
        log = open(self.workdir / "emulator.log", "ab")
        started = time.monotonic()
        while True:
            self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
            line = self.proc.stdout.readline()
            if line:
                break
            self.proc.wait(timeout=10)
            if time.monotonic() - started > 20:  # a restart may find the port in use for a moment
                raise RuntimeError("the emulator did not start; see %s" % (self.workdir / "emulator.log"))
            time.sleep(0.5)
        self.ready = json.loads(line)
        self.port = int(self.ready["arm_endpoint"].rsplit(":", 1)[1])
        self.context = ssl.create_default_context(cafile=self.ready["ca_bundle"])

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request("%s/%s" % (self.ready["admin_url"], path), data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def vms(self, prefix, count):
        return self.admin("POST", "vms", {"count": count, "prefix": prefix})["ids"]

    def resources(self):
        return self.admin("GET", "state")["resources"]


# ---- ansible-playbook ----------------------------------------------------------------------------------------------
def write_play(path, tasks):
    """A play on localhost whose tasks are (module, args, register_name or None); each result is saved as JSON."""
    lines = ["- hosts: localhost", "  gather_facts: false", "  module_defaults:",
             "    group/azure_automation.hybrid_worker.hrw: \"{{ hrw_azure }}\"", "  tasks:"]
    for index, (module, args, when) in enumerate(tasks):
        name = "step%d" % index
        lines += ["    - name: %s %s" % (name, module),
                  "      azure_automation.hybrid_worker.%s: %s" % (module, json.dumps(args)),
                  "      register: %s" % name,
                  "      ignore_errors: true"]
        if when:
            lines.append("      when: %s" % when)
        lines += ["    - name: save %s" % name,
                  "      ansible.builtin.copy:",
                  "        content: \"{{ %s | to_json }}\"" % name,
                  "        dest: \"{{ out_dir }}/%s.json\"" % name,
                  "        mode: \"0600\"",
                  "    - name: stop on a failed %s" % name,
                  "      ansible.builtin.fail:",
                  "        msg: \"{{ %s.msg | default('failed') }}\"" % name,
                  "      when: %s is failed" % name]
    path.write_text("\n".join(lines) + "\n")


class Run(object):
    """One ansible-playbook in its own process group (so that the sigkill scenario can kill all of it)."""

    def __init__(self, scenario, name, tasks):
        self.dir = scenario.workdir / name
        self.dir.mkdir()
        play = self.dir / "play.yml"
        write_play(play, tasks)
        self.log = self.dir / "ansible.log"
        command = ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", "@%s" % scenario.vars_file,
                   "-e", "out_dir=%s" % self.dir, "-e", "ansible_python_interpreter=%s" % sys.executable, str(play)]
        with open(self.log, "wb") as handle:
            self.proc = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=scenario.env, cwd=str(ROOT),
                                         start_new_session=True)
        self.started = time.monotonic()

    def wait(self, timeout=PLAY_TIMEOUT):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return -9

    def results(self):
        out = []
        for path in sorted(self.dir.glob("step*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except ValueError:
                out.append({"failed": True, "msg": "unreadable result %s" % path.name})
        return out

    def errors(self):
        """Failure messages of this run: failed tasks and failed machines."""
        found = []
        if self.proc.returncode != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-6:]
            found.append("ansible-playbook exit %s: %s" % (self.proc.returncode, " | ".join(tail)[-400:]))
        for result in self.results():
            for worker in result.get("workers") or []:
                if worker.get("failed"):
                    found.append("%s: %s" % (worker.get("vm_resource_id"), worker.get("msg")))
            if result.get("failed") and not result.get("workers"):
                found.append(str(result.get("msg"))[:400])
        return found


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "(gone)"


def own_processes(marker):
    """Pids whose command line names ``marker`` (this scenario's temporary folder): modules left by a killed controller."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                cmdline = handle.read().decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and int(entry) != os.getpid():
            pids.append(int(entry))
    return pids


# ---- scenarios -----------------------------------------------------------------------------------------------------
class Scenario(object):
    def __init__(self, name, root, *emulator_args):
        self.name = name
        self.workdir = root / name
        self.workdir.mkdir()
        self.emu = Emulator(self.workdir, *emulator_args)
        ready = self.emu.ready
        bundle = self.workdir / "ca-bundle.pem"
        write_ca_bundle(ready, bundle)
        self.vars_file = self.workdir / "vars.json"
        self.vars_file.write_text(json.dumps({"hrw_azure": {
            "subscription_id": ready["subscription_id"], "client_id": ready["client_id"], "secret": ready["client_secret"],
            "tenant": ready["tenant_id"], "cloud_environment": ready["metadata_url"],
            "resource_group": ready["resource_group"], "automation_account": ready["automation_account"]}}))
        os.chmod(self.vars_file, 0o600)
        self.env = dict(os.environ, REQUESTS_CA_BUNDLE=str(bundle), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".build")),
                        ANSIBLE_LOCAL_TEMP=str(self.workdir / "ansible-local"),
                        ANSIBLE_REMOTE_TEMP=str(self.workdir / "ansible-remote"))
        for key in [k for k in self.env if k.startswith("AZURE_")]:
            del self.env[key]
        self.errors = []
        self.notes = []

    def register(self, group, machines, concurrency=6, state="present", ensure_group=False):
        """The deploy_hrw.yml sequence: the group ensured, then one fleet call that re-creates it if it vanished."""
        tasks = [("hrw_group", {"name": group}, None)] if ensure_group else []
        options = {"group": group, "state": state, "concurrency": concurrency, "wait_timeout": 150,
                   "workers": [{"vm_resource_id": m} for m in machines]}
        if ensure_group and state == "present":
            options["recreate_group"] = True
        tasks.append(("hrw_register", options, None))
        return tasks

    def check(self, group, wanted, removed=()):
        """(duplicates, orphans, missing, errors) of the account now; errors also holds the runs' errors."""
        resources = self.emu.resources()
        records, extensions = {}, {}
        for body in resources:
            rid = str(body.get("id") or "").lower()
            props = body.get("properties") or {}
            if "/hybridrunbookworkers/" in rid:
                records.setdefault(str(props.get("vmResourceId") or "").lower(), []).append(rid.split("/hybridrunbookworkergroups/")[1])
            elif "/extensions/" in rid and str(props.get("publisher") or "").lower() == PUBLISHER:
                extensions[rid.rsplit("/extensions/", 1)[0]] = props.get("provisioningState")
        duplicates = sum(len(v) - 1 for k, v in records.items() if k)
        orphans = len([m for m in extensions if m not in records]) + len([m for m in records if m and m not in extensions])
        prefix = group.lower() + "/"
        missing = [m for m in wanted if not any(r.startswith(prefix) for r in records.get(m.lower(), []))]
        errors = list(self.errors)
        errors += ["%s: extension %s" % (m, extensions.get(m.lower())) for m in wanted
                   if m.lower() in extensions and extensions[m.lower()] != "Succeeded"]
        errors += ["%s: still has a record or an extension" % m for m in removed if m.lower() in records or m.lower() in extensions]
        return duplicates, orphans, missing, errors


def scenario_restart(root):
    s = Scenario("restart", root)
    machines = s.emu.vms("rs", 16)
    run = Run(s, "first", s.register("rel-restart", machines, ensure_group=True))
    # Kill once the run is writing: some records exist, most do not yet.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and run.proc.poll() is None:
        if len([r for r in s.emu.resources() if "/hybridrunbookworkers/" in str(r.get("id", "")).lower()]) >= 4:
            break
        time.sleep(0.2)
    s.emu.kill()
    down = time.monotonic()
    time.sleep(3)
    s.emu.start()  # same port, same --state
    s.notes.append("emulator down %.1fs" % (time.monotonic() - down))
    # Like ARM after a failover, the restarted emulator no longer knows the operations that were running.
    s.notes.append("%d operations forgotten" % len(s.emu.admin("POST", "forget-operations")["forgotten"]))
    run.wait()
    s.errors += run.errors()
    return s, s.check("rel-restart", machines)


def scenario_faults(root):
    s = Scenario("faults", root, "--fault-seed", "8")
    machines = s.emu.vms("fl", 16)
    s.emu.admin("POST", "settings", {"cutOffRate": 0.2, "loseAnswerRate": 0.2})
    run = Run(s, "first", s.register("rel-faults", machines, ensure_group=True))
    run.wait()
    s.emu.admin("POST", "settings", {"cutOffRate": 0, "loseAnswerRate": 0})
    faults = [r for r in s.emu.admin("GET", "requests") if r.get("network_fault")]
    cut = len([r for r in faults if r["network_fault"] == "cut"])
    lost = len([r for r in faults if r["network_fault"] == "lose"])
    s.notes.append("%d answers cut off, %d lost" % (cut, lost))
    s.errors += run.errors()
    return s, s.check("rel-faults", machines)


def scenario_slices(root):
    s = Scenario("slices", root, "--latency-ms", "5")
    group = "rel-slices"
    leaving_a, leaving_b = s.emu.vms("la", 3), s.emu.vms("lb", 3)
    coming_a, coming_b = s.emu.vms("ca", 3), s.emu.vms("cb", 3)
    setup = Run(s, "setup", s.register(group, leaving_a + leaving_b, ensure_group=True))
    if setup.wait() != 0:
        s.errors += ["set-up: " + e for e in setup.errors()]
        return s, s.check(group, [], leaving_a + leaving_b)

    def remover(machines):
        return [("hrw_register", {"group": group, "state": "absent", "workers": [{"vm_resource_id": m} for m in machines]}, None),
                ("hrw_group", {"name": group, "state": "absent", "only_if_empty": True}, None)]

    # The removers start first; the deployers start as soon as the removers have taken their workers out, which is
    # when a sliced job's slices overlap worst: the group looks empty to the removers while the deployers ensure it.
    removers = [Run(s, "remove-a", remover(leaving_a)), Run(s, "remove-b", remover(leaving_b))]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all((r.dir / "step0.json").exists() or r.proc.poll() is not None
                                                  for r in removers):
        time.sleep(0.1)
    runs = removers + [Run(s, "deploy-a", s.register(group, coming_a, ensure_group=True)),
                       Run(s, "deploy-b", s.register(group, coming_b, ensure_group=True))]
    for run in runs:
        run.wait()
        s.errors += ["%s: %s" % (run.dir.name, e) for e in run.errors()]
    return s, s.check(group, coming_a + coming_b, leaving_a + leaving_b)


def scenario_sigkill(root):
    s = Scenario("sigkill", root)
    machines = s.emu.vms("sk", 12)
    tasks = s.register("rel-sigkill", machines, concurrency=4, ensure_group=True)
    first = Run(s, "killed", tasks)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and first.proc.poll() is None:
        if len([r for r in s.emu.resources() if "/hybridrunbookworkers/" in str(r.get("id", "")).lower()]) >= 6:
            break
        time.sleep(0.2)
    os.killpg(first.proc.pid, signal.SIGKILL)  # the controller and everything in its process group
    first.proc.wait()
    marker = str(s.workdir / "ansible-remote")  # where the modules of this scenario's runs are copied and run from
    orphans_at_kill = own_processes(marker)
    second = Run(s, "rerun", tasks)
    second.wait()
    s.errors += ["re-run: " + e for e in second.errors()]
    waited = time.monotonic()
    while own_processes(marker) and time.monotonic() - waited < 90:
        time.sleep(0.5)  # the orphaned module finishes on its own; the state is judged after it
    s.notes.append("%d orphaned module process(es) after the kill, all gone %.0fs after the re-run"
                   % (len(orphans_at_kill), time.monotonic() - waited))
    leftover = own_processes(marker)
    if leftover:
        s.errors.append("processes of the killed run still running: %s" % "; ".join(
            "%d %s" % (pid, _cmdline(pid)[:200]) for pid in leftover))
    return s, s.check("rel-sigkill", machines)


SCENARIOS = {"restart": scenario_restart, "faults": scenario_faults, "slices": scenario_slices, "sigkill": scenario_sigkill}


def main(argv):
    parser = argparse.ArgumentParser(description="Run the reliability scenarios against local emulators.")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, state, results)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("HRW_RELIABILITY_JOBS", "2")),
                        help="scenarios run at the same time, each with its own emulator (default 2)")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="any of: %s (default: all)" % ", ".join(SCENARIOS))
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error("unknown scenario(s): %s (known: %s)" % (", ".join(unknown), ", ".join(SCENARIOS)))
    names = args.scenarios or list(SCENARIOS)
    root = pathlib.Path(tempfile.mkdtemp(prefix="hrw-reliability-"))
    started = time.monotonic()
    lock = threading.Lock()
    verdicts = []

    def one(name):
        t0 = time.monotonic()
        scenario = None
        try:
            scenario, (duplicates, orphans, missing, errors) = SCENARIOS[name](root)
        except Exception as exc:  # a scenario that cannot run counts as failed, the others still run
            duplicates = orphans = 0
            missing, errors = [], ["the scenario could not run: %s: %s" % (type(exc).__name__, exc)]
        finally:
            if scenario is not None:
                scenario.emu.stop()
        ok = not (duplicates or orphans or missing or errors)
        lines = ["%-8s %s in %5.1fs  duplicates=%d orphans=%d missing=%d errors=%d%s" % (
            name, "PASS" if ok else "FAIL", time.monotonic() - t0, duplicates, orphans, len(missing), len(errors),
            ("  (%s)" % "; ".join(scenario.notes)) if scenario is not None and scenario.notes else "")]
        lines += ["    | %s" % line[:600] for line in (["missing: %s" % m for m in missing[:5]] + errors[:8])]
        with lock:
            verdicts.append(ok)
            print("\n".join(lines), flush=True)

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            list(pool.map(one, names))
        passed, failed = verdicts.count(True), verdicts.count(False)
        elapsed = time.monotonic() - started
        print("reliability: %d passed, %d failed in %.0fs (%d at a time)" % (passed, failed, elapsed, max(1, args.jobs)))
        return 1 if failed else 0
    finally:
        if args.keep:
            print("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
