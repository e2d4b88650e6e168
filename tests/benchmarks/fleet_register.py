#!/usr/bin/env python3
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet registration against hrw-emulator under ARM's write throttle: requests, wall time, ratio to the lower bound.

For each N (default 10, 100, 1000) a fresh emulator is started with ``--throttle-writes 200:10``, N Azure VMs are
created through its admin API, one group is created, and ``hrw_register`` (fleet form, ``workers:``) runs twice through
``ansible-playbook``: a first run and a re-run. The emulator's request log gives the ARM reads and writes (accepted, and
attempts including throttled ones). The lower bound of a run is what the write bucket allows at best:
``max(0, accepted writes - burst) / refill rate`` seconds.

    python tests/benchmarks/fleet_register.py [--sizes 10,100,1000] [--concurrency 32] [--throttle-writes 200:10]

Needs: ansible-core, the collection's requirements, and hrw-emulator (``pip install -e tests/emulator``) in this Python.
"""

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAY = """- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/azure_automation.hybrid_worker.hrw: "{{ conn }}"
  tasks:
    - name: Ensure the group
      azure_automation.hybrid_worker.hrw_group:
        name: "{{ group }}"
      when: create_group | default(false) | bool
    - name: Register the fleet
      azure_automation.hybrid_worker.hrw_register:
        group: "{{ group }}"
        workers: "{{ workers }}"
        concurrency: "{{ concurrency }}"
      when: not (create_group | default(false) | bool)
      register: fleet
    - name: Keep the module's own counters
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'summary': fleet.summary, 'arm_requests': fleet.arm_requests} | to_json }}"
        mode: "0600"
      when: not (create_group | default(false) | bool)
"""


class Emulator(object):
    def __init__(self, workdir, throttle):
        self.workdir = workdir
        command = [sys.executable, "-m", "hrw_emulator.cli", "serve", "--port", "0", "--state",
                   os.path.join(workdir, "state.json"), "--throttle-writes", throttle]
        if shutil.which("hrw-emulator"):
            command = [shutil.which("hrw-emulator")] + command[3:]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=open(os.path.join(workdir, "emulator.log"), "w"),
                                     text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("hrw-emulator did not start; see %s/emulator.log" % workdir)
        self.info = json.loads(line)
        self.context = ssl.create_default_context(cafile=self.info["ca_bundle"])

    def admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.info["admin_url"] + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.context, timeout=120) as response:
            return json.loads(response.read() or b"null")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def counts(entries):
    arm = [e for e in entries if e.get("area") == "arm"]
    writes = [e for e in arm if e["method"] != "GET"]
    return {
        "reads": sum(1 for e in arm if e["method"] == "GET" and e["status"] < 400),
        "writes": sum(1 for e in writes if e["status"] < 400),
        "write_attempts": len(writes),
        "throttled": sum(1 for e in arm if e["status"] == 429),
    }


def collection_path(workdir):
    base = os.path.join(workdir, "collections")
    target = os.path.join(base, "ansible_collections", "azure_automation")
    os.makedirs(target)
    os.symlink(ROOT, os.path.join(target, "hybrid_worker"))
    return base


def playbook(workdir, env, extra):
    path = os.path.join(workdir, "extra.json")
    with open(path, "w") as handle:
        json.dump(extra, handle)
    command = [sys.executable, "-m", "ansible.cli.playbook", "-i", "localhost,", "-c", "local", "-e", "@" + path,
               os.path.join(workdir, "play.yml")]
    started = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-2000:])
        raise SystemExit("ansible-playbook failed (rc %s)" % proc.returncode)
    return elapsed


def bench(size, args):
    workdir = tempfile.mkdtemp(prefix="hrw-bench-%d-" % size)
    emulator = Emulator(workdir, args.throttle_writes)
    burst, rate = (float(x) for x in args.throttle_writes.split(":"))
    try:
        info = emulator.info
        with open(os.path.join(workdir, "play.yml"), "w") as handle:
            handle.write(PLAY)
        bundle = os.path.join(workdir, "bundle.pem")
        with open(bundle, "w") as out:
            for name in (ssl.get_default_verify_paths().cafile or "", info["ca_bundle"]):
                if name and os.path.exists(name):
                    with open(name) as src:
                        out.write(src.read())
        env = dict(os.environ, REQUESTS_CA_BUNDLE=bundle, ANSIBLE_COLLECTIONS_PATH=collection_path(workdir),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_LOCALHOST_WARNING="0")
        for key in [k for k in env if k.startswith("AZURE_")]:
            del env[key]
        conn = {"subscription_id": info["subscription_id"], "client_id": info["client_id"], "secret": info["client_secret"],
                "tenant": info["tenant_id"], "cloud_environment": info["metadata_url"],
                "resource_group": info["resource_group"], "automation_account": info["automation_account"]}
        ids = emulator.admin("POST", "/vms", {"count": size, "prefix": "bench"})["ids"]
        workers = [{"vm_resource_id": vm} for vm in ids]
        base = {"conn": conn, "group": "bench", "workers": workers, "concurrency": args.concurrency}
        playbook(workdir, env, dict(base, create_group=True, out=os.devnull))
        rows = []
        for run in ("first run", "re-run"):
            emulator.admin("POST", "/settings", {"throttleWrites": args.throttle_writes})  # a full bucket for each run
            emulator.admin("DELETE", "/requests")
            out = os.path.join(workdir, "result-%s.json" % run.replace(" ", ""))
            wall = playbook(workdir, env, dict(base, out=out))
            seen = counts(emulator.admin("GET", "/requests"))
            with open(out) as handle:
                module = json.load(handle)
            bound = max(0.0, seen["writes"] - burst) / rate if rate else 0.0
            rows.append(dict(seen, size=size, run=run, wall=wall, bound=bound, ratio=(wall / bound) if bound else None,
                             changed=module["summary"]["changed"], failed=module["summary"]["failed"],
                             retries=module["arm_requests"]["retries"]))
        return rows
    finally:
        emulator.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--throttle-writes", default="200:10")
    args = parser.parse_args()
    header = "%6s  %-9s  %7s  %7s  %7s  %9s  %7s  %7s  %8s  %9s  %6s" % (
        "N", "run", "changed", "reads", "writes", "attempts", "429s", "retries", "wall s", "bound s", "ratio")
    print("throttle-writes %s, concurrency %d" % (args.throttle_writes, args.concurrency))
    print(header)
    for size in (int(s) for s in args.sizes.split(",")):
        for row in bench(size, args):
            print("%6d  %-9s  %7d  %7d  %7d  %9d  %7d  %7d  %8.1f  %9.1f  %6s" % (
                row["size"], row["run"], row["changed"], row["reads"], row["writes"], row["write_attempts"], row["throttled"],
                row["retries"], row["wall"], row["bound"], "%.2f" % row["ratio"] if row["ratio"] else "n/a"), flush=True)


if __name__ == "__main__":
    main()
