"""Start hrw-emulator subprocesses and talk to them (used by the tests and the benchmark)."""

import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]


class Emulator:
    def __init__(self, *args, state_dir=None):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_DIR), env.get("PYTHONPATH", "")])
        cmd = [sys.executable, "-m", "hrw_emulator.cli", "serve", "--port", "0", "--validate-responses", *args]
        if state_dir and "--state" not in args:
            cmd += ["--state", str(Path(state_dir) / "state.json")]
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.state_dir = Path(state_dir) if state_dir else None
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=15)
            self.stderr.seek(0)
            raise RuntimeError(f"emulator did not start: {self.stderr.read()}")
        self.info = json.loads(line)
        self.ssl = ssl.create_default_context(cafile=self.info["ca_bundle"])

    def __getitem__(self, key):
        return self.info[key]

    def stop(self, check=True):
        """SIGTERM the server; first fail if any of its answers broke the swagger."""
        errors = self.admin("GET", "response-errors") if check and self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)
        self.proc.stdout.close()
        self.stderr.close()
        assert errors == [], errors
        return self.proc.returncode

    def call(self, method, url, body=None, headers=None, raw=None):
        """Plain HTTPS call; returns (status, headers, parsed body)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=self.ssl, timeout=30) as response:
                status, hdrs, payload = response.status, response.headers, response.read()
        except urllib.error.HTTPError as err:
            status, hdrs, payload = err.code, err.headers, err.read()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode()
        return status, hdrs, parsed

    def admin(self, method, path, body=None):
        status, _, parsed = self.call(method, f"{self['admin_url']}/{path}", body)
        assert status == 200, (status, parsed)
        return parsed

    def token(self, scope="https://management.azure.com/.default"):
        from urllib.parse import urlencode
        form = urlencode({"grant_type": "client_credentials", "client_id": self["client_id"],
                          "client_secret": self["client_secret"], "scope": scope}).encode()
        status, _, body = self.call("POST", f"{self['arm_endpoint']}/{self['tenant_id']}/oauth2/v2.0/token", raw=form,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, body
        return body["access_token"]

    def arm(self, method, path, body=None, api_version="2024-10-23", token=None, raw=None, headers=None):
        sep = "&" if "?" in path else "?"
        url = f"{self['arm_endpoint']}{path}" + (f"{sep}api-version={api_version}" if api_version else "")
        hdrs = {"Authorization": f"Bearer {token or self.token()}", **(headers or {})}
        return self.call(method, url, body, hdrs, raw)

    @property
    def account_path(self):
        return (f"/subscriptions/{self['subscription_id']}/resourceGroups/{self['resource_group']}/providers/"
                f"Microsoft.Automation/automationAccounts/{self['automation_account']}")

    def vm_id(self, name, kind="vm"):
        provider = "Microsoft.Compute/virtualMachines" if kind == "vm" else "Microsoft.HybridCompute/machines"
        return f"/subscriptions/{self['subscription_id']}/resourceGroups/{self['resource_group']}/providers/{provider}/{name}"

    def credential(self):
        from azure.identity import ClientSecretCredential
        return ClientSecretCredential(self["tenant_id"], self["client_id"], self["client_secret"],
                                      authority=self["arm_endpoint"], connection_verify=self["ca_bundle"],
                                      disable_instance_discovery=True)

    def client(self, cls, **kwargs):
        return cls(self.credential(), self["subscription_id"], base_url=self["arm_endpoint"],
                   connection_verify=self["ca_bundle"], **kwargs)
