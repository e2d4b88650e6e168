#!/usr/bin/env python3
"""Print requests/s of hrw-emulator for GET and PUT of hybrid runbook workers.

16 concurrent clients, each on its own keep-alive HTTPS connection with TLS verification on.
Not a timed test: it prints figures. Usage: python tests/benchmarks/emulator_load.py [--clients 16] [--seconds 5]
"""

import argparse
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

EMULATOR_DIR = Path(__file__).resolve().parents[1] / "emulator"


def start(extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(EMULATOR_DIR), os.environ.get("PYTHONPATH", "")]))
    state = Path(tempfile.mkdtemp(prefix="hrw-bench-")) / "state.json"
    proc = subprocess.Popen([sys.executable, "-m", "hrw_emulator.cli", "serve", "--port", "0", "--state", str(state),
                             "--throttle-writes", "1000000:1000000", "--throttle-reads", "1000000:1000000", *extra],
                            stdout=subprocess.PIPE, text=True, env=env)
    return proc, json.loads(proc.stdout.readline())


def token(info, context):
    host = urllib.parse.urlsplit(info["arm_endpoint"])
    conn = http.client.HTTPSConnection(host.hostname, host.port, context=context)
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": info["client_id"],
                                   "client_secret": info["client_secret"], "scope": "https://management.azure.com/.default"})
    conn.request("POST", f"/{info['tenant_id']}/oauth2/v2.0/token", form, {"Content-Type": "application/x-www-form-urlencoded"})
    return json.loads(conn.getresponse().read())["access_token"]


def run(info, context, bearer, method, seconds, clients, workers_per_client):
    host = urllib.parse.urlsplit(info["arm_endpoint"])
    base = (f"/subscriptions/{info['subscription_id']}/resourceGroups/{info['resource_group']}/providers/"
            f"Microsoft.Automation/automationAccounts/{info['automation_account']}/hybridRunbookWorkerGroups/bench/"
            "hybridRunbookWorkers")
    vm_base = f"/subscriptions/{info['subscription_id']}/resourceGroups/{info['resource_group']}/providers/Microsoft.Compute/virtualMachines"
    counts, errors = [0] * clients, [0] * clients
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}

    def client(index):
        conn = http.client.HTTPSConnection(host.hostname, host.port, context=context)
        n = 0
        while time.monotonic() < deadline:
            wid = str(uuid.UUID(int=index * workers_per_client + n % workers_per_client + 1))
            body = json.dumps({"properties": {"vmResourceId": f"{vm_base}/vm{index}-{n % workers_per_client}"}})
            conn.request(method, f"{base}/{wid}?api-version=2024-10-23", body if method == "PUT" else None, headers)
            response = conn.getresponse()
            response.read()
            if response.status >= 300:
                errors[index] += 1
            counts[index] += 1
            n += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return sum(counts) / elapsed, sum(counts), sum(errors)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers-per-client", type=int, default=20)
    args, extra = parser.parse_known_args()
    proc, info = start(extra)
    try:
        context = ssl.create_default_context(cafile=info["ca_bundle"])
        bearer = token(info, context)
        host = urllib.parse.urlsplit(info["arm_endpoint"])
        conn = http.client.HTTPSConnection(host.hostname, host.port, context=context)
        conn.request("PUT", f"/subscriptions/{info['subscription_id']}/resourceGroups/{info['resource_group']}/providers/"
                     f"Microsoft.Automation/automationAccounts/{info['automation_account']}/hybridRunbookWorkerGroups/bench"
                     "?api-version=2024-10-23", "{}", {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"})
        conn.getresponse().read()
        results = {}
        for method in ("PUT", "GET"):  # PUT first so GETs find the workers
            rate, total, errors = run(info, context, bearer, method, args.seconds, args.clients, args.workers_per_client)
            results[method] = rate
            print(f"{method} worker: {rate:8.1f} req/s  ({total} requests, {errors} non-2xx, {args.clients} keep-alive "
                  f"HTTPS clients, {args.seconds:.0f} s)")
        print(json.dumps({"get_rps": round(results["GET"], 1), "put_rps": round(results["PUT"], 1),
                          "clients": args.clients, "cpus": os.cpu_count()}))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


if __name__ == "__main__":
    main()
