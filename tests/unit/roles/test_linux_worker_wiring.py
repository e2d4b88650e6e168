# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every documented variable of the linux_worker role reaches what it drives.

The collection's real roles, playbooks and meta are run by ansible-playbook on localhost from a copy of the collection
whose cloud-side and host modules are replaced by recorders: each fake module writes the options it was called with to
a log and answers with a plausible result. The Connected Machine agent and systemctl are replaced the same way (the
agent through the role's internal path variable, systemctl on PATH), instance metadata by an HTTP server on 127.0.0.1.
Every variable of meta/argument_specs.yml is set to a value other than its default, and each one has a check below; a
documented variable without a check fails the test, as does any variable the role drops.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading

import pytest
import yaml

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
VM_ID = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-arc/providers/Microsoft.HybridCompute/machines/w1"
IMDS_VM_ID = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-vm/providers/Microsoft.Compute/virtualMachines/w2"
INVENTORY_VM_ID = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-arc/providers/Microsoft.HybridCompute/machines/w3"
ACCOUNT_URL = "https://fake.jrds.example.invalid/automationAccounts/fake"
ARC_SECRET = "arc-secret-Zq81-never-shown"
PROXY_PASSWORD = "proxy-pass-Xk42-never-shown"
# Set by the role (hand-offs between entry points), not by users.
HAND_OFFS = {"hrw_registration_request", "hrw_registration"}

FAKE_MODULE = r'''#!/usr/bin/python
# WANT_JSON
import json, sys
NAME, LOG, VM_ID, ACCOUNT_URL = %r, %r, %r, %r
with open(sys.argv[1]) as f:
    args = dict((k, v) for k, v in json.load(f).items() if not k.startswith("_ansible"))
with open(LOG, "a") as f:
    f.write(json.dumps({"module": NAME, "args": args}) + "\n")
result = {"changed": False}
if NAME == "hrw_register":
    result["workers"] = [{"vm_resource_id": w["vm_resource_id"], "worker_id": "w-1", "actions": [],
                          "extension": {"automation_account_url": ACCOUNT_URL}} for w in args.get("workers") or []]
elif NAME == "hrw_worker_info":
    result["workers"] = [{"group": args["group"], "vm_resource_id": VM_ID, "last_seen_age_seconds": 200,
                          "extension": {"provisioning_state": "Succeeded", "automation_account_url": ACCOUNT_URL}}]
elif NAME == "hrw_health":
    result.update(report="fake health report", summary={"status": "ok"}, checks=[])
print(json.dumps(result))
'''

FAKE_AZCMAGENT = r'''#!/bin/sh
# Records its arguments (and the --config file it was given); connected once "connect" ran.
state=%(dir)s/arc-connected
verb=$1
echo "$*" >> %(dir)s/azcmagent.log
while [ $# -gt 0 ]; do
  if [ "$1" = --config ]; then cat "$2" >> %(dir)s/azcmagent-config.log; echo >> %(dir)s/azcmagent-config.log; fi
  shift
done
case "$verb" in
  show) if [ -f "$state" ]; then echo '{"status": "Connected", "resourceId": "%(vm)s"}'; else echo '{"status": "Disconnected"}'; fi ;;
  connect) touch "$state" ;;
  disconnect) rm -f "$state" ;;
esac
exit 0
'''

FAKE_SYSTEMCTL = '#!/bin/sh\necho "$*" >> %(dir)s/systemctl.log\nexit 1\n'


def non_default_vars():
    """Scenario A: every variable the fleet playbooks read, none at its default."""
    return {
        "hrw_group": "grp-wired",
        "hrw_resource_group": "rg-wired",
        "hrw_automation_account": "aa-wired",
        "hrw_validate_max_heartbeat_age": 300,  # the fake record's heartbeat is 200 s old, over the default 120
        "hrw_remove_empty_groups": False,
        "linux_worker_resource_id_sources": ["azcmagent"],
        "linux_worker_arc_connect": True,
        "linux_worker_arc_service_principal_id": "sp-wired",
        "linux_worker_arc_service_principal_secret": ARC_SECRET,
        "linux_worker_arc_tenant_id": "tenant-wired",
        "linux_worker_arc_subscription_id": "sub-wired",
        "linux_worker_arc_resource_group": "rg-arc-wired",
        "linux_worker_arc_location": "loc-wired",
        "linux_worker_arc_cloud": "AzureUSGovernment",
        "linux_worker_arc_disconnect_on_remove": True,
        "linux_worker_move": False,
        "linux_worker_install_extension": False,
        "linux_worker_enable_system_identity": False,
        "linux_worker_extension_version": "9.8",
        "linux_worker_extension_auto_upgrade": False,
        "linux_worker_proxy_server": "proxy.example.invalid:3128",
        "linux_worker_proxy_username": "proxy-user",
        "linux_worker_proxy_password": PROXY_PASSWORD,
        "linux_worker_update_protected_settings": "always",
        "linux_worker_wait_for_heartbeat": False,
        "linux_worker_heartbeat_timeout": 77,
        "linux_worker_runtime_paths": {"python_3_10_path": "/opt/wired/python3"},
        "linux_worker_python_packages": [{"name": "wired-pkg"}],
        "linux_worker_powershell_modules": [{"name": "WiredModule"}],
        "linux_worker_pip_find_links": "/opt/wired/wheels",
        "linux_worker_pip_index_url": "https://index.example.invalid/simple",
        "linux_worker_break_system_packages": True,
        "linux_worker_install_pip": False,
        "linux_worker_prerequisite_checks": ["cpu_cores"],
        "linux_worker_health_fail_on": "warn",
        "linux_worker_health_skip_checks": ["clock_skew"],
        "linux_worker_health_expected_issuers": ["Wired CA"],
        "linux_worker_health_min_memory_mb": 1111,
        "linux_worker_health_min_cpu_cores": 3,
        "linux_worker_service_name": "hwd-wired",
    }


def scenario_b_vars(imds_url):
    """Scenario B: the role's main entry point removing a worker found through instance metadata, then the deploy
    entry points with registration, the final health check and secure logging off."""
    return {
        "main": {"hrw_state": "absent", "hrw_group": "grp-b", "linux_worker_resource_id_sources": ["imds"],
                 "linux_worker_imds_url": imds_url},
        "deploy": {"hrw_group": "grp-b", "hrw_vm_resource_id": INVENTORY_VM_ID, "linux_worker_register": False,
                   "linux_worker_health": False, "linux_worker_secure_logging": False},
    }


class _Imds(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        ok = self.path == "/wired/compute" and self.headers.get("Metadata") == "true"
        body = json.dumps({"resourceId": IMDS_VM_ID} if ok else {}).encode()
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if not os.path.exists(ANSIBLE_PLAYBOOK):
        pytest.skip("ansible-playbook is not installed next to %s" % sys.executable)
    base = tmp_path_factory.mktemp("wiring")
    coll = base / "ansible_collections" / "azure_automation" / "hybrid_worker"
    (coll / "plugins" / "modules").mkdir(parents=True)
    for name in ("roles", "playbooks", "meta", "galaxy.yml"):
        os.symlink(os.path.join(COLLECTION, name), str(coll / name))
    log = str(base / "modules.log")
    for name in ("hrw_group", "hrw_register", "hrw_worker_info", "hrw_health", "hrw_modules"):
        (coll / "plugins" / "modules" / (name + ".py")).write_text(FAKE_MODULE % (name, log, VM_ID, ACCOUNT_URL))
    bin_dir = base / "bin"
    bin_dir.mkdir()
    for name, text in (("azcmagent", FAKE_AZCMAGENT), ("systemctl", FAKE_SYSTEMCTL)):
        (bin_dir / name).write_text(text % {"dir": str(base), "vm": VM_ID})
        (bin_dir / name).chmod(0o755)
    server = http.server.HTTPServer(("127.0.0.1", 0), _Imds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(base), PATH=str(bin_dir) + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_HOST_KEY_CHECKING="0",
               ANSIBLE_LOCAL_TEMP=str(base / "tmp"), ANSIBLE_REMOTE_TEMP=str(base / "tmp"))
    for name in ("ANSIBLE_CONFIG", "ANSIBLE_LOG_PATH"):
        env.pop(name, None)
    common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}

    def run(name, hosts, playbook, azcmagent):
        inventory = base / (name + "-inventory.yml")
        inventory.write_text(yaml.safe_dump({"hrw_linux": {"hosts": hosts, "vars": common}}))
        book = base / (name + ".yml")
        book.write_text(yaml.safe_dump(playbook, sort_keys=False))
        open(log, "w").close()
        # The agent's path is an internal role variable: only extra vars take precedence over it.
        extra = json.dumps({"__linux_worker_azcmagent": azcmagent})
        proc = subprocess.run([ANSIBLE_PLAYBOOK, "-v", "-i", str(inventory), "-e", extra, str(book)], env=env, cwd=str(base),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600, check=False)
        with open(log) as f:
            calls = [json.loads(line) for line in f if line.strip()]
        return proc, calls

    a_proc, a_calls = run("a", {"w1": non_default_vars()}, [
        {"import_playbook": "azure_automation.hybrid_worker.%s" % p} for p in ("deploy_hrw", "validate_hrw", "remove_hrw")],
        str(bin_dir / "azcmagent"))
    b = scenario_b_vars("http://127.0.0.1:%d/wired/compute" % server.server_address[1])
    b_proc, b_calls = run("b", {"w2": {}}, [
        {"name": "Remove with the role", "hosts": "hrw_linux", "gather_facts": False, "vars": b["main"],
         "module_defaults": {"group/azure_automation.hybrid_worker.hrw": {"resource_group": "rg-md", "automation_account": "aa-md"}},
         "roles": [{"role": "azure_automation.hybrid_worker.linux_worker"}]},
        {"name": "Deploy without registration", "hosts": "hrw_linux", "gather_facts": False, "vars": b["deploy"],
         "tasks": [{"name": "Run %s" % e,
                    "ansible.builtin.include_role": {"name": "azure_automation.hybrid_worker.linux_worker", "tasks_from": e}}
                   for e in ("prepare", "register", "configure")]}],
        str(base / "no-agent" / "azcmagent"))  # no agent installed: an Azure VM, asked through instance metadata
    server.shutdown()
    files = {}
    for name in ("azcmagent.log", "azcmagent-config.log", "systemctl.log"):
        path = base / name
        files[name] = path.read_text() if path.exists() else ""
    yield {"a": (a_proc, a_calls), "b": (b_proc, b_calls), "files": files, "imds_url": b["main"]["linux_worker_imds_url"]}
    shutil.rmtree(str(base), ignore_errors=True)


def _calls(calls, module, **match):
    return [c["args"] for c in calls if c["module"] == module and all(c["args"].get(k) == v for k, v in match.items())]


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-6000:]


