"""Helpers for the lab tests: run lab.sh/emulator.sh, SSH into lab hosts, call the emulator over HTTPS."""

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

LAB_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = LAB_DIR.parents[1]
INSTANCE = os.environ.get("HRW_LAB_TEST_INSTANCE", "pytest")
STATE_DIR = REPO_ROOT / ".lab" / "instances" / INSTANCE
ARM_SCOPE = "https://management.azure.com/.default"
MACHINE_API = "2024-07-10"


def lab_env():
    env = dict(os.environ, HRW_LAB_INSTANCE=INSTANCE)
    if not env.get("HRW_EMULATOR"):
        beside = Path(sys.executable).parent / "hrw-emulator"
        found = str(beside) if beside.exists() else shutil.which("hrw-emulator")
        if found:
            env["HRW_EMULATOR"] = found
    return env


def run_script(script, *args, timeout=600):
    """Run tests/lab/<script> for the test instance; fail with its output on error."""
    start = time.monotonic()
    proc = subprocess.run([str(LAB_DIR / script), *args], capture_output=True, text=True, env=lab_env(),
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc, time.monotonic() - start


def inventory_hosts():
    data = yaml.safe_load((STATE_DIR / "inventory.yml").read_text())
    return data["all"]["children"]["hrw_linux"]["hosts"]


class LabHost:
    def __init__(self, name, hostvars):
        self.name = name
        self.vars = hostvars

    def ssh(self, command, check=True, timeout=120):
        args = ["ssh", "-i", self.vars["ansible_ssh_private_key_file"], *self.vars["ansible_ssh_common_args"].split(),
                "-o", "BatchMode=yes", f"{self.vars['ansible_user']}@{self.vars['ansible_host']}", command]
        start = time.monotonic()
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        elapsed = time.monotonic() - start
        if elapsed > 5:
            print(f"\nslow ssh ({elapsed:.1f} s) to {self.name}: {command}")
        if check and proc.returncode != 0:
            raise AssertionError(f"ssh {self.name} {command!r} failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc


class Emulator:
    """The emulator as the controller sees it (ready line from emulator.sh)."""

    def __init__(self, info):
        self.info = info
        self.context = ssl.create_default_context(cafile=info["ca_bundle"])
        self._token = None

    def __getitem__(self, key):
        return self.info[key]

    def call(self, method, url, body=None, text=None, token=None):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif text is not None:
            data = text.encode()
            headers["Content-Type"] = "text/plain"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                status, hdrs, payload = response.status, response.headers, response.read()
        except urllib.error.HTTPError as err:
            status, hdrs, payload = err.code, err.headers, err.read()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode()
        return status, hdrs, parsed

    def token(self):
        if self._token is None:
            form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": self["client_id"],
                                           "client_secret": self["client_secret"], "scope": ARM_SCOPE}).encode()
            request = urllib.request.Request(f"{self['arm_endpoint']}/{self['tenant_id']}/oauth2/v2.0/token", data=form,
                                             method="POST")
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                self._token = json.loads(response.read())["access_token"]
        return self._token

    def arm(self, method, path, api_version, body=None, text=None):
        sep = "&" if "?" in path else "?"
        return self.call(method, f"{self['arm_endpoint']}{path}{sep}api-version={api_version}", body=body, text=text,
                         token=self.token())

    def admin(self, method, path, body=None):
        status, _, parsed = self.call(method, f"{self['admin_url']}/{path}", body=body)
        assert status == 200, (status, parsed)
        return parsed

    @property
    def account_path(self):
        return (f"/subscriptions/{self['subscription_id']}/resourceGroups/{self['resource_group']}/providers/"
                f"Microsoft.Automation/automationAccounts/{self['automation_account']}")

    def wait_operation(self, headers, timeout=60):
        """Poll an ARM LRO (Azure-AsyncOperation, else Location) to its end; return the final status."""
        url = headers.get("Azure-AsyncOperation") or headers.get("Location")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, _, body = self.call("GET", url, token=self.token())
            if headers.get("Azure-AsyncOperation"):
                state = (body or {}).get("status")
                if state in ("Succeeded", "Failed", "Canceled"):
                    return state, body
            elif status != 202:
                return ("Succeeded" if status in (200, 204) else "Failed"), body
            time.sleep(0.5)
        raise AssertionError(f"operation {url} did not finish within {timeout} s")


def wait_for(predicate, timeout, interval=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last value: {last!r})")