def documented_options():
    with open(os.path.join(COLLECTION, "roles", "linux_worker", "meta", "argument_specs.yml")) as f:
        specs = yaml.safe_load(f)["argument_specs"]
    return specs["main"]["options"]


def test_every_documented_variable_has_a_check_and_a_non_default_value():
    options = documented_options()
    b = scenario_b_vars("http://x")
    given = dict(non_default_vars(), **b["main"])
    given.update(b["deploy"])
    assert set(CHECKS) == set(options) - HAND_OFFS, "variables without a wiring check: %s" % sorted(set(options) - HAND_OFFS - set(CHECKS))
    for name in set(options) - HAND_OFFS:
        assert name in given, name
        if "default" in options[name]:
            assert given[name] != options[name]["default"], "%s is set to its default" % name


def _register(w):
    calls = _calls(w["a"][1], "hrw_register", state="present")
    assert len(calls) == 1, w["a"][1]
    return calls[0]


def _health_pair(w):
    """The final health check of configure and the one of validate (prerequisites are the call with ``checks``)."""
    calls = [c for c in _calls(w["a"][1], "hrw_health") if "checks" not in c]
    assert len(calls) == 2, calls
    return calls


def _modules(w, state):
    calls = _calls(w["a"][1], "hrw_modules", state=state)
    assert len(calls) == 1, w["a"][1]
    return calls[0]


def _azcmagent(w, verb):
    return [line for line in w["files"]["azcmagent.log"].splitlines() if line.split(" ")[:1] == [verb]]


CHECKS = {
    "hrw_state": lambda w: _calls(w["b"][1], "hrw_register", state="absent", group="grp-b")[0]["workers"] == [
        {"vm_resource_id": IMDS_VM_ID, "os_type": "linux"}],
    "hrw_group": lambda w: _register(w)["group"] == "grp-wired" and _calls(w["a"][1], "hrw_group", name="grp-wired"),
    # Registration is off in that play, so the published request (logged: secure logging is off there) shows it.
    "hrw_vm_resource_id": lambda w: INVENTORY_VM_ID in w["b"][0].stdout.split("PLAY [Deploy without registration]")[1],
    "hrw_resource_group": lambda w: all(c["args"].get("resource_group") == "rg-wired" for c in w["a"][1] if c["module"] in (
        "hrw_register", "hrw_group", "hrw_worker_info")) and _register(w)["resource_group"] == "rg-wired",
    "hrw_automation_account": lambda w: all(c["args"].get("automation_account") == "aa-wired" for c in w["a"][1] if c["module"] in (
        "hrw_register", "hrw_group", "hrw_worker_info")) and _register(w)["automation_account"] == "aa-wired",
    # The run passed validation (checked first), which it cannot with the default 120.
    "hrw_validate_max_heartbeat_age": lambda w: len(_calls(w["a"][1], "hrw_worker_info", group="grp-wired")) == 1,
    "hrw_remove_empty_groups": lambda w: not _calls(w["a"][1], "hrw_group", state="absent")
    and _calls(w["a"][1], "hrw_register", state="absent"),
    "linux_worker_resource_id_sources": lambda w: _register(w)["workers"] == [{"vm_resource_id": VM_ID, "os_type": "linux"}],
    "linux_worker_imds_url": lambda w: _calls(w["b"][1], "hrw_register", state="absent")[0]["workers"][0]["vm_resource_id"] == IMDS_VM_ID,
    "linux_worker_arc_connect": lambda w: len(_azcmagent(w, "connect")) == 1,
    "linux_worker_arc_service_principal_id": lambda w: '"service-principal-id": "sp-wired"' in w["files"]["azcmagent-config.log"],
    "linux_worker_arc_service_principal_secret": lambda w: ARC_SECRET in w["files"]["azcmagent-config.log"]
    and not any(ARC_SECRET in line for line in w["files"]["azcmagent.log"].splitlines()),
    "linux_worker_arc_tenant_id": lambda w: "--tenant-id tenant-wired" in _azcmagent(w, "connect")[0],
    "linux_worker_arc_subscription_id": lambda w: "--subscription-id sub-wired" in _azcmagent(w, "connect")[0],
    "linux_worker_arc_resource_group": lambda w: "--resource-group rg-arc-wired" in _azcmagent(w, "connect")[0],
    "linux_worker_arc_location": lambda w: "--location loc-wired" in _azcmagent(w, "connect")[0],
    "linux_worker_arc_cloud": lambda w: "--cloud AzureUSGovernment" in _azcmagent(w, "connect")[0],
    "linux_worker_arc_disconnect_on_remove": lambda w: len(_azcmagent(w, "disconnect")) == 1,
    "linux_worker_register": lambda w: not _calls(w["b"][1], "hrw_register", state="present")
    and not [c for c in _calls(w["b"][1], "hrw_group") if c.get("state") != "absent"],
    "linux_worker_move": lambda w: _register(w)["move"] is False,
    "linux_worker_install_extension": lambda w: _register(w)["install_extension"] is False,
    "linux_worker_enable_system_identity": lambda w: _register(w)["enable_system_identity"] is False,
    "linux_worker_extension_version": lambda w: _register(w)["type_handler_version"] == "9.8",
    "linux_worker_extension_auto_upgrade": lambda w: _register(w)["auto_upgrade_minor_version"] is False
    and _register(w)["enable_automatic_upgrade"] is False,
    "linux_worker_proxy_server": lambda w: _register(w)["proxy_server"] == "proxy.example.invalid:3128",
    "linux_worker_proxy_username": lambda w: _register(w)["proxy_username"] == "proxy-user",
    "linux_worker_proxy_password": lambda w: _register(w)["proxy_password"] == PROXY_PASSWORD,
    "linux_worker_update_protected_settings": lambda w: _register(w)["update_protected_settings"] == "always",
    "linux_worker_wait_for_heartbeat": lambda w: _register(w)["wait_for_heartbeat"] is False,
    # An int option: ansible-core 2.16 templates it as "77", which the module converts.
    "linux_worker_heartbeat_timeout": lambda w: int(_register(w)["heartbeat_timeout"]) == 77,
    "linux_worker_runtime_paths": lambda w: _modules(w, "present")["runtime_paths"] == {"python_3_10_path": "/opt/wired/python3"}
    and _modules(w, "absent")["runtime_paths"] == {"python_3_10_path": ""},
    "linux_worker_python_packages": lambda w: _modules(w, "present")["python_packages"] == [{"name": "wired-pkg"}]
    and _modules(w, "absent")["python_packages"] == [{"name": "wired-pkg"}],
    "linux_worker_powershell_modules": lambda w: _modules(w, "present")["powershell_modules"] == [{"name": "WiredModule"}]
    and _modules(w, "absent")["powershell_modules"] == [{"name": "WiredModule"}],
    "linux_worker_pip_find_links": lambda w: _modules(w, "present")["pip_find_links"] == "/opt/wired/wheels",
    "linux_worker_pip_index_url": lambda w: _modules(w, "present")["pip_index_url"] == "https://index.example.invalid/simple",
    "linux_worker_break_system_packages": lambda w: _modules(w, "present")["break_system_packages"] is True
    and _modules(w, "absent")["break_system_packages"] is True,
    "linux_worker_install_pip": lambda w: re.search(r"Make sure pip is there[^\n]*\*+\nskipping: \[w1\]", w["a"][0].stdout),
    "linux_worker_prerequisite_checks": lambda w: [c["checks"] for c in _calls(w["a"][1], "hrw_health") if "checks" in c] == [
        ["cpu_cores"]],
    "linux_worker_health": lambda w: [c for c in _calls(w["b"][1], "hrw_health") if "checks" not in c] == [],
    "linux_worker_health_fail_on": lambda w: [c["fail_on"] for c in _health_pair(w)] == ["warn", "warn"],
    "linux_worker_health_skip_checks": lambda w: [c["skip_checks"] for c in _health_pair(w)] == [["clock_skew"]] * 2,
    "linux_worker_health_expected_issuers": lambda w: [c["expected_issuers"] for c in _health_pair(w)] == [["Wired CA"]] * 2,
    "linux_worker_health_min_memory_mb": lambda w: [c["min_memory_mb"] for c in _calls(w["a"][1], "hrw_health")] == [1111] * 3,
    "linux_worker_health_min_cpu_cores": lambda w: [c["min_cpu_cores"] for c in _calls(w["a"][1], "hrw_health")] == [3] * 3,
    "linux_worker_secure_logging": lambda w: "hrw_registration_request" in w["b"][0].stdout,
    "linux_worker_service_name": lambda w: "cat hwd-wired.service" in w["files"]["systemctl.log"],
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_variable_reaches_its_module(world, name):
    _ok(world["a"][0])
    _ok(world["b"][0])
    assert CHECKS[name](world), "%s does not reach what it drives" % name


def test_deploy_and_validate_check_health_with_the_same_options(world):
    configure, validate = _health_pair(world)
    assert configure == validate
    assert configure["automation_account_url"] == ACCOUNT_URL  # handed from register (hrw_registration) to configure


def test_secrets_stay_out_of_the_output(world):
    out = world["a"][0].stdout
    assert ARC_SECRET not in out and PROXY_PASSWORD not in out


def test_play_module_defaults_still_apply_without_a_per_host_account(world):
    """No hrw_resource_group/hrw_automation_account: the play's module_defaults give the account (an omitted option
    would have dropped them)."""
    _ok(world["b"][0])
    for call in [c for c in world["b"][1] if c["module"] in ("hrw_register", "hrw_group")]:
        assert (call["args"].get("resource_group"), call["args"].get("automation_account")) == ("rg-md", "aa-md"), call
    assert _calls(world["b"][1], "hrw_register", state="absent")
